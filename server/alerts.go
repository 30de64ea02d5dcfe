package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/alerts"
	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/config"
	"github.com/gatehouse-gw/gatehouse/internal/logkey"
	"github.com/gatehouse-gw/gatehouse/internal/metrics"
)

// newDispatcher builds the outbox's dispatcher from alerts: the webhook
// endpoints and the mail server it delivers to.
func (a *App) newDispatcher(cfg *config.Config) (*alerts.Dispatcher, error) {
	ac := cfg.Alerts
	link := alerts.ConsoleLink(ac.ConsoleURL)
	routes := &alerts.Routes{PartyMail: ac.Email.Parties, RoleMail: ac.Email.Roles}
	clients := map[string]*alerts.Webhooks{}
	for i, w := range ac.Webhooks {
		path := fmt.Sprintf("alerts.webhooks[%d]", i)
		raw, err := os.ReadFile(w.SecretFile)
		if err != nil {
			return nil, fmt.Errorf("%s.secret_file: %w", path, err)
		}
		key, err := alerts.ParseSecret(string(raw))
		if err != nil {
			return nil, fmt.Errorf("%s.secret_file: %w", path, err)
		}
		client, err := alerts.WebhookClient(w.CAFile, 15*time.Second)
		if err != nil {
			return nil, fmt.Errorf("%s.ca_file: %w", path, err)
		}
		// Each endpoint has its own client: its own CA and connections.
		clients[w.Name] = &alerts.Webhooks{Endpoints: map[string]alerts.Endpoint{w.Name: {Name: w.Name, URL: w.URL, Key: key}}, Client: client, Link: link}
		routes.Webhooks = append(routes.Webhooks, alerts.RouteWebhook{Name: w.Name, Party: w.Party, Role: w.Role, Events: w.Events})
	}
	channels := map[string]alerts.Channel{alerts.ChannelWebhook: byEndpoint(clients)}
	if ac.Email.SMTP != "" {
		var password string
		if ac.Email.PasswordFile != "" {
			raw, err := os.ReadFile(ac.Email.PasswordFile)
			if err != nil {
				return nil, fmt.Errorf("alerts.email.password_file: %w", err)
			}
			password = strings.TrimSpace(string(raw))
		}
		m, err := alerts.NewMailer(alerts.MailConfig{
			Addr: ac.Email.SMTP, TLS: ac.Email.TLS, CAFile: ac.Email.CAFile,
			Username: ac.Email.Username, Password: password, From: ac.Email.From, Issuer: cfg.Issuer,
		})
		if err != nil {
			return nil, fmt.Errorf("alerts.email: %w", err)
		}
		m.Link = link
		channels[alerts.ChannelEmail] = m
	}
	host, _ := os.Hostname()
	nonce := make([]byte, 4)
	_, _ = rand.Read(nonce)
	return &alerts.Dispatcher{
		Store: a.DB.Outbox(), Channels: channels, Route: routes.Targets,
		Holder: fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(nonce)),
		Poll:   ac.Poll, Lease: ac.Lease, RetryMin: ac.RetryMin, RetryMax: ac.RetryMax, MaxAttempts: ac.MaxAttempts,
		Log: a.Log.With(logkey.Component, "alerts"),
		Attempted: func(channel string, err error, gaveUp bool) {
			switch {
			case err == nil:
				metrics.AlertAttempts.WithLabelValues(channel, "delivered").Inc()
			case gaveUp:
				metrics.AlertAttempts.WithLabelValues(channel, "gave-up").Inc()
				metrics.AlertDeliveriesFailed.WithLabelValues(channel).Inc()
			default:
				metrics.AlertAttempts.WithLabelValues(channel, "failed").Inc()
			}
		},
	}, nil
}

// byEndpoint sends each webhook delivery with its endpoint's own client.
type byEndpoint map[string]*alerts.Webhooks

func (b byEndpoint) Send(ctx context.Context, d *alerts.Delivery) error {
	w, ok := b[d.Target]
	if !ok {
		return &alerts.PermanentError{Err: fmt.Errorf("webhook %s is not configured", d.Target)}
	}
	return w.Send(ctx, d)
}

