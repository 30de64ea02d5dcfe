package gateway

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

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
	errTokenRoles     = errors.New("the roles claim is not an array of role names")
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
	case errors.Is(err, errTokenRoles):
		return "the token's roles claim must be an array of role names (admin, dpo, auditor)"
	case errors.Is(err, errTokenLifetime):
		return "the token's lifetime is too long"
	}
	return "the token's signature, algorithm or claims do not verify"
}

// JWTVerifier verifies admin tokens with jwx: the signature against a JWKS
// (each key with an alg, explicit or fixed by its kty/crv, no symmetric
// keys, so neither "none" nor an HMAC signed with a public key can pass),
// then iss, aud, exp, nbf and sub.
type JWTVerifier struct {
	// Keys returns the current key set (a file read at start, or a cached
	// URL), as PrepareTokenKeys leaves it.
	Keys       func(ctx context.Context) (jwk.Set, error)
	Issuer     string
	Audience   string
	RolesClaim string
	// GroupsClaim and GroupRoles map the identity provider's groups to
	// roles, beside (or instead of) the roles claim.
	GroupsClaim string
	GroupRoles  map[string][]string
	// IDClaim names the claim that identifies the person stably (e.g. Entra's
	// oid); empty means sub.
	IDClaim string
	// NameClaims are tried in order for the person's display name; empty
	// means name, then preferred_username.
	NameClaims []string
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
	if v.MaxLifetime > 0 {
		iat, ok := tok.IssuedAt()
		exp, _ := tok.Expiration()
		if !ok || exp.Sub(iat) > v.MaxLifetime {
			return agreements.Actor{}, fmt.Errorf("%w: %w: exceeds %s (or has no iat)", ErrToken, errTokenLifetime, v.MaxLifetime)
		}
	}
	// The roles claim is an array of exact role names: a string is refused
	// rather than split ("team admin" must not grant admin), and so is an
	// array holding anything but strings.
	if name := v.RolesClaim; name != "" {
		var x any
		if err := tok.Get(name, &x); err == nil {
			if !stringArray(x) {
				return agreements.Actor{}, fmt.Errorf("%w: %w (claim %q)", ErrToken, errTokenRoles, name)
			}
		}
	}
	claims := func(name string) []string {
		var x any
		if err := tok.Get(name, &x); err != nil {
			return nil
		}
		return stringsOf(x)
	}
	return ActorFromClaims(claims, v.Claims())
}

// Claims returns the claim names v reads a person from.
func (v *JWTVerifier) Claims() ClaimNames {
	return ClaimNames{ID: v.IDClaim, Names: v.NameClaims, Roles: v.RolesClaim, Groups: v.GroupsClaim, GroupRoles: v.GroupRoles}
}

// ClaimNames says which claims of a verified token (an access token or an
// ID token) name the person and their roles.
type ClaimNames struct {
	// ID is the stable id claim; empty means sub.
	ID string
	// Names are tried in order for the display name; empty means name, then
	// preferred_username.
	Names []string
	// Roles holds gatehouse roles (admin, dpo, auditor), as Entra app roles do.
	Roles string
	// Groups holds groups that GroupRoles maps to roles.
	Groups     string
	GroupRoles map[string][]string
}

// ActorFromClaims names the person of a verified token: their stable id,
// display name and gatehouse roles (from the roles claim and the group
// mapping; unknown roles are dropped, and a role is only ever an exact
// value, never a word of one). claim returns a claim's values (a string is
// one value).
func ActorFromClaims(claim func(string) []string, n ClaimNames) (agreements.Actor, error) {
	idClaim := n.ID
	if idClaim == "" {
		idClaim = "sub"
	}
	var actor agreements.Actor
	if ids := claim(idClaim); len(ids) == 1 {
		actor.Subject = strings.TrimSpace(ids[0])
	}
	if actor.Subject == "" {
		return agreements.Actor{}, fmt.Errorf("%w: %w (claim %q)", ErrToken, errTokenNoSubject, idClaim)
	}
	names := n.Names
	if len(names) == 0 {
		names = []string{"name", "preferred_username"}
	}
	for _, c := range names {
		if v := claim(c); len(v) == 1 && strings.TrimSpace(v[0]) != "" {
			actor.Name = displayName(v[0])
			break
		}
	}
	var roles []string
	if n.Roles != "" {
		roles = append(roles, claim(n.Roles)...) // exact names, never split
	}
	if n.Groups != "" {
		for _, g := range claim(n.Groups) {
			roles = append(roles, n.GroupRoles[g]...)
		}
	}
	for _, r := range roles {
		switch r {
		case agreements.RoleAdmin, agreements.RoleDPO, agreements.RoleAuditor:
			if !slices.Contains(actor.Roles, r) {
				actor.Roles = append(actor.Roles, r)
			}
		}
	}
	if len(actor.Roles) == 0 {
		return agreements.Actor{}, fmt.Errorf("%w: %w (admin, dpo, auditor) in claim %q", ErrToken, errTokenNoRole, n.Roles)
	}
	return actor, nil
}

