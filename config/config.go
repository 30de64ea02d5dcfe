// Package config reads the gateway's configuration: one YAML file, strictly
// decoded, then environment overrides, then defaults, then validation that
// names the key path of every problem.
package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/certs"
	"github.com/gatehouse-gw/gatehouse/internal/valid"
)

// EnvPrefix starts every environment override: GATEHOUSE_DATABASE_DSN
// overrides database.dsn.
const EnvPrefix = "GATEHOUSE_"

// Config is the gateway's configuration.
type Config struct {
	// Listen is the address of the mutual-TLS listener.
	Listen string `yaml:"listen"`
	// TrustDomain is the SPIFFE trust domain of party identities.
	TrustDomain string `yaml:"trust_domain"`
	// Issuer names this gateway in manifests and signatures.
	Issuer string `yaml:"issuer"`
	// TLS is the partner listener's certificate and client trust.
	TLS TLS `yaml:"tls"`
	// Database is the SQL store.
	Database Database `yaml:"database"`
	// Objects is the S3-compatible object store for sealed payloads.
	Objects Objects `yaml:"objects"`
	// Keys are the gateway's own keys.
	Keys Keys `yaml:"keys"`
	// Admin is the admin API: a second listener for people.
	Admin Admin `yaml:"admin"`
	// Console is the web console on the admin listener, for people who sign
	// in with the council's OpenID Connect provider.
	Console Console `yaml:"console"`
	// Policy holds the deployment's decision settings.
	Policy Policy `yaml:"policy"`
	// Retention governs how long delivered payloads are kept.
	Retention Retention `yaml:"retention"`
	// Audit governs the audit record's checkpoints and archive.
	Audit Audit `yaml:"audit"`
	// Limits bound what one request may ask of the gateway.
	Limits Limits `yaml:"limits"`
	// Log configures the operational log.
	Log Log `yaml:"log"`
	// Tracing sends OpenTelemetry spans to a collector (optional).
	Tracing Tracing `yaml:"tracing"`
	// Alerts tells people (e-mail) and partner systems (signed webhooks)
	// what needs their attention (docs/alerts.md).
	Alerts Alerts `yaml:"alerts"`
}

// Alerts configures the outbox's deliveries: e-mail to role mailboxes and
// party contacts, and Standard Webhooks to partner and role endpoints.
type Alerts struct {
	// ConsoleURL is the console's base URL; messages link to its pages
	// (empty: no links).
	ConsoleURL string `yaml:"console_url"`
	// Email sends alerts by SMTP (optional).
	Email Email `yaml:"email"`
	// Webhooks are the endpoints that receive events.
	Webhooks []Webhook `yaml:"webhooks"`
	// Poll is how often each node reads the outbox.
	Poll time.Duration `yaml:"poll"`
	// RetryMin is the wait after a delivery's first failed attempt; each
	// further failure doubles it, up to RetryMax.
	RetryMin time.Duration `yaml:"retry_min"`
	// RetryMax is the longest wait between two attempts.
	RetryMax time.Duration `yaml:"retry_max"`
	// MaxAttempts is how many attempts a delivery gets before it is marked
	// failed and waits for a manual retry.
	MaxAttempts int `yaml:"max_attempts"`
	// Lease is how long a node holds a delivery it is attempting; another
	// node tries it once the lease has run out (a node that died mid-way).
	Lease time.Duration `yaml:"lease"`
	// DueWithin is how far ahead reminders look: an agreement review or
	// DPIA, a withheld notification or a request deadline due within it.
	DueWithin time.Duration `yaml:"due_within"`
	// DigestAt is the time of day (HH:MM, Europe/London) of the daily
	// digest of what is due; "off" sends none.
	DigestAt string `yaml:"digest_at"`
	// VerifyEvery is how often each node verifies the whole audit record
	// (as gatehouse audit verify does) and alerts the operators, the DPO
	// and the auditors if it is broken.
	VerifyEvery time.Duration `yaml:"verify_every"`
}

// Email is the SMTP server alerts are sent through and who receives them.
type Email struct {
	// SMTP is the mail server's host:port; empty disables e-mail.
	SMTP string `yaml:"smtp"`
	// TLS says how the connection is secured: starttls (required, the
	// default), implicit (TLS from the first byte, port 465) or none (only
	// for a server on a loopback address).
	TLS string `yaml:"tls"`
	// CAFile is the CA of the mail server's certificate, if not a public one.
	CAFile string `yaml:"ca_file"`
	// Username authenticates to the server, with PasswordFile (optional).
	Username string `yaml:"username"`
	// PasswordFile holds the SMTP password.
	PasswordFile string `yaml:"password_file"`
	// From is the sender address.
	From string `yaml:"from"`
	// Roles lists mailboxes by role: dpo, admin (information governance),
	// auditor, operator.
	Roles map[string][]string `yaml:"roles"`
	// Parties lists each partner's contacts, by party id.
	Parties map[string][]string `yaml:"parties"`
}

// Webhook is an endpoint that receives events, signed with its own secret.
type Webhook struct {
	// Name identifies the endpoint in deliveries and metrics.
	Name string `yaml:"name"`
	// URL is the https URL events are posted to.
	URL string `yaml:"url"`
	// Party receives the events for this party; set Party or Role.
	Party string `yaml:"party"`
	// Role receives the events for people with this role.
	Role string `yaml:"role"`
	// SecretFile holds the endpoint's secret, whsec_ and base64 of 24 to 64
	// random bytes (docs/alerts.md says how to make one).
	SecretFile string `yaml:"secret_file"`
	// CAFile is the CA of the endpoint's certificate, if not a public one.
	CAFile string `yaml:"ca_file"`
	// Events limits the endpoint to these event types; empty means all.
	Events []string `yaml:"events"`
}

