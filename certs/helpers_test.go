package certs_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/certs"
)

type certsX509 = x509.Certificate

func newCSR(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "ignored", Organization: []string{"DWP"}}}, key)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func TestIssueFromCSR(t *testing.T) {
	now := time.Now()
	ca, err := certs.NewAuthority("CA", 48*time.Hour, now)
	require.NoError(t, err)
	leaf, err := ca.IssueFromCSR(newCSR(t), "northshire.test", "dwp", 24*time.Hour, "", now)
	require.NoError(t, err)
	require.Equal(t, "spiffe://northshire.test/party/dwp", leaf.URIs[0].String())
	require.Equal(t, "dwp", leaf.Subject.CommonName)
	require.Equal(t, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, leaf.ExtKeyUsage)
	require.Empty(t, leaf.DNSNames)

	_, err = ca.IssueFromCSR(newCSR(t), "northshire.test", "dwp", 500*24*time.Hour, "", now)
	require.ErrorContains(t, err, "397 days")
	_, err = ca.IssueFromCSR(newCSR(t), "northshire.test", "Not A Party", time.Hour, "", now)
	require.ErrorIs(t, err, certs.ErrBadPartyID)
	weak, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "x"}}, weak)
	require.NoError(t, err)
	_, err = ca.IssueFromCSR(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), "northshire.test", "dwp", time.Hour, "", now)
	require.ErrorIs(t, err, certs.ErrKeyPolicy, "new certificates need RSA 3072 or more")
	tampered := newCSR(t)
	tampered[len(tampered)/2] ^= 1
	_, err = ca.IssueFromCSR(tampered, "northshire.test", "dwp", time.Hour, "", now)
	require.Error(t, err)
}
