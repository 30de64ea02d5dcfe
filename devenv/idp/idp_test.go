package idp

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
)

// A relying party signs a demo person in with the authorization code flow
// and PKCE, as the console does: discovery, the login page, the code, the
// token exchange, and an ID token that names the person and their roles.
func TestCodeFlowWithPKCE(t *testing.T) {
	var signIns bytes.Buffer
	p, err := Start(Options{
		Listen:  "127.0.0.1:0",
		Clients: []Client{{ID: "console", Secret: "s3cret", RedirectGlobs: []string{"http://127.0.0.1:*/callback"}}},
		SignIns: &signIns,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	ctx := context.Background()
	prov, err := oidc.NewProvider(ctx, p.Issuer)
	require.NoError(t, err)

	codes := make(chan url.Values, 1)
	cb := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { codes <- r.URL.Query() })}
	ln := listen(t)
	go func() { _ = cb.Serve(ln) }()
	t.Cleanup(func() { _ = cb.Close() })

	conf := oauth2.Config{ClientID: "console", ClientSecret: "s3cret", Endpoint: prov.Endpoint(),
		RedirectURL: "http://" + ln.Addr().String() + "/callback", Scopes: []string{oidc.ScopeOpenID, "profile", "email"}}
	verifier := oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL("state-1", oauth2.S256ChallengeOption(verifier), oidc.Nonce("nonce-1"))

	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	resp, err := hc.Get(authURL)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	id := resp.Request.URL.Query().Get("authRequestID")
	require.NotEmpty(t, id, "the provider shows its login page")

	resp, err = hc.PostForm(p.Issuer+"/login", url.Values{"authRequestID": {id}, "username": {"dana.okafor@northshire.gov.uk"}})
	require.NoError(t, err)
	resp.Body.Close()
	q := <-codes
	require.Equal(t, "state-1", q.Get("state"))

	_, err = conf.Exchange(ctx, q.Get("code"))
	require.Error(t, err, "the code is refused without the PKCE verifier")

	// A fresh sign-in, exchanged with its verifier.
	verifier = oauth2.GenerateVerifier()
	resp, err = hc.Get(conf.AuthCodeURL("state-2", oauth2.S256ChallengeOption(verifier), oidc.Nonce("nonce-2")))
	require.NoError(t, err)
	resp.Body.Close()
	id = resp.Request.URL.Query().Get("authRequestID")
	resp, err = hc.PostForm(p.Issuer+"/login", url.Values{"authRequestID": {id}, "username": {"dana.okafor@northshire.gov.uk"}})
	require.NoError(t, err)
	resp.Body.Close()
	q = <-codes
	tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	require.NoError(t, err)
	raw, _ := tok.Extra("id_token").(string)
	idt, err := prov.Verifier(&oidc.Config{ClientID: "console"}).Verify(ctx, raw)
	require.NoError(t, err)
	require.Equal(t, "nonce-2", idt.Nonce)
	var claims struct {
		OID   string   `json:"oid"`
		Name  string   `json:"name"`
		Roles []string `json:"roles"`
	}
	require.NoError(t, idt.Claims(&claims))
	require.Equal(t, "1c9d7e3f-6a2b-4c8d-9e0f-5a4b3c2d1e03", claims.OID)
	require.Equal(t, "Dana Okafor", claims.Name)
	require.Equal(t, []string{"dpo"}, claims.Roles)
	require.Contains(t, signIns.String(), "signed in: Dana Okafor (dana.okafor@northshire.gov.uk) as dpo, for console")

	// A redirect URI that is not registered is refused.
	bad := conf
	bad.RedirectURL = "http://evil.test/callback"
	resp, err = http.Get(bad.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
	require.NoError(t, err)
	resp.Body.Close()
	require.NotEqual(t, "/login", resp.Request.URL.Path)
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return ln
}
