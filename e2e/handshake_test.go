package e2e

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ocsp"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/certs"
	"github.com/gatehouse-gw/gatehouse/cmd/gatehouse/cli"
	"github.com/gatehouse-gw/gatehouse/config"
	"github.com/gatehouse-gw/gatehouse/devenv/demo"
	"github.com/gatehouse-gw/gatehouse/devenv/testenv"
	"github.com/gatehouse-gw/gatehouse/exchange/seal"
	"github.com/gatehouse-gw/gatehouse/internal/metrics"
)

// ca is a test certificate authority.
type ca struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func newCA(t *testing.T, name string) *ca {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return selfSign(t, name, key, x509.ECDSAWithSHA256)
}

func selfSign(t *testing.T, name string, key crypto.Signer, alg x509.SignatureAlgorithm) *ca {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		SignatureAlgorithm: alg,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return &ca{cert: cert, key: key}
}

func loadCA(t *testing.T, dir string) *ca {
	a, err := certs.LoadAuthority(filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key"))
	require.NoError(t, err)
	return &ca{cert: a.Cert, key: a.Key}
}

func (c *ca) pem() string { return string(certs.EncodeCertificate(c.cert)) }

// leafOpts shape a client certificate.
type leafOpts struct {
	uris      []string
	subject   string
	notBefore time.Time
	notAfter  time.Time
	eku       []x509.ExtKeyUsage
	key       crypto.Signer
	alg       x509.SignatureAlgorithm
	ocsp      string
}

func (c *ca) issue(t *testing.T, o leafOpts) tls.Certificate {
	t.Helper()
	if o.key == nil {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		o.key = k
	}
	if o.notBefore.IsZero() {
		o.notBefore = time.Now().Add(-time.Hour)
	}
	if o.notAfter.IsZero() {
		o.notAfter = time.Now().Add(12 * time.Hour)
	}
	if o.eku == nil {
		o.eku = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	if o.subject == "" {
		o.subject = "test client"
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: o.subject, Organization: []string{"Test"}},
		NotBefore: o.notBefore, NotAfter: o.notAfter, ExtKeyUsage: o.eku, KeyUsage: x509.KeyUsageDigitalSignature,
		SignatureAlgorithm: o.alg,
	}
	if o.ocsp != "" {
		tmpl.OCSPServer = []string{o.ocsp}
	}
	for _, u := range o.uris {
		parsed, err := url.Parse(u)
		require.NoError(t, err)
		tmpl.URIs = append(tmpl.URIs, parsed)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, o.key.Public(), c.key)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: o.key, Leaf: leaf}
}

func partyURI(id string) string { return "spiffe://" + demo.TrustDomain + "/party/" + id }

// dial connects with cert and asks who the gateway takes us to be. It
// returns the party, or the problem code, or the handshake error.
func dial(t *testing.T, gw *testenv.Gateway, cert *tls.Certificate, cache tls.ClientSessionCache) (party, code string, err error) {
	t.Helper()
	party, code, _, err = dialResumed(t, gw, cert, cache)
	return party, code, err
}

// dialResumed is dial that also says whether the TLS session was resumed.
func dialResumed(t *testing.T, gw *testenv.Gateway, cert *tls.Certificate, cache tls.ClientSessionCache) (party, code string, resumed bool, err error) {
	t.Helper()
	pool := x509.NewCertPool()
	caPEM, rerr := os.ReadFile(gw.Env.CAFile())
	require.NoError(t, rerr)
	pool.AppendCertsFromPEM(caPEM)
	cfg := &tls.Config{RootCAs: pool, ClientSessionCache: cache}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}}
	resp, err := hc.Get(gw.URL + "/v1/whoami")
	if err != nil {
		return "", "", false, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		var p api.Problem
		_ = json.Unmarshal(body, &p)
		return "", p.Code, resp.TLS.DidResume, nil
	}
	var w api.WhoAmI
	require.NoError(t, json.Unmarshal(body, &w))
	return w.Party, "", resp.TLS.DidResume, nil
}

