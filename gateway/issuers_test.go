package gateway

import (
	"context"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwt"
	"github.com/stretchr/testify/require"
)

// Two issuers, each with its own keys, audience and id claim: a token is
// verified by its own issuer's rules; another issuer's, or a token that
// names one issuer but is signed with the other's key, is refused.
func TestIssuers(t *testing.T) {
	a, b := newTokenFixture(t), newTokenFixture(t)
	b.v.Issuer, b.v.Audience, b.v.IDClaim = "http://127.0.0.1:9999", "gatehouse-cli", "oid"
	is, err := NewIssuers(a.v, b.v)
	require.NoError(t, err)
	ctx := context.Background()
	fromB := func(edit func(*jwt.Builder) *jwt.Builder) jwt.Token {
		return b.claims(func(j *jwt.Builder) *jwt.Builder {
			j = j.Issuer(b.v.Issuer).Audience([]string{"gatehouse-cli"}).Claim("oid", "5e0f8a9d")
			if edit != nil {
				j = edit(j)
			}
			return j
		})
	}

	actor, err := is.Verify(ctx, a.sign(t, a.claims(nil)))
	require.NoError(t, err)
	require.Equal(t, "alice", actor.Subject)
	actor, err = is.Verify(ctx, b.sign(t, fromB(nil)))
	require.NoError(t, err)
	require.Equal(t, "5e0f8a9d", actor.Subject, "issuer b's id claim")

	for name, tok := range map[string]string{
		"unknown issuer":           a.sign(t, a.claims(func(j *jwt.Builder) *jwt.Builder { return j.Issuer("https://evil.test") })),
		"no issuer":                a.sign(t, a.claims(func(j *jwt.Builder) *jwt.Builder { return j.Issuer("") })),
		"b's claims, a's key":      a.sign(t, fromB(nil)),
		"a's claims, b's key":      b.sign(t, a.claims(nil)),
		"b's issuer, a's audience": b.sign(t, fromB(func(j *jwt.Builder) *jwt.Builder { return j.Audience([]string{"gatehouse-admin"}) })),
		"not a token":              "not-a-token",
		"too large":                strings.Repeat("a", maxTokenSize+1),
	} {
		_, err := is.Verify(ctx, tok)
		require.ErrorIs(t, err, ErrToken, name)
	}
	_, err = is.Verify(ctx, a.sign(t, a.claims(func(j *jwt.Builder) *jwt.Builder { return j.Issuer("https://evil.test") })))
	require.Equal(t, "the token's issuer is not accepted", tokenDetail(err))

	require.Equal(t, "oid", is.ClaimsOf(b.v.Issuer).ID)
	require.Equal(t, a.v.Claims(), is.ClaimsOf("https://elsewhere.test"))
	_, err = NewIssuers(a.v, a.v)
	require.Error(t, err, "an issuer listed twice")
}
