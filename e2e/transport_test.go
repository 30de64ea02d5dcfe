package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/certs"
	"github.com/gatehouse-gw/gatehouse/client"
	"github.com/gatehouse-gw/gatehouse/config"
	"github.com/gatehouse-gw/gatehouse/devenv/testenv"
)

func TestRateLimits(t *testing.T) {
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{Configure: func(c *config.Config) {
		c.Limits.Rate = config.RateLimits{
			Default:    config.Rate{PerSecond: 100, Burst: 100},
			Parties:    map[string]config.Rate{"dwp": {PerSecond: 0.5, Burst: 2}},
			Agreements: map[string]config.Rate{"hmrc-tax": {PerSecond: 0.5, Burst: 1}},
		}
	}, ClientRetry: client.Retry{Attempts: 1}})
	dwp := gw.Client(t, "dwp")
	hc := testenv.PartyHTTPClient(t, gw, "dwp")
	for range 2 {
		_, err := dwp.WhoAmI(ctx)
		require.NoError(t, err)
	}
	resp, err := hc.Get(gw.URL + "/v1/whoami")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	retry, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, retry, 1)
	require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))

	// Other parties have their own buckets.
	_, err = gw.Client(t, "hmrc").WhoAmI(ctx)
	require.NoError(t, err)

	// Declarations under an agreement have a bucket per party and agreement.
	council := gw.Client(t, "council.revenues")
	d := hmrcDeclaration()
	_, err = council.Declare(ctx, d)
	require.NoError(t, err)
	_, err = council.Declare(ctx, hmrcDeclaration())
	p := requireProblem(t, err, http.StatusTooManyRequests, "rate-limited")
	require.Contains(t, p.Detail, "agreement hmrc-tax")
	_, err = council.Declare(ctx, policeDisclosure(3))
	require.NoError(t, err, "another agreement is not limited")

	// The client's default policy waits out Retry-After and gets through.
	patient, err := client.New(client.Config{
		Gateway: gw.URL, CertFile: gw.Env.CertFile("council.revenues"), KeyFile: gw.Env.KeyFile("council.revenues"), CAFile: gw.Env.CAFile(),
	})
	require.NoError(t, err)
	_, err = patient.Declare(ctx, hmrcDeclaration())
	require.NoError(t, err, "the declaration goes through once the bucket refills")
}

func hmrcDeclaration() *api.ExchangeDeclaration {
	return &api.ExchangeDeclaration{Agreement: "hmrc-tax", Recipient: "hmrc", Purpose: "tax-assessment-collection", LawfulBasis: "A6-1-c",
		DataCategories: []string{"tax"}, Subjects: []api.Subject{{Type: "nino", Value: "QQ123456C"}}, ContentType: "text/plain", Size: 3}
}

func TestSlowClients(t *testing.T) {
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{Configure: func(c *config.Config) {
		c.Limits.HeaderTimeout = 500 * time.Millisecond
		c.Limits.TransferIdleTimeout = 700 * time.Millisecond
	}})
	cfg, err := client.TLSConfig(gw.Env.CertFile("council.revenues"), gw.Env.KeyFile("council.revenues"), gw.Env.CAFile())
	require.NoError(t, err)

	// Headers that never finish: the connection is closed.
	conn, err := tls.Dial("tcp", gw.Addr, cfg)
	require.NoError(t, err)
	_, err = io.WriteString(conn, "GET /v1/whoami HTTP/1.1\r\nHost: x\r\n")
	require.NoError(t, err)
	start := time.Now()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.ReadAll(conn)
	require.Less(t, time.Since(start), 3*time.Second, "a client that stalls in its headers is cut off")
	conn.Close()

	// A large upload that keeps moving is never cut off, however long it
	// takes. (Its first 8 KiB are read with the headers.)
	council := gw.Client(t, "council.revenues")
	const first, chunks, chunk = 9000, 15, 1000
	e, err := council.Declare(ctx, policeDisclosure(first+chunks*chunk))
	require.NoError(t, err)
	pr, pw := io.Pipe()
	go func() {
		_, _ = pw.Write([]byte(strings.Repeat("a", first)))
		for range chunks {
			time.Sleep(150 * time.Millisecond) // 2.25 s in all: longer than both timeouts
			_, _ = pw.Write([]byte(strings.Repeat("a", chunk)))
		}
		pw.Close()
	}()
	_, err = council.Upload(ctx, e.ID, pr, first+chunks*chunk)
	require.NoError(t, err, "a slow but steady upload completes")

	// One that stops moving is cut off, and stores nothing.
	e2, err := council.Declare(ctx, policeDisclosure(20_000))
	require.NoError(t, err)
	pr2, pw2 := io.Pipe()
	go func() {
		_, _ = pw2.Write([]byte(strings.Repeat("b", 9000)))
		time.Sleep(3 * time.Second)
		pw2.Close()
	}()
	start = time.Now()
	_, err = council.Upload(ctx, e2.ID, pr2, 20_000)
	require.Error(t, err)
	require.Less(t, time.Since(start), 2500*time.Millisecond)
	keys, err := gw.App.Objects.Keys(ctx, "payloads/"+e2.ID)
	require.NoError(t, err)
	require.Empty(t, keys)
}

func TestSecurityHeaders(t *testing.T) {
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	resp, err := testenv.PartyHTTPClient(t, gw, "dwp").Get(gw.URL + "/v1/whoami")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, "max-age=31536000", resp.Header.Get("Strict-Transport-Security"))
	require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
	require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	require.Equal(t, uint16(tls.VersionTLS13), resp.TLS.Version, "TLS 1.3 is preferred")

	// The CA's CRL is published, in DER, on both listeners.
	for _, base := range []string{gw.URL, gw.AdminURL} {
		var r *http.Response
		if base == gw.URL {
			r, err = testenv.PartyHTTPClient(t, gw, "dwp").Get(base + "/pki/crl")
		} else {
			r, err = testenv.HTTPClient(t, gw.Env.CAFile()).Get(base + "/pki/crl")
		}
		require.NoError(t, err)
		body, _ := io.ReadAll(r.Body)
		r.Body.Close()
		require.Equal(t, http.StatusOK, r.StatusCode)
		require.Equal(t, "application/pkix-crl", r.Header.Get("Content-Type"))
		_, err = certs.ParseCRL(body)
		require.NoError(t, err)
	}

	// TLS 1.2 is offered only with ECDHE and AEAD suites.
	cfg, err := client.TLSConfig(gw.Env.CertFile("dwp"), gw.Env.KeyFile("dwp"), gw.Env.CAFile())
	require.NoError(t, err)
	cfg.MaxVersion = tls.VersionTLS12
	cfg.CipherSuites = []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}
	_, err = tls.Dial("tcp", gw.Addr, cfg)
	require.Error(t, err, "no static-RSA or CBC suites")
	cfg.CipherSuites = nil
	conn, err := tls.Dial("tcp", gw.Addr, cfg)
	require.NoError(t, err)
	require.Contains(t, []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}, conn.ConnectionState().CipherSuite)
	_, _ = bufio.NewReader(conn).Peek(0)
	conn.Close()
	cfg.MaxVersion = tls.VersionTLS11
	cfg.MinVersion = tls.VersionTLS10
	_, err = tls.Dial("tcp", gw.Addr, cfg)
	require.Error(t, err, "no TLS 1.1 or older")
}