// displayName bounds a display name and keeps only its printable text.
func displayName(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return -1
		}
		return r
	}, strings.TrimSpace(s))
	if utf8.RuneCountInString(s) > 128 {
		s = string([]rune(s)[:128])
	}
	return s
}

// stringsOf returns a claim's string values: a string, or the strings of an
// array.
// stringArray reports whether a claim's value is a JSON array of strings.
func stringArray(x any) bool {
	switch r := x.(type) {
	case []string:
		return true
	case []any:
		for _, e := range r {
			if _, ok := e.(string); !ok {
				return false
			}
		}
		return true
	}
	return false
}

func stringsOf(x any) []string {
	switch r := x.(type) {
	case string:
		return []string{r}
	case []any:
		var out []string
		for _, e := range r {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case []string:
		return r
	}
	return nil
}

// PrepareTokenKeys refuses a JWKS that could let a forged token through and
// returns it ready for verification: every key must be asymmetric, public
// and have a kid, and an alg, either its own or the one its kty and crv fix
// (EC P-256 ES256, P-384 ES384, P-521 ES512, OKP Ed25519 EdDSA, and RSA
// RS256, the algorithm of OpenID Connect; Microsoft Entra ID publishes its
// RSA keys without alg). Start-up and `config check` both use it.
func PrepareTokenKeys(set jwk.Set) (jwk.Set, error) {
	if set.Len() == 0 {
		return nil, errors.New("the key set is empty")
	}
	out := jwk.NewSet()
	for i := range set.Len() {
		k, _ := set.Key(i)
		kid, _ := k.KeyID()
		if k.KeyType() == jwa.OctetSeq() {
			return nil, fmt.Errorf("key %d (%s): symmetric keys are not accepted for admin tokens", i, kid)
		}
		if priv, _ := jwk.IsPrivateKey(k); priv {
			return nil, fmt.Errorf("key %d (%s): a private key; publish only public keys", i, kid)
		}
		if kid == "" {
			return nil, fmt.Errorf("key %d: needs a kid", i)
		}
		if use, ok := k.KeyUsage(); ok && use != "" && use != "sig" {
			continue // an encryption key beside the signing keys
		}
		alg, ok := k.Algorithm()
		if !ok || alg.String() == "" {
			fixed, err := keyAlgorithm(k)
			if err != nil {
				return nil, fmt.Errorf("key %d (%s): %w", i, kid, err)
			}
			c, err := k.Clone()
			if err != nil {
				return nil, err
			}
			if err := c.Set(jwk.AlgorithmKey, fixed); err != nil {
				return nil, err
			}
			k, alg = c, fixed
		}
		if s := alg.String(); strings.HasPrefix(s, "HS") || s == "none" {
			return nil, fmt.Errorf("key %d (%s): needs an asymmetric alg (e.g. ES256, RS256), not %s", i, kid, s)
		}
		if err := out.AddKey(k); err != nil {
			return nil, fmt.Errorf("key %d (%s): %w", i, kid, err)
		}
	}
	if out.Len() == 0 {
		return nil, errors.New("the key set holds no signing key")
	}
	return out, nil
}

// keyAlgorithm is the signature algorithm a key's kty and crv fix.
func keyAlgorithm(k jwk.Key) (jwa.SignatureAlgorithm, error) {
	switch k.KeyType() {
	case jwa.RSA():
		return jwa.RS256(), nil
	case jwa.EC(), jwa.OKP():
		var crv jwa.EllipticCurveAlgorithm
		if err := k.Get(jwk.ECDSACrvKey, &crv); err != nil {
			return jwa.EmptySignatureAlgorithm(), errors.New("has no alg and no crv")
		}
		switch crv {
		case jwa.P256():
			return jwa.ES256(), nil
		case jwa.P384():
			return jwa.ES384(), nil
		case jwa.P521():
			return jwa.ES512(), nil
		case jwa.Ed25519():
			return jwa.EdDSA(), nil
		}
		return jwa.EmptySignatureAlgorithm(), fmt.Errorf("has no alg, and curve %s fixes none", crv)
	}
	return jwa.EmptySignatureAlgorithm(), fmt.Errorf("has no alg, and key type %s fixes none", k.KeyType())
}
