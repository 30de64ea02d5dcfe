package console

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse-gw/gatehouse/gateway"
)

// provider is the identity provider, discovered once it answers.
type provider struct {
	oidc       *oidc.Provider
	verifier   *oidc.IDTokenVerifier
	endSession string
	ctx        context.Context
}

// discover finds the identity provider's endpoints and keys; a failure is
// retried at the next sign-in.
func (c *Console) discover(ctx context.Context) (*provider, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.provider != nil {
		return c.provider, nil
	}
	hc := c.opts.OIDC.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	// The key set outlives this request: it fetches keys with this context.
	pctx := oidc.ClientContext(context.WithoutCancel(ctx), hc)
	dctx, cancel := context.WithTimeout(pctx, 10*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(dctx, c.opts.OIDC.Issuer)
	if err != nil {
		return nil, err
	}
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	_ = p.Claims(&meta)
	c.provider = &provider{oidc: p, verifier: p.VerifierContext(pctx, &oidc.Config{ClientID: c.opts.OIDC.ClientID, Now: c.now}),
		endSession: meta.EndSession, ctx: pctx}
	return c.provider, nil
}

func (c *Console) oauth(r *http.Request, p *provider) *oauth2.Config {
	scopes := append([]string{oidc.ScopeOpenID}, c.opts.OIDC.Scopes...)
	if len(c.opts.OIDC.Scopes) == 0 {
		scopes = append(scopes, "profile", "email")
	}
	return &oauth2.Config{ClientID: c.opts.OIDC.ClientID, ClientSecret: c.opts.OIDC.ClientSecret,
		Endpoint: p.oidc.Endpoint(), RedirectURL: c.baseURL(r) + Prefix + "/callback", Scopes: scopes}
}

// baseURL is the console's public origin.
func (c *Console) baseURL(r *http.Request) string {
	if c.opts.OIDC.URL != "" {
		return strings.TrimRight(c.opts.OIDC.URL, "/")
	}
	return "https://" + r.Host
}

// safeReturn keeps a return path inside the console.
func safeReturn(p string) string {
	if !strings.HasPrefix(p, Prefix+"/") || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\\r\n") {
		return Prefix + "/"
	}
	return p
}

func (c *Console) signInPage(w http.ResponseWriter, r *http.Request) {
	if s, _ := c.current(r); s != nil {
		http.Redirect(w, r, safeReturn(r.URL.Query().Get("return")), http.StatusSeeOther)
		return
	}
	c.render(w, r, http.StatusOK, "signin", nil, page{Title: "Sign in", Data: map[string]string{"Return": safeReturn(r.URL.Query().Get("return"))}})
}

// startSignIn sends the browser to the identity provider with a fresh
// state, nonce and PKCE verifier, kept in a short-lived sealed cookie.
func (c *Console) startSignIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8192)
	if !sameOrigin(r) {
		http.Error(w, "cross-site sign-in refused", http.StatusForbidden)
		return
	}
	p, err := c.discover(r.Context())
	if err != nil {
		c.opts.Log.Error("console: identity provider unavailable", "err", err)
		c.render(w, r, http.StatusServiceUnavailable, "error", nil, page{Title: "Sign-in is unavailable",
			Message: "The council's identity provider did not answer. Try again in a few minutes; if it goes on, tell the gateway's operator."})
		return
	}
	f := signInFlow{State: randomToken(), Nonce: randomToken(), Verifier: oauth2.GenerateVerifier(),
		Return: safeReturn(r.PostFormValue("return")), Started: c.now()}
	if err := c.setCookie(w, flowCookie, f, 10*time.Minute); err != nil {
		http.Error(w, "sign-in", http.StatusInternalServerError)
		return
	}
	http.Redirect(w, r, c.oauth(r, p).AuthCodeURL(f.State, oauth2.S256ChallengeOption(f.Verifier), oidc.Nonce(f.Nonce)), http.StatusSeeOther)
}