// Tracing is optional OpenTelemetry tracing over OTLP/HTTP.
type Tracing struct {
	// Endpoint is the OTLP/HTTP collector's URL (e.g. http://otel-collector:4318); empty disables tracing.
	Endpoint string `yaml:"endpoint"`
	// SampleRatio is the share of traces recorded, 0 to 1; a trace a caller started follows the caller's decision.
	SampleRatio float64 `yaml:"sample_ratio"`
}

// Admin is the administration API: a second listener (TLS, no client
// certificate) for people, authenticated by JWT bearer tokens.
type Admin struct {
	// Listen is the admin listener's address; empty disables the admin API.
	Listen string `yaml:"listen"`
	// JWKSFile is a JWKS file of the public keys that sign admin tokens.
	JWKSFile string `yaml:"jwks_file"`
	// JWKSURL is an https URL of that JWKS (fetched, cached); set one of the two.
	JWKSURL string `yaml:"jwks_url"`
	// Issuer must match the token's iss.
	Issuer string `yaml:"issuer"`
	// Audience must be in the token's aud.
	Audience string `yaml:"audience"`
	// RolesClaim names the claim holding the roles: admin, dpo, auditor
	// (Entra ID app roles arrive in roles).
	RolesClaim string `yaml:"roles_claim"`
	// GroupsClaim names a claim of group ids or names that group_roles maps
	// to roles; empty means roles come from roles_claim only.
	GroupsClaim string `yaml:"groups_claim"`
	// GroupRoles maps groups (as the groups claim carries them) to roles,
	// each entry GROUP=ROLE (e.g. an Entra group's object id=dpo).
	GroupRoles []string `yaml:"group_roles"`
	// IDClaim names the claim that identifies a person stably in the audit
	// and exports (Entra ID: oid); default sub.
	IDClaim string `yaml:"id_claim"`
	// NameClaims are tried in order for the person's display name; default
	// name, then preferred_username.
	NameClaims []string `yaml:"name_claims"`
	// JWKSRefresh is how often a JWKS URL is fetched again at most.
	JWKSRefresh time.Duration `yaml:"jwks_refresh"`
	// Issuers are further token issuers the admin API trusts beside the one
	// above (another identity provider, or the development provider beside
	// the development token key), each with its own keys, audience and
	// claim names: each entry has issuer, audience, jwks_file or jwks_url
	// (https, or http on a loopback address), and optionally roles_claim,
	// groups_claim, group_roles, id_claim and name_claims (defaults as
	// admin's), in the file only (not the environment). A token is verified
	// by the issuer its iss names, with that issuer's keys, audience and
	// claims; a token of any other issuer is refused. The console names
	// people by the claims of the entry whose issuer is console.issuer, if
	// one is.
	Issuers []TokenIssuer `yaml:"issuers"`
	// MetricsListen is an address of its own that serves only /metrics
	// (HTTPS with the gateway's certificate, no token) for Prometheus; bind
	// it where only the scraper reaches. Empty means /metrics is served on
	// the admin listener only, to an auditor's or admin's token.
	MetricsListen string `yaml:"metrics_listen"`
}

// TokenIssuer is one issuer of admin tokens: where its keys are, the
// audience its tokens must carry, and the claims that name a person.
// Unset claim names default as admin's do.
type TokenIssuer struct {
	// Issuer must match the token's iss.
	Issuer string `yaml:"issuer"`
	// Audience must be in the token's aud.
	Audience string `yaml:"audience"`
	// JWKSFile or JWKSURL (https, or http on a loopback address) holds the
	// public keys that sign its tokens; set one of the two.
	JWKSFile string `yaml:"jwks_file"`
	JWKSURL  string `yaml:"jwks_url"`
	// RolesClaim, GroupsClaim, GroupRoles, IDClaim and NameClaims are as
	// admin's.
	RolesClaim  string   `yaml:"roles_claim"`
	GroupsClaim string   `yaml:"groups_claim"`
	GroupRoles  []string `yaml:"group_roles"`
	IDClaim     string   `yaml:"id_claim"`
	NameClaims  []string `yaml:"name_claims"`
}

// TokenIssuers returns every issuer the admin API trusts: admin's own
// first, then admin.issuers.
func (a Admin) TokenIssuers() []TokenIssuer {
	return append([]TokenIssuer{{Issuer: a.Issuer, Audience: a.Audience, JWKSFile: a.JWKSFile, JWKSURL: a.JWKSURL,
		RolesClaim: a.RolesClaim, GroupsClaim: a.GroupsClaim, GroupRoles: a.GroupRoles, IDClaim: a.IDClaim, NameClaims: a.NameClaims}},
		a.Issuers...)
}

// GroupRoleMap returns group_roles as a map from group to roles.
func (ti TokenIssuer) GroupRoleMap() map[string][]string { return groupRoleMap(ti.GroupRoles) }

// Console is the web console on the admin listener (under /console). People
// sign in with the council's OpenID Connect provider (authorization code
// with PKCE); the claims that name them and their roles are admin's
// (admin.id_claim, admin.name_claims, admin.roles_claim, admin.groups_claim).
type Console struct {
	// Issuer is the OpenID provider's issuer URL; empty disables the console.
	Issuer string `yaml:"issuer"`
	// ClientID is the console's client id at the provider.
	ClientID string `yaml:"client_id"`
	// ClientSecretFile holds the client secret (a confidential client).
	ClientSecretFile string `yaml:"client_secret_file"`
	// URL is the console's public base URL (https://host:port); empty means
	// the address the browser used. The provider must allow URL/console/callback.
	URL string `yaml:"url"`
	// Scopes are asked for beside openid; empty means profile and email.
	Scopes []string `yaml:"scopes"`
	// SessionKeyFile holds 32 random bytes as hex that seal the sign-in
	// cookie and the sessions kept in the database (the session cookie holds
	// only a random id); every gateway node behind one address needs the same.
	SessionKeyFile string `yaml:"session_key_file"`
	// IdleTimeout ends a session unused for this long (checked by the
	// gateway, not the browser; ended sessions are deleted by the sweeper).
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// AbsoluteTimeout ends every session this long after sign-in.
	AbsoluteTimeout time.Duration `yaml:"absolute_timeout"`
}

