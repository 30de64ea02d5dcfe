// Package console is the web console on the admin listener: information
// governance officers, DPOs and auditors sign in with the council's identity
// provider (OpenID Connect, code flow with PKCE) and govern sharing in a
// browser. Pages are server-rendered with html/template in the GOV.UK
// Design System's markup; every asset is embedded, nothing comes from a CDN.
package console

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/compliance"
	"github.com/gatehouse-gw/gatehouse/gateway"
)

//go:embed assets
var assetsFS embed.FS

//go:embed templates/*.html
var templatesFS embed.FS

// Prefix is where the console is served on the admin listener.
const Prefix = "/console"

// Registry is what the console needs of the agreements service.
type Registry interface {
	Parties(ctx context.Context, actor agreements.Actor) ([]*agreements.Party, error)
	Party(ctx context.Context, actor agreements.Actor, id string) (*agreements.Party, error)
	RegisterParty(ctx context.Context, actor agreements.Actor, p *agreements.Party, idempotencyKey string) (*agreements.Party, error)
	ProposePartyChange(ctx context.Context, actor agreements.Actor, id string, edit agreements.TrustEdit, reason, idempotencyKey string) (*agreements.PartyChange, error)
	ApprovePartyChange(ctx context.Context, actor agreements.Actor, changeID, digest string) (*agreements.PartyChange, *agreements.Party, error)
	RejectPartyChange(ctx context.Context, actor agreements.Actor, changeID, reason string) (*agreements.PartyChange, error)
	PartyChanges(ctx context.Context, actor agreements.Actor, party string) ([]*agreements.PartyChange, error)
	PartyChange(ctx context.Context, actor agreements.Actor, id string) (*agreements.PartyChange, error)
	SetPartyStatus(ctx context.Context, actor agreements.Actor, id string, status agreements.PartyStatus, reason string) (*agreements.Party, error)
	ApproveParty(ctx context.Context, actor agreements.Actor, id, sha256 string) (*agreements.Party, error)
	RejectParty(ctx context.Context, actor agreements.Actor, id, reason string) (*agreements.Party, error)
	Register(ctx context.Context, actor agreements.Actor, doc *agreements.Agreement, idempotencyKey string) (*agreements.Agreement, error)
	Approve(ctx context.Context, actor agreements.Actor, id string, version int, digest string) (*agreements.Agreement, error)
	Activate(ctx context.Context, actor agreements.Actor, id string, version int, digest string) (*agreements.Agreement, error)
	Suspend(ctx context.Context, actor agreements.Actor, id, reason string) (*agreements.Agreement, error)
	Resume(ctx context.Context, actor agreements.Actor, id, reason string) (*agreements.Agreement, error)
	Terminate(ctx context.Context, actor agreements.Actor, id, reason string) (*agreements.Agreement, error)
	Versions(ctx context.Context, actor agreements.Actor, id string) ([]*agreements.Agreement, error)
	List(ctx context.Context, actor agreements.Actor) ([]*agreements.Agreement, error)
}

// Compliance is what the console needs of the compliance service.
type Compliance interface {
	Export(ctx context.Context, actor agreements.Actor, req compliance.ExportRequest) (*compliance.Export, error)
	ReviewOverride(ctx context.Context, actor agreements.Actor, exchangeID string, r *api.OverrideReview) (*compliance.Override, error)
	RecordNotification(ctx context.Context, actor agreements.Actor, exchangeID string, u *api.NotificationUpdate) (*compliance.Notification, error)
	Rectify(ctx context.Context, actor agreements.Actor, r *api.RectificationRequest, idempotencyKey string) (*compliance.Rectification, error)
}

// Records lists the compliance records the console shows in its queues.
type Records interface {
	Overrides(ctx context.Context) ([]*compliance.Override, error)
	Notifications(ctx context.Context, states ...string) ([]*compliance.Notification, error)
	// Rectifications lists the rectifications of one subject key, or all
	// with "".
	Rectifications(ctx context.Context, subjectKey string) ([]*compliance.Rectification, error)
}

