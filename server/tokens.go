package server

import (
	"context"
	"fmt"

	"github.com/lestrrat-go/httprc/v3"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/gatehouse-gw/gatehouse/config"
	"github.com/gatehouse-gw/gatehouse/gateway"
)

// tokenKeys returns the source of the keys that sign admin tokens: a JWKS
// file read once (and checked) at start, or a JWKS URL fetched and cached,
// refreshed at most every admin.jwks_refresh.
func tokenKeys(ctx context.Context, cfg config.Admin) (func(context.Context) (jwk.Set, error), error) {
	if cfg.JWKSFile != "" {
		set, err := jwk.ReadFile(cfg.JWKSFile)
		if err != nil {
			return nil, fmt.Errorf("admin.jwks_file: %w", err)
		}
		ready, err := gateway.PrepareTokenKeys(set)
		if err != nil {
			return nil, fmt.Errorf("admin.jwks_file: %w", err)
		}
		return func(context.Context) (jwk.Set, error) { return ready, nil }, nil
	}
	cache, err := jwk.NewCache(context.WithoutCancel(ctx), httprc.NewClient())
	if err != nil {
		return nil, err
	}
	if err := cache.Register(ctx, cfg.JWKSURL, jwk.WithMinInterval(cfg.JWKSRefresh), jwk.WithWaitReady(false)); err != nil {
		return nil, fmt.Errorf("admin.jwks_url: %w", err)
	}
	return func(ctx context.Context) (jwk.Set, error) {
		set, err := cache.Lookup(ctx, cfg.JWKSURL)
		if err != nil {
			return nil, err
		}
		return gateway.PrepareTokenKeys(set)
	}, nil
}