// GroupRoleMap returns group_roles as a map from group to roles.
func (a Admin) GroupRoleMap() map[string][]string { return groupRoleMap(a.GroupRoles) }

func groupRoleMap(entries []string) map[string][]string {
	m := map[string][]string{}
	for _, e := range entries {
		if g, r, ok := strings.Cut(e, "="); ok {
			m[strings.TrimSpace(g)] = append(m[strings.TrimSpace(g)], strings.TrimSpace(r))
		}
	}
	return m
}

// Policy holds the deployment's decision settings.
type Policy struct {
	// ReviewGrace is how long sharing continues after an agreement's review
	// date before it pauses.
	ReviewGrace time.Duration `yaml:"review_grace"`
	// OverrideReview is how soon the DPO must review an emergency override.
	OverrideReview time.Duration `yaml:"override_review"`
	// DPIAReview is how old a DPIA may get before it lapses: sharing under
	// the agreement then pauses (agreement.dpia-complete fails) until the
	// DPIA is revisited, and the agreements export lists it, first as
	// dpia-review-due, then as dpia-lapsed.
	DPIAReview time.Duration `yaml:"dpia_review"`
}

// TLS is the listener's certificate, extra client trust anchors and
// revocation checking. Files are reloaded when they change or on SIGHUP.
type TLS struct {
	// CertFile is the server certificate (PEM, with its chain).
	CertFile string `yaml:"cert_file"`
	// KeyFile is the server certificate's private key (PEM).
	KeyFile string `yaml:"key_file"`
	// ClientCAFiles are CA certificates trusted for every party, in addition
	// to each party's own trust anchors.
	ClientCAFiles []string `yaml:"client_ca_files"`
	// CRLFiles are CRL files checked on every handshake (reloaded on change).
	CRLFiles []string `yaml:"crl_files"`
	// CRLURLs are CRLs fetched over http(s) and refreshed at their nextUpdate.
	CRLURLs []string `yaml:"crl_urls"`
	// CRLDistributionPoints also fetches the CRLs that certificates name in
	// their distribution points, from allowed hosts only (revocation_hosts
	// here, and each party's own revocation_hosts).
	CRLDistributionPoints *bool `yaml:"crl_distribution_points"`
	// OCSP asks a certificate's OCSP responder when no CRL covers it, on an
	// allowed host only.
	OCSP bool `yaml:"ocsp"`
	// RevocationHosts are the hosts (name, or name:port) that the CRL
	// distribution points and OCSP responders named in certificates issued
	// under client_ca_files may be fetched from. A partner's CA names its
	// own addresses, so each party registers its own list; an address on
	// no list is never contacted, and the status it would give is unknown.
	RevocationHosts []string `yaml:"revocation_hosts"`
	// AllowUnknownRevocation lets a certificate whose revocation status
	// cannot be established through; by default it is refused.
	AllowUnknownRevocation bool `yaml:"allow_unknown_revocation"`
	// PublishCRL is a CRL file the gateway serves at /pki/crl (the CRL of
	// the CA that issues party certificates, if the council runs one).
	PublishCRL string `yaml:"publish_crl"`
	// MaxChain is the most certificates a client may present.
	MaxChain int `yaml:"max_chain"`
	// MinRSABits is the smallest RSA key accepted from agencies.
	MinRSABits int `yaml:"min_rsa_bits"`
	// ReloadInterval is how often the files are checked for changes.
	ReloadInterval time.Duration `yaml:"reload_interval"`
	// ExpiryWarningDays are the days before a party certificate expires at
	// which the gateway logs a warning.
	ExpiryWarningDays []int `yaml:"expiry_warning_days"`
}

// Database is the SQL store.
type Database struct {
	// Driver is sqlite or postgres.
	Driver string `yaml:"driver"`
	// DSN is a file path for sqlite, a connection URL for postgres.
	DSN string `yaml:"dsn" secret:"true"`
}

// Objects is the S3-compatible object store for sealed payloads.
type Objects struct {
	// Endpoint is the store's host:port, without a scheme.
	Endpoint string `yaml:"endpoint"`
	// Region is the store's region.
	Region string `yaml:"region"`
	// Bucket holds the sealed payloads: versioned, with Object Lock for
	// retention where the store has it.
	Bucket string `yaml:"bucket"`
	// AccessKey is the store's access key id.
	AccessKey string `yaml:"access_key"`
	// SecretKey is the store's secret key.
	SecretKey string `yaml:"secret_key" secret:"true"`
	// TLS connects to the store over https.
	TLS bool `yaml:"tls"`
	// CAFile is the CA of the store's certificate, if not a public one.
	CAFile string `yaml:"ca_file"`
	// CreateBucket creates the bucket with versioning if it is missing
	// (development); production buckets are provisioned by the operator.
	CreateBucket bool `yaml:"create_bucket"`
	// IOTimeout is how long a connection to the store may make no progress
	// before the request fails with 503 (default 3s).
	IOTimeout time.Duration `yaml:"io_timeout"`
}

