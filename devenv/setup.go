// Package devenv prepares a development gateway: a PKI for the demo parties,
// the gateway's keys, a configuration file, and a MinIO server to run beside
// it. make run and the end-to-end tests both use it.
package devenv

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
	"go.yaml.in/yaml/v3"

	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/certs"
	"github.com/gatehouse-gw/gatehouse/config"
	"github.com/gatehouse-gw/gatehouse/exchange/seal"
)

// Options shape a development environment.
type Options struct {
	// Listen is the gateway's address.
	Listen      string
	TrustDomain string
	// Parties get a client certificate and an encryption key each.
	Parties []string
	// Database: sqlite (a file in the folder) unless DatabaseDriver says otherwise.
	DatabaseDriver string
	DatabaseDSN    string
	// AdminListen is the admin API's address; empty disables it.
	AdminListen string
	// MinIO endpoint and credentials.
	ObjectsEndpoint string
	AccessKey       string
	SecretKey       string
	Bucket          string
	// ConsoleIssuer, if set, turns the console on, signing in with this
	// OpenID provider (StartIdP's) as ConsoleClientID.
	ConsoleIssuer string
	// SMTP is a development mail server's host:port (Mailpit, STARTTLS with
	// the gateway's certificate); alerts are mailed to the DevMailboxes.
	SMTP string
}

// DevMailboxes are the role mailboxes of a development gateway; each demo
// party's contact is <party>@partners.example.
var DevMailboxes = map[string][]string{
	"dpo":      {"dpo@council.example"},
	"admin":    {"information-governance@council.example"},
	"auditor":  {"audit@council.example"},
	"operator": {"operators@council.example"},
}

// Env is a prepared development environment in a folder.
type Env struct {
	Dir         string
	TrustDomain string
	ConfigFile  string
	Config      *config.Config
	// EncryptionKeys are the parties' public JWKs (JSON), by party id.
	EncryptionKeys map[string][]byte
}

// PKI returns the folder of certificates and keys.
func (e *Env) PKI() string { return filepath.Join(e.Dir, "pki") }

// CAFile is the CA certificate that issued every certificate here.
func (e *Env) CAFile() string { return filepath.Join(e.PKI(), "ca.crt") }

// CertFile is a party's client certificate.
func (e *Env) CertFile(party string) string { return filepath.Join(e.PKI(), party+".crt") }

// KeyFile is a party's client key.
func (e *Env) KeyFile(party string) string { return filepath.Join(e.PKI(), party+".key") }

// AdminTokenKeyFile is the private key that signs development admin tokens.
func (e *Env) AdminTokenKeyFile() string { return filepath.Join(e.Dir, "keys", "admin-token.jwk") }

// Issuer and audience of development admin tokens.
const (
	DevTokenIssuer   = "gatehouse-dev"
	DevTokenAudience = "gatehouse-admin"
)

// EncryptionKeyFile is a party's private encryption JWK.
func (e *Env) EncryptionKeyFile(party string) string {
	return filepath.Join(e.PKI(), party+".enc.jwk")
}