// callback takes the identity provider's answer: the state must match the
// sign-in cookie, the code is exchanged with the PKCE verifier, and the ID
// token must verify (issuer, audience, expiry, signature, nonce) and name a
// person with a gatehouse role.
func (c *Console) callback(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, msg string, err error) {
		c.opts.Log.Warn("console: sign-in failed", "reason", msg, "err", err)
		clearCookie(w, flowCookie)
		c.render(w, r, status, "error", nil, page{Title: "You could not be signed in", Message: msg, Retry: true})
	}
	var f signInFlow
	ck, err := r.Cookie(flowCookie)
	if err != nil || c.box.openCookie(flowCookie, ck.Value, &f) != nil || c.now().Sub(f.Started) > 10*time.Minute {
		fail(http.StatusBadRequest, "The sign-in took too long or was started elsewhere. Start again.", err)
		return
	}
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		fail(http.StatusForbidden, "The identity provider did not sign you in.", errors.New(e))
		return
	}
	if q.Get("state") == "" || q.Get("state") != f.State {
		fail(http.StatusBadRequest, "The sign-in answer does not belong to this sign-in. Start again.", nil)
		return
	}
	p, err := c.discover(r.Context())
	if err != nil {
		fail(http.StatusServiceUnavailable, "The council's identity provider did not answer. Try again in a few minutes.", err)
		return
	}
	ctx, cancel := context.WithTimeout(oidc.ClientContext(r.Context(), c.httpClient()), 15*time.Second)
	defer cancel()
	tok, err := c.oauth(r, p).Exchange(ctx, q.Get("code"), oauth2.VerifierOption(f.Verifier))
	if err != nil {
		fail(http.StatusBadGateway, "The identity provider refused the sign-in. Start again.", err)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := p.verifier.Verify(ctx, raw)
	if err != nil || idt.Nonce != f.Nonce {
		fail(http.StatusForbidden, "The identity provider's answer did not verify.", err)
		return
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		fail(http.StatusForbidden, "The identity provider's answer did not verify.", err)
		return
	}
	// As for admin tokens, the roles claim is an array of exact role names;
	// a string is refused, never split.
	if r, ok := claims[c.opts.OIDC.Claims.Roles]; ok && c.opts.OIDC.Claims.Roles != "" {
		if _, isArray := r.([]any); !isArray {
			fail(http.StatusForbidden, "The identity provider's roles claim is not a list of roles. Tell the gateway's operator.", nil)
			return
		}
	}
	actor, err := gateway.ActorFromClaims(func(name string) []string { return claimStrings(claims[name]) }, c.opts.OIDC.Claims)
	if err != nil {
		fail(http.StatusForbidden, "Your account has no Gatehouse role (admin, DPO or auditor). Ask your information governance team for one.", err)
		return
	}
	s := &session{Subject: actor.Subject, Name: actor.Name, Roles: actor.Roles, CSRF: randomToken()}
	if len(raw) < 4000 {
		s.IDToken = raw
	}
	clearCookie(w, flowCookie)
	if err := c.startSession(r.Context(), w, s); err != nil {
		fail(http.StatusServiceUnavailable, "Your session could not be kept. Try again in a few minutes; if it goes on, tell the gateway's operator.", err)
		return
	}
	c.opts.Log.Info("console: signed in", "actor", actor.Subject, "roles", strings.Join(actor.Roles, ","))
	http.Redirect(w, r, f.Return, http.StatusSeeOther)
}

func (c *Console) httpClient() *http.Client {
	if c.opts.OIDC.HTTPClient != nil {
		return c.opts.OIDC.HTTPClient
	}
	return &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}}}
}

func claimStrings(x any) []string {
	switch v := x.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// signOut ends the session here (on every node: its row is deleted) and,
// where the provider offers it, there.
func (c *Console) signOut(w http.ResponseWriter, r *http.Request, s *session) {
	if err := c.opts.State.DeleteConsoleSession(r.Context(), s.id); err != nil {
		c.opts.Log.Error("console: sign-out failed", "err", err)
		c.render(w, r, http.StatusServiceUnavailable, "error", s, page{Title: "You have not been signed out",
			Message: "The console could not end your session. Try again; if it goes on, close your browser and tell the gateway's operator."})
		return
	}
	clearCookie(w, sessionCookie)
	c.opts.Log.Info("console: signed out", "actor", s.Subject)
	c.mu.Lock()
	p := c.provider
	c.mu.Unlock()
	if p != nil && p.endSession != "" {
		q := url.Values{"client_id": {c.opts.OIDC.ClientID}, "post_logout_redirect_uri": {c.baseURL(r) + Prefix + "/signed-out"}}
		if s.IDToken != "" {
			q.Set("id_token_hint", s.IDToken)
		}
		http.Redirect(w, r, p.endSession+"?"+q.Encode(), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, Prefix+"/signed-out", http.StatusSeeOther)
}

func (c *Console) signedOutPage(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, http.StatusOK, "signedout", nil, page{Title: "You have signed out"})
}

var _ = fmt.Sprintf
