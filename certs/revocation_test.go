package certs_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
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
	st, _ := chk.Status(ctx, good.Cert, ca.Cert)
	require.Equal(t, certs.StatusGood, st)
	st, src := chk.Status(ctx, bad.Cert, ca.Cert)
	require.Equal(t, certs.StatusRevoked, st)
	require.Contains(t, src, "ca.crl")
	require.ErrorIs(t, chk.CheckChain(ctx, []*certsX509{bad.Cert, ca.Cert}), certs.ErrRevoked)
	require.NoError(t, chk.CheckChain(ctx, []*certsX509{good.Cert, ca.Cert}))

	// A CRL past its next update says nothing: the status is unknown, and refused.
	chk.SetClock(func() time.Time { return now.Add(2 * time.Hour) })
	st, _ = chk.Status(ctx, good.Cert, ca.Cert)
	require.Equal(t, certs.StatusUnknown, st)
	require.ErrorIs(t, chk.CheckChain(ctx, []*certsX509{good.Cert, ca.Cert}), certs.ErrRevocationUnknown)
	lenient, err := certs.NewChecker(certs.RevocationPolicy{AllowUnknown: true})
	require.NoError(t, err)
	require.NoError(t, lenient.CheckChain(ctx, []*certsX509{good.Cert, ca.Cert}))
	chk.SetClock(time.Now)

	// A CRL signed by another CA with the same name is not believed.
	impostorDir := t.TempDir()
	impostor, err := certs.NewAuthority("Test CA", time.Hour, now)
	require.NoError(t, err)
	ireg := &certs.Register{}
	require.NoError(t, ireg.Publish(impostorDir, impostor, now, time.Hour))
	fooled, err := certs.NewChecker(certs.RevocationPolicy{CRLFiles: []string{certs.CRLPath(impostorDir)}})
	require.NoError(t, err)
	st, _ = fooled.Status(ctx, bad.Cert, ca.Cert)
	require.Equal(t, certs.StatusUnknown, st)

	// A CRL file that goes bad keeps the last good copy.
	require.NoError(t, os.WriteFile(certs.CRLPath(dir), []byte("garbage"), 0o644))
	require.Error(t, chk.Reload(ctx))
	st, _ = chk.Status(ctx, bad.Cert, ca.Cert)
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
	for range 3 {
		st, _ := chk.Status(ctx, leaf, ca.Cert)
		require.Equal(t, certs.StatusGood, st)
	}
	require.Equal(t, 1, fetches, "the CRL is cached until its next update")
}