// Prepare creates, or reuses, everything a development gateway needs under
// dir: a CA, a server certificate for localhost, a client certificate and an
// encryption key per party, the gateway's signing and subject keys, and a
// configuration file. Existing files are kept, so restarts keep identities.
func Prepare(dir string, o Options) (*Env, error) {
	now := time.Now()
	e := &Env{Dir: dir, TrustDomain: o.TrustDomain, ConfigFile: filepath.Join(dir, "gatehouse.yaml"), EncryptionKeys: map[string][]byte{}}
	for _, sub := range []string{"pki", "keys", "data"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, err
		}
	}
	ca, _, err := certs.LoadOrCreateAuthority(e.PKI(), "Gatehouse development CA", 5*365*24*time.Hour, now)
	if err != nil {
		return nil, err
	}
	// The CA's CRL, re-signed at every start so that it stays current.
	reg, err := certs.LoadRegister(e.PKI())
	if err != nil {
		return nil, err
	}
	if err := reg.Publish(e.PKI(), ca, now, 30*24*time.Hour); err != nil {
		return nil, err
	}
	if !exists(filepath.Join(e.PKI(), "gateway.crt")) {
		leaf, err := ca.IssueServer("gatehouse", []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}, 365*24*time.Hour, now)
		if err != nil {
			return nil, err
		}
		if err := certs.WriteLeaf(e.PKI(), "gateway", leaf); err != nil {
			return nil, err
		}
	}
	for _, p := range o.Parties {
		if !exists(e.CertFile(p)) {
			leaf, err := ca.IssueParty(o.TrustDomain, p, 90*24*time.Hour, now)
			if err != nil {
				return nil, err
			}
			if err := certs.WriteLeaf(e.PKI(), p, leaf); err != nil {
				return nil, err
			}
		}
		pub, err := loadOrCreateKey(e.EncryptionKeyFile(p), seal.UseEncryption)
		if err != nil {
			return nil, err
		}
		e.EncryptionKeys[p] = pub
	}
	signing := filepath.Join(dir, "keys", "signing.jwk")
	if _, err := loadOrCreateKey(signing, seal.UseSignature); err != nil {
		return nil, err
	}
	if _, err := loadOrCreateKey(filepath.Join(dir, "keys", "audit.jwk"), seal.UseSignature); err != nil {
		return nil, err
	}
	if _, err := loadOrCreateKey(e.AdminTokenKeyFile(), seal.UseSignature); err != nil {
		return nil, err
	}
	if err := writeJWKS(e.AdminTokenKeyFile(), filepath.Join(dir, "keys", "admin-jwks.json")); err != nil {
		return nil, err
	}
	for _, name := range []string{"subject.key", "pseudonym.key"} {
		path := filepath.Join(dir, "keys", name)
		if exists(path) {
			continue
		}
		if err := os.WriteFile(path, []byte(RandomSecret(32)+"\n"), 0o600); err != nil {
			return nil, err
		}
	}
	if path := filepath.Join(dir, "keys", "console-session.key"); o.ConsoleIssuer != "" && !exists(path) {
		if err := os.WriteFile(path, []byte(RandomSecret(32)+"\n"), 0o600); err != nil {
			return nil, err
		}
	}
	if path := filepath.Join(dir, "keys", "checkpoint.key"); !exists(path) {
		if _, err := WriteCheckpointKey(path, devIssuer+"/audit"); err != nil {
			return nil, err
		}
	}

	driver, dsn := o.DatabaseDriver, o.DatabaseDSN
	if driver == "" {
		driver, dsn = "sqlite", "data/gatehouse.db"
	}
	bucket := o.Bucket
	if bucket == "" {
		bucket = "gatehouse-payloads"
	}
	cfg := &config.Config{
		Listen:      o.Listen,
		TrustDomain: o.TrustDomain,
		Issuer:      devIssuer,
		TLS: config.TLS{
			CertFile:      "pki/gateway.crt",
			KeyFile:       "pki/gateway.key",
			ClientCAFiles: []string{"pki/ca.crt"},
			CRLFiles:      []string{"pki/ca.crl"},
			PublishCRL:    "pki/ca.crl",
		},
		Database: config.Database{Driver: driver, DSN: dsn},
		Objects: config.Objects{
			Endpoint: o.ObjectsEndpoint, Bucket: bucket,
			AccessKey: o.AccessKey, SecretKey: o.SecretKey, CreateBucket: true,
		},
		Keys: config.Keys{
			SigningKeyFile: "keys/signing.jwk", SubjectKeyFile: "keys/subject.key",
			PseudonymKeyFile: "keys/pseudonym.key", AuditKeyFile: "keys/audit.jwk",
			CheckpointKeyFile: "keys/checkpoint.key",
		},
		// Checkpoints every minute, so that a development session sees them.
		Audit: config.Audit{CheckpointInterval: time.Minute},
		Admin: config.Admin{
			Listen:   o.AdminListen,
			JWKSFile: "keys/admin-jwks.json",
			Issuer:   DevTokenIssuer,
			Audience: DevTokenAudience,
		},
		Log: config.Log{Level: "info", Format: "text"},
	}
	if host, port, err := net.SplitHostPort(o.AdminListen); err == nil && port != "0" {
		cfg.Alerts.ConsoleURL = "https://" + net.JoinHostPort(host, port) + "/console"
	}
	if o.SMTP != "" {
		if path := filepath.Join(dir, "keys", "smtp.password"); !exists(path) {
			if err := os.WriteFile(path, []byte(RandomSecret(16)+"\n"), 0o600); err != nil {
				return nil, err
			}
		}
		parties := map[string][]string{}
		for _, p := range o.Parties {
			parties[p] = []string{p + "@partners.example"}
		}
		cfg.Alerts.Email = config.Email{
			SMTP: o.SMTP, TLS: "starttls", CAFile: "pki/ca.crt", Username: "gatehouse", PasswordFile: "keys/smtp.password",
			From: "gatehouse@council.example", Roles: DevMailboxes, Parties: parties,
		}
	}
	if o.ConsoleIssuer != "" {
		cfg.Console = config.Console{Issuer: o.ConsoleIssuer, ClientID: ConsoleClientID,
			ClientSecretFile: "keys/console-client.secret", SessionKeyFile: "keys/console-session.key"}
		// The admin API trusts the provider's access tokens too (gatehouse
		// login), beside the development token key's: Entra-shaped, the
		// person's stable id in oid.
		cfg.Admin.Issuers = []config.TokenIssuer{{Issuer: o.ConsoleIssuer, Audience: CLIClientID,
			JWKSURL: strings.TrimRight(o.ConsoleIssuer, "/") + "/keys", IDClaim: "oid"}}
	}
	cfg.Defaults()
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	header := "# Development configuration written by 'gatehouse dev'. Do not use in production.\n"
	if err := os.WriteFile(e.ConfigFile, append([]byte(header), b...), 0o600); err != nil {
		return nil, err
	}
	e.Config, err = config.Load(e.ConfigFile, nil)
	if err != nil {
		return nil, err
	}
	return e, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// loadOrCreateKey returns the public JSON of the private JWK at path,