// registerParty registers a party with its own CA (and optional DN rule),
// as alice, and approves the registration as dana, a DPO.
func registerParty(t *testing.T, gw *testenv.Gateway, id string, kind agreements.PartyKind, anchor *ca, identity agreements.IdentityRule, revocationHosts ...string) {
	t.Helper()
	key, err := seal.GenerateKey(seal.UseEncryption)
	require.NoError(t, err)
	pub, err := seal.PublicJSON(key)
	require.NoError(t, err)
	p := &api.PartyRegistration{ID: id, Kind: string(kind), Name: id, EncryptionKey: pub, RevocationHosts: revocationHosts}
	if identity != (agreements.IdentityRule{}) {
		p.Identity = &api.IdentityRule{SubjectDN: identity.SubjectDN, IssuerFingerprint: identity.IssuerFingerprint}
	}
	if anchor != nil {
		p.TrustAnchors = anchor.pem()
	}
	reg, err := gw.Admin(t, "alice", "admin").RegisterParty(context.Background(), p)
	require.NoError(t, err)
	_, err = gw.Admin(t, "dana", "dpo").ApproveParty(context.Background(), id, reg.RegistrationSHA256)
	require.NoError(t, err)
}

// ocspResponder answers OCSP requests for certificates of issuer, with the
// serials in revoked marked revoked.
type ocspResponder struct {
	issuer  *ca
	mu      sync.Mutex
	revoked map[string]bool
}

