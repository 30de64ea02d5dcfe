package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/client"
	"github.com/gatehouse-gw/gatehouse/devenv"
	"github.com/gatehouse-gw/gatehouse/devenv/demo"
	"github.com/gatehouse-gw/gatehouse/devenv/testenv"
	"github.com/gatehouse-gw/gatehouse/server"
)

// hostileAgreements are the worst agreement documents we could build under
// the 1 MiB body limit: each aims at a different part of the decoder.
func hostileAgreements() map[string]string {
	const limit = 1<<20 - 64
	docs := map[string]string{}

	// Alias expansion: nine levels of ten aliases (10^9 values).
	laughs := "id: x\nflows:\n  - &f0 {from: [a], to: [b], purposes: [&s0 " + strings.Repeat("y", 400) + "]}\n"
	for i := 1; i <= 9; i++ {
		laughs += fmt.Sprintf("  - &f%d [", i)
		for j := range 10 {
			if j > 0 {
				laughs += ", "
			}
			laughs += fmt.Sprintf("*f%d", i-1)
		}
		laughs += "]\n"
	}
	docs["yaml/alias-expansion"] = laughs

	// The same string quoted in many errors: one anchored 60 KiB value used
	// in every field of many flows.
	docs["yaml/quoted-errors"] = fill("id: x\nflows:\n  - {from: [&q "+strings.Repeat("Z", 60<<10)+"], to: [*q], purposes: [*q]}\n",
		"  - {from: [*q], to: [*q], purposes: [*q], lawful_bases: [*q], data_categories: [*q], handler: *q}\n", "")

	// As many values as the body holds, and as many as the bound counted
	// before parsing lets through.
	docs["yaml/values"] = "[" + strings.Repeat("1,", limit/2-1) + "1]"
	docs["json/values"] = `{"flows":[` + strings.Repeat("{},", limit/3-8) + "{}]}"
	docs["yaml/values-at-bound"] = fill("[", "1,", "1]")
	docs["json/values-at-bound"] = fill(`{"flows":[{"purposes":[`, `"`+strings.Repeat("p", 24)+`",`, `""]}]}`)
	docs["yaml/unknown-keys-at-bound"] = fill("id: x\n", "k: "+strings.Repeat("v", 40)+"\n", "")
	docs["yaml/problems-at-bound"] = fill("id: x\nflows:\n", "  - {max_subjects: "+strings.Repeat("five", 8)+", daily_volume: "+strings.Repeat("ten", 8)+"}\n", "")

	// Deep nesting.
	docs["yaml/depth"] = strings.Repeat("[", 5000) + strings.Repeat("]", 5000)
	docs["json/depth"] = strings.Repeat(`{"flows":[`, 5000) + strings.Repeat("]}", 5000)
	return docs
}

// fill repeats item after prefix until the document holds nearly as many
// indicators as the decoder takes, or nearly the body limit.
func fill(prefix, item, suffix string) string {
	const limit, indicators = 1<<20 - 64, 39_000
	count := func(s string) int {
		return strings.Count(s, ",") + strings.Count(s, ":") + strings.Count(s, "-") + strings.Count(s, "?") +
			strings.Count(s, "[") + strings.Count(s, "{") + strings.Count(s, "&") + strings.Count(s, "*") + strings.Count(s, "!") +
			strings.Count(s, "|") + strings.Count(s, ">") + strings.Count(s, "\n")
	}
	n := (indicators - count(prefix) - count(suffix)) / max(count(item), 1)
	n = min(n, (limit-len(prefix)-len(suffix))/len(item))
	return prefix + strings.Repeat(item, n) + suffix
}

