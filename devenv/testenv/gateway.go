package testenv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/gatehouse-gw/gatehouse/client"
	"github.com/gatehouse-gw/gatehouse/config"
	"github.com/gatehouse-gw/gatehouse/devenv"
	"github.com/gatehouse-gw/gatehouse/devenv/demo"
	"github.com/gatehouse-gw/gatehouse/devenv/idp"
	"github.com/gatehouse-gw/gatehouse/exchange/seal"
	"github.com/gatehouse-gw/gatehouse/server"
)

// Stranger is a party with a certificate from the gateway's CA that is not
// registered with the gateway.
const Stranger = "unregistered.agency"

// Gateway is a real gateway on a loopback port: real TLS, the package's
// MinIO (a bucket of its own), a database of its own, and the demo parties
// and agreements.
type Gateway struct {
	App  *server.App
	Env  *devenv.Env
	Addr string
	URL  string
	// AdminURL is the admin API's base URL.
	AdminURL string
	// Mailpit is the SMTP server alerts go to (with GatewayOptions.Mail).
	Mailpit *devenv.Mailpit
	// ConsoleURL is the console's address, and IdP the development identity
	// provider it signs in with (with GatewayOptions.Console).
	ConsoleURL string
	IdP        *idp.Provider
	// retry is the policy of the clients Client and Admin return.
	retry client.Retry
}

// GatewayOptions vary the gateway.
type GatewayOptions struct {
	// Postgres uses a fresh PostgreSQL database instead of SQLite.
	Postgres bool
	// Dir reuses a prepared folder (and so its PKI and keys); empty means a new one.
	Dir string
	// DSN reuses a database (with Postgres).
	DSN string
	// Bucket reuses a bucket; empty means a new one.
	Bucket string
	// Configure, if set, changes the configuration before the gateway starts.
	Configure func(*config.Config)
	// MinIO is the object store to use; nil means the package's shared one.
	MinIO *devenv.MinIO
	// Mail starts a Mailpit of the test's own and mails alerts to it.
	Mail bool
	// Console turns the web console on, with a development identity
	// provider of its own.
	Console bool
	// IdP, with Console, signs in with this provider instead of one of the
	// gateway's own: a second node behind the same address.
	IdP *idp.Provider
	// ClientRetry is the retry policy of the gateway's Client and Admin; the
	// zero value is the client's default. A test of the gateway's own 429
	// and 503 answers sets Attempts 1, so that the client shows them at once.
	ClientRetry client.Retry
}

// StartGateway starts a gateway for the test and stops it when the test ends.
func StartGateway(t testing.TB, o GatewayOptions) *Gateway {
	t.Helper()
	m := o.MinIO
	if m == nil {
		m = MinIO(t)
	}
	dir := o.Dir
	if dir == "" {
		dir = t.TempDir()
	}
	bucket := o.Bucket
	if bucket == "" {
		bucket = "e2e-" + RandomHex(6)
	}
	opts := devenv.Options{
		Listen:          "127.0.0.1:0",
		AdminListen:     "127.0.0.1:0",
		TrustDomain:     demo.TrustDomain,
		Parties:         append(demo.PartyIDs(), Stranger),
		ObjectsEndpoint: m.Endpoint,
		AccessKey:       m.AccessKey,
		SecretKey:       m.SecretKey,
		Bucket:          bucket,
	}
	if o.Postgres {
		opts.DatabaseDriver, opts.DatabaseDSN = "postgres", o.DSN
		if opts.DatabaseDSN == "" {
			opts.DatabaseDSN = Postgres(t)
		}
	}
	var provider *idp.Provider
	if o.Console && o.IdP != nil {
		provider = o.IdP
		opts.ConsoleIssuer = provider.Issuer
	} else if o.Console {
		var err error
		if provider, err = devenv.StartIdP(dir, "127.0.0.1:0", nil, nil); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = provider.Close() })
		opts.ConsoleIssuer = provider.Issuer
	}
	env, err := devenv.Prepare(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	var mailpit *devenv.Mailpit
	if o.Mail {
		mailpit = OwnMailpit(t, env)
		opts.SMTP = mailpit.SMTP
		if env, err = devenv.Prepare(dir, opts); err != nil {
			t.Fatal(err)
		}
	}
	// Alerts are delivered and retried at once, so that tests need not wait.
	env.Config.Alerts.Poll, env.Config.Alerts.RetryMin, env.Config.Alerts.RetryMax = 50*time.Millisecond, 200*time.Millisecond, 2*time.Second
	env.Config.Alerts.Lease = 5 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	level := slog.LevelWarn
	if os.Getenv("GATEHOUSE_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if o.Configure != nil {
		o.Configure(env.Config)
	}
	a, err := server.New(ctx, env.Config, log)
	if err != nil {
		t.Fatal(err)
	}
	parties, err := a.DB.Parties(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(parties) == 0 {
		if err := demo.Seed(ctx, a.Agreements, env.EncryptionKeys); err != nil {
			t.Fatal(err)
		}
	}
	ls, err := a.Listen()
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- a.Serve(ls) }()
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = a.Shutdown(sctx)
		if err := <-served; err != nil && !errors.Is(err, net.ErrClosed) {
			t.Logf("gateway stopped: %v", err)
		}
	})
	addr := ls.Partner.Addr().String()
	g := &Gateway{App: a, Env: env, Addr: addr, URL: "https://" + addr, retry: o.ClientRetry, Mailpit: mailpit, IdP: provider}
	if ls.Admin != nil {
		g.AdminURL = "https://" + ls.Admin.Addr().String()
		if provider != nil {
			g.ConsoleURL = g.AdminURL + "/console"
		}
	}
	return g
}

