// Package server wires the gateway together from its configuration: store,
// object storage, keys, the exchange service and the HTTP front. The serve
// and dev commands and the end-to-end tests all start the gateway through it.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/alerts"
	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/certs"
	"github.com/gatehouse-gw/gatehouse/compliance"
	"github.com/gatehouse-gw/gatehouse/config"
	"github.com/gatehouse-gw/gatehouse/console"
	"github.com/gatehouse-gw/gatehouse/exchange"
	"github.com/gatehouse-gw/gatehouse/exchange/seal"
	"github.com/gatehouse-gw/gatehouse/gateway"
	"github.com/gatehouse-gw/gatehouse/internal/health"
	"github.com/gatehouse-gw/gatehouse/internal/logkey"
	"github.com/gatehouse-gw/gatehouse/internal/metrics"
	"github.com/gatehouse-gw/gatehouse/internal/tracing"
	"github.com/gatehouse-gw/gatehouse/store"
	"github.com/gatehouse-gw/gatehouse/store/objectstore"
)

// App is a running gateway's parts.
type App struct {
	// metricsSrv serves admin.metrics_listen, once Serve starts it.
	metricsSrv atomic.Pointer[http.Server]

	Config     *config.Config
	DB         *store.DB
	Objects    *objectstore.Store
	Registry   *store.RegistryCache
	Agreements *agreements.Service
	Compliance *compliance.Service
	// Console is the web console (nil unless console.issuer is set).
	Console *console.Console
	Service *exchange.Service
	Server  *gateway.Server
	// Admin is the admin API, nil if admin.listen is not set.
	Admin *gateway.Server
	Log   *slog.Logger

	// AuditArchive is the Object Lock bucket of sealed audit segments.
	AuditArchive *objectstore.Store
	// AuditSigner signs checkpoints and exports; AuditKeys verifies them
	// (the current audit key and any retired ones).
	AuditSigner *seal.Signer
	AuditKeys   jwk.Set
	// CheckpointKey signs checkpoint notes; NoteKeys verifies them (the
	// current checkpoint key and any retired ones).
	CheckpointKey *audit.CheckpointKey
	NoteKeys      *audit.NoteKeys
	Checkpointer  *audit.Checkpointer
	// Orphans finds payload objects no exchange records (run by the sweeper).
	Orphans *exchange.Reconciler
	// Alerts delivers the outbox: e-mail and webhooks (docs/alerts.md).
	Alerts *alerts.Dispatcher
	// Reminders writes the events of deadlines and the daily digest.
	Reminders *alerts.Reminders
	// verified is this node's last verification of the audit record, for
	// the console.
	verified verifyStatus

	// TLS holds the partner listener's certificate, anchors and CRLs.
	TLS    *certs.Server
	Expiry *certs.ExpiryTracker

	// health counts changes of the stores' write outcomes, for readiness.
	health *health.Board

	// stopTracing flushes and stops the span exporter.
	stopTracing func(context.Context) error

	// background runs the sweeper, the TLS watcher and the expiry tracker.
	bgMu     sync.Mutex
	bgCancel context.CancelFunc
	bgDone   sync.WaitGroup
	stopped  bool
}

