package server

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/gatehouse-gw/gatehouse/alerts"
	"github.com/gatehouse-gw/gatehouse/compliance"
	"github.com/gatehouse-gw/gatehouse/config"
	"github.com/gatehouse-gw/gatehouse/console"
	"github.com/gatehouse-gw/gatehouse/exchange"
	"github.com/gatehouse-gw/gatehouse/gateway"
	"github.com/gatehouse-gw/gatehouse/internal/logkey"
	"github.com/gatehouse-gw/gatehouse/store"
)

// newConsole builds the web console from console.* and the claim names of
// admin.*: the console names people as the admin API does.
func newConsole(cfg *config.Config, claims gateway.ClaimNames, a *App, log *slog.Logger) (*console.Console, error) {
	key, err := ReadHexKey(cfg.Console.SessionKeyFile)
	if err != nil {
		return nil, fmt.Errorf("console.session_key_file: %w", err)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("console.session_key_file: needs 32 bytes (64 hex digits), has %d", len(key))
	}
	secret := ""
	if cfg.Console.ClientSecretFile != "" {
		b, err := os.ReadFile(cfg.Console.ClientSecretFile)
		if err != nil {
			return nil, fmt.Errorf("console.client_secret_file: %w", err)
		}
		secret = strings.TrimSpace(string(b))
	}
	return console.New(console.Options{
		Registry:     a.Agreements,
		Compliance:   a.Compliance,
		Records:      a.DB.Compliance(),
		Outbox:       &alerts.Admin{Store: a.DB.Outbox(), Wake: a.Alerts.Wake},
		Decisions:    decisionRecords{a.DB, a.DB.Compliance()},
		Certificates: a.Expiry,
		CertWarnDays: cfg.TLS.ExpiryWarningDays,
		Status:       consoleStatus{a},
		OIDC: console.OIDC{
			Issuer: cfg.Console.Issuer, ClientID: cfg.Console.ClientID, ClientSecret: secret,
			URL: cfg.Console.URL, Scopes: cfg.Console.Scopes, Claims: claims,
		},
		State:           a.DB,
		SessionKey:      key,
		IdleTimeout:     cfg.Console.IdleTimeout,
		AbsoluteTimeout: cfg.Console.AbsoluteTimeout,
		OverrideReview:  cfg.Policy.OverrideReview,
		Log:             log.With(logkey.Component, "console"),
	})
}

// decisionRecords are the decisions of the audit record with the exchanges
// and requests they made, as the console reads them.
type decisionRecords struct {
	*store.DB
	exchanges compliance.Store
}

func (d decisionRecords) Exchange(ctx context.Context, id string) (*exchange.Exchange, error) {
	return d.exchanges.Exchange(ctx, id)
}

func (d decisionRecords) Request(ctx context.Context, id string) (*exchange.Request, error) {
	return d.exchanges.Request(ctx, id)
}