// gaugeAlerts sets the outbox and override gauges.
func (a *App) gaugeAlerts(ctx context.Context) {
	depth, err := a.DB.Outbox().Depth(ctx)
	if err != nil {
		a.Log.Warn("reading the outbox's depth failed", logkey.Error, err)
		return
	}
	metrics.OutboxDepth.WithLabelValues("unrouted", "").Set(float64(depth.Unrouted))
	for _, ch := range []string{alerts.ChannelWebhook, alerts.ChannelEmail} {
		metrics.OutboxDepth.WithLabelValues(alerts.StatePending, ch).Set(float64(depth.Pending[ch]))
		metrics.OutboxDepth.WithLabelValues(alerts.StateFailed, ch).Set(float64(depth.Failed[ch]))
	}
	if n, err := a.DB.OverridesAwaiting(ctx); err == nil {
		metrics.OverridesAwaiting.Set(float64(n))
	}
}

// dueSource is what falls due: the database's overrides, notifications
// and requests, and the registry's agreement reviews and DPIAs.
type dueSource struct{ a *App }

func (s dueSource) DueBefore(ctx context.Context, before time.Time) ([]alerts.Due, error) {
	out, err := s.a.DB.DueBefore(ctx, before)
	if err != nil {
		return nil, err
	}
	reg, err := s.a.Registry.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	seen, err := s.a.DB.SeenCertificates(ctx)
	if err != nil {
		return nil, err
	}
	for _, c := range seen {
		// Reminders says which warning threshold each has crossed.
		out = append(out, alerts.Due{Kind: alerts.DueCertificate, ID: c.Serial, Party: c.Party, Deadline: c.NotAfter})
	}
	interval := s.a.Config.Policy.DPIAReview
	for _, ag := range reg.Agreements() {
		if ag.Status != agreements.StatusActive {
			continue
		}
		if !ag.ReviewBy.IsZero() && ag.ReviewBy.End().Before(before) {
			out = append(out, alerts.Due{Kind: alerts.DueReview, ID: ag.Ref(), Deadline: ag.ReviewBy.End()})
		}
		if ag.DPIA != nil {
			if at := ag.DPIA.LapsesAt(interval); !at.IsZero() && at.Before(before) {
				out = append(out, alerts.Due{Kind: alerts.DueDPIA, ID: ag.Ref(), Deadline: at})
			}
		}
	}
	return out, nil
}

// newReminders writes the reminders and digests of what falls due.
func (a *App) newReminders(cfg *config.Config) *alerts.Reminders {
	r := &alerts.Reminders{
		Source: dueSource{a}, Store: a.DB.Outbox(), Within: cfg.Alerts.DueWithin,
		Stale: a.Checkpointer.Stale, VerifyEvery: cfg.Alerts.VerifyEvery, CertWarnDays: cfg.TLS.ExpiryWarningDays,
		Broken: func(ctx context.Context) error {
			// A problem must show twice running: a check that raced a
			// checkpoint being written is not evidence of damage.
			var first *audit.VerifyError
			for range 2 {
				rep, err := audit.Check(ctx, a.DB, a.AuditArchive, audit.CheckOptions{Keys: a.AuditKeys, Issuer: cfg.Issuer, Notes: a.NoteKeys})
				if err != nil {
					a.Log.Warn("verifying the audit record could not run", logkey.Error, err)
					return nil // could not look: not evidence of damage
				}
				if rep.OK() {
					a.verified.record(time.Now(), nil)
					return nil
				}
				if first != nil && rep.First().Seq == first.Seq && rep.First().Kind == first.Kind {
					a.Log.Error("the audit record does not verify", logkey.Error, first)
					a.verified.record(time.Now(), first)
					return first
				}
				first = rep.First()
			}
			return nil
		},
		Log: a.Log.With(logkey.Component, "alerts"),
	}
	if at, err := time.Parse("15:04", cfg.Alerts.DigestAt); err == nil {
		r.Digest, r.DigestAt = true, time.Duration(at.Hour())*time.Hour+time.Duration(at.Minute())*time.Minute
	}
	return r
}