// NewLogger returns the operational logger the configuration asks for.
func NewLogger(cfg config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// New opens the stores and keys and builds the gateway. Close releases them.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger) (*App, error) {
	a := &App{Config: cfg, Log: log, health: &health.Board{}}
	var err error
	if a.stopTracing, err = tracing.Setup(ctx, tracing.Config{
		Endpoint: cfg.Tracing.Endpoint, SampleRatio: cfg.Tracing.SampleRatio, ServiceName: "gatehouse", Instance: cfg.Issuer,
	}); err != nil {
		return nil, err
	}
	signingKey, err := seal.ReadKey(cfg.Keys.SigningKeyFile)
	if err != nil {
		return nil, fmt.Errorf("keys.signing_key_file: %w", err)
	}
	signer, err := seal.NewSigner(signingKey)
	if err != nil {
		return nil, fmt.Errorf("keys.signing_key_file: %w", err)
	}
	jwks, err := signer.PublicSet()
	if err != nil {
		return nil, err
	}
	if err := addRetired(jwks, cfg.Keys.SigningRetiredKeysFile); err != nil {
		return nil, fmt.Errorf("keys.signing_retired_keys_file: %w", err)
	}
	if err := seal.MarkSigns(jwks, seal.SignsManifests); err != nil {
		return nil, err
	}
	subjectKeys, err := audit.ReadSubjectKeys(cfg.Keys.SubjectKeyFile)
	if err != nil {
		return nil, fmt.Errorf("keys.subject_key_file: %w", err)
	}
	subjectKey := subjectKeys.Current()
	pseudonymKey, err := ReadHexKey(cfg.Keys.PseudonymKeyFile)
	if err != nil {
		return nil, fmt.Errorf("keys.pseudonym_key_file: %w", err)
	}

	a.Objects, err = openObjects(ctx, cfg, cfg.Objects.Bucket, cfg.Retention.LockMode)
	if err != nil {
		return nil, err
	}
	locked, err := a.Objects.DetectObjectLock(ctx)
	if err != nil {
		return nil, fmt.Errorf("objects: bucket %s: %w", cfg.Objects.Bucket, err)
	}
	if !locked {
		log.Warn("the payload bucket has no Object Lock; payloads are kept without retention locks", "bucket", cfg.Objects.Bucket)
	}
	if a.AuditArchive, err = OpenArchive(ctx, cfg); err != nil {
		return nil, err
	}
	if a.AuditSigner, a.AuditKeys, err = AuditKeys(cfg); err != nil {
		return nil, err
	}
	if a.CheckpointKey, a.NoteKeys, err = CheckpointKeys(cfg); err != nil {
		return nil, err
	}
	for i := range a.AuditKeys.Len() {
		pub, _ := a.AuditKeys.Key(i)
		if err := jwks.AddKey(pub); err != nil {
			return nil, err
		}
	}
	a.DB, err = store.Open(ctx, cfg.Database.Driver, cfg.Database.DSN, log)
	if err != nil {
		return nil, err
	}
	if a.Alerts, err = a.newDispatcher(cfg); err != nil {
		a.Close()
		return nil, err
	}
	policy := agreements.Policy{ReviewGrace: cfg.Policy.ReviewGrace, OverrideReview: cfg.Policy.OverrideReview, DPIAReview: cfg.Policy.DPIAReview}
	a.Registry = a.DB.Registry(policy)
	a.TLS, err = certs.NewServer(certs.ServerConfig{
		TrustDomain: cfg.TrustDomain, CertFile: cfg.TLS.CertFile, KeyFile: cfg.TLS.KeyFile,
		ClientCAFiles: cfg.TLS.ClientCAFiles, MaxChain: cfg.TLS.MaxChain, MinRSABits: cfg.TLS.MinRSABits,
		RevocationHosts: cfg.TLS.RevocationHosts,
		Revocation: certs.RevocationPolicy{
			CRLFiles: cfg.TLS.CRLFiles, CRLURLs: cfg.TLS.CRLURLs, UseDistributionPoints: *cfg.TLS.CRLDistributionPoints,
			OCSP: cfg.TLS.OCSP, AllowUnknown: cfg.TLS.AllowUnknownRevocation,
		},
		Parties: a.Registry.Snapshot,
		Log:     log.With(logkey.Component, "tls"),
		Refused: func(reason string) { metrics.HandshakesRefused.WithLabelValues(reason).Inc() },
	})
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("tls: %w", err)
	}
	a.Expiry = certs.NewExpiryTracker(a.DB, cfg.TLS.ExpiryWarningDays, log.With(logkey.Component, "certificates"),
		func(party, serial string, days float64) {
			metrics.CertificateExpiryDays.WithLabelValues(party, serial).Set(days)
		})
	a.Agreements = agreements.NewService(a.DB.Agreements(a.Registry))
	a.Checkpointer = NewCheckpointer(cfg, a.DB, a.AuditArchive, a.AuditSigner, a.CheckpointKey, log.With(logkey.Component, "audit"))
	a.Reminders = a.newReminders(cfg)
	a.Service = exchange.New(exchange.Config{
		Issuer:           cfg.Issuer,
		MaxPayloadSize:   int64(cfg.Limits.MaxPayloadSize),
		OneRequestMax:    int64(cfg.Limits.OneRequestMax),
		SubjectKey:       subjectKey,
		SubjectKeys:      subjectKeys,
		PseudonymKey:     pseudonymKey,
		DefaultRetention: cfg.Retention.Default,
	}, a.DB.Exchanges(), a.Objects, a.Registry, signer, log)
	a.Service.SetReceipts(&audit.Receipts{Signer: a.AuditSigner, Origin: cfg.Audit.Origin})
	a.Orphans = &exchange.Reconciler{
		Store: a.DB, Inventory: a.Objects, Grace: cfg.Retention.OrphanGrace, Delete: *cfg.Retention.DeleteOrphans,
		Log: log.With(logkey.Component, "sweeper"),
	}
	a.Compliance = compliance.NewService(compliance.Config{
		Issuer: cfg.Issuer, SubjectKey: subjectKey, SubjectKeys: subjectKeys, DPIAReview: cfg.Policy.DPIAReview,
	}, a.DB.Compliance(), a.AuditSigner)
	common := gateway.Common{
		JWKS:            jwks,
		CheckpointKey:   a.CheckpointKey.VerifierKey,
		Audit:           &audit.Proofs{Log: a.DB},
		MaxJSONBody:     int64(cfg.Limits.MaxJSONBody),
		Limits:          cfg.Limits,
		PublishCRL:      cfg.TLS.PublishCRL,
		Log:             log,
		Ready:           a.readyChecks(jwks, signer),
		ReadyGeneration: a.health.Generation,
	}
	a.Server = gateway.New(gateway.PartnerOptions{
		Common:       common,
		TrustDomain:  cfg.TrustDomain,
		Exchanges:    a.Service,
		Registry:     a.Registry,
		Identify:     a.TLS.Identify,
		Certificates: a.Expiry,
		Notices:      a.Compliance,
	})
	if cfg.Admin.Listen != "" {
		tokens, err := tokenVerifier(ctx, cfg.Admin)
		if err != nil {
			a.Close()
			return nil, err
		}
		var web http.Handler
		if cfg.Console.Issuer != "" {
			// The console names people as the admin API names its issuer's
			// tokens (admin's own claim names when it is not one of them).
			if a.Console, err = newConsole(cfg, tokens.ClaimsOf(cfg.Console.Issuer), a, log); err != nil {
				a.Close()
				return nil, err
			}
			web = a.Console
		}
		a.Admin = gateway.NewAdmin(gateway.AdminOptions{
			Console:      web,
			Common:       common,
			Agreements:   a.Agreements,
			Decisions:    a.Service,
			Certificates: a.Expiry,
			Inspect:      a.TLS.Inspect,
			Compliance:   a.Compliance,
			Outbox:       &alerts.Admin{Store: a.DB.Outbox(), Wake: a.Alerts.Wake},
			Releases:     a.Service,
			Tokens:       tokens,
		})
	}
	return a, nil
}