// Keys are the gateway's own keys.
type Keys struct {
	// SigningKeyFile is the private P-256 JWK that signs manifests.
	SigningKeyFile string `yaml:"signing_key_file"`
	// SigningRetiredKeysFile is an optional JWKS of retired manifest-signing
	// public keys, published so that envelopes sealed before a rotation
	// still verify.
	SigningRetiredKeysFile string `yaml:"signing_retired_keys_file"`
	// SubjectKeyFile holds the HMAC keys (32+ random bytes, hex) for subject identifiers, one version a line: bare hex is version 2, then v3:<hex>, …; the highest makes new keys (docs/audit.md).
	SubjectKeyFile string `yaml:"subject_key_file"`
	// PseudonymKeyFile holds the master key (32+ random bytes, hex) for
	// pseudonymised payload fields; each agreement gets its own derived key.
	PseudonymKeyFile string `yaml:"pseudonym_key_file"`
	// AuditKeyFile is the private P-256 JWK that signs audit checkpoints and
	// compliance exports. Its public half is in the JWKS.
	AuditKeyFile string `yaml:"audit_key_file"`
	// AuditRetiredKeysFile is an optional JWKS of retired audit public keys,
	// so that checkpoints and exports signed before a rotation still verify.
	AuditRetiredKeysFile string `yaml:"audit_retired_keys_file"`
	// CheckpointKeyFile is the Ed25519 key that signs the audit record's
	// checkpoint notes (C2SP tlog-checkpoint), in the signed-note private
	// key encoding (PRIVATE+KEY+<name>+<hash>+<key>), named audit.origin.
	// gatehouse keys init creates it; its verifier key is published at
	// /.well-known/gatehouse-checkpoint-key.
	CheckpointKeyFile string `yaml:"checkpoint_key_file"`
	// CheckpointRetiredKeysFile is an optional file of retired checkpoint
	// verifier keys, one per line, so that notes signed before a rotation
	// still verify.
	CheckpointRetiredKeysFile string `yaml:"checkpoint_retired_keys_file"`
}

// Audit governs the tamper-evident record's checkpoints and archive.
type Audit struct {
	// Bucket is the object-storage bucket, with versioning and Object Lock,
	// that sealed segments of the chain are archived to. It is on the
	// objects endpoint and must differ from objects.bucket.
	Bucket string `yaml:"bucket"`
	// CheckpointEvery is the most entries between two signed checkpoints.
	CheckpointEvery int64 `yaml:"checkpoint_every"`
	// CheckpointInterval is the longest an entry waits for a checkpoint
	// (default 1m; a checkpoint is signed only when there are new entries).
	CheckpointInterval time.Duration `yaml:"checkpoint_interval"`
	// Origin names the audit log in its checkpoint notes and receipts, and
	// is the name of keys.checkpoint_key_file's key (default: the issuer
	// followed by "/audit"). No white space or "+".
	Origin string `yaml:"origin"`
	// Retention is how long archived segments stay locked.
	Retention time.Duration `yaml:"retention"`
	// LockMode is the archive's Object Lock mode: compliance (default: not
	// even the bucket's owner can remove a segment early), governance, or
	// none to accept an archive without Object Lock.
	LockMode string `yaml:"lock_mode"`
}

// Retention governs how long delivered payloads are kept.
type Retention struct {
	// Default applies to payloads delivered under no agreement (emergency
	// overrides); an agreement's own retention applies otherwise.
	Default time.Duration `yaml:"default"`
	// SweepInterval is how often expired payloads are deleted; 0 disables
	// the sweeper on this node.
	SweepInterval time.Duration `yaml:"sweep_interval"`
	// LockMode is the Object Lock mode payloads are stored under where the
	// bucket has Object Lock: governance or compliance.
	LockMode string `yaml:"lock_mode"`
	// IdempotencyKeys is how long Idempotency-Keys are remembered.
	IdempotencyKeys time.Duration `yaml:"idempotency_keys"`
	// OrphanGrace is how old a payload object that no exchange records
	// must be before the sweeper treats it as orphaned (an upload stored
	// whose commit was lost): longer than any upload's commit can take and
	// any clock difference with the object store. Default 1h.
	OrphanGrace time.Duration `yaml:"orphan_grace"`
	// DeleteOrphans deletes orphaned payload objects that no Object Lock
	// holds (default true; each deletion is audited). False only records and
	// reports them: for a while after restoring the database from a backup,
	// whose rows lack the exchanges delivered after it.
	DeleteOrphans *bool `yaml:"delete_orphans"`
}

// Limits bound what one request may ask of the gateway.
type Limits struct {
	// MaxPayloadSize is the largest payload accepted.
	MaxPayloadSize ByteSize `yaml:"max_payload_size"`
	// MaxJSONBody is the largest JSON request body accepted.
	MaxJSONBody ByteSize `yaml:"max_json_body"`
	// OneRequestMax is the largest payload a declaration may carry in the
	// same request (multipart POST /v1/exchanges); larger payloads are
	// declared first and then uploaded with PUT (413 one-request-too-large).
	OneRequestMax ByteSize `yaml:"one_request_max"`
	// IdleTimeout closes keep-alive connections that stay idle this long.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// HeaderTimeout bounds reading a request's headers (and a JSON body).
	HeaderTimeout time.Duration `yaml:"header_timeout"`
	// TransferIdleTimeout ends a payload upload or download that makes no
	// progress for this long; one that keeps moving is never cut off.
	TransferIdleTimeout time.Duration `yaml:"transfer_idle_timeout"`
	// MaxConnections bounds open connections to a listener.
	MaxConnections int `yaml:"max_connections"`
	// MaxConnsPerIP bounds open connections from one address.
	MaxConnsPerIP int `yaml:"max_conns_per_ip"`
	// MaxHeaderBytes bounds a request's headers.
	MaxHeaderBytes ByteSize `yaml:"max_header_bytes"`
	// Rate limits requests per party, and declarations per party and agreement.
	Rate RateLimits `yaml:"rate"`
}