// OIDC is how the console signs people in.
type OIDC struct {
	// Issuer is the identity provider's issuer URL (discovery is at
	// Issuer/.well-known/openid-configuration).
	Issuer       string
	ClientID     string
	ClientSecret string
	// URL is the console's public base URL (https://host:port); empty means
	// the address the browser used, as the admin listener saw it.
	URL string
	// Scopes asked for beside openid; empty means profile and email.
	Scopes []string
	// Claims name the person and their roles in the ID token.
	Claims gateway.ClaimNames
	// HTTPClient reaches the identity provider; nil means the default.
	HTTPClient *http.Client
}

// Options configure the console.
type Options struct {
	Registry   Registry
	Compliance Compliance
	Records    Records
	// Outbox lists and retries alert deliveries; nil means alerts are not
	// configured (the page says so).
	Outbox Outbox
	// Decisions reads the decisions of the audit record; nil means the
	// decisions pages say they are not available.
	Decisions Decisions
	// Certificates lists the party certificates the gateway has seen, for
	// the party pages; nil shows none.
	Certificates gateway.CertificateList
	// CertWarnDays are the days before expiry at which a certificate is
	// shown on the home page (the largest is the window).
	CertWarnDays []int
	// Status is the audit record's state; nil means it is not shown.
	Status Status
	OIDC   OIDC
	// State keeps the sessions and made exports (the gateway's database,
	// shared by every node).
	State State
	// SessionKey (32 bytes) seals the sign-in cookie and the sessions kept
	// in State.
	SessionKey []byte
	// IdleTimeout ends a session nobody has used for this long;
	// AbsoluteTimeout ends any session this long after sign-in.
	IdleTimeout, AbsoluteTimeout time.Duration
	// OverrideReview is how long the DPO has to review an override.
	OverrideReview time.Duration
	Log            *slog.Logger
	// Clock is the time; nil means time.Now.
	Clock func() time.Time
}

// Console is the console's HTTP handler.
type Console struct {
	opts  Options
	mux   *http.ServeMux
	pages map[string]*template.Template
	loc   *time.Location
	box   *box

	clock atomic.Pointer[func() time.Time]

	mu       sync.Mutex
	provider *provider
}

// New builds the console. It does not contact the identity provider until
// someone signs in, so that the gateway starts while the provider is down.
func New(o Options) (*Console, error) {
	if len(o.SessionKey) != 32 {
		return nil, errors.New("console: the session key must be 32 bytes")
	}
	if o.State == nil {
		return nil, errors.New("console: a store for sessions is required")
	}
	if o.OIDC.Issuer == "" || o.OIDC.ClientID == "" {
		return nil, errors.New("console: an OpenID provider issuer and client id are required")
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 15 * time.Minute
	}
	if o.AbsoluteTimeout <= 0 {
		o.AbsoluteTimeout = 8 * time.Hour
	}
	if o.OverrideReview <= 0 {
		o.OverrideReview = 72 * time.Hour
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		return nil, err
	}
	b, err := newBox(o.SessionKey)
	if err != nil {
		return nil, err
	}
	c := &Console{opts: o, loc: loc, box: b}
	if c.pages, err = parsePages(c.funcs()); err != nil {
		return nil, err
	}
	c.routes()
	return c, nil
}

// SetClock replaces the console's clock (tests move time on).
func (c *Console) SetClock(now func() time.Time) { c.clock.Store(&now) }

func (c *Console) now() time.Time {
	if f := c.clock.Load(); f != nil {
		return (*f)()
	}
	return c.opts.Clock()
}

