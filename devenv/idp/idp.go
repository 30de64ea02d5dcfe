// Package idp is the development identity provider: a real OpenID Connect
// provider (zitadel/oidc's op package: discovery, authorization code with
// PKCE, tokens, userinfo, keys, end session) with demo people for each role,
// so that `make run` and the console's browser tests sign in as a council's
// staff would. It keeps everything in memory and is never for production.
package idp

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Person is a demo member of staff.
type Person struct {
	// ID is their stable id (the oid claim, as Entra ID names it, and sub).
	ID       string
	Username string
	Name     string
	Job      string
	Roles    []string
}

// People are the demo people: one for each kind of console user.
var People = []Person{
	{ID: "7b2b0c3e-4f6a-4d43-9a57-0f3c1d8e2a01", Username: "sam.okoro@northshire.gov.uk", Name: "Sam Okoro", Job: "Gateway administrator", Roles: []string{"admin"}},
	{ID: "5e0f8a9d-2c1b-4e7f-8a6d-3b9c0e1f4a02", Username: "ivy.chen@northshire.gov.uk", Name: "Ivy Chen", Job: "Information governance officer (also a DPO)", Roles: []string{"admin", "dpo"}},
	{ID: "1c9d7e3f-6a2b-4c8d-9e0f-5a4b3c2d1e03", Username: "dana.okafor@northshire.gov.uk", Name: "Dana Okafor", Job: "Data protection officer", Roles: []string{"dpo"}},
	{ID: "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c04", Username: "aziz.rahman@northshire.gov.uk", Name: "Aziz Rahman", Job: "Internal auditor", Roles: []string{"auditor"}},
}

// PersonByUsername returns the demo person with that username.
func PersonByUsername(username string) (Person, bool) {
	for _, p := range People {
		if p.Username == username {
			return p, true
		}
	}
	return Person{}, false
}

// Client is a registered relying party.
type Client struct {
	ID string
	// Secret is empty for a public (native) client, which must use PKCE.
	Secret string
	// RedirectGlobs are the redirect URIs allowed (path.Match patterns: a
	// loopback port may vary, as RFC 8252 expects).
	RedirectGlobs []string
}

// Options configure the provider.
type Options struct {
	// Listen is the address to serve on (loopback).
	Listen string
	// Clients are the relying parties.
	Clients []Client
	// Log receives one line per sign-in (who, with which roles).
	Log *slog.Logger
	// SignIns, if set, receives a line per sign-in for people to read.
	SignIns io.Writer
	// AccessTokenAudience is added to access tokens (the admin API's audience).
	AccessTokenAudience string
}

// Provider is a running development identity provider.
type Provider struct {
	// Issuer is its URL (http on loopback).
	Issuer string
	srv    *http.Server
	ln     net.Listener
}

// Start serves the provider until Close.
func Start(o Options) (*Provider, error) {
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return nil, err
	}
	issuer := "http://" + ln.Addr().String()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		ln.Close()
		return nil, err
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	st := &storage{
		key: key, kid: "dev-" + uuid.NewString()[:8], opts: o,
		requests: map[string]*authRequest{}, codes: map[string]string{},
		tokens: map[string]*token{}, refresh: map[string]*token{},
	}
	var cryptoKey [32]byte
	if _, err := rand.Read(cryptoKey[:]); err != nil {
		ln.Close()
		return nil, err
	}
	prov, err := op.NewProvider(&op.Config{
		CryptoKey:                cryptoKey,
		DefaultLogoutRedirectURI: "/signed-out",
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		GrantTypeRefreshToken:    false,
		SupportedScopes:          []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail},
		SupportedClaims:          []string{"sub", "oid", "name", "preferred_username", "email", "roles"},
	}, st, op.StaticIssuer(issuer), op.WithAllowInsecure(), op.WithLogger(o.Log))
	if err != nil {
		ln.Close()
		return nil, err
	}
	st.callback = op.AuthCallbackURL(prov)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", st.loginPage)
	mux.HandleFunc("POST /login", st.login)
	mux.HandleFunc("GET /signed-out", func(w http.ResponseWriter, _ *http.Request) {
		page(w, http.StatusOK, "Signed out", `<p class="govuk-body">You have signed out of the development identity provider.</p>`)
	})
	mux.Handle("/", prov)
	p := &Provider{Issuer: issuer, ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// Close stops the provider.
func (p *Provider) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return p.srv.Shutdown(ctx)
}

