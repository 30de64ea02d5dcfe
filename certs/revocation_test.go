package certs_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/certs"
)

func TestCRLRevocation(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	now := time.Now()
	ca, _, err := certs.LoadOrCreateAuthority(dir, "Test CA", 24*time.Hour, now)
	require.NoError(t, err)
	good, err := ca.IssueParty("northshire.test", "dwp", time.Hour, now)
	require.NoError(t, err)
	bad, err := ca.IssueParty("northshire.test", "hmrc", time.Hour, now)
	require.NoError(t, err)

	reg, err := certs.LoadRegister(dir)
	require.NoError(t, err)
	require.NoError(t, reg.Revoke(bad.Cert.SerialNumber.Text(16), "key-compromise", "", now))
	require.Error(t, reg.Revoke("zz", "key-compromise", "", now))
	require.Error(t, reg.Revoke("ab", "bored", "", now))
	require.NoError(t, reg.Publish(dir, ca, now, time.Hour))

	chk, err := certs.NewChecker(certs.RevocationPolicy{CRLFiles: []string{certs.CRLPath(dir)}})
	require.NoError(t, err)
	st, _ := chk.Status(ctx, good.Cert, ca.Cert, nil)
	require.Equal(t, certs.StatusGood, st)
	st, src := chk.Status(ctx, bad.Cert, ca.Cert, nil)
	require.Equal(t, certs.StatusRevoked, st)
	require.Contains(t, src, "ca.crl")
	require.ErrorIs(t, chk.CheckChain(ctx, []*certsX509{bad.Cert, ca.Cert}, nil), certs.ErrRevoked)
	require.NoError(t, chk.CheckChain(ctx, []*certsX509{good.Cert, ca.Cert}, nil))

	// A CRL past its next update says nothing: the status is unknown, and refused.
	chk.SetClock(func() time.Time { return now.Add(2 * time.Hour) })
	st, _ = chk.Status(ctx, good.Cert, ca.Cert, nil)
	require.Equal(t, certs.StatusUnknown, st)
	require.ErrorIs(t, chk.CheckChain(ctx, []*certsX509{good.Cert, ca.Cert}, nil), certs.ErrRevocationUnknown)
	lenient, err := certs.NewChecker(certs.RevocationPolicy{AllowUnknown: true})
	require.NoError(t, err)
	require.NoError(t, lenient.CheckChain(ctx, []*certsX509{good.Cert, ca.Cert}, nil))
	chk.SetClock(time.Now)

	// A CRL signed by another CA with the same name is not believed.
	impostorDir := t.TempDir()
	impostor, err := certs.NewAuthority("Test CA", time.Hour, now)
	require.NoError(t, err)
	ireg := &certs.Register{}
	require.NoError(t, ireg.Publish(impostorDir, impostor, now, time.Hour))
	fooled, err := certs.NewChecker(certs.RevocationPolicy{CRLFiles: []string{certs.CRLPath(impostorDir)}})
	require.NoError(t, err)
	st, _ = fooled.Status(ctx, bad.Cert, ca.Cert, nil)
	require.Equal(t, certs.StatusUnknown, st)

	// A CRL file that goes bad keeps the last good copy.
	require.NoError(t, os.WriteFile(certs.CRLPath(dir), []byte("garbage"), 0o644))
	require.Error(t, chk.Reload(ctx))
	st, _ = chk.Status(ctx, bad.Cert, ca.Cert, nil)
	require.Equal(t, certs.StatusRevoked, st, "a broken CRL never un-revokes")
}

func TestDistributionPoints(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	now := time.Now()
	ca, _, err := certs.LoadOrCreateAuthority(dir, "DP CA", 24*time.Hour, now)
	require.NoError(t, err)
	reg := &certs.Register{}
	require.NoError(t, reg.Publish(dir, ca, now, time.Hour))
	fetches := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches++
		http.ServeFile(w, r, certs.CRLPath(dir))
	}))
	defer srv.Close()
	csr := newCSR(t)
	leaf, err := ca.IssueFromCSR(csr, "northshire.test", "dwp", 24*time.Hour, srv.URL+"/crl", now)
	require.NoError(t, err)
	require.Equal(t, []string{srv.URL + "/crl"}, leaf.CRLDistributionPoints)

	chk, err := certs.NewChecker(certs.RevocationPolicy{UseDistributionPoints: true})
	require.NoError(t, err)
	allowed := certs.Hosts{srv.Listener.Addr().String()}
	for range 3 {
		st, _ := chk.Status(ctx, leaf, ca.Cert, allowed)
		require.Equal(t, certs.StatusGood, st)
	}
	require.Equal(t, 1, fetches, "the CRL is cached until its next update")
}

