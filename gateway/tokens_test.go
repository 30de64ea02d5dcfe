package gateway

import (
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/agreements"
)

type tokenFixture struct {
	priv jwk.Key
	set  jwk.Set
	v    *JWTVerifier
	now  time.Time
}

func newTokenFixture(t *testing.T) *tokenFixture {
	raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	priv, err := jwk.Import(raw)
	require.NoError(t, err)
	require.NoError(t, priv.Set(jwk.AlgorithmKey, jwa.ES256()))
	require.NoError(t, jwk.AssignKeyID(priv))
	pub, err := priv.PublicKey()
	require.NoError(t, err)
	set := jwk.NewSet()
	require.NoError(t, set.AddKey(pub))
	set, err = PrepareTokenKeys(set)
	require.NoError(t, err)
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	return &tokenFixture{priv: priv, set: set, now: now, v: &JWTVerifier{
		Keys:   func(context.Context) (jwk.Set, error) { return set, nil },
		Issuer: "https://idp.northshire.test", Audience: "gatehouse-admin", RolesClaim: "roles",
		MaxLifetime: 24 * time.Hour, Clock: func() time.Time { return now },
	}}
}

func (f *tokenFixture) claims(edit func(b *jwt.Builder) *jwt.Builder) jwt.Token {
	b := jwt.NewBuilder().Issuer("https://idp.northshire.test").Audience([]string{"gatehouse-admin"}).
		Subject("alice").IssuedAt(f.now.Add(-time.Minute)).Expiration(f.now.Add(time.Hour)).Claim("roles", []string{"admin"})
	if edit != nil {
		b = edit(b)
	}
	tok, err := b.Build()
	if err != nil {
		panic(err)
	}
	return tok
}

func (f *tokenFixture) sign(t *testing.T, tok jwt.Token) string {
	b, err := jwt.Sign(tok, jwt.WithKey(jwa.ES256(), f.priv))
	require.NoError(t, err)
	return string(b)
}