func (o *ocspResponder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req, err := ocsp.ParseRequest(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	status := ocsp.Good
	if o.revoked[req.SerialNumber.String()] {
		status = ocsp.Revoked
	}
	o.mu.Unlock()
	resp, err := ocsp.CreateResponse(o.issuer.cert, o.issuer.cert, ocsp.Response{
		Status: status, SerialNumber: req.SerialNumber, ThisUpdate: time.Now().Add(-time.Minute),
		NextUpdate: time.Now().Add(time.Hour), RevokedAt: time.Now().Add(-time.Minute),
	}, o.issuer.key)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/ocsp-response")
	_, _ = w.Write(resp)
}

func TestHandshakes(t *testing.T) {
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{Configure: func(c *config.Config) {
		c.TLS.OCSP = true
		c.TLS.ReloadInterval = 50 * time.Millisecond
	}})
	dev := loadCA(t, gw.Env.PKI())

	// Agencies with PKIs of their own.
	other := newCA(t, "Othershire Police CA")
	registerParty(t, gw, "police.othershire", agreements.KindPolice, other, agreements.IdentityRule{})
	ocspCA := newCA(t, "Agency OCSP CA")
	responder := &ocspResponder{issuer: ocspCA, revoked: map[string]bool{}}
	ocspServer := httptest.NewServer(responder)
	defer ocspServer.Close()
	// Its certificates name the responder; the party registers its host.
	registerParty(t, gw, "agency.ocsp", agreements.KindCourt, ocspCA, agreements.IdentityRule{}, ocspServer.Listener.Addr().String())
	noCRL := newCA(t, "Agency without revocation CA")
	registerParty(t, gw, "agency.nocrl", agreements.KindCourt, noCRL, agreements.IdentityRule{})
	legacy := newCA(t, "Legacy Court CA")
	legacyDN := "CN=crown-court-gateway,O=Test"
	registerParty(t, gw, "court.legacy", agreements.KindCourt, legacy, agreements.IdentityRule{SubjectDN: legacyDN, IssuerFingerprint: certs.Fingerprint(legacy.cert)})
	// Another party trusts the same CA by URI SAN: a certificate matching both rules is ambiguous.
	registerParty(t, gw, "court.legacy-uri", agreements.KindCourt, legacy, agreements.IdentityRule{})
	// The OCSP and no-revocation CAs publish no CRL; the others' CRLs are files the gateway checks.
	crlFor := func(c *ca, revoked ...*big.Int) string {
		tmpl := &x509.RevocationList{Number: big.NewInt(time.Now().UnixNano()), ThisUpdate: time.Now().Add(-time.Minute), NextUpdate: time.Now().Add(time.Hour)}
		for _, s := range revoked {
			tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: time.Now()})
		}
		der, err := x509.CreateRevocationList(rand.Reader, tmpl, c.cert, c.key)
		require.NoError(t, err)
		f := filepath.Join(t.TempDir(), "crl.pem")
		require.NoError(t, os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), 0o600))
		return f
	}
	extraCRLs := []string{crlFor(other), crlFor(legacy)}
	reloadWithCRLs(t, gw, extraCRLs)

	rsaKey := func(bits int) *rsa.PrivateKey {
		k, err := rsa.GenerateKey(rand.Reader, bits)
		require.NoError(t, err)
		return k
	}
	rsaCA := selfSign(t, "RSA Agency CA", rsaKey(3072), x509.SHA256WithRSA)
	registerParty(t, gw, "agency.rsa", agreements.KindHMRC, rsaCA, agreements.IdentityRule{})
	extraCRLs = append(extraCRLs, crlFor(rsaCA))
	reloadWithCRLs(t, gw, extraCRLs)

	selfSigned := newCA(t, "Self signed")
	revokedLater := dev.issue(t, leafOpts{uris: []string{partyURI("council.fraud")}})
	oversized := dev.issue(t, leafOpts{uris: []string{partyURI("council.legal")}})
	for range 5 {
		oversized.Certificate = append(oversized.Certificate, dev.cert.Raw)
	}

	type want struct {
		party, code string
		refused     bool
		// reason is the gateway's own refusal (after Go verified the chain).
		reason string
	}
	cases := []struct {
		name string
		cert tls.Certificate
		want want
	}{
		{"ok/dev-ca-party", dev.issue(t, leafOpts{uris: []string{partyURI("council.revenues")}}), want{party: "council.revenues"}},
		{"ok/own-party-anchor", other.issue(t, leafOpts{uris: []string{partyURI("police.othershire")}}), want{party: "police.othershire"}},
		{"ok/ocsp-good", ocspCA.issue(t, leafOpts{uris: []string{partyURI("agency.ocsp")}, ocsp: ocspServer.URL}), want{party: "agency.ocsp"}},
		{"ok/subject-dn-binding", legacy.issue(t, leafOpts{subject: "crown-court-gateway"}), want{party: "court.legacy"}},
		{"ok/rsa-3072-agency", rsaCA.issue(t, leafOpts{uris: []string{partyURI("agency.rsa")}, key: rsaKey(3072)}), want{party: "agency.rsa"}},
		{"deny/unregistered-party-answers-403", dev.issue(t, leafOpts{uris: []string{partyURI("council.unknown")}}), want{code: "party-unknown"}},
		{"deny/expired", dev.issue(t, leafOpts{uris: []string{partyURI("council.revenues")}, notBefore: time.Now().Add(-48 * time.Hour), notAfter: time.Now().Add(-time.Hour)}), want{refused: true}},
		{"deny/not-yet-valid", dev.issue(t, leafOpts{uris: []string{partyURI("council.revenues")}, notBefore: time.Now().Add(time.Hour)}), want{refused: true}},
		{"deny/wrong-eku", dev.issue(t, leafOpts{uris: []string{partyURI("council.revenues")}, eku: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}), want{refused: true}},
		{"deny/self-signed", selfSigned.issue(t, leafOpts{uris: []string{partyURI("council.revenues")}}), want{refused: true}},
		{"deny/another-partys-anchor", other.issue(t, leafOpts{uris: []string{partyURI("police.northshire")}}), want{refused: true, reason: "wrong-anchor"}},
		{"deny/dn-rule-from-another-ca", other.issue(t, leafOpts{subject: "crown-court-gateway"}), want{refused: true, reason: "no-binding"}},
		{"deny/ambiguous-uri-and-dn", legacy.issue(t, leafOpts{subject: "crown-court-gateway", uris: []string{partyURI("court.legacy-uri")}}), want{refused: true, reason: "ambiguous"}},
		{"deny/revoked-by-ocsp", func() tls.Certificate {
			c := ocspCA.issue(t, leafOpts{uris: []string{partyURI("agency.ocsp")}, ocsp: ocspServer.URL})
			responder.mu.Lock()
			responder.revoked[c.Leaf.SerialNumber.String()] = true
			responder.mu.Unlock()
			return c
		}(), want{refused: true, reason: "revoked"}},
		{"deny/unknown-revocation-status", noCRL.issue(t, leafOpts{uris: []string{partyURI("agency.nocrl")}}), want{refused: true, reason: "revocation-unknown"}},
		{"deny/no-uri-san", dev.issue(t, leafOpts{}), want{refused: true, reason: "no-binding"}},
		{"deny/two-uri-sans", dev.issue(t, leafOpts{uris: []string{partyURI("council.revenues"), partyURI("council.fraud")}}), want{refused: true, reason: "no-binding"}},
		{"deny/wrong-trust-domain", dev.issue(t, leafOpts{uris: []string{"spiffe://elsewhere.test/party/council.revenues"}}), want{refused: true, reason: "no-binding"}},
		{"deny/not-a-party-path", dev.issue(t, leafOpts{uris: []string{"spiffe://" + demo.TrustDomain + "/workload/council.revenues"}}), want{refused: true, reason: "no-binding"}},
		{"deny/oversized-chain", oversized, want{refused: true, reason: "chain-too-long"}},
		{"deny/rsa-1024-key", rsaCA.issue(t, leafOpts{uris: []string{partyURI("agency.rsa")}, key: rsaKey(1024)}), want{refused: true, reason: "key-policy"}},
		{"deny/sha1-signature", rsaCA.issue(t, leafOpts{uris: []string{partyURI("agency.rsa")}, key: rsaKey(3072), alg: x509.SHA1WithRSA}), want{refused: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := refusals(tc.want.reason)
			party, code, err := dial(t, gw, &tc.cert, nil)
			if tc.want.refused {
				require.Error(t, err, "handshake should fail (got party %q code %q)", party, code)
				if tc.want.reason != "" {
					require.Equal(t, before+1, refusals(tc.want.reason), "refused for %s", tc.want.reason)
				}
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want.code, code)
			require.Equal(t, tc.want.party, party)
		})
	}
	t.Run("deny/no-client-certificate", func(t *testing.T) {
		_, _, err := dial(t, gw, nil, nil)
		require.Error(t, err)
	})

	t.Run("ok/valid-after-hot-reload-of-a-new-anchor", func(t *testing.T) {
		newAnchor := newCA(t, "Council second CA")
		cert := newAnchor.issue(t, leafOpts{uris: []string{partyURI("council.social-care")}})
		_, _, err := dial(t, gw, &cert, nil)
		require.Error(t, err, "not trusted yet")
		caFile := gw.Env.CAFile()
		b, err := os.ReadFile(caFile)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(caFile, append(b, newAnchor.pem()...), 0o644))
		extraCRLs = append(extraCRLs, crlFor(newAnchor))
		reloadWithCRLs(t, gw, extraCRLs)
		require.Eventually(t, func() bool {
			party, _, err := dial(t, gw, &cert, nil)
			return err == nil && party == "council.social-care"
		}, 5*time.Second, 50*time.Millisecond, "the file watcher picks up the new anchor")
	})

	t.Run("deny/refused-after-hot-revocation-resumed-sessions-too", func(t *testing.T) {
		cache := tls.NewLRUClientSessionCache(8)
		party, _, err := dial(t, gw, &revokedLater, cache)
		require.NoError(t, err)
		require.Equal(t, "council.fraud", party)
		party, _, resumed, err := dialResumed(t, gw, &revokedLater, cache)
		require.NoError(t, err)
		require.Equal(t, "council.fraud", party)
		require.True(t, resumed, "the second connection resumes the TLS session")

		// Revoke it with the CLI, as an operator would.
		_, _, err = gatehouse(t, "certs", "revoke", "--dir", gw.Env.PKI(), "--serial", fmt.Sprintf("%x", revokedLater.Leaf.SerialNumber), "--reason", "key-compromise")
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			_, _, err := dial(t, gw, &revokedLater, cache)
			return err != nil
		}, 5*time.Second, 50*time.Millisecond, "the revocation takes effect without a restart, resumed sessions included")
		_, _, err = dial(t, gw, &revokedLater, nil)
		require.Error(t, err)
	})

	// What the gateway made of it all: refusals are counted by reason.
	admin := gw.Admin(t, "alice", "auditor")
	seen, err := admin.Certificates(ctx)
	require.NoError(t, err)
	parties := map[string]bool{}
	for _, c := range seen {
		parties[c.Party] = true
		require.Greater(t, c.DaysLeft, -1)
	}
	require.True(t, parties["court.legacy"] || parties["council.revenues"], "seen certificates are listed")
}

