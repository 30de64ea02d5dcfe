// Package gateway is the front door: the mutual-TLS HTTP API that partner
// agencies and council services call. Handlers parse, call the domain and
// render; identity comes only from the verified client certificate.
package gateway

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/certs"
	"github.com/gatehouse-gw/gatehouse/config"
	"github.com/gatehouse-gw/gatehouse/exchange"
	"github.com/gatehouse-gw/gatehouse/internal/logkey"
	"github.com/gatehouse-gw/gatehouse/internal/metrics"
	"github.com/gatehouse-gw/gatehouse/internal/tracing"
)

// Exchanges is what the gateway needs of the exchange service.
type Exchanges interface {
	Declare(ctx context.Context, caller string, d *api.ExchangeDeclaration, idempotencyKey string) (*exchange.Exchange, error)
	// Send declares and, if allowed, uploads the body payload returns: the
	// one-request form. payload is not called unless the declaration is allowed.
	Send(ctx context.Context, caller string, d *api.ExchangeDeclaration, idempotencyKey string, payload func() (io.Reader, error)) (*exchange.Exchange, error)
	Upload(ctx context.Context, caller, id string, body io.Reader, contentLength int64) (*exchange.Exchange, error)
	// CheckUpload runs the checks Upload makes before it reads the body.
	CheckUpload(ctx context.Context, caller, id string, contentLength int64) error
	Get(ctx context.Context, caller, id string) (*exchange.Exchange, error)
	Inbox(ctx context.Context, caller string, q exchange.InboxQuery) ([]*exchange.Exchange, error)
	Envelope(ctx context.Context, caller, id string) (*exchange.Exchange, error)
	OpenPayload(ctx context.Context, caller, id string, resolve func(size int64) (exchange.Range, error)) (*exchange.Exchange, exchange.Range, io.ReadCloser, error)
	// Check decides a declaration without storing anything: a dry run.
	Check(ctx context.Context, caller string, d *api.ExchangeDeclaration) (agreements.Decision, error)
	Acknowledge(ctx context.Context, caller, id string) (*exchange.Exchange, error)
	SubmitRequest(ctx context.Context, caller string, q *api.InformationRequest, idempotencyKey string) (*exchange.Request, error)
	// CheckRequest decides a request without storing anything: a dry run.
	CheckRequest(ctx context.Context, caller string, q *api.InformationRequest) (agreements.Decision, error)
	GetRequest(ctx context.Context, caller, id string) (*exchange.Request, error)
	Requests(ctx context.Context, caller string, handled bool, states []exchange.RequestState, after string, limit int) ([]*exchange.Request, error)
	RespondRequest(ctx context.Context, caller, id string, accept bool, reason string) (*exchange.Request, error)
	// Concerns reports whether an audit entry is about caller's own
	// exchanges or requests (and so whether caller may have its proofs).
	Concerns(ctx context.Context, caller string, e *audit.Entry) (bool, error)
}

// Registry returns the current snapshot of parties and agreements.
type Registry interface {
	Snapshot(ctx context.Context) (*agreements.Registry, error)
}

// ReadyCheck is one dependency /readyz checks.
type ReadyCheck struct {
	Name  string
	Check func(context.Context) error
	// Warn makes a failing check a warning: it shows as "warning" and
	// leaves the gateway ready (the gateway still works; an operator
	// should look).
	Warn bool
}

// Common is what both listeners need.
type Common struct {
	// JWKS is the gateway's public signing keys.
	JWKS jwk.Set
	// CheckpointKey is the verifier key of the audit log's checkpoint notes.
	CheckpointKey string
	// Audit serves the record's checkpoint and proofs; may be nil.
	Audit AuditProofs
	Ready []ReadyCheck
	// ReadyGeneration, if set, changes whenever a store's writes change
	// between working and failing; a cached readiness result is dropped
	// when it does.
	ReadyGeneration func() uint64
	MaxJSONBody     int64
	Limits          config.Limits
	// PublishCRL is a CRL file served at /pki/crl.
	PublishCRL string
	Log        *slog.Logger
	// Clock is the time source; nil means time.Now.
	Clock func() time.Time
}

// PartnerOptions wires the partner API, the mutual-TLS front, to the
// domain.
type PartnerOptions struct {
	Common
	TrustDomain string
	Exchanges   Exchanges
	Registry    Registry
	// Identify names the party of a verified connection.
	Identify func(ctx context.Context, cs *tls.ConnectionState) (string, error)
	// Certificates notes the party certificates in use; may be nil.
	Certificates CertificatesSeen
	// Notices are the Art 19 notices partners read and acknowledge.
	Notices Notices
}