// A hostile agreement document cannot take the gateway down: each of the
// worst we could build under the body limit is answered within 2 s with a
// problem document under 64 KiB, and the gateway process's peak resident
// memory grows by less than 64 MiB over them all.
func TestHostileAgreementDocuments(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the gateway as a process")
	}
	ctx := context.Background()
	dir := t.TempDir()
	bin := buildGatehouse(t, t.TempDir())
	m := testenv.MinIO(t)
	addr, err := devenv.FreeAddr()
	require.NoError(t, err)
	adminAddr, err := devenv.FreeAddr()
	require.NoError(t, err)
	env, err := devenv.Prepare(dir, devenv.Options{
		Listen: addr, AdminListen: adminAddr, TrustDomain: demo.TrustDomain, Parties: demo.PartyIDs(),
		ObjectsEndpoint: m.Endpoint, AccessKey: m.AccessKey, SecretKey: m.SecretKey, Bucket: "hostile-" + testenv.RandomHex(6),
	})
	require.NoError(t, err)
	a, err := server.New(ctx, env.Config, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	require.NoError(t, demo.Seed(ctx, a.Agreements, env.EncryptionKeys))
	require.NoError(t, a.Close())
	proc := startGatewayProcess(t, bin, env)

	tok, err := devenv.MintToken(env.AdminTokenKeyFile(), devenv.DevTokenIssuer, devenv.DevTokenAudience, "alice", []string{"admin"}, 10*time.Minute)
	require.NoError(t, err)
	hc := testenv.HTTPClient(t, env.CAFile())
	post := func(doc, contentType string) (*http.Response, []byte, time.Duration) {
		req, err := http.NewRequest(http.MethodPost, "https://"+adminAddr+"/admin/v1/agreements", strings.NewReader(doc))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", contentType)
		start := time.Now()
		resp, err := hc.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, body, time.Since(start)
	}
	// Warm the gateway up with one ordinary, refused document, then take
	// the baseline.
	resp, _, _ := post("id: warm-up\n", "application/yaml")
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	base := procStatus(t, proc.cmd.Process.Pid, "VmRSS")

	for name, doc := range hostileAgreements() {
		require.Less(t, len(doc), 1<<20, name)
		ct := "application/yaml"
		if strings.HasPrefix(name, "json/") {
			ct = "application/json"
		}
		resp, body, took := post(doc, ct)
		t.Logf("%-22s %7d bytes → %d, %5d-byte answer in %v", name, len(doc), resp.StatusCode, len(body), took.Round(time.Millisecond))
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s: %s", name, body)
		require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
		require.Less(t, len(body), 64<<10, name)
		require.Less(t, took, 2*time.Second, name)
	}
	peak := procStatus(t, proc.cmd.Process.Pid, "VmHWM")
	t.Logf("resident memory: %d MiB before, peak %d MiB (growth %d MiB)", base>>20, peak>>20, (peak-base)>>20)
	require.Less(t, peak-base, int64(64<<20), "peak resident memory growth")
	require.NoError(t, proc.cmd.Process.Signal(syscall.SIGTERM))
	_ = proc.cmd.Wait() // the log is complete once the process has gone
	require.Less(t, proc.log.Len(), 256<<10, "the gateway's log stays small:\n%.4000s", proc.log)
}