func b64(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestJWTVerifier(t *testing.T) {
	f := newTokenFixture(t)
	ctx := context.Background()

	actor, err := f.v.Verify(ctx, f.sign(t, f.claims(nil)))
	require.NoError(t, err)
	require.Equal(t, agreements.Actor{Subject: "alice", Roles: []string{"admin"}}, actor)

	some, err := f.v.Verify(ctx, f.sign(t, f.claims(func(b *jwt.Builder) *jwt.Builder { return b.Claim("roles", []string{"dpo", "auditor", "unrelated"}) })))
	require.NoError(t, err)
	require.Equal(t, []string{"dpo", "auditor"}, some.Roles, "unknown roles are dropped")

	kid, _ := f.priv.KeyID()
	pubJSON, err := json.Marshal(must(f.priv.PublicKey()))
	require.NoError(t, err)
	payload := b64(map[string]any{"iss": "https://idp.northshire.test", "aud": "gatehouse-admin", "sub": "mallory",
		"exp": f.now.Add(time.Hour).Unix(), "iat": f.now.Unix(), "roles": []string{"admin"}})

	// HMAC confusion: HS256 keyed with the public key's JSON.
	hsKey, err := jwk.Import(pubJSON)
	require.NoError(t, err)
	hsHdr := jws.NewHeaders()
	require.NoError(t, hsHdr.Set(jws.KeyIDKey, kid))
	hsTok, err := jws.Sign([]byte(payload), jws.WithKey(jwa.HS256(), hsKey, jws.WithProtectedHeaders(hsHdr)))
	require.NoError(t, err)

	otherFixture := newTokenFixture(t)
	const (
		badSignature = "the token's signature, algorithm or claims do not verify"
	)
	cases := map[string]struct{ token, detail string }{
		"alg none":              {b64(map[string]string{"alg": "none", "kid": kid}) + "." + payload + ".", badSignature},
		"hmac with public key":  {string(hsTok), badSignature},
		"signed by another key": {otherFixture.sign(t, f.claims(nil)), badSignature},
		"expired":               {f.sign(t, f.claims(func(b *jwt.Builder) *jwt.Builder { return b.Expiration(f.now.Add(-time.Minute)) })), "the token has expired"},
		"not yet valid":         {f.sign(t, f.claims(func(b *jwt.Builder) *jwt.Builder { return b.NotBefore(f.now.Add(10 * time.Minute)) })), "the token is not valid yet"},
		"wrong issuer":          {f.sign(t, f.claims(func(b *jwt.Builder) *jwt.Builder { return b.Issuer("https://evil.test") })), "the token's issuer is not accepted"},
		"wrong audience":        {f.sign(t, f.claims(func(b *jwt.Builder) *jwt.Builder { return b.Audience([]string{"other-app"}) })), "the token's audience is not this gateway"},
		"roles as a string":     {f.sign(t, f.claims(func(b *jwt.Builder) *jwt.Builder { return b.Claim("roles", "team admin") })), "the token's roles claim must be an array of role names (admin, dpo, auditor)"},
		"roles as one string":   {f.sign(t, f.claims(func(b *jwt.Builder) *jwt.Builder { return b.Claim("roles", "admin") })), "the token's roles claim must be an array of role names (admin, dpo, auditor)"},
		"roles not strings":     {f.sign(t, f.claims(func(b *jwt.Builder) *jwt.Builder { return b.Claim("roles", []any{"admin", 1}) })), "the token's roles claim must be an array of role names (admin, dpo, auditor)"},
		"role inexact":          {f.sign(t, f.claims(func(b *jwt.Builder) *jwt.Builder { return b.Claim("roles", []string{"team admin", "Admin", " admin"}) })), "the token carries no gatehouse role (admin, dpo, auditor)"},
		"no roles":              {f.sign(t, f.claims(func(b *jwt.Builder) *jwt.Builder { return b.Claim("roles", []string{"viewer"}) })), "the token carries no gatehouse role (admin, dpo, auditor)"},
		"lifetime too long":     {f.sign(t, f.claims(func(b *jwt.Builder) *jwt.Builder { return b.Expiration(f.now.Add(72 * time.Hour)) })), "the token's lifetime is too long"},
		"no subject":            {f.sign(t, f.claims(func(b *jwt.Builder) *jwt.Builder { return b.Subject("") })), "the token names no subject"},
		"garbage":               {"not.a.token", badSignature},
		"tampered payload":      {tamper(f.sign(t, f.claims(nil))), badSignature},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := f.v.Verify(ctx, tc.token)
			require.ErrorIs(t, err, ErrToken)
			require.Equal(t, tc.detail, tokenDetail(err))
		})
	}
}