// refusals is how many handshakes the gateway refused for reason.
func refusals(reason string) float64 {
	if reason == "" {
		return 0
	}
	return testutil.ToFloat64(metrics.HandshakesRefused.WithLabelValues(reason))
}

// reloadWithCRLs points the gateway at more CRL files and reloads it.
func reloadWithCRLs(t *testing.T, gw *testenv.Gateway, files []string) {
	t.Helper()
	gw.App.Config.TLS.CRLFiles = append([]string{filepath.Join(gw.Env.PKI(), "ca.crl")}, files...)
	require.NoError(t, gw.App.RebuildTLS(context.Background()))
}

func TestInspectCertificate(t *testing.T) {
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	admin := gw.Admin(t, "aziz", "auditor")
	pemOf := func(party string) []byte {
		b, err := os.ReadFile(gw.Env.CertFile(party))
		require.NoError(t, err)
		return b
	}
	in, err := admin.Inspect(ctx, pemOf("police.northshire"))
	require.NoError(t, err)
	require.True(t, in.Accepted, in.Problem)
	require.Equal(t, "police.northshire", in.Party)
	require.True(t, in.Registered)
	require.Equal(t, "active", in.PartyStatus)
	require.Len(t, in.Chain, 2)
	require.Equal(t, string(certs.StatusGood), in.Chain[0].Revocation)
	require.Greater(t, in.Leaf.DaysLeft, 80)

	stranger := newCA(t, "Stranger CA").issue(t, leafOpts{uris: []string{partyURI("dwp")}})
	in, err = admin.Inspect(ctx, certs.EncodeCertificate(stranger.Leaf))
	require.NoError(t, err)
	require.False(t, in.Accepted)
	require.Contains(t, in.Problem, "chain does not verify")

	// A certificate of the gateway's own CA for a party it does not know:
	// the handshake succeeds and the partner listener refuses every request
	// (party-unknown), so the inspection refuses it too.
	in, err = admin.Inspect(ctx, pemOf(testenv.Stranger))
	require.NoError(t, err)
	require.False(t, in.Accepted)
	require.Equal(t, testenv.Stranger, in.Party)
	require.False(t, in.Registered)
	require.Contains(t, in.Problem, "not registered")
	_, err = gw.Client(t, testenv.Stranger).WhoAmI(ctx)
	requireProblem(t, err, http.StatusForbidden, "party-unknown")

	inspect := func(party string) (string, error) {
		out, _, err := gatehouse(t, "certs", "inspect", gw.Env.CertFile(party), "--admin", gw.AdminURL, "--token", gw.Token(t, "aziz", "auditor"), "--ca", gw.Env.CAFile())
		return out, err
	}
	out, err := inspect("dwp")
	require.NoError(t, err)
	require.Contains(t, out, "ACCEPTED: identifies party dwp (registered, active)")
	require.Contains(t, out, "revocation: good")
	out, err = inspect(testenv.Stranger)
	require.Equal(t, 3, cli.ExitCode(err), "a refusal exits 3")
	require.Contains(t, out, "REFUSED: party "+testenv.Stranger+" is not registered")
	require.Contains(t, out, "party "+testenv.Stranger+": not registered with this gateway")

	// A suspended party: registered, and refused as the listener refuses it.
	_, err = gw.Admin(t, "alice", "admin").SuspendParty(ctx, "dwp", "Certificate review")
	require.NoError(t, err)
	in, err = admin.Inspect(ctx, pemOf("dwp"))
	require.NoError(t, err)
	require.False(t, in.Accepted)
	require.True(t, in.Registered)
	require.Equal(t, "suspended", in.PartyStatus)
	_, err = gw.Client(t, "dwp").WhoAmI(ctx)
	requireProblem(t, err, http.StatusForbidden, "party-suspended")
	out, err = inspect("dwp")
	require.Equal(t, 3, cli.ExitCode(err))
	require.Contains(t, out, "party dwp: registered, suspended")
}

