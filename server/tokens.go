package server

import (
	"context"
	"fmt"
	"time"

	"github.com/lestrrat-go/httprc/v3"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/gatehouse-gw/gatehouse/config"
	"github.com/gatehouse-gw/gatehouse/gateway"
)

// tokenKeys returns the source of the keys that sign an issuer's admin
// tokens: a JWKS file read once (and checked) at start, or a JWKS URL
// fetched and cached, refreshed at most every refresh. at names the
// issuer's settings in errors (admin, admin.issuers[1]).
func tokenKeys(ctx context.Context, at string, ti config.TokenIssuer, refresh time.Duration) (func(context.Context) (jwk.Set, error), error) {
	if ti.JWKSFile != "" {
		set, err := jwk.ReadFile(ti.JWKSFile)
		if err != nil {
			return nil, fmt.Errorf("%s.jwks_file: %w", at, err)
		}
		ready, err := gateway.PrepareTokenKeys(set)
		if err != nil {
			return nil, fmt.Errorf("%s.jwks_file: %w", at, err)
		}
		return func(context.Context) (jwk.Set, error) { return ready, nil }, nil
	}
	cache, err := jwk.NewCache(context.WithoutCancel(ctx), httprc.NewClient())
	if err != nil {
		return nil, err
	}
	if err := cache.Register(ctx, ti.JWKSURL, jwk.WithMinInterval(refresh), jwk.WithWaitReady(false)); err != nil {
		return nil, fmt.Errorf("%s.jwks_url: %w", at, err)
	}
	return func(ctx context.Context) (jwk.Set, error) {
		set, err := cache.Lookup(ctx, ti.JWKSURL)
		if err != nil {
			return nil, err
		}
		return gateway.PrepareTokenKeys(set)
	}, nil
}

// tokenVerifier verifies the admin tokens of every issuer admin trusts.
func tokenVerifier(ctx context.Context, cfg config.Admin) (*gateway.Issuers, error) {
	var vs []*gateway.JWTVerifier
	for i, ti := range cfg.TokenIssuers() {
		at := "admin"
		if i > 0 {
			at = fmt.Sprintf("admin.issuers[%d]", i-1)
		}
		keys, err := tokenKeys(ctx, at, ti, cfg.JWKSRefresh)
		if err != nil {
			return nil, err
		}
		vs = append(vs, &gateway.JWTVerifier{
			Keys: keys, Issuer: ti.Issuer, Audience: ti.Audience,
			RolesClaim: ti.RolesClaim, GroupsClaim: ti.GroupsClaim, GroupRoles: ti.GroupRoleMap(),
			IDClaim: ti.IDClaim, NameClaims: ti.NameClaims, MaxLifetime: 24 * time.Hour,
		})
	}
	return gateway.NewIssuers(vs...)
}