func tamper(tok string) string {
	b := []byte(tok)
	for i := range b {
		if b[i] == '.' {
			b[i+5] ^= 1
			break
		}
	}
	return string(b)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestPrepareTokenKeysRefusesDangerousSets(t *testing.T) {
	f := newTokenFixture(t)
	sym, err := jwk.Import([]byte("0123456789abcdef0123456789abcdef"))
	require.NoError(t, err)
	require.NoError(t, sym.Set(jwk.KeyIDKey, "k"))
	require.NoError(t, sym.Set(jwk.AlgorithmKey, jwa.HS256()))
	hsOnEC, err := f.priv.PublicKey()
	require.NoError(t, err)
	require.NoError(t, hsOnEC.Set(jwk.AlgorithmKey, jwa.HS256()))
	x, err := ecdh.X25519().GenerateKey(rand.Reader)
	require.NoError(t, err)
	xk, err := jwk.Import(x.PublicKey())
	require.NoError(t, err)
	require.NoError(t, xk.Set(jwk.KeyIDKey, "x"))
	noKid, err := f.priv.PublicKey()
	require.NoError(t, err)
	require.NoError(t, noKid.Remove(jwk.KeyIDKey))
	for name, k := range map[string]jwk.Key{"symmetric": sym, "private": f.priv, "hs alg on an EC key": hsOnEC, "X25519 fixes no alg": xk, "no kid": noKid} {
		set := jwk.NewSet()
		require.NoError(t, set.AddKey(k))
		_, err := PrepareTokenKeys(set)
		require.Error(t, err, name)
	}
	_, err = PrepareTokenKeys(jwk.NewSet())
	require.Error(t, err, "empty")
}

// Entra ID publishes RSA keys with kty, use, kid, x5t, n, e and x5c, and no
// alg; its v2 tokens carry the person in oid, name and preferred_username,
// and app roles in roles.
func TestPrepareTokenKeysEntraShaped(t *testing.T) {
	raw, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	pub, err := jwk.Import(raw.Public())
	require.NoError(t, err)
	require.NoError(t, pub.Set(jwk.KeyIDKey, "nOo3ZDrODXEK1jKWhXslHR_KXEg"))
	require.NoError(t, pub.Set(jwk.KeyUsageKey, "sig"))
	_, hasAlg := pub.Algorithm()
	require.False(t, hasAlg)
	set := jwk.NewSet()
	require.NoError(t, set.AddKey(pub))
	ready, err := PrepareTokenKeys(set)
	require.NoError(t, err)
	k, _ := ready.Key(0)
	alg, _ := k.Algorithm()
	require.Equal(t, "RS256", alg.String())

	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	issuer := "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0"
	v := &JWTVerifier{
		Keys:   func(context.Context) (jwk.Set, error) { return ready, nil },
		Issuer: issuer, Audience: "6731de76-14a6-49ae-97bc-6eba6914391e", RolesClaim: "roles", IDClaim: "oid",
		GroupsClaim: "groups", GroupRoles: map[string][]string{"0b4f2cdd-auditors": {"auditor"}},
		MaxLifetime: 24 * time.Hour, Clock: func() time.Time { return now },
	}
	priv, err := jwk.Import(raw)
	require.NoError(t, err)
	require.NoError(t, priv.Set(jwk.KeyIDKey, "nOo3ZDrODXEK1jKWhXslHR_KXEg"))
	sign := func(alg jwa.SignatureAlgorithm, edit func(*jwt.Builder) *jwt.Builder) string {
		b := jwt.NewBuilder().Issuer(issuer).Audience([]string{"6731de76-14a6-49ae-97bc-6eba6914391e"}).
			Subject("AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ").IssuedAt(now.Add(-time.Minute)).Expiration(now.Add(time.Hour)).
			Claim("ver", "2.0").Claim("tid", "9188040d-6c67-4c5b-b112-36a304b66dad").
			Claim("oid", "00000000-0000-0000-66f3-3332eca7ea81").Claim("name", "Dana Okafor").
			Claim("preferred_username", "dana.okafor@northshire.gov.uk").Claim("roles", []string{"dpo"}).
			Claim("groups", []string{"0b4f2cdd-auditors", "everyone"})
		if edit != nil {
			b = edit(b)
		}
		tok, err := b.Build()
		require.NoError(t, err)
		out, err := jwt.Sign(tok, jwt.WithKey(alg, priv))
		require.NoError(t, err)
		return string(out)
	}
	actor, err := v.Verify(context.Background(), sign(jwa.RS256(), nil))
	require.NoError(t, err)
	require.Equal(t, agreements.Actor{Subject: "00000000-0000-0000-66f3-3332eca7ea81", Name: "Dana Okafor", Roles: []string{"dpo", "auditor"}}, actor)

	actor, err = v.Verify(context.Background(), sign(jwa.RS256(), func(b *jwt.Builder) *jwt.Builder { return b.Claim("name", "") }))
	require.NoError(t, err)
	require.Equal(t, "dana.okafor@northshire.gov.uk", actor.Name, "preferred_username when there is no name")

	_, err = v.Verify(context.Background(), sign(jwa.PS256(), nil))
	require.ErrorIs(t, err, ErrToken, "an RSA key without alg verifies RS256 only")

	_, err = v.Verify(context.Background(), sign(jwa.RS256(), func(b *jwt.Builder) *jwt.Builder { return b.Claim("oid", "") }))
	require.ErrorIs(t, err, ErrToken, "no stable id")
}
