// Package config reads the gateway's configuration: one YAML file, strictly
// decoded, then environment overrides, then defaults, then validation that
// names the key path of every problem.
package config

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

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
	Issuer    string    `yaml:"issuer"`
	TLS       TLS       `yaml:"tls"`
	Database  Database  `yaml:"database"`
	Objects   Objects   `yaml:"objects"`
	Keys      Keys      `yaml:"keys"`
	Admin     Admin     `yaml:"admin"`
	Policy    Policy    `yaml:"policy"`
	Retention Retention `yaml:"retention"`
	Limits    Limits    `yaml:"limits"`
	Log       Log       `yaml:"log"`
}

// Admin is the administration API: a second listener (TLS, no client
// certificate) for people, authenticated by JWT bearer tokens.
type Admin struct {
	// Listen is the admin listener's address; empty disables the admin API.
	Listen string `yaml:"listen"`
	// JWKSFile or JWKSURL holds the public keys that sign admin tokens.
	JWKSFile string `yaml:"jwks_file"`
	JWKSURL  string `yaml:"jwks_url"`
	// Issuer and Audience must match the token's iss and aud.
	Issuer   string `yaml:"issuer"`
	Audience string `yaml:"audience"`
	// RolesClaim names the claim holding the roles: admin, dpo, auditor.
	RolesClaim string `yaml:"roles_claim"`
	// JWKSRefresh is how often a JWKS URL is fetched again at most.
	JWKSRefresh time.Duration `yaml:"jwks_refresh"`
}

// Policy holds the deployment's decision settings.
type Policy struct {
	// ReviewGrace is how long sharing continues after an agreement's review
	// date before it pauses.
	ReviewGrace time.Duration `yaml:"review_grace"`
	// OverrideReview is how soon the DPO must review an emergency override.
	OverrideReview time.Duration `yaml:"override_review"`
}

// TLS is the listener's certificate and extra client trust anchors.
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ClientCAFiles are CA certificates trusted for every party, in addition
	// to each party's own trust anchors.
	ClientCAFiles []string `yaml:"client_ca_files"`
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
	Endpoint  string `yaml:"endpoint"`
	Region    string `yaml:"region"`
	Bucket    string `yaml:"bucket"`
	AccessKey string `yaml:"access_key"`
	SecretKey string `yaml:"secret_key" secret:"true"`
	TLS       bool   `yaml:"tls"`
	CAFile    string `yaml:"ca_file"`
	// CreateBucket creates the bucket with versioning if it is missing
	// (development); production buckets are provisioned by the operator.
	CreateBucket bool `yaml:"create_bucket"`
}

// Keys are the gateway's own keys.
type Keys struct {
	// SigningKeyFile is the private P-256 JWK that signs manifests.
	SigningKeyFile string `yaml:"signing_key_file"`
	// SubjectKeyFile holds the HMAC key (32+ random bytes, hex) for subject identifiers.
	SubjectKeyFile string `yaml:"subject_key_file"`
	// PseudonymKeyFile holds the master key (32+ random bytes, hex) for
	// pseudonymised payload fields; each agreement gets its own derived key.
	PseudonymKeyFile string `yaml:"pseudonym_key_file"`
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
}

// Limits bound what one request may ask of the gateway.
type Limits struct {
	// MaxPayloadSize is the largest payload accepted.
	MaxPayloadSize ByteSize `yaml:"max_payload_size"`
	// MaxJSONBody is the largest JSON request body accepted.
	MaxJSONBody ByteSize `yaml:"max_json_body"`
	// IdleTimeout closes keep-alive connections that stay idle this long.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
}

// Log configures the operational log.
type Log struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
	// Format is json or text.
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
	set(&c.Log.Level, "info")
	set(&c.Log.Format, "json")
	set(&c.Admin.RolesClaim, "roles")
	if c.Admin.JWKSRefresh == 0 {
		c.Admin.JWKSRefresh = 15 * time.Minute
	}
	if c.Policy.ReviewGrace == 0 {
		c.Policy.ReviewGrace = 30 * 24 * time.Hour
	}
	if c.Policy.OverrideReview == 0 {
		c.Policy.OverrideReview = 72 * time.Hour
	}
	if c.Retention.Default == 0 {
		c.Retention.Default = 30 * 24 * time.Hour
	}
	if c.Retention.SweepInterval == 0 {
		c.Retention.SweepInterval = 5 * time.Minute
	}
	set(&c.Retention.LockMode, "governance")
	if c.Retention.IdempotencyKeys == 0 {
		c.Retention.IdempotencyKeys = 24 * time.Hour
	}
	if c.Limits.MaxPayloadSize == 0 {
		c.Limits.MaxPayloadSize = 64 << 30
	}
	if c.Limits.MaxJSONBody == 0 {
		c.Limits.MaxJSONBody = 1 << 20
	}
	if c.Limits.IdleTimeout == 0 {
		c.Limits.IdleTimeout = 2 * time.Minute
	}
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
	}
	if c.Policy.ReviewGrace < 0 {
		v.Add("policy.review_grace", "minimum", "must not be negative")
	}
	if c.Policy.OverrideReview <= 0 {
		v.Add("policy.override_review", "minimum", "must be positive")
	}
	requireFile(&v, "keys.signing_key_file", c.Keys.SigningKeyFile)
	requireFile(&v, "keys.subject_key_file", c.Keys.SubjectKeyFile)
	requireFile(&v, "keys.pseudonym_key_file", c.Keys.PseudonymKeyFile)
	if c.Retention.Default <= 0 {
		v.Add("retention.default", "minimum", "must be positive")
	}
	if c.Retention.SweepInterval < 0 {
		v.Add("retention.sweep_interval", "minimum", "must not be negative (0 disables the sweeper)")
	}
	switch c.Retention.LockMode {
	case "governance", "compliance":
	default:
		v.Add("retention.lock_mode", "enum", "%q is not one of governance, compliance", c.Retention.LockMode)
	}
	if c.Limits.MaxPayloadSize < 0 {
		v.Add("limits.max_payload_size", "minimum", "must not be negative")
	}
	if c.Limits.MaxJSONBody < 1024 {
		v.Add("limits.max_json_body", "minimum", "must be at least 1KiB")
	}
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
	if c.Database.Driver == "sqlite" && !strings.HasPrefix(c.Database.DSN, "file:") {
		abs(&c.Database.DSN)
	}
	abs(&c.Objects.CAFile)
	abs(&c.Keys.SigningKeyFile)
	abs(&c.Admin.JWKSFile)
	abs(&c.Keys.SubjectKeyFile)
	abs(&c.Keys.PseudonymKeyFile)
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