func (c *Console) routes() {
	m := http.NewServeMux()
	static, _ := fs.Sub(assetsFS, "assets")
	m.Handle("GET "+Prefix+"/assets/", http.StripPrefix(Prefix+"/assets/", assetHandler(static)))
	m.HandleFunc("GET "+Prefix+"/sign-in", c.signInPage)
	m.HandleFunc("POST "+Prefix+"/sign-in", c.startSignIn)
	m.HandleFunc("GET "+Prefix+"/callback", c.callback)
	m.HandleFunc("POST "+Prefix+"/sign-out", c.signedIn(c.signOut))
	m.HandleFunc("GET "+Prefix+"/signed-out", c.signedOutPage)
	m.HandleFunc("GET "+Prefix+"/{$}", c.signedIn(c.home))
	m.HandleFunc("GET "+Prefix+"/agreements", c.signedIn(c.agreementsPage))
	m.HandleFunc("GET "+Prefix+"/agreements/new", c.signedIn(c.newAgreementPage))
	m.HandleFunc("POST "+Prefix+"/agreements", c.signedIn(c.createAgreement))
	m.HandleFunc("GET "+Prefix+"/agreements/{id}", c.signedIn(c.agreementPage))
	m.HandleFunc("GET "+Prefix+"/agreements/{id}/diff", c.signedIn(c.diffPage))
	m.HandleFunc("GET "+Prefix+"/agreements/{id}/versions/{version}", c.signedIn(c.versionYAML))
	m.HandleFunc("POST "+Prefix+"/agreements/{id}/{action}", c.signedIn(c.agreementAction))
	m.HandleFunc("GET "+Prefix+"/overrides", c.signedIn(c.overridesPage))
	m.HandleFunc("POST "+Prefix+"/overrides/{id}", c.signedIn(c.reviewOverride))
	m.HandleFunc("GET "+Prefix+"/notifications", c.signedIn(c.notificationsPage))
	m.HandleFunc("POST "+Prefix+"/notifications/{id}", c.signedIn(c.recordNotification))
	m.HandleFunc("GET "+Prefix+"/rectifications", c.signedIn(c.rectificationsPage))
	m.HandleFunc("POST "+Prefix+"/rectifications", c.signedIn(c.sendRectification))
	m.HandleFunc("GET "+Prefix+"/exports", c.signedIn(c.exportsPage))
	m.HandleFunc("GET "+Prefix+"/exports/{kind}", c.signedIn(c.download))
	m.HandleFunc("POST "+Prefix+"/exports/subject-access", c.signedIn(c.makeSubjectAccess))
	m.HandleFunc("GET "+Prefix+"/exports/made/{id}/{part}", c.signedIn(c.madeFile))
	m.HandleFunc("GET "+Prefix+"/parties", c.signedIn(c.partiesPage))
	m.HandleFunc("GET "+Prefix+"/decisions", c.signedIn(c.decisionsPage))
	m.HandleFunc("GET "+Prefix+"/decisions/{seq}", c.signedIn(c.decisionPage))
	m.HandleFunc("GET "+Prefix+"/parties/new", c.signedIn(c.newPartyPage))
	m.HandleFunc("POST "+Prefix+"/parties", c.signedIn(c.registerParty))
	m.HandleFunc("GET "+Prefix+"/parties/{id}", c.signedIn(c.partyPage))
	m.HandleFunc("POST "+Prefix+"/parties/{id}/{action}", c.signedIn(c.partyAction))
	m.HandleFunc("POST "+Prefix+"/party-changes/{id}/{action}", c.signedIn(c.changeAction))
	m.HandleFunc("GET "+Prefix+"/alerts", c.signedIn(c.alertsPage))
	m.HandleFunc("POST "+Prefix+"/alerts/{id}/retry", c.signedIn(c.retryAlert))
	m.HandleFunc(Prefix, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, Prefix+"/", http.StatusSeeOther)
	})
	c.mux = m
}

// ServeHTTP implements http.Handler, with the security headers every page
// carries.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; connect-src 'self'; form-action 'self' "+c.formTargets()+"; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	if !strings.HasPrefix(r.URL.Path, Prefix+"/assets/") {
		h.Set("Cache-Control", "no-store")
	}
	c.mux.ServeHTTP(w, r)
}

// formTargets are where a console form may go besides the console: the
// identity provider (sign-in and sign-out start there).
func (c *Console) formTargets() string {
	if i := strings.Index(c.opts.OIDC.Issuer, "://"); i > 0 {
		rest := c.opts.OIDC.Issuer[i+3:]
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			rest = rest[:j]
		}
		return c.opts.OIDC.Issuer[:i+3] + rest
	}
	return ""
}

func assetHandler(static fs.FS) http.Handler {
	files := http.FileServerFS(static)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})
}
