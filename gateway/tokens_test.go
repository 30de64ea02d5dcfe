package gateway

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
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
	require.NoError(t, CheckTokenKeys(set))
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

	spaceRoles, err := f.v.Verify(ctx, f.sign(t, f.claims(func(b *jwt.Builder) *jwt.Builder { return b.Claim("roles", "dpo auditor unrelated") })))
	require.NoError(t, err)
	require.Equal(t, []string{"dpo", "auditor"}, spaceRoles.Roles, "unknown roles are dropped")

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

func TestCheckTokenKeysRefusesDangerousSets(t *testing.T) {
	f := newTokenFixture(t)
	sym, err := jwk.Import([]byte("0123456789abcdef0123456789abcdef"))
	require.NoError(t, err)
	require.NoError(t, sym.Set(jwk.KeyIDKey, "k"))
	require.NoError(t, sym.Set(jwk.AlgorithmKey, jwa.HS256()))
	noAlg, err := f.priv.PublicKey()
	require.NoError(t, err)
	require.NoError(t, noAlg.Remove(jwk.AlgorithmKey))
	for name, k := range map[string]jwk.Key{"symmetric": sym, "private": f.priv, "no alg": noAlg} {
		set := jwk.NewSet()
		require.NoError(t, set.AddKey(k))
		require.Error(t, CheckTokenKeys(set), name)
	}
	require.Error(t, CheckTokenKeys(jwk.NewSet()), "empty")
}