// AdminOptions wires the admin API, for the second listener, to the domain.
type AdminOptions struct {
	Common
	Agreements AgreementAdmin
	// Decisions decides a declaration without storing anything.
	Decisions DryRunner
	Tokens    TokenVerifier
	// Certificates lists the party certificates the gateway has seen.
	Certificates CertificateList
	// Inspect reports what the gateway makes of a certificate chain.
	Inspect func(ctx context.Context, chainPEM []byte, now time.Time) (*certs.Inspection, error)
	// Compliance is the compliance record: exports, reviews, notification
	// decisions and rectifications.
	Compliance Compliance
	// Outbox lists alert deliveries and retries them.
	Outbox Outbox
	// Console, if set, is the web console, served under /console.
	Console http.Handler
	// Releases lets a DPO release an exchange its agreement holds back.
	Releases Releaser
}

// Releaser releases to its recipient an exchange that the state of its
// agreement or parties holds back.
type Releaser interface {
	Release(ctx context.Context, actor agreements.Actor, id, reason string) (*exchange.Exchange, error)
}

// Server is the gateway's HTTP front: one listener's routes.
type Server struct {
	// listener is "partner" or "admin", for metrics.
	listener string
	opts     Common
	// partner or admin is set, for the listener's routes.
	partner *PartnerOptions
	admin   *AdminOptions
	app     *fiber.App
	log     *slog.Logger
	limits  *rateLimits
	ready   readyState
}

// New builds the partner API: the mutual-TLS front.
func New(opts PartnerOptions) *Server {
	s := newServer(opts.Common)
	s.listener = "partner"
	s.partner = &opts
	s.routes()
	// Uploads that ask first are answered before their body is sent.
	s.app.Server().ExpectHandler = s.expectContinue
	return s
}

// NewAdmin builds the admin API, for the second listener.
func NewAdmin(opts AdminOptions) *Server {
	s := newServer(opts.Common)
	s.listener = "admin"
	s.admin = &opts
	s.adminRoutes()
	return s
}

// CertificatesSeen notes the party certificates in use.
type CertificatesSeen interface {
	Seen(party string, leaf *x509.Certificate, now time.Time)
}

// CertificateList lists the party certificates seen, soonest to expire first.
type CertificateList interface {
	List(ctx context.Context, now time.Time) ([]certs.SeenCertificate, error)
}

// DryRunner decides a declaration as its sender would make it, storing
// nothing.
type DryRunner interface {
	Check(ctx context.Context, caller string, d *api.ExchangeDeclaration) (agreements.Decision, error)
}

func newServer(opts Common) *Server {
	s := &Server{opts: opts, log: opts.Log, limits: newRateLimits(opts.Limits.Rate)}
	s.app = fiber.New(fiber.Config{
		AppName:               "gatehouse",
		DisableStartupMessage: true,
		// Payloads stream through the handler; only this much of a body is
		// read before the handler runs. JSON handlers enforce their own limit.
		StreamRequestBody: true,
		BodyLimit:         int(opts.MaxJSONBody),
		// A one-request disclosure is multipart: its parts are read by the
		// handler, the declaration decided before the payload is read, never
		// parsed (and spooled to disk) before the handler runs.
		DisablePreParseMultipartForm: true,
		// ReadTimeout bounds the headers (and a JSON body read with them);
		// a payload transfer extends its own deadline while it makes
		// progress, so a large upload is never cut off mid-stream.
		ReadTimeout:    opts.Limits.HeaderTimeout,
		IdleTimeout:    opts.Limits.IdleTimeout,
		ReadBufferSize: int(opts.Limits.MaxHeaderBytes),
		Concurrency:    opts.Limits.MaxConnections,
		ErrorHandler:   s.errorHandler,
	})
	return s
}