// TestImpersonationMatrix: no demo party can read, fetch, acknowledge or
// follow another party's exchanges and requests.
func TestImpersonationMatrix(t *testing.T) {
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	type item struct{ id, sender, recipient string }
	var exchanges []item
	send := func(from string, d *api.ExchangeDeclaration) {
		e, err := gw.Client(t, from).Send(ctx, d, bytes.NewReader([]byte("x")))
		require.NoError(t, err)
		exchanges = append(exchanges, item{e.ID, from, d.Recipient})
	}
	send("council.revenues", policeDisclosure(1))
	send("council.revenues", &api.ExchangeDeclaration{Agreement: "hmrc-tax", Recipient: "hmrc", Purpose: "tax-assessment-collection",
		LawfulBasis: "A6-1-c", DataCategories: []string{"tax"}, Subjects: []api.Subject{{Type: "nino", Value: "QQ1"}}, ContentType: "text/plain", Size: 1})
	send("dwp", &api.ExchangeDeclaration{Agreement: "dwp-benefits", Recipient: "council.revenues", Purpose: "benefit-administration",
		LawfulBasis: "A6-1-c", DataCategories: []string{"benefits"}, ContentType: "text/plain", Size: 1})
	send("council.fraud", &api.ExchangeDeclaration{Agreement: "nfi", Recipient: "cabinet-office.nfi", Purpose: "public-funds-audit",
		LawfulBasis: "A6-1-c", DataCategories: []string{"identity"}, SubjectCount: 100, ContentType: "text/csv", Size: 1})
	send("council.legal", &api.ExchangeDeclaration{Agreement: "court-orders", Recipient: "court.northshire-crown", Purpose: "legal-proceedings",
		LawfulBasis: "A6-1-c", Exemption: "DPA-S2-P1-5", DataCategories: []string{"family"}, Subjects: []api.Subject{{Type: "council-ref", Value: "C1"}},
		Justification: "court order", ContentType: "text/plain", Size: 1})
	req, err := gw.Client(t, "police.northshire").Request(ctx, scheduleTwoRequest())
	require.NoError(t, err)

	checked := 0
	for _, party := range demo.PartyIDs() {
		c := gw.Client(t, party)
		inbox, err := c.Inbox(ctx, "", 0)
		require.NoError(t, err)
		for _, e := range inbox.Exchanges {
			require.Equal(t, party, e.Recipient, "%s's inbox holds only its own", party)
		}
		for _, r := range inbox.Requests {
			require.Equal(t, party, r.Handler)
		}
		for _, e := range exchanges {
			if e.sender == party || e.recipient == party {
				continue
			}
			_, err := c.Exchange(ctx, e.id)
			requireProblem(t, err, http.StatusNotFound, "exchange-not-found")
			_, err = c.Envelope(ctx, e.id)
			requireProblem(t, err, http.StatusNotFound, "exchange-not-found")
			_, err = c.PayloadReader(ctx, e.id, 0)
			requireProblem(t, err, http.StatusNotFound, "exchange-not-found")
			_, err = c.Acknowledge(ctx, e.id)
			requireProblem(t, err, http.StatusNotFound, "exchange-not-found")
			_, err = c.Upload(ctx, e.id, bytes.NewReader([]byte("x")), 1)
			requireProblem(t, err, http.StatusNotFound, "exchange-not-found")
			checked++
		}
		if party != req.Requester && party != req.Handler {
			_, err := c.RequestStatus(ctx, req.ID)
			requireProblem(t, err, http.StatusNotFound, "request-not-found")
			_, err = c.Accept(ctx, req.ID, "")
			requireProblem(t, err, http.StatusNotFound, "request-not-found")
			checked++
		}
	}
	require.Greater(t, checked, 40)
}