type authRequest struct {
	oidc.AuthRequest
	id       string
	created  time.Time
	subject  string
	authTime time.Time
	done     bool
}

func (a *authRequest) GetID() string          { return a.id }
func (a *authRequest) GetACR() string         { return "" }
func (a *authRequest) GetAMR() []string       { return []string{"pwd"} }
func (a *authRequest) GetAudience() []string  { return []string{a.ClientID} }
func (a *authRequest) GetAuthTime() time.Time { return a.authTime }
func (a *authRequest) GetClientID() string    { return a.ClientID }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	if a.CodeChallenge == "" {
		return nil
	}
	return &oidc.CodeChallenge{Challenge: a.CodeChallenge, Method: a.CodeChallengeMethod}
}
func (a *authRequest) GetNonce() string                   { return a.Nonce }
func (a *authRequest) GetRedirectURI() string             { return a.RedirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType { return a.ResponseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode { return a.ResponseMode }
func (a *authRequest) GetScopes() []string                { return a.Scopes }
func (a *authRequest) GetState() string                   { return a.State }
func (a *authRequest) GetSubject() string                 { return a.subject }
func (a *authRequest) Done() bool                         { return a.done }

type token struct {
	id, subject, clientID string
	audience, scopes      []string
	expires               time.Time
}

type storage struct {
	mu       sync.Mutex
	key      *rsa.PrivateKey
	kid      string
	opts     Options
	callback func(context.Context, string) string
	requests map[string]*authRequest
	codes    map[string]string // code → request id
	tokens   map[string]*token
	refresh  map[string]*token
}

var errNotFound = errors.New("not found")

func (s *storage) person(id string) (Person, bool) {
	for _, p := range People {
		if p.ID == id {
			return p, true
		}
	}
	return Person{}, false
}

func (s *storage) CreateAuthRequest(_ context.Context, r *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Prune requests nobody finished.
	for id, a := range s.requests {
		if time.Since(a.created) > 10*time.Minute {
			delete(s.requests, id)
		}
	}
	a := &authRequest{AuthRequest: *r, id: uuid.NewString(), created: time.Now()}
	s.requests[a.id] = a
	return a, nil
}

func (s *storage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.requests[id]
	if !ok {
		return nil, errNotFound
	}
	return a, nil
}

func (s *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	id, ok := s.codes[code]
	s.mu.Unlock()
	if !ok {
		return nil, errNotFound
	}
	return s.AuthRequestByID(ctx, id)
}

func (s *storage) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[code] = id
	return nil
}

func (s *storage) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.requests, id)
	for c, rid := range s.codes {
		if rid == id {
			delete(s.codes, c)
		}
	}
	return nil
}

func (s *storage) newToken(r op.TokenRequest, clientID string) *token {
	t := &token{id: uuid.NewString(), subject: r.GetSubject(), clientID: clientID, audience: r.GetAudience(), scopes: r.GetScopes(), expires: time.Now().Add(15 * time.Minute)}
	s.mu.Lock()
	s.tokens[t.id] = t
	s.mu.Unlock()
	return t
}

func clientOf(r op.TokenRequest) string {
	switch x := r.(type) {
	case op.AuthRequest:
		return x.GetClientID()
	case op.RefreshTokenRequest:
		return x.GetClientID()
	}
	return ""
}

func (s *storage) CreateAccessToken(_ context.Context, r op.TokenRequest) (string, time.Time, error) {
	t := s.newToken(r, clientOf(r))
	return t.id, t.expires, nil
}

func (s *storage) CreateAccessAndRefreshTokens(ctx context.Context, r op.TokenRequest, _ string) (string, string, time.Time, error) {
	id, exp, err := s.CreateAccessToken(ctx, r)
	return id, "", exp, err
}

func (s *storage) TokenRequestByRefreshToken(context.Context, string) (op.RefreshTokenRequest, error) {
	return nil, op.ErrInvalidRefreshToken
}

func (s *storage) TerminateSession(_ context.Context, userID, clientID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, t := range s.tokens {
		if t.subject == userID && t.clientID == clientID {
			delete(s.tokens, id)
		}
	}
	return nil
}