// OwnMailpit starts a Mailpit for this test alone (STARTTLS with env's
// gateway certificate), stopped when the test ends.
func OwnMailpit(t testing.TB, env *devenv.Env) *devenv.Mailpit {
	t.Helper()
	bin, err := devenv.MailpitBinary()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	log := io.Discard
	if os.Getenv("GATEHOUSE_TEST_LOG") != "" {
		log = os.Stderr
	}
	m, err := devenv.StartMailpit(ctx, bin, t.TempDir(), "", "", filepath.Join(env.PKI(), "gateway.crt"), filepath.Join(env.PKI(), "gateway.key"), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Stop() })
	return m
}

// Client returns a client that connects as party.
func (g *Gateway) Client(t testing.TB, party string) *client.Client {
	t.Helper()
	tlsCfg, err := client.TLSConfig(g.Env.CertFile(party), g.Env.KeyFile(party), g.Env.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	// The client's own transport settings, with every answer checked
	// against api/openapi.yaml.
	tr := &http.Transport{
		TLSClientConfig:       tlsCfg,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 5 * time.Minute,
		ExpectContinueTimeout: 2 * time.Second,
		WriteBufferSize:       256 << 10,
		ReadBufferSize:        256 << 10,
	}
	t.Cleanup(tr.CloseIdleConnections)
	c, err := client.New(client.Config{
		Gateway:    g.URL,
		HTTPClient: &http.Client{Transport: OpenAPICheck(t, tr)},
		Retry:      g.retry,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// DecryptKey returns party's private encryption key.
func (g *Gateway) DecryptKey(t testing.TB, party string) jwk.Key {
	t.Helper()
	k, err := seal.ReadKey(g.Env.EncryptionKeyFile(party))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Token mints an admin token for subject with roles, signed by the
// environment's development key.
func (g *Gateway) Token(t testing.TB, subject string, roles ...string) string {
	t.Helper()
	tok, err := devenv.MintToken(g.Env.AdminTokenKeyFile(), devenv.DevTokenIssuer, devenv.DevTokenAudience, subject, roles, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Admin returns an admin API client for subject with roles.
func (g *Gateway) Admin(t testing.TB, subject string, roles ...string) *client.Admin {
	t.Helper()
	hc := HTTPClient(t, g.Env.CAFile())
	hc.Timeout = 2 * time.Minute
	a, err := client.NewAdmin(client.AdminConfig{URL: g.AdminURL, Token: g.Token(t, subject, roles...), HTTPClient: hc, Retry: g.retry})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// HTTPClient returns an HTTP client that trusts caFile and presents no
// client certificate.
func HTTPClient(t testing.TB, caFile string) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("no CA certificate in " + caFile)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Timeout: time.Minute, Transport: OpenAPICheck(t, tr)}
}

// PartyHTTPClient returns a plain HTTP client that connects as party, for
// tests that speak HTTP directly.
func PartyHTTPClient(t testing.TB, g *Gateway, party string) *http.Client {
	t.Helper()
	cfg, err := client.TLSConfig(g.Env.CertFile(party), g.Env.KeyFile(party), g.Env.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: cfg}}
}