// generating the key if the file does not exist.
func loadOrCreateKey(path, use string) ([]byte, error) {
	if exists(path) {
		k, err := seal.ReadKey(path)
		if err != nil {
			return nil, err
		}
		return seal.PublicJSON(k)
	}
	k, err := seal.GenerateKey(use)
	if err != nil {
		return nil, err
	}
	if err := seal.WriteKey(path, k); err != nil {
		return nil, err
	}
	return seal.PublicJSON(k)
}

// RandomSecret returns n random bytes in hex, for development credentials.
func RandomSecret(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(errors.New("crypto/rand failed"))
	}
	return hex.EncodeToString(b)
}

// Summary describes the environment for a log line.
func (e *Env) Summary() string {
	return fmt.Sprintf("config %s, trust domain %s", e.ConfigFile, e.TrustDomain)
}

// writeJWKS writes the public JWKS of the private key at keyFile.
func writeJWKS(keyFile, path string) error {
	k, err := seal.ReadKey(keyFile)
	if err != nil {
		return err
	}
	pub, err := k.PublicKey()
	if err != nil {
		return err
	}
	set := jwk.NewSet()
	if err := set.AddKey(pub); err != nil {
		return err
	}
	b, err := json.MarshalIndent(set, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// MintToken signs a development admin token with the key at keyFile.
func MintToken(keyFile, issuer, audience, subject string, roles []string, ttl time.Duration) (string, error) {
	k, err := seal.ReadKey(keyFile)
	if err != nil {
		return "", err
	}
	now := time.Now()
	tok, err := jwt.NewBuilder().
		Issuer(issuer).
		Audience([]string{audience}).
		Subject(subject).
		IssuedAt(now).
		NotBefore(now.Add(-30*time.Second)).
		Expiration(now.Add(ttl)).
		Claim("roles", roles).
		Build()
	if err != nil {
		return "", err
	}
	b, err := jwt.Sign(tok, jwt.WithKey(jwa.ES256(), k))
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// devIssuer names the development gateway.
const devIssuer = "gatehouse-dev"

// WriteCheckpointKey creates a checkpoint note signing key named origin
// at path (readable by its owner only; an existing file is an error) and
// returns its verifier key.
func WriteCheckpointKey(path, origin string) (vkey string, err error) {
	skey, vkey, err := audit.GenerateCheckpointKey(origin)
	if err != nil {
		return "", err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	_, err = f.WriteString(skey + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return vkey, err
}