// RateLimits are token buckets: a default per party, overrides by party
// and limits for declarations and requests under an agreement.
type RateLimits struct {
	// Default is every party's request rate.
	Default Rate `yaml:"default"`
	// Parties overrides the default for some parties, by party id.
	Parties map[string]Rate `yaml:"parties"`
	// Agreements limits declarations and requests under an agreement, by agreement id.
	Agreements map[string]Rate `yaml:"agreements"`
}

// Rate is a token bucket: PerSecond tokens added each second, up to Burst.
// A zero PerSecond means no limit.
type Rate struct {
	// PerSecond is how many tokens are added each second (0: no limit).
	PerSecond float64 `yaml:"per_second"`
	// Burst is the most tokens the bucket holds.
	Burst int `yaml:"burst"`
}

// Log configures the operational log.
type Log struct {
	// Level is one of debug, info, warn, error.
	Level string `yaml:"level"`
	// Format is "json" (for machines) or "text" (for people).
	Format string `yaml:"format"`
}

// Defaults fills in every unset value that has a sensible default.
func (c *Config) Defaults() {
	set := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	set(&c.Listen, "127.0.0.1:8443")
	set(&c.Issuer, "gatehouse")
	set(&c.Database.Driver, "sqlite")
	set(&c.Objects.Region, "us-east-1")
	set(&c.Objects.Bucket, "gatehouse-payloads")
	if c.Objects.IOTimeout == 0 {
		c.Objects.IOTimeout = 3 * time.Second
	}
	set(&c.Log.Level, "info")
	if c.Tracing.SampleRatio == 0 {
		c.Tracing.SampleRatio = 1
	}
	set(&c.Log.Format, "json")
	set(&c.Admin.RolesClaim, "roles")
	set(&c.Admin.IDClaim, "sub")
	if c.Console.IdleTimeout == 0 {
		c.Console.IdleTimeout = 15 * time.Minute
	}
	if c.Console.AbsoluteTimeout == 0 {
		c.Console.AbsoluteTimeout = 8 * time.Hour
	}
	if len(c.Admin.NameClaims) == 0 {
		c.Admin.NameClaims = []string{"name", "preferred_username"}
	}
	if c.Admin.JWKSRefresh == 0 {
		c.Admin.JWKSRefresh = 15 * time.Minute
	}
	for i := range c.Admin.Issuers {
		ti := &c.Admin.Issuers[i]
		set(&ti.RolesClaim, "roles")
		set(&ti.IDClaim, "sub")
		if len(ti.NameClaims) == 0 {
			ti.NameClaims = []string{"name", "preferred_username"}
		}
	}
	if c.Policy.ReviewGrace == 0 {
		c.Policy.ReviewGrace = 30 * 24 * time.Hour
	}
	if c.Policy.OverrideReview == 0 {
		c.Policy.OverrideReview = 72 * time.Hour
	}
	if c.Policy.DPIAReview == 0 {
		c.Policy.DPIAReview = 365 * 24 * time.Hour
	}
	if c.Retention.Default == 0 {
		c.Retention.Default = 30 * 24 * time.Hour
	}
	if c.Retention.SweepInterval == 0 {
		c.Retention.SweepInterval = 5 * time.Minute
	}
	set(&c.Retention.LockMode, "governance")
	set(&c.Audit.Bucket, c.Objects.Bucket+"-audit")
	set(&c.Audit.LockMode, "compliance")
	if c.Audit.CheckpointEvery == 0 {
		c.Audit.CheckpointEvery = 10000
	}
	if c.Audit.CheckpointInterval == 0 {
		c.Audit.CheckpointInterval = time.Minute
	}
	set(&c.Audit.Origin, c.Issuer+"/audit")
	if c.Audit.Retention == 0 {
		// Six years: the limitation period for most claims a disclosure
		// could give rise to.
		c.Audit.Retention = 6 * 365 * 24 * time.Hour
	}
	if c.Retention.IdempotencyKeys == 0 {
		c.Retention.IdempotencyKeys = 24 * time.Hour
	}
	if c.Retention.OrphanGrace == 0 {
		c.Retention.OrphanGrace = time.Hour
	}
	if c.Retention.DeleteOrphans == nil {
		yes := true
		c.Retention.DeleteOrphans = &yes
	}
	if c.TLS.MaxChain == 0 {
		c.TLS.MaxChain = 5
	}
	if c.TLS.MinRSABits == 0 {
		c.TLS.MinRSABits = 2048
	}
	if c.TLS.ReloadInterval == 0 {
		c.TLS.ReloadInterval = 5 * time.Second
	}
	if c.TLS.CRLDistributionPoints == nil {
		yes := true
		c.TLS.CRLDistributionPoints = &yes
	}
	if c.TLS.ExpiryWarningDays == nil {
		c.TLS.ExpiryWarningDays = []int{30, 14, 7, 1}
	}
	if c.Limits.HeaderTimeout == 0 {
		c.Limits.HeaderTimeout = 15 * time.Second
	}
	if c.Limits.TransferIdleTimeout == 0 {
		c.Limits.TransferIdleTimeout = 60 * time.Second
	}
	if c.Limits.MaxConnections == 0 {
		c.Limits.MaxConnections = 4096
	}
	if c.Limits.MaxConnsPerIP == 0 {
		c.Limits.MaxConnsPerIP = 256
	}
	if c.Limits.MaxHeaderBytes == 0 {
		c.Limits.MaxHeaderBytes = 16 << 10
	}
	if c.Limits.Rate.Default == (Rate{}) {
		c.Limits.Rate.Default = Rate{PerSecond: 200, Burst: 400}
	}
	if c.Limits.MaxPayloadSize == 0 {
		c.Limits.MaxPayloadSize = 64 << 30
	}
	if c.Limits.MaxJSONBody == 0 {
		c.Limits.MaxJSONBody = 1 << 20
	}
	if c.Limits.OneRequestMax == 0 {
		c.Limits.OneRequestMax = 4 << 20
	}
	if c.Limits.IdleTimeout == 0 {
		c.Limits.IdleTimeout = 2 * time.Minute
	}
	if c.Alerts.Poll == 0 {
		c.Alerts.Poll = time.Second
	}
	if c.Alerts.RetryMin == 0 {
		c.Alerts.RetryMin = 10 * time.Second
	}
	if c.Alerts.RetryMax == 0 {
		c.Alerts.RetryMax = time.Hour
	}
	if c.Alerts.MaxAttempts == 0 {
		c.Alerts.MaxAttempts = 15
	}
	if c.Alerts.Lease == 0 {
		c.Alerts.Lease = 2 * time.Minute
	}
	if c.Alerts.DueWithin == 0 {
		c.Alerts.DueWithin = 14 * 24 * time.Hour
	}
	set(&c.Alerts.DigestAt, "07:00")
	if c.Alerts.VerifyEvery == 0 {
		c.Alerts.VerifyEvery = time.Hour
	}
	set(&c.Alerts.Email.TLS, "starttls")
}