// readyChecks are what /readyz checks. The stores are checked by what
// writes to them do: the outcome of the last real write if it is recent,
// else a real small write that leaves nothing behind (docs/operations.md).
func (a *App) readyChecks(jwks jwk.Set, signer *seal.Signer) []gateway.ReadyCheck {
	for _, w := range []*health.Writes{a.DB.Writes(), a.Objects.Writes(), a.AuditArchive.Writes()} {
		w.Watch(a.health)
	}
	window := gateway.ReadyCache
	return []gateway.ReadyCheck{
		{Name: "database", Check: a.DB.Ping},
		{Name: "audit", Check: func(ctx context.Context) error { return a.DB.CheckWrites(ctx, window) }},
		{Name: "objects", Check: func(ctx context.Context) error { return a.Objects.CheckWrites(ctx, window) }},
		{Name: "audit-archive", Check: func(ctx context.Context) error { return a.AuditArchive.CheckWrites(ctx, window) }},
		{Name: "keys", Check: func(context.Context) error { return probeKeys(jwks, signer, a.AuditSigner) }},
		{Name: "audit-checkpoints", Check: a.Checkpointer.Stale, Warn: true},
	}
}

// ObjectsConfig is the object-store connection to one bucket, as the
// configuration describes it.
func ObjectsConfig(cfg *config.Config, bucket, lockMode string) objectstore.Config {
	role := "objects"
	if bucket == cfg.Audit.Bucket {
		role = "audit-archive"
	}
	return objectstore.Config{
		Endpoint: cfg.Objects.Endpoint, Region: cfg.Objects.Region, Bucket: bucket,
		AccessKey: cfg.Objects.AccessKey, SecretKey: cfg.Objects.SecretKey,
		TLS: cfg.Objects.TLS, CAFile: cfg.Objects.CAFile, LockMode: lockMode, IOTimeout: cfg.Objects.IOTimeout,
		Role: role,
	}
}