// procStatus reads a size field (kB) of /proc/<pid>/status, in bytes.
func procStatus(t *testing.T, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	require.NoError(t, err)
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// Both listeners refuse ambiguous or malformed HTTP framing with 400
// malformed-request and close the connection; a request hidden behind a
// Content-Length that Transfer-Encoding contradicts is never served.
func TestHTTPFraming(t *testing.T) {
	t.Parallel()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	partner, err := client.TLSConfig(gw.Env.CertFile("council.revenues"), gw.Env.KeyFile("council.revenues"), gw.Env.CAFile())
	require.NoError(t, err)
	pool := x509.NewCertPool()
	caPEM, err := os.ReadFile(gw.Env.CAFile())
	require.NoError(t, err)
	require.True(t, pool.AppendCertsFromPEM(caPEM))
	admin := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	tok := gw.Token(t, "alice", "auditor")

	listeners := map[string]struct {
		addr, path, auth string
		cfg              *tls.Config
	}{
		"partner": {gw.Addr, "/v1/whoami", "", partner},
		"admin":   {strings.TrimPrefix(gw.AdminURL, "https://"), "/admin/v1/whoami", "Authorization: Bearer " + tok + "\r\n", admin},
	}
	for lname, l := range listeners {
		smuggled := "GET " + l.path + "?smuggled=1 HTTP/1.1\r\nHost: x\r\n" + l.auth + "\r\n"
		for name, raw := range map[string]string{
			"cl-and-te": "POST " + l.path + " HTTP/1.1\r\nHost: x\r\n" + l.auth + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled,
			"bare-lf":   "GET " + l.path + " HTTP/1.1\nHost: x\n" + strings.ReplaceAll(l.auth, "\r\n", "\n") + "\n",
			"folded":    "GET " + l.path + " HTTP/1.1\r\nHost: x\r\n" + l.auth + "X-Note: a\r\n b\r\n\r\n",
		} {
			t.Run(lname+"/"+name, func(t *testing.T) {
				c, err := tls.Dial("tcp", l.addr, l.cfg)
				require.NoError(t, err)
				defer c.Close()
				_, err = io.WriteString(c, raw)
				require.NoError(t, err)
				r := bufio.NewReader(c)
				resp, err := http.ReadResponse(r, nil)
				require.NoError(t, err)
				body, _ := io.ReadAll(resp.Body)
				require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s", body)
				var p api.Problem
				require.NoError(t, json.Unmarshal(body, &p))
				require.Equal(t, "malformed-request", p.Code)
				_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
				_, err = http.ReadResponse(r, nil)
				require.Error(t, err, "the connection is closed: nothing else is answered")
				var ne net.Error
				require.False(t, errors.As(err, &ne) && ne.Timeout(), "closed, not left open: %v", err)
			})
		}
		// The same requests, framed one way, are served as usual.
		t.Run(lname+"/well-framed", func(t *testing.T) {
			c, err := tls.Dial("tcp", l.addr, l.cfg)
			require.NoError(t, err)
			defer c.Close()
			_, err = io.WriteString(c, "GET "+l.path+" HTTP/1.1\r\nHost: x\r\n"+l.auth+"\r\n")
			require.NoError(t, err)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
		})
	}
}

// Revocation is checked again on every request: a keep-alive connection
// opened before its certificate was revoked is refused (401
// certificate-revoked, then closed) on its next request.
func TestRevokedOnKeepAlive(t *testing.T) {
	t.Parallel()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	hc := testenv.PartyHTTPClient(t, gw, "council.fraud")
	var reused []bool
	get := func() (int, api.Problem) {
		req, err := http.NewRequest(http.MethodGet, gw.URL+"/v1/whoami", nil)
		require.NoError(t, err)
		req = req.WithContext(httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
			GotConn: func(i httptrace.GotConnInfo) { reused = append(reused, i.Reused) },
		}))
		resp, err := hc.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var p api.Problem
		if resp.StatusCode != http.StatusOK {
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&p))
		} else {
			_, _ = io.Copy(io.Discard, resp.Body)
		}
		return resp.StatusCode, p
	}
	status, _ := get()
	require.Equal(t, http.StatusOK, status)

	pemBytes, err := os.ReadFile(gw.Env.CertFile("council.fraud"))
	require.NoError(t, err)
	block, _ := pem.Decode(pemBytes)
	leaf, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	_, _, err = gatehouse(t, "certs", "revoke", "--dir", gw.Env.PKI(), "--serial", fmt.Sprintf("%x", leaf.SerialNumber), "--reason", "key-compromise")
	require.NoError(t, err)

	var p api.Problem
	require.Eventually(t, func() bool {
		status, p = get()
		return status == http.StatusUnauthorized
	}, 10*time.Second, 100*time.Millisecond, "the revocation reaches the open connection")
	require.Equal(t, "certificate-revoked", p.Code)
	require.True(t, reused[len(reused)-1], "refused on the connection opened before the revocation")
	_, err = hc.Get(gw.URL + "/v1/whoami")
	require.Error(t, err, "a new connection fails its handshake")
}
