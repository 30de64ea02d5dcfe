package gateway

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/gatehouse-gw/gatehouse/agreements"
)

// TokenVerifier verifies an admin bearer token and names its actor.
type TokenVerifier interface {
	Verify(ctx context.Context, token string) (agreements.Actor, error)
}

// ErrToken is returned for a token that does not verify; the cause says why.
var ErrToken = errors.New("invalid bearer token")

// Why a token that verified cryptographically is still refused; each is
// returned wrapped in ErrToken.
var (
	errTokenNoSubject = errors.New("the token names no subject")
	errTokenLifetime  = errors.New("token lifetime too long")
	errTokenNoRole    = errors.New("no gatehouse role")
)

// tokenDetail says why a token failed, for the client, without echoing it.
func tokenDetail(err error) string {
	switch {
	case errors.Is(err, jwt.TokenExpiredError()):
		return "the token has expired"
	case errors.Is(err, jwt.InvalidIssuerError()):
		return "the token's issuer is not accepted"
	case errors.Is(err, jwt.InvalidAudienceError()):
		return "the token's audience is not this gateway"
	case errors.Is(err, jwt.TokenNotYetValidError()):
		return "the token is not valid yet"
	case errors.Is(err, errTokenNoSubject):
		return "the token names no subject"
	case errors.Is(err, errTokenNoRole):
		return "the token carries no gatehouse role (admin, dpo, auditor)"
	case errors.Is(err, errTokenLifetime):
		return "the token's lifetime is too long"
	}
	return "the token's signature, algorithm or claims do not verify"
}

// JWTVerifier verifies admin tokens with jwx: the signature against a JWKS
// (each key with an explicit alg, no symmetric keys, so neither "none" nor an
// HMAC signed with a public key can pass), then iss, aud, exp, nbf and sub.
type JWTVerifier struct {
	// Keys returns the current key set (a file read at start, or a cached URL).
	Keys       func(ctx context.Context) (jwk.Set, error)
	Issuer     string
	Audience   string
	RolesClaim string
	// MaxLifetime refuses tokens whose exp is further than this after iat.
	MaxLifetime time.Duration
	Clock       func() time.Time
}

// Verify implements TokenVerifier.
func (v *JWTVerifier) Verify(ctx context.Context, raw string) (agreements.Actor, error) {
	set, err := v.Keys(ctx)
	if err != nil {
		return agreements.Actor{}, fmt.Errorf("admin token keys unavailable: %w", err)
	}
	clock := v.Clock
	if clock == nil {
		clock = time.Now
	}
	tok, err := jwt.ParseString(raw,
		jwt.WithKeySet(set, jws.WithRequireKid(true), jws.WithInferAlgorithmFromKey(false)),
		jwt.WithValidate(true),
		jwt.WithIssuer(v.Issuer),
		jwt.WithAudience(v.Audience),
		jwt.WithRequiredClaim(jwt.ExpirationKey),
		jwt.WithRequiredClaim(jwt.SubjectKey),
		jwt.WithAcceptableSkew(30*time.Second),
		jwt.WithClock(jwt.ClockFunc(clock)),
	)
	if err != nil {
		return agreements.Actor{}, fmt.Errorf("%w: %w", ErrToken, err)
	}
	sub, _ := tok.Subject()
	if strings.TrimSpace(sub) == "" {
		return agreements.Actor{}, fmt.Errorf("%w: %w", ErrToken, errTokenNoSubject)
	}
	if v.MaxLifetime > 0 {
		iat, ok := tok.IssuedAt()
		exp, _ := tok.Expiration()
		if !ok || exp.Sub(iat) > v.MaxLifetime {
			return agreements.Actor{}, fmt.Errorf("%w: %w: exceeds %s (or has no iat)", ErrToken, errTokenLifetime, v.MaxLifetime)
		}
	}
	actor := agreements.Actor{Subject: sub}
	var roles any
	if err := tok.Get(v.RolesClaim, &roles); err == nil {
		switch r := roles.(type) {
		case string:
			actor.Roles = strings.Fields(r)
		case []any:
			for _, x := range r {
				if s, ok := x.(string); ok {
					actor.Roles = append(actor.Roles, s)
				}
			}
		case []string:
			actor.Roles = r
		}
	}
	var known []string
	for _, r := range actor.Roles {
		switch r {
		case agreements.RoleAdmin, agreements.RoleDPO, agreements.RoleAuditor:
			known = append(known, r)
		}
	}
	actor.Roles = known
	if len(actor.Roles) == 0 {
		return agreements.Actor{}, fmt.Errorf("%w: %w (admin, dpo, auditor) in claim %q", ErrToken, errTokenNoRole, v.RolesClaim)
	}
	return actor, nil
}

// CheckTokenKeys refuses a JWKS that could let a forged token through:
// every key must be asymmetric, public, and name its alg and kid.
func CheckTokenKeys(set jwk.Set) error {
	if set.Len() == 0 {
		return errors.New("the key set is empty")
	}
	for i := range set.Len() {
		k, _ := set.Key(i)
		kid, _ := k.KeyID()
		if k.KeyType() == jwa.OctetSeq() {
			return fmt.Errorf("key %d (%s): symmetric keys are not accepted for admin tokens", i, kid)
		}
		if priv, _ := jwk.IsPrivateKey(k); priv {
			return fmt.Errorf("key %d (%s): a private key; publish only public keys", i, kid)
		}
		if kid == "" {
			return fmt.Errorf("key %d: needs a kid", i)
		}
		alg, ok := k.Algorithm()
		if !ok || alg.String() == "" || strings.HasPrefix(alg.String(), "HS") || alg.String() == "none" {
			return fmt.Errorf("key %d (%s): needs an explicit asymmetric alg (e.g. ES256)", i, kid)
		}
	}
	return nil
}