func (s *Server) routes() {
	app := s.app
	app.Use(s.requestLog)
	app.Get("/healthz", s.healthz)
	app.Get("/readyz", s.readyz)
	app.Get("/pki/crl", s.crl)
	app.Get("/openapi.json", s.openapi)

	// Everything else is decided against one registry snapshot, needs a
	// registered, active party, and is rate-limited per party.
	app.Use(s.snapshot, s.identify, s.limitParty)
	app.Use(checkIdempotencyKey)
	app.Get("/.well-known/jwks.json", s.jwks)
	app.Get("/.well-known/gatehouse-checkpoint-key", s.checkpointKey)
	v1 := app.Group("/v1")
	v1.Get("/whoami", s.whoami)
	v1.Post("/exchanges", s.declareExchange)
	v1.Get("/exchanges/:id", s.getExchange)
	v1.Put("/exchanges/:id/payload", s.uploadPayload)
	v1.Get("/exchanges/:id/payload", s.downloadPayload)
	v1.Get("/exchanges/:id/envelope", s.getEnvelope)
	v1.Post("/exchanges/:id/ack", s.ackExchange)
	v1.Get("/inbox", s.inbox)
	v1.Post("/decisions", s.dryRun)
	v1.Post("/requests", s.submitRequest)
	v1.Post("/requests/decisions", s.dryRunRequest)
	v1.Get("/requests", s.listRequests)
	v1.Get("/requests/:id", s.getRequest)
	v1.Post("/requests/:id/accept", s.respondRequest(true))
	v1.Post("/requests/:id/decline", s.respondRequest(false))
	v1.Get("/notices", s.listNotices)
	v1.Post("/notices/:id/ack", s.ackNotice)
	s.proofRoutes(v1, func(c *fiber.Ctx) error { return c.Next() })
}

// Serve accepts connections on ln (a TLS listener) until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.app.Listener(ln) }

// Shutdown stops accepting connections and waits for requests in flight.
func (s *Server) Shutdown(ctx context.Context) error { return s.app.ShutdownWithContext(ctx) }

// App exposes the fiber app, for tests.
func (s *Server) App() *fiber.App { return s.app }

type requestIDKey struct{}

func requestID(c *fiber.Ctx) string {
	id, _ := c.Locals(requestIDKey{}).(string)
	return id
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// requestLog assigns the request id and logs one line per request.
func (s *Server) requestLog(c *fiber.Ctx) error {
	start := time.Now()
	id := newRequestID()
	c.Locals(requestIDKey{}, id)
	c.Set("X-Request-Id", id)
	c.Set(fiber.HeaderStrictTransportSecurity, "max-age=31536000")
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderCacheControl, "no-store")
	// A span for the request (a no-op unless tracing is configured), the
	// child of the caller's traceparent if it sent one.
	ctx := otel.GetTextMapPropagator().Extract(c.UserContext(), headerCarrier{c})
	ctx, span := tracing.Start(ctx, "HTTP "+c.Method(), attribute.String("gatehouse.listener", s.listener),
		attribute.String("gatehouse.request_id", id))
	defer span.End()
	c.SetUserContext(ctx)
	err := c.Next()
	if err != nil {
		// Rendered (and logged) by the error handler.
		if herr := s.app.ErrorHandler(c, err); herr != nil {
			return herr
		}
	}
	took := time.Since(start)
	// fasthttp's strings point into buffers it reuses: the metric and the
	// span keep copies.
	method, route, status := strings.Clone(c.Method()), strings.Clone(c.Route().Path), c.Response().StatusCode()
	metrics.HTTPDuration.WithLabelValues(s.listener, method, route, strconv.Itoa(status)).Observe(took.Seconds())
	span.SetName(method + " " + route)
	span.SetAttributes(attribute.String("http.request.method", method), attribute.String("http.route", route),
		attribute.Int("http.response.status_code", status))
	if status >= 500 {
		span.SetStatus(codes.Error, http.StatusText(status))
	}
	attrs := []any{logkey.RequestID, id, logkey.Method, c.Method(), logkey.Path, c.Path(),
		logkey.Status, status, logkey.Duration, took.String()}
	if p := callerParty(c); p != "" {
		attrs = append(attrs, logkey.Party, p)
		span.SetAttributes(attribute.String("gatehouse.party", p))
	}
	if sc := span.SpanContext(); sc.IsValid() {
		attrs = append(attrs, "trace_id", sc.TraceID().String())
	}
	s.log.Info("request", attrs...)
	return nil
}

// headerCarrier reads and writes trace context in request headers.
type headerCarrier struct{ c *fiber.Ctx }

func (h headerCarrier) Get(key string) string { return h.c.Get(key) }
func (h headerCarrier) Set(key, value string) { h.c.Set(key, value) }
func (h headerCarrier) Keys() []string {
	var keys []string
	for k := range h.c.GetReqHeaders() {
		keys = append(keys, k)
	}
	return keys
}

func (s *Server) now() time.Time {
	if s.opts.Clock != nil {
		return s.opts.Clock()
	}
	return time.Now()
}

// tlsState returns the connection's TLS state, or nil for plain connections.
func tlsState(c *fiber.Ctx) *tls.ConnectionState { return c.Context().TLSConnectionState() }