// TestRevokedByAnyCRL: with two current CRLs from one CA, the certificate
// is revoked if either lists it, whichever is looked at first. The CRL
// that does not list it is the configured file, always looked at before a
// distribution point, so taking the first CRL would come out good.
func TestRevokedByAnyCRL(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	caDir, staleDir := t.TempDir(), t.TempDir()
	ca, _, err := certs.LoadOrCreateAuthority(caDir, "Two CRL CA", 24*time.Hour, now)
	require.NoError(t, err)
	// An older CRL, still current, from before the revocation.
	require.NoError(t, (&certs.Register{}).Publish(staleDir, ca, now, time.Hour))

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, certs.CRLPath(caDir))
	}))
	defer srv.Close()
	leaf, err := ca.IssueFromCSR(newCSR(t), "northshire.test", "dwp", 24*time.Hour, srv.URL+"/crl", now)
	require.NoError(t, err)
	other, err := ca.IssueFromCSR(newCSR(t), "northshire.test", "hmrc", 24*time.Hour, srv.URL+"/crl", now)
	require.NoError(t, err)
	reg := &certs.Register{}
	require.NoError(t, reg.Revoke(leaf.SerialNumber.Text(16), "key-compromise", "", now))
	require.NoError(t, reg.Publish(caDir, ca, now, time.Hour))

	chk, err := certs.NewChecker(certs.RevocationPolicy{CRLFiles: []string{certs.CRLPath(staleDir)}, UseDistributionPoints: true})
	require.NoError(t, err)
	allowed := certs.Hosts{srv.Listener.Addr().String()}
	for range 20 {
		st, src := chk.Status(ctx, leaf, ca.Cert, allowed)
		require.Equal(t, certs.StatusRevoked, st, "per %s", src)
		require.ErrorIs(t, chk.CheckChain(ctx, []*certsX509{leaf, ca.Cert}, allowed), certs.ErrRevoked)
		st, _ = chk.Status(ctx, other, ca.Cert, allowed)
		require.Equal(t, certs.StatusGood, st, "a serial neither lists is good")
	}
}

// TestRevocationHostsAllowList: the CRL and OCSP addresses a certificate
// names are fetched only from allowed hosts; a real server at any other
// address is never contacted, and the status is unknown (refused).
func TestRevocationHostsAllowList(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	dir := t.TempDir()
	ca, _, err := certs.LoadOrCreateAuthority(dir, "Partner CA", 24*time.Hour, now)
	require.NoError(t, err)
	require.NoError(t, (&certs.Register{}).Publish(dir, ca, now, time.Hour))
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.ServeFile(w, r, certs.CRLPath(dir))
	}))
	defer srv.Close()
	leaf, err := ca.IssueFromCSR(newCSR(t), "northshire.test", "dwp", 24*time.Hour, srv.URL+"/crl", now)
	require.NoError(t, err)
	leaf.OCSPServer = []string{srv.URL + "/ocsp"}

	chk, err := certs.NewChecker(certs.RevocationPolicy{UseDistributionPoints: true, OCSP: true})
	require.NoError(t, err)
	for _, hosts := range []certs.Hosts{nil, {"crl.partner.example"}, {"127.0.0.2"}, {"localhost"}} {
		st, src := chk.Status(ctx, leaf, ca.Cert, hosts)
		require.Equal(t, certs.StatusUnknown, st, "hosts %v", hosts)
		require.Contains(t, src, "allowed host")
		require.ErrorIs(t, chk.CheckChain(ctx, []*certsX509{leaf, ca.Cert}, hosts), certs.ErrRevocationUnknown)
	}
	require.Zero(t, hits.Load(), "a host off the allow-list was contacted")

	st, _ := chk.Status(ctx, leaf, ca.Cert, certs.Hosts{srv.Listener.Addr().String()})
	require.Equal(t, certs.StatusGood, st)
	require.Equal(t, int32(1), hits.Load())
}

// TestRevocationNoRedirects: an allowed host cannot send the gateway on to
// another address.
func TestRevocationNoRedirects(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	dir := t.TempDir()
	ca, _, err := certs.LoadOrCreateAuthority(dir, "Redirect CA", 24*time.Hour, now)
	require.NoError(t, err)
	require.NoError(t, (&certs.Register{}).Publish(dir, ca, now, time.Hour))
	var hits atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.ServeFile(w, r, certs.CRLPath(dir))
	}))
	defer target.Close()
	redirect := httptest.NewServer(http.RedirectHandler(target.URL+"/crl", http.StatusFound))
	defer redirect.Close()
	leaf, err := ca.IssueFromCSR(newCSR(t), "northshire.test", "dwp", 24*time.Hour, redirect.URL+"/crl", now)
	require.NoError(t, err)
	chk, err := certs.NewChecker(certs.RevocationPolicy{UseDistributionPoints: true})
	require.NoError(t, err)
	st, _ := chk.Status(ctx, leaf, ca.Cert, certs.Hosts{redirect.Listener.Addr().String()})
	require.Equal(t, certs.StatusUnknown, st)
	require.Zero(t, hits.Load())
}

func TestHostsAllows(t *testing.T) {
	tests := []struct {
		name  string
		hosts certs.Hosts
		url   string
		want  bool
	}{
		{"ok/name", certs.Hosts{"crl.police.example"}, "http://crl.police.example/ca.crl", true},
		{"ok/case", certs.Hosts{"CRL.police.example"}, "https://crl.POLICE.example/ca.crl", true},
		{"ok/name-and-port", certs.Hosts{"crl.police.example:8080"}, "http://crl.police.example:8080/ca.crl", true},
		{"deny/other-port", certs.Hosts{"crl.police.example"}, "http://crl.police.example:8080/ca.crl", false},
		{"deny/other-host", certs.Hosts{"crl.police.example"}, "http://169.254.169.254/latest", false},
		{"deny/suffix", certs.Hosts{"police.example"}, "http://crl.police.example/ca.crl", false},
		{"deny/userinfo", certs.Hosts{"crl.police.example"}, "http://crl.police.example@evil.example/", false},
		{"deny/userinfo-on-host", certs.Hosts{"crl.police.example"}, "http://x@crl.police.example/", false},
		{"deny/ldap", certs.Hosts{"crl.police.example"}, "ldap://crl.police.example/cn=ca", false},
		{"deny/none", nil, "http://crl.police.example/ca.crl", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, tt.hosts.Allows(tt.url))
		})
	}
}