// Validate reports every problem at once, each with its key path.
func (c *Config) Validate() error {
	var v valid.Errors
	if v.Required("listen", c.Listen) {
		if _, _, err := net.SplitHostPort(c.Listen); err != nil {
			v.Add("listen", "format", "%q is not host:port", c.Listen)
		}
	}
	if v.Required("trust_domain", c.TrustDomain) {
		if _, err := certs.PartyURI(c.TrustDomain, "x"); err != nil {
			v.Add("trust_domain", "format", "%q is not a trust domain (a DNS-like name)", c.TrustDomain)
		}
	}
	v.Required("issuer", c.Issuer)
	requireFile(&v, "tls.cert_file", c.TLS.CertFile)
	requireFile(&v, "tls.key_file", c.TLS.KeyFile)
	for i, f := range c.TLS.ClientCAFiles {
		requireFile(&v, valid.Path("tls.client_ca_files", i), f)
	}
	switch c.Database.Driver {
	case "sqlite", "postgres":
	default:
		v.Add("database.driver", "enum", "%q is not one of sqlite, postgres", c.Database.Driver)
	}
	v.Required("database.dsn", c.Database.DSN)
	if v.Required("objects.endpoint", c.Objects.Endpoint) && strings.Contains(c.Objects.Endpoint, "://") {
		v.Add("objects.endpoint", "format", "is host:port without a scheme; set objects.tls for https")
	}
	v.Required("objects.bucket", c.Objects.Bucket)
	v.Required("objects.access_key", c.Objects.AccessKey)
	v.Required("objects.secret_key", c.Objects.SecretKey)
	if c.Objects.CAFile != "" {
		requireFile(&v, "objects.ca_file", c.Objects.CAFile)
	}
	if c.Objects.IOTimeout < 100*time.Millisecond || c.Objects.IOTimeout > 10*time.Minute {
		v.Add("objects.io_timeout", "range", "must be between 100ms and 10m")
	}
	if m := c.Admin.MetricsListen; m != "" {
		if _, _, err := net.SplitHostPort(m); err != nil {
			v.Add("admin.metrics_listen", "format", "%q is not host:port", m)
		} else if (m == c.Listen || m == c.Admin.Listen) && !strings.HasSuffix(m, ":0") {
			v.Add("admin.metrics_listen", "distinct", "must differ from listen and admin.listen")
		}
	}
	if c.Admin.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Admin.Listen); err != nil {
			v.Add("admin.listen", "format", "%q is not host:port", c.Admin.Listen)
		} else if c.Admin.Listen == c.Listen && !strings.HasSuffix(c.Listen, ":0") {
			v.Add("admin.listen", "distinct", "must differ from listen: partners and administrators use separate listeners")
		}
		switch {
		case c.Admin.JWKSFile == "" && c.Admin.JWKSURL == "":
			v.Add("admin.jwks_file", "required", "admin.jwks_file or admin.jwks_url is required when admin.listen is set")
		case c.Admin.JWKSFile != "" && c.Admin.JWKSURL != "":
			v.Add("admin.jwks_url", "exclusive", "set admin.jwks_file or admin.jwks_url, not both")
		case c.Admin.JWKSFile != "":
			requireFile(&v, "admin.jwks_file", c.Admin.JWKSFile)
		case !strings.HasPrefix(c.Admin.JWKSURL, "https://"):
			v.Add("admin.jwks_url", "https", "must be an https:// URL")
		}
		v.Required("admin.issuer", c.Admin.Issuer)
		v.Required("admin.audience", c.Admin.Audience)
		validateClaims(&v, "admin", c.Admin.TokenIssuers()[0])
		seen := map[string]bool{c.Admin.Issuer: true}
		for i, ti := range c.Admin.Issuers {
			at := fmt.Sprintf("admin.issuers[%d]", i)
			if v.Required(at+".issuer", ti.Issuer) {
				if seen[ti.Issuer] {
					v.Add(at+".issuer", "unique", "%q is trusted already: each issuer is listed once", ti.Issuer)
				}
				seen[ti.Issuer] = true
			}
			v.Required(at+".audience", ti.Audience)
			switch {
			case ti.JWKSFile == "" && ti.JWKSURL == "":
				v.Add(at+".jwks_file", "required", "jwks_file or jwks_url is required")
			case ti.JWKSFile != "" && ti.JWKSURL != "":
				v.Add(at+".jwks_url", "exclusive", "set jwks_file or jwks_url, not both")
			case ti.JWKSFile != "":
				requireFile(&v, at+".jwks_file", ti.JWKSFile)
			case !secureURL(ti.JWKSURL):
				v.Add(at+".jwks_url", "https", "must be an https:// URL (http:// only on a loopback address, for development)")
			}
			validateClaims(&v, at, ti)
		}
	}
	if c.Console.Issuer != "" {
		if c.Admin.Listen == "" {
			v.Add("console.issuer", "admin-listener", "the console is served on the admin listener: set admin.listen")
		}
		if !secureURL(c.Console.Issuer) {
			v.Add("console.issuer", "https", "must be an https:// URL (http:// only on a loopback address, for development)")
		}
		v.Required("console.client_id", c.Console.ClientID)
		if c.Console.ClientSecretFile != "" {
			requireFile(&v, "console.client_secret_file", c.Console.ClientSecretFile)
		}
		requireFile(&v, "console.session_key_file", c.Console.SessionKeyFile)
		if c.Console.URL != "" && !strings.HasPrefix(c.Console.URL, "https://") {
			v.Add("console.url", "https", "must be an https:// URL: the admin listener is TLS")
		}
		if c.Console.IdleTimeout < time.Minute || c.Console.IdleTimeout > 24*time.Hour {
			v.Add("console.idle_timeout", "range", "must be between 1m and 24h")
		}
		if c.Console.AbsoluteTimeout < c.Console.IdleTimeout || c.Console.AbsoluteTimeout > 7*24*time.Hour {
			v.Add("console.absolute_timeout", "range", "must be at least console.idle_timeout and at most 168h")
		}
	}
	if c.Policy.ReviewGrace < 0 {
		v.Add("policy.review_grace", "minimum", "must not be negative")
	}
	if c.Policy.OverrideReview <= 0 {
		v.Add("policy.override_review", "minimum", "must be positive")
	}
	if c.Policy.DPIAReview < 24*time.Hour {
		v.Add("policy.dpia_review", "minimum", "must be at least 24h")
	}
	requireFile(&v, "keys.signing_key_file", c.Keys.SigningKeyFile)
	requireFile(&v, "keys.subject_key_file", c.Keys.SubjectKeyFile)
	requireFile(&v, "keys.pseudonym_key_file", c.Keys.PseudonymKeyFile)
	requireFile(&v, "keys.audit_key_file", c.Keys.AuditKeyFile)
	if c.Keys.AuditRetiredKeysFile != "" {
		requireFile(&v, "keys.audit_retired_keys_file", c.Keys.AuditRetiredKeysFile)
	}
	requireFile(&v, "keys.checkpoint_key_file", c.Keys.CheckpointKeyFile)
	if c.Keys.CheckpointRetiredKeysFile != "" {
		requireFile(&v, "keys.checkpoint_retired_keys_file", c.Keys.CheckpointRetiredKeysFile)
	}
	if c.Keys.SigningRetiredKeysFile != "" {
		requireFile(&v, "keys.signing_retired_keys_file", c.Keys.SigningRetiredKeysFile)
	}
	if c.Audit.Bucket == c.Objects.Bucket {
		v.Add("audit.bucket", "distinct", "must differ from objects.bucket: the archive keeps its own Object Lock retention")
	}
	if c.Audit.CheckpointEvery < 1 || c.Audit.CheckpointEvery > 1_000_000 {
		v.Add("audit.checkpoint_every", "range", "must be between 1 and 1000000")
	}
	if c.Audit.CheckpointInterval < time.Second {
		v.Add("audit.checkpoint_interval", "minimum", "must be at least 1s")
	}
	if err := audit.ValidOrigin(c.Audit.Origin); err != nil {
		v.Add("audit.origin", "format", "%q %v", c.Audit.Origin, err)
	}
	if c.Audit.Retention < 24*time.Hour {
		v.Add("audit.retention", "minimum", "must be at least 24h")
	}
	switch c.Audit.LockMode {
	case "compliance", "governance", "none":
	default:
		v.Add("audit.lock_mode", "enum", "%q is not one of compliance, governance, none", c.Audit.LockMode)
	}
	if c.Retention.Default <= 0 {
		v.Add("retention.default", "minimum", "must be positive")
	}
	if c.Retention.SweepInterval < 0 {
		v.Add("retention.sweep_interval", "minimum", "must not be negative (0 disables the sweeper)")
	}
	if c.Retention.OrphanGrace < time.Second {
		v.Add("retention.orphan_grace", "minimum", "must be at least 1s (default 1h): an upload's object is stored a moment before its commit")
	}
	switch c.Retention.LockMode {
	case "governance", "compliance":
	default:
		v.Add("retention.lock_mode", "enum", "%q is not one of governance, compliance", c.Retention.LockMode)
	}
	for i, f := range c.TLS.CRLFiles {
		requireFile(&v, valid.Path("tls.crl_files", i), f)
	}
	if len(c.TLS.RevocationHosts) > certs.MaxHosts {
		v.Add("tls.revocation_hosts", "max-items", "names more than %d hosts", certs.MaxHosts)
	}
	for i, h := range c.TLS.RevocationHosts {
		if !valid.Host(h) {
			v.Add(valid.Path("tls.revocation_hosts", i), "format", "%q is not a host name or address (with an optional :port)", h)
		}
	}
	for i, u := range c.TLS.CRLURLs {
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			v.Add(valid.Path("tls.crl_urls", i), "format", "%q is not an http(s) URL", u)
		}
	}
	if c.TLS.PublishCRL != "" {
		requireFile(&v, "tls.publish_crl", c.TLS.PublishCRL)
	}
	if c.TLS.MaxChain < 1 || c.TLS.MaxChain > 10 {
		v.Add("tls.max_chain", "range", "must be between 1 and 10")
	}
	if c.TLS.MinRSABits < 2048 {
		v.Add("tls.min_rsa_bits", "minimum", "must be at least 2048")
	}
	rate := func(path string, r Rate) {
		if r.PerSecond < 0 || (r.PerSecond > 0 && r.Burst < 1) {
			v.Add(path, "rate", "per_second must not be negative, and burst must be at least 1 when per_second is set")
		}
	}
	rate("limits.rate.default", c.Limits.Rate.Default)
	for p, r := range c.Limits.Rate.Parties {
		rate("limits.rate.parties."+p, r)
	}
	for a, r := range c.Limits.Rate.Agreements {
		rate("limits.rate.agreements."+a, r)
	}
	if c.Limits.MaxHeaderBytes < 4096 {
		v.Add("limits.max_header_bytes", "minimum", "must be at least 4KiB")
	}
	if c.Limits.MaxPayloadSize < 0 {
		v.Add("limits.max_payload_size", "minimum", "must not be negative")
	}
	if c.Limits.MaxJSONBody < 1024 {
		v.Add("limits.max_json_body", "minimum", "must be at least 1KiB")
	}
	switch {
	case c.Limits.OneRequestMax < 0:
		v.Add("limits.one_request_max", "minimum", "must not be negative")
	case c.Limits.OneRequestMax > 64<<20:
		v.Add("limits.one_request_max", "maximum", "must be at most 64MiB: larger payloads belong in the two-step form")
	}
	if c.Tracing.Endpoint != "" && !strings.HasPrefix(c.Tracing.Endpoint, "http://") && !strings.HasPrefix(c.Tracing.Endpoint, "https://") {
		v.Add("tracing.endpoint", "format", "%q is not an http(s) URL", c.Tracing.Endpoint)
	}
	if c.Tracing.SampleRatio < 0 || c.Tracing.SampleRatio > 1 {
		v.Add("tracing.sample_ratio", "range", "must be between 0 and 1")
	}
	c.validateAlerts(&v)
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		v.Add("log.level", "enum", "%q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "text":
	default:
		v.Add("log.format", "enum", "%q is not one of json, text", c.Log.Format)
	}
	return v.Err()
}