// NewCheckpointer is the checkpointer the configuration describes, for the
// record in log and the archive.
func NewCheckpointer(cfg *config.Config, log audit.CheckpointLog, archive audit.Archive, signer audit.Signer, notes *audit.CheckpointKey, logger *slog.Logger) *audit.Checkpointer {
	return &audit.Checkpointer{
		Log: log, Archive: archive, Signer: signer, Notes: notes.Signer, Issuer: cfg.Issuer, Origin: cfg.Audit.Origin,
		Every: cfg.Audit.CheckpointEvery, Interval: cfg.Audit.CheckpointInterval, Retention: cfg.Audit.Retention,
		// A write to the store that makes no progress for io_timeout fails;
		// a small segment takes a few of those at most.
		RequestTimeout: 4 * cfg.Objects.IOTimeout,
		Logger:         logger,
		Signed:         func(int64) { metrics.AuditCheckpoints.Inc() },
		Failed: func(n int) {
			if n > 0 {
				metrics.AuditCheckpointFailures.Inc()
			}
			metrics.AuditCheckpointFailing.Set(float64(n))
		},
		Unarchived: func(age time.Duration) { metrics.AuditUnarchivedAge.Set(age.Seconds()) },
	}
}

// openObjects connects to a bucket on the configured object store, creating
// it (with versioning and Object Lock) if objects.create_bucket says so.
func openObjects(ctx context.Context, cfg *config.Config, bucket, lockMode string) (*objectstore.Store, error) {
	st, err := objectstore.New(ObjectsConfig(cfg, bucket, lockMode))
	if err != nil {
		return nil, fmt.Errorf("objects: %w", err)
	}
	if cfg.Objects.CreateBucket {
		if err := st.EnsureBucket(ctx, true); err != nil {
			return nil, fmt.Errorf("objects: create bucket %s: %w", bucket, err)
		}
	}
	return st, nil
}

// OpenArchive connects to the audit archive bucket (creating it if
// objects.create_bucket says so) and checks that it has the Object Lock
// that audit.lock_mode asks for.
func OpenArchive(ctx context.Context, cfg *config.Config) (*objectstore.Store, error) {
	st, err := openObjects(ctx, cfg, cfg.Audit.Bucket, cfg.Audit.LockMode)
	if err != nil {
		return nil, err
	}
	return checkArchiveLock(ctx, cfg, st)
}

// OpenArchiveReadOnly connects to the audit archive bucket for reading: it
// never creates the bucket or writes to it, whatever objects.create_bucket
// says, and fails with objectstore.ErrUnreachable when the store cannot be
// reached. audit verify uses it.
func OpenArchiveReadOnly(ctx context.Context, cfg *config.Config) (*objectstore.Store, error) {
	st, err := objectstore.New(ObjectsConfig(cfg, cfg.Audit.Bucket, cfg.Audit.LockMode))
	if err != nil {
		return nil, fmt.Errorf("objects: %w", err)
	}
	if err := st.Ping(ctx); err != nil {
		return nil, fmt.Errorf("audit.bucket %s: %w", cfg.Audit.Bucket, objectstore.Unreachable(st, err))
	}
	return checkArchiveLock(ctx, cfg, st)
}