func (s *storage) RevokeToken(_ context.Context, tokenOrID, _, _ string) *oidc.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tokens, tokenOrID)
	return nil
}

func (s *storage) GetRefreshTokenInfo(context.Context, string, string) (string, string, error) {
	return "", "", op.ErrInvalidRefreshToken
}

type signingKey struct {
	kid string
	key *rsa.PrivateKey
}

func (k signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k signingKey) Key() any                                    { return k.key }
func (k signingKey) ID() string                                  { return k.kid }

type publicKey struct {
	kid string
	key *rsa.PublicKey
}

func (k publicKey) ID() string                         { return k.kid }
func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return k.key }

func (s *storage) SigningKey(context.Context) (op.SigningKey, error) {
	return signingKey{s.kid, s.key}, nil
}

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s *storage) KeySet(context.Context) ([]op.Key, error) {
	return []op.Key{publicKey{s.kid, &s.key.PublicKey}}, nil
}

func (s *storage) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	for _, c := range s.opts.Clients {
		if c.ID == id {
			return &client{c}, nil
		}
	}
	return nil, errNotFound
}

func (s *storage) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	for _, c := range s.opts.Clients {
		if c.ID == id && c.Secret != "" && sha256.Sum256([]byte(c.Secret)) == sha256.Sum256([]byte(secret)) {
			return nil
		}
	}
	return errors.New("invalid client")
}

// claims are what a token says of a person: Entra ID's shape (oid, name,
// preferred_username, roles).
func (s *storage) claims(subject string) (Person, map[string]any, bool) {
	p, ok := s.person(subject)
	if !ok {
		return Person{}, nil, false
	}
	return p, map[string]any{"oid": p.ID, "roles": slices.Clone(p.Roles)}, true
}

func (s *storage) SetUserinfoFromScopes(_ context.Context, u *oidc.UserInfo, userID, _ string, _ []string) error {
	p, extra, ok := s.claims(userID)
	if !ok {
		return errNotFound
	}
	u.Subject = p.ID
	u.Name, u.PreferredUsername = p.Name, p.Username
	u.Email, u.EmailVerified = p.Username, true
	for k, v := range extra {
		u.AppendClaims(k, v)
	}
	return nil
}

func (s *storage) SetUserinfoFromToken(ctx context.Context, u *oidc.UserInfo, tokenID, subject, _ string) error {
	s.mu.Lock()
	t, ok := s.tokens[tokenID]
	s.mu.Unlock()
	if !ok || time.Now().After(t.expires) {
		return errors.New("token is not valid")
	}
	return s.SetUserinfoFromScopes(ctx, u, t.subject, t.clientID, t.scopes)
}

func (s *storage) SetIntrospectionFromToken(_ context.Context, r *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	s.mu.Lock()
	t, ok := s.tokens[tokenID]
	s.mu.Unlock()
	if !ok || time.Now().After(t.expires) {
		return errors.New("token is not valid")
	}
	r.Active, r.Subject, r.ClientID, r.Scope = true, t.subject, t.clientID, t.scopes
	return nil
}

func (s *storage) GetPrivateClaimsFromScopes(_ context.Context, userID, _ string, _ []string) (map[string]any, error) {
	p, extra, ok := s.claims(userID)
	if !ok {
		return nil, errNotFound
	}
	extra["name"], extra["preferred_username"] = p.Name, p.Username
	return extra, nil
}

func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errNotFound
}

func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("JWT profile grants are not offered")
}

func (s *storage) Health(context.Context) error { return nil }

// client is a registered relying party as op sees it.
type client struct{ c Client }

func (c *client) GetID() string                    { return c.c.ID }
func (c *client) RedirectURIs() []string           { return nil }
func (c *client) RedirectURIGlobs() []string       { return c.c.RedirectGlobs }
func (c *client) PostLogoutRedirectURIs() []string { return nil }
func (c *client) PostLogoutRedirectURIGlobs() []string {
	return c.c.RedirectGlobs
}
func (c *client) ApplicationType() op.ApplicationType {
	if c.c.Secret == "" {
		return op.ApplicationTypeNative
	}
	return op.ApplicationTypeWeb
}
func (c *client) AuthMethod() oidc.AuthMethod {
	if c.c.Secret == "" {
		return oidc.AuthMethodNone
	}
	return oidc.AuthMethodBasic
}
func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *client) GrantTypes() []oidc.GrantType        { return []oidc.GrantType{oidc.GrantTypeCode} }
func (c *client) LoginURL(id string) string           { return "/login?authRequestID=" + id }
func (c *client) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeJWT }
func (c *client) IDTokenLifetime() time.Duration      { return 15 * time.Minute }
func (c *client) DevMode() bool                       { return false }
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) IsScopeAllowed(string) bool           { return false }
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *client) ClockSkew() time.Duration             { return 0 }