// secureURL accepts https, and http on a loopback address only.
// validateClaims checks the claim names of one token issuer, at path at.
func validateClaims(v *valid.Errors, at string, ti TokenIssuer) {
	v.Required(at+".id_claim", ti.IDClaim)
	if ti.GroupsClaim == "" && len(ti.GroupRoles) > 0 {
		v.Add(at+".groups_claim", "required", "%s.groups_claim is required when %s.group_roles is set", at, at)
	}
	for i, e := range ti.GroupRoles {
		g, r, ok := strings.Cut(e, "=")
		switch {
		case !ok || strings.TrimSpace(g) == "":
			v.Add(fmt.Sprintf("%s.group_roles[%d]", at, i), "format", "%q is not GROUP=ROLE", e)
		case r != "admin" && r != "dpo" && r != "auditor":
			v.Add(fmt.Sprintf("%s.group_roles[%d]", at, i), "enum", "role %q is not one of admin, dpo, auditor", r)
		}
	}
}

func secureURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return false
	}
	switch u.Scheme {
	case "https":
		return true
	case "http":
		h := u.Hostname()
		return h == "localhost" || h == "127.0.0.1" || h == "::1"
	}
	return false
}

func requireFile(v *valid.Errors, path, file string) {
	if !v.Required(path, file) {
		return
	}
	if _, err := os.Stat(file); err != nil {
		v.Add(path, "file", "cannot read %s: %v", file, errorsCause(err))
	}
}

