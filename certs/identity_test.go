package certs_test

import (
	"crypto/tls"
	"crypto/x509"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/certs"
)

const td = "northshire.test"

func certWithURIs(uris ...string) *x509.Certificate {
	c := &x509.Certificate{}
	for _, u := range uris {
		parsed, err := url.Parse(u)
		if err != nil {
			panic(err)
		}
		c.URIs = append(c.URIs, parsed)
	}
	return c
}

func TestPartyFromCertificate(t *testing.T) {
	cases := []struct {
		name string
		uris []string
		want string
		err  error
	}{
		{"ok/one-uri-san", []string{"spiffe://northshire.test/party/police.northshire"}, "police.northshire", nil},
		{"ok/trust-domain-case-insensitive", []string{"spiffe://Northshire.Test/party/dwp"}, "dwp", nil},
		{"deny/no-uri-san", nil, "", certs.ErrNoURISAN},
		{"deny/two-uri-sans", []string{"spiffe://northshire.test/party/dwp", "spiffe://northshire.test/party/hmrc"}, "", certs.ErrManyURISANs},
		{"deny/two-identical-uri-sans", []string{"spiffe://northshire.test/party/dwp", "spiffe://northshire.test/party/dwp"}, "", certs.ErrManyURISANs},
		{"deny/wrong-trust-domain", []string{"spiffe://elsewhere.test/party/dwp"}, "", certs.ErrWrongTrustDomain},
		{"deny/trust-domain-suffix", []string{"spiffe://evil.northshire.test/party/dwp"}, "", certs.ErrWrongTrustDomain},
		{"deny/https-scheme", []string{"https://northshire.test/party/dwp"}, "", certs.ErrNotSPIFFE},
		{"deny/port", []string{"spiffe://northshire.test:443/party/dwp"}, "", certs.ErrNotSPIFFE},
		{"deny/query", []string{"spiffe://northshire.test/party/dwp?x=1"}, "", certs.ErrNotSPIFFE},
		{"deny/userinfo", []string{"spiffe://u@northshire.test/party/dwp"}, "", certs.ErrNotSPIFFE},
		{"deny/other-path", []string{"spiffe://northshire.test/workload/dwp"}, "", certs.ErrNotPartyPath},
		{"deny/nested-path", []string{"spiffe://northshire.test/party/dwp/extra"}, "", certs.ErrBadPartyID},
		{"deny/dot-dot", []string{"spiffe://northshire.test/party/../dwp"}, "", certs.ErrBadPartyID},
		{"deny/upper-case-id", []string{"spiffe://northshire.test/party/DWP"}, "", certs.ErrBadPartyID},
		{"deny/empty-id", []string{"spiffe://northshire.test/party/"}, "", certs.ErrBadPartyID},
		{"deny/escaped-path", []string{"spiffe://northshire.test/party/dw%70"}, "", certs.ErrNotPartyPath},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := certs.PartyFromCertificate(certWithURIs(tc.uris...), td)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				require.Empty(t, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestPartyFromConnection(t *testing.T) {
	leaf := certWithURIs("spiffe://northshire.test/party/dwp")
	_, err := certs.PartyFromConnection(nil, td)
	require.ErrorIs(t, err, certs.ErrNoCertificatePresented)
	_, err = certs.PartyFromConnection(&tls.ConnectionState{}, td)
	require.ErrorIs(t, err, certs.ErrNoCertificatePresented)
	_, err = certs.PartyFromConnection(&tls.ConnectionState{PeerCertificates: []*x509.Certificate{leaf}}, td)
	require.Error(t, err, "an unverified certificate identifies no one")
	id, err := certs.PartyFromConnection(&tls.ConnectionState{
		PeerCertificates: []*x509.Certificate{leaf},
		VerifiedChains:   [][]*x509.Certificate{{leaf}},
	}, td)
	require.NoError(t, err)
	require.Equal(t, "dwp", id)
}

func TestValidPartyID(t *testing.T) {
	for _, ok := range []string{"dwp", "police.northshire", "court.northshire-crown", "cabinet-office.nfi", "a1"} {
		require.True(t, certs.ValidPartyID(ok), ok)
	}
	for _, bad := range []string{"", "DWP", "-dwp", "dwp.", "a..b", "a/b", "a b", "café", string(make([]byte, 65))} {
		require.False(t, certs.ValidPartyID(bad), bad)
	}
}

// FuzzPartyFromCertificate: whatever URI SAN a certificate carries, the
// extracted party is either refused or a valid id whose canonical URI names
// it in the trust domain.
func FuzzPartyFromCertificate(f *testing.F) {
	for _, s := range []string{"spiffe://northshire.test/party/dwp", "spiffe://northshire.test/party/../x", "spiffe://northshire.test:1/party/a", "spiffe:opaque", "", "%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.Parse(raw)
		if err != nil {
			return
		}
		id, err := certs.PartyFromCertificate(&x509.Certificate{URIs: []*url.URL{u}}, td)
		if err != nil {
			require.Empty(t, id)
			return
		}
		require.True(t, certs.ValidPartyID(id))
		canon, err := certs.PartyURI(td, id)
		require.NoError(t, err)
		require.Equal(t, "/party/"+id, canon.Path)
		require.Equal(t, "/party/"+id, u.Path)
	})
}
