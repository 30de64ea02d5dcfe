package gateway

import (
	"context"
	"fmt"

	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/gatehouse-gw/gatehouse/agreements"
)

// Issuers verifies admin tokens from several issuers, each with its own
// keys, audience and claim names: a token goes to the verifier of the
// issuer its iss names, which checks everything again (iss included), and
// a token of any other issuer is refused. Reading iss before the signature
// is checked chooses only which keys to try; it grants nothing.
type Issuers struct {
	// First is the verifier the console's claim names come from when no
	// other issuer is the console's.
	First *JWTVerifier
	By    map[string]*JWTVerifier
}

var _ TokenVerifier = (*Issuers)(nil)

// NewIssuers returns the verifier of vs (at least one), keyed by issuer.
func NewIssuers(vs ...*JWTVerifier) (*Issuers, error) {
	if len(vs) == 0 {
		return nil, fmt.Errorf("gateway: no token issuer")
	}
	is := &Issuers{First: vs[0], By: map[string]*JWTVerifier{}}
	for _, v := range vs {
		if _, dup := is.By[v.Issuer]; dup || v.Issuer == "" {
			return nil, fmt.Errorf("gateway: token issuer %q is empty or listed twice", v.Issuer)
		}
		is.By[v.Issuer] = v
	}
	return is, nil
}

// Verify implements TokenVerifier.
func (is *Issuers) Verify(ctx context.Context, raw string) (agreements.Actor, error) {
	if len(raw) > maxTokenSize {
		return agreements.Actor{}, fmt.Errorf("%w: the token is too large", ErrToken)
	}
	tok, err := jwt.ParseInsecure([]byte(raw))
	if err != nil {
		return agreements.Actor{}, fmt.Errorf("%w: %w", ErrToken, err)
	}
	iss, _ := tok.Issuer()
	v, ok := is.By[iss]
	if !ok {
		return agreements.Actor{}, fmt.Errorf("%w: %w", ErrToken, jwt.InvalidIssuerError())
	}
	return v.Verify(ctx, raw)
}

// ClaimsOf returns the claim names of issuer's tokens, or the first
// issuer's when issuer is not one of them.
func (is *Issuers) ClaimsOf(issuer string) ClaimNames {
	if v, ok := is.By[issuer]; ok {
		return v.Claims()
	}
	return is.First.Claims()
}

// maxTokenSize bounds a token read before its signature is checked.
const maxTokenSize = 16 << 10