var _ op.HasRedirectGlobs = (*client)(nil)

var loginTmpl = template.Must(template.New("login").Parse(`<form method="post" action="/login" novalidate>
<input type="hidden" name="authRequestID" value="{{.ID}}">
<div class="govuk-form-group">
<fieldset class="govuk-fieldset">
<legend class="govuk-fieldset__legend govuk-fieldset__legend--m"><h1 class="govuk-fieldset__heading">Sign in as a demo person</h1></legend>
<p class="govuk-body">This is the development identity provider: it signs anyone in without a password. Never use it in production.</p>
<div class="govuk-radios" data-module="govuk-radios">
{{range $i, $p := .People}}<div class="govuk-radios__item">
<input class="govuk-radios__input" id="person-{{$i}}" name="username" type="radio" value="{{$p.Username}}"{{if eq $i 0}} checked{{end}}>
<label class="govuk-label govuk-radios__label" for="person-{{$i}}">{{$p.Name}}, {{$p.Job}} ({{$p.Username}})</label>
</div>
{{end}}</div>
</fieldset>
</div>
<button type="submit" class="govuk-button" id="sign-in">Sign in</button>
</form>`))

func (s *storage) loginPage(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("authRequestID")
	s.mu.Lock()
	_, ok := s.requests[id]
	s.mu.Unlock()
	if !ok {
		page(w, http.StatusBadRequest, "Sign-in expired", `<p class="govuk-body">This sign-in request has expired or is unknown. Go back to the service and start again.</p>`)
		return
	}
	var b strings.Builder
	_ = loginTmpl.Execute(&b, map[string]any{"ID": id, "People": People})
	page(w, http.StatusOK, "Sign in", b.String())
}

func (s *storage) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	id := r.PostForm.Get("authRequestID")
	p, ok := PersonByUsername(r.PostForm.Get("username"))
	s.mu.Lock()
	a, found := s.requests[id]
	if found && ok {
		a.subject, a.authTime, a.done = p.ID, time.Now(), true
	}
	s.mu.Unlock()
	if !found || !ok {
		page(w, http.StatusBadRequest, "Sign-in failed", `<p class="govuk-body">Choose a person from the list and try again.</p>`)
		return
	}
	s.opts.Log.Info("development sign-in", "person", p.Username, "roles", strings.Join(p.Roles, ","), "client", a.ClientID)
	if s.opts.SignIns != nil {
		fmt.Fprintf(s.opts.SignIns, "signed in: %s (%s) as %s, for %s\n", p.Name, p.Username, strings.Join(p.Roles, ", "), a.ClientID)
	}
	http.Redirect(w, r, s.callback(r.Context(), id), http.StatusFound)
}

func page(w http.ResponseWriter, status int, title, body string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http://127.0.0.1:* http://localhost:* https://127.0.0.1:* https://localhost:*; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<!DOCTYPE html>
<html lang="en-GB"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>%s – Development identity provider</title>
<style>body{font-family:Arial,sans-serif;margin:0;color:#0b0c0c;line-height:1.4}header{background:#0b0c0c;color:#fff;padding:10px 20px;font-weight:bold}main{max-width:40em;padding:20px}.govuk-radios__item{margin:10px 0}.govuk-radios__input{width:24px;height:24px;vertical-align:middle}.govuk-button{background:#00703c;color:#fff;border:0;padding:10px 16px;font-size:19px;box-shadow:0 2px 0 #002d18;cursor:pointer}.govuk-button:focus{outline:3px solid #fd0;background:#fd0;color:#0b0c0c}fieldset{border:0;padding:0;margin:0}legend h1{font-size:2em;margin:0 0 10px}</style>
</head><body><header>Development identity provider</header><main id="main-content">%s</main></body></html>`, template.HTMLEscapeString(title), body)
}