func checkArchiveLock(ctx context.Context, cfg *config.Config, st *objectstore.Store) (*objectstore.Store, error) {
	locked, err := st.DetectObjectLock(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit.bucket %s: %w", cfg.Audit.Bucket, objectstore.Unreachable(st, err))
	}
	if !locked && cfg.Audit.LockMode != "none" {
		return nil, fmt.Errorf("audit.bucket %s has no Object Lock: archived audit segments could be deleted; enable Object Lock on the bucket, or set audit.lock_mode: none to accept that", cfg.Audit.Bucket)
	}
	return st, nil
}

// TLSConfig is the partner listener's TLS policy.
func (a *App) TLSConfig() *tls.Config { return a.TLS.TLSConfig() }

// Listeners are the gateway's open listeners.
type Listeners struct {
	// Partner is the mutual-TLS listener.
	Partner net.Listener
	// Admin is the admin API's listener (TLS, bearer tokens), or nil.
	Admin net.Listener
	// Metrics serves only /metrics (TLS, no token) for Prometheus on an
	// address of its own (admin.metrics_listen), or nil.
	Metrics net.Listener
}

// Listen opens the mutual-TLS listener, and the admin listener if configured.
func (a *App) Listen() (*Listeners, error) {
	ln, err := net.Listen("tcp", a.Config.Listen)
	if err != nil {
		return nil, err
	}
	ln = gateway.LimitPerIP(ln, a.Config.Limits.MaxConnsPerIP)
	// Every request is framed one way only before the HTTP server reads it
	// (gateway.StrictFraming), on both listeners.
	maxHead := int(a.Config.Limits.MaxHeaderBytes)
	out := &Listeners{Partner: gateway.StrictFraming(tls.NewListener(gateway.CoalesceWrites(ln), a.TLSConfig()), maxHead, "partner", a.Log)}
	if a.Admin != nil {
		aln, err := net.Listen("tcp", a.Config.Admin.Listen)
		if err != nil {
			ln.Close()
			return nil, err
		}
		aln = gateway.LimitPerIP(aln, a.Config.Limits.MaxConnsPerIP)
		out.Admin = gateway.StrictFraming(tls.NewListener(aln, certs.AdminPolicy(a.TLS.Certificate)), maxHead, "admin", a.Log)
	}
	if a.Config.Admin.MetricsListen != "" {
		if out.Metrics, err = a.listenMetrics(maxHead); err != nil {
			ln.Close()
			if out.Admin != nil {
				out.Admin.Close()
			}
			return nil, err
		}
	}
	return out, nil
}

// Serve serves on the listeners until Shutdown; it returns when either stops.
// The retention sweeper, the certificate watcher and the expiry tracker run
// beside them.
func (a *App) Serve(l *Listeners) error {
	a.startBackground()
	errs := make(chan error, 3)
	go func() { errs <- a.Server.Serve(l.Partner) }()
	if l.Admin != nil {
		go func() { errs <- a.Admin.Serve(l.Admin) }()
	}
	if l.Metrics != nil {
		go func() { errs <- a.serveMetrics(l.Metrics) }()
	}
	return <-errs
}

// Shutdown stops the servers gracefully and closes the stores.
func (a *App) Shutdown(ctx context.Context) error {
	a.stopBackground()
	err := a.Server.Shutdown(ctx)
	if a.Admin != nil {
		err = errors.Join(err, a.Admin.Shutdown(ctx))
	}
	err = errors.Join(err, a.shutdownMetrics(ctx))
	if a.stopTracing != nil {
		err = errors.Join(err, a.stopTracing(ctx))
	}
	return errors.Join(err, a.Close())
}

// Close closes the stores.
func (a *App) Close() error {
	if a.DB != nil {
		return a.DB.Close()
	}
	return nil
}

// RebuildTLS applies a changed tls.crl_files and reloads everything.
func (a *App) RebuildTLS(ctx context.Context) error {
	if err := a.TLS.SetCRLFiles(ctx, a.Config.TLS.CRLFiles); err != nil {
		return err
	}
	return a.TLS.Reload(ctx)
}

// Reload rereads certificates, trust anchors and CRLs (SIGHUP).
func (a *App) Reload(ctx context.Context) error { return a.TLS.Reload(ctx) }