func errorsCause(err error) string {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err.Error()
	}
	return err.Error()
}

// Resolve makes relative file paths relative to dir (the config file's folder).
func (c *Config) Resolve(dir string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	abs(&c.TLS.CertFile)
	abs(&c.TLS.KeyFile)
	for i := range c.TLS.ClientCAFiles {
		abs(&c.TLS.ClientCAFiles[i])
	}
	for i := range c.TLS.CRLFiles {
		abs(&c.TLS.CRLFiles[i])
	}
	abs(&c.TLS.PublishCRL)
	if c.Database.Driver == "sqlite" && !strings.HasPrefix(c.Database.DSN, "file:") {
		abs(&c.Database.DSN)
	}
	abs(&c.Objects.CAFile)
	abs(&c.Keys.SigningKeyFile)
	abs(&c.Admin.JWKSFile)
	for i := range c.Admin.Issuers {
		abs(&c.Admin.Issuers[i].JWKSFile)
	}
	abs(&c.Console.ClientSecretFile)
	abs(&c.Console.SessionKeyFile)
	abs(&c.Keys.SubjectKeyFile)
	abs(&c.Keys.PseudonymKeyFile)
	abs(&c.Keys.AuditKeyFile)
	abs(&c.Keys.AuditRetiredKeysFile)
	abs(&c.Keys.CheckpointKeyFile)
	abs(&c.Keys.CheckpointRetiredKeysFile)
	abs(&c.Keys.SigningRetiredKeysFile)
	abs(&c.Alerts.Email.CAFile)
	abs(&c.Alerts.Email.PasswordFile)
	for i := range c.Alerts.Webhooks {
		abs(&c.Alerts.Webhooks[i].SecretFile)
		abs(&c.Alerts.Webhooks[i].CAFile)
	}
}

// Load reads the file at path, applies environment overrides from environ
// (KEY=value strings, as os.Environ returns), defaults and validation.
// Relative paths in the file are relative to the file's folder.
func Load(path string, environ []string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c Config
	if err := decodeStrict(b, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := applyEnv(&c, environ); err != nil {
		return nil, err
	}
	c.Defaults()
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	c.Resolve(dir)
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s:\n%w", path, err)
	}
	return &c, nil
}
