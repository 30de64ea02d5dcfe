package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/client"
	"github.com/gatehouse-gw/gatehouse/config"
	"github.com/gatehouse-gw/gatehouse/devenv/testenv"
)

// auditTypes counts the audit entries by type, checking the chain.
func auditTypes(t *testing.T, gw *testenv.Gateway) map[string]int {
	t.Helper()
	types := map[string]int{}
	for typ, es := range adminEntries(t, gw) {
		types[typ] = len(es)
	}
	return types
}

// oneRequest posts a one-request disclosure with the parts given, and
// returns the answer and its decoded body (an exchange or a problem).
func oneRequest(t *testing.T, hc *http.Client, gw *testenv.Gateway, key string, parts ...part) (*http.Response, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf("form-data; name=%q", p.name))
		if p.contentType != "" {
			h.Set("Content-Type", p.contentType)
		}
		w, err := mw.CreatePart(h)
		require.NoError(t, err)
		_, err = w.Write(p.body)
		require.NoError(t, err)
	}
	require.NoError(t, mw.Close())
	req, err := http.NewRequest(http.MethodPost, gw.URL+"/v1/exchanges", &buf)
	require.NoError(t, err)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := hc.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, body
}

type part struct {
	name, contentType string
	body              []byte
}

func declarationPart(t *testing.T, d *api.ExchangeDeclaration) part {
	b, err := json.Marshal(d)
	require.NoError(t, err)
	return part{name: "declaration", contentType: "application/json", body: b}
}

func requireProblemBody(t *testing.T, resp *http.Response, body []byte, status int, code string) api.Problem {
	t.Helper()
	require.Equal(t, status, resp.StatusCode, string(body))
	require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
	var p api.Problem
	require.NoError(t, json.Unmarshal(body, &p))
	require.Equal(t, code, p.Code, string(body))
	return p
}

// A declaration and its payload in one request: decided before the payload
// is read, with the same checks and the same records as the two steps.
func TestSendInOneRequest(t *testing.T) {
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	council := gw.Client(t, "council.revenues")
	police := gw.Client(t, "police.northshire")
	hc := testenv.PartyHTTPClient(t, gw, "council.revenues")
	objects := func() int {
		t.Helper()
		keys, err := gw.App.Objects.Keys(ctx, "")
		require.NoError(t, err)
		return len(keys)
	}

	// The SDK's Send uses one request for a small payload: the recipient
	// decrypts it byte for byte, and the record holds one decision and one
	// seal, as for the two steps.
	payload := randomBytes(t, 2048)
	sum := sha256.Sum256(payload)
	sent, err := council.Send(ctx, policeDisclosure(int64(len(payload))), bytes.NewReader(payload))
	require.NoError(t, err)
	require.Equal(t, "delivered", sent.State)
	require.Equal(t, hex.EncodeToString(sum[:]), sent.Payload.SHA256)
	var got bytes.Buffer
	_, err = police.Fetch(ctx, sent.ID, gw.DecryptKey(t, "police.northshire"), &got)
	require.NoError(t, err)
	require.Equal(t, payload, got.Bytes())
	oneTypes := auditTypes(t, gw)
	require.Equal(t, 1, oneTypes[audit.TypeExchangeDecided])
	require.Equal(t, 1, oneTypes[audit.TypeExchangeSealed])

	// The two steps of the same disclosure write the same kinds of entry.
	two, err := council.Declare(ctx, policeDisclosure(int64(len(payload))))
	require.NoError(t, err)
	_, err = council.Upload(ctx, two.ID, bytes.NewReader(payload), int64(len(payload)))
	require.NoError(t, err)
	twoTypes := auditTypes(t, gw)
	require.Equal(t, 2, twoTypes[audit.TypeExchangeDecided])
	require.Equal(t, 2, twoTypes[audit.TypeExchangeSealed])

	tests := []struct {
		name   string
		key    string
		parts  func() []part
		status int
		code   string
		// declared: the answer points at an exchange declared but not delivered.
		declared bool
	}{
		{name: "deny/refused-declaration", status: http.StatusForbidden, code: "refused", parts: func() []part {
			d := policeDisclosure(4)
			d.Purpose = "marketing"
			return []part{declarationPart(t, d), {name: "payload", body: []byte("data")}}
		}},
		{name: "deny/over-one-request-max", status: http.StatusRequestEntityTooLarge, code: "one-request-too-large", parts: func() []part {
			return []part{declarationPart(t, policeDisclosure(4<<20+1)), {name: "payload", body: []byte("data")}}
		}},
		{name: "deny/payload-before-declaration", status: http.StatusBadRequest, code: "invalid-request", parts: func() []part {
			return []part{{name: "payload", body: []byte("data")}, declarationPart(t, policeDisclosure(4))}
		}},
		{name: "deny/no-payload-part", status: http.StatusBadRequest, code: "invalid-request", parts: func() []part {
			return []part{declarationPart(t, policeDisclosure(4))}
		}},
		{name: "deny/declaration-not-json", status: http.StatusUnsupportedMediaType, code: "unsupported-media-type", parts: func() []part {
			return []part{{name: "declaration", contentType: "text/plain", body: []byte("{}")}, {name: "payload", body: []byte("data")}}
		}},
		{name: "deny/unknown-declaration-field", status: http.StatusBadRequest, code: "invalid-request", parts: func() []part {
			return []part{{name: "declaration", contentType: "application/json", body: []byte(`{"agreement":"police-crime","colour":"red"}`)}, {name: "payload", body: []byte("data")}}
		}},
		{name: "deny/payload-shorter-than-declared", status: http.StatusBadRequest, code: "payload-size-mismatch", declared: true, parts: func() []part {
			return []part{declarationPart(t, policeDisclosure(5)), {name: "payload", body: []byte("data")}}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, stored := auditTypes(t, gw), objects()
			resp, body := oneRequest(t, hc, gw, tc.key, tc.parts()...)
			p := requireProblemBody(t, resp, body, tc.status, tc.code)
			require.NotEmpty(t, p.ErrorID)
			require.Equal(t, stored, objects(), "nothing stored")
			after := auditTypes(t, gw)
			require.Equal(t, before[audit.TypeExchangeSealed], after[audit.TypeExchangeSealed], "nothing sealed")
			if tc.code == "refused" {
				require.NotNil(t, p.Decision)
				require.Equal(t, before[audit.TypeExchangeDecided]+1, after[audit.TypeExchangeDecided], "the refusal is recorded")
			}
			if tc.declared {
				require.Regexp(t, `^/v1/exchanges/[0-9a-f-]{36}$`, resp.Header.Get("Location"))
			}
		})
	}

	// An upload that failed after its declaration was allowed is retried
	// by repeating the request with the same Idempotency-Key: the same
	// exchange is delivered; a repeat after that is a replay.
	d := policeDisclosure(4)
	resp, body := oneRequest(t, hc, gw, "one-1", declarationPart(t, d), part{name: "payload", body: []byte("dat")})
	requireProblemBody(t, resp, body, http.StatusBadRequest, "payload-size-mismatch")
	failedAt := resp.Header.Get("Location")
	resp, body = oneRequest(t, hc, gw, "one-1", declarationPart(t, d), part{name: "payload", body: []byte("data")})
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(body))
	require.Equal(t, failedAt, resp.Header.Get("Location"))
	require.Empty(t, resp.Header.Get("Idempotent-Replayed"))
	var e api.Exchange
	require.NoError(t, json.Unmarshal(body, &e))
	require.Equal(t, "delivered", e.State)
	resp, body = oneRequest(t, hc, gw, "one-1", declarationPart(t, d), part{name: "payload", body: []byte("data")})
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(body))
	require.Equal(t, "true", resp.Header.Get("Idempotent-Replayed"))
	require.Equal(t, failedAt, resp.Header.Get("Location"))

	// A gateway that takes less in one request than the SDK would send:
	// Send falls back to the two steps.
	small := testenv.StartGateway(t, testenv.GatewayOptions{Configure: func(c *config.Config) { c.Limits.OneRequestMax = 1024 }})
	sent, err = small.Client(t, "council.revenues").Send(ctx, policeDisclosure(int64(len(payload))), bytes.NewReader(payload))
	require.NoError(t, err)
	require.Equal(t, "delivered", sent.State)
}

// countingReader records whether anything read the body it wraps: with
// Expect: 100-continue, Go's client reads the body only once the gateway
// said "100 Continue".
type countingReader struct {
	r    io.Reader
	read atomic.Int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.read.Add(int64(n))
	return n, err
}

// Expect: 100-continue is honoured on uploads: a refused upload is answered
// before its body is sent, and the client never sends it.
func TestExpectContinue(t *testing.T) {
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	council := gw.Client(t, "council.revenues")
	cfg, err := client.TLSConfig(gw.Env.CertFile("council.revenues"), gw.Env.KeyFile("council.revenues"), gw.Env.CAFile())
	require.NoError(t, err)
	// A long wait for the gateway's answer: the body goes only after 100.
	hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: cfg, ExpectContinueTimeout: 30 * time.Second}}
	send := func(method, path string, body []byte, header map[string]string) (*http.Response, []byte, int64) {
		t.Helper()
		cr := &countingReader{r: bytes.NewReader(body)}
		req, err := http.NewRequestWithContext(ctx, method, gw.URL+path, cr)
		require.NoError(t, err)
		req.ContentLength = int64(len(body))
		req.Header.Set("Expect", "100-continue")
		req.Header.Set("Content-Type", "application/octet-stream")
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := hc.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, b, cr.read.Load()
	}
	payload := randomBytes(t, 3<<20)
	declare := func() *api.Exchange {
		e, err := council.Declare(ctx, policeDisclosure(int64(len(payload))))
		require.NoError(t, err)
		return e
	}
	admin := gw.Admin(t, "alice", "admin")

	suspended := declare()
	oneBody, oneType, err := client.OneRequestBody(policeDisclosure(6<<20), make([]byte, 6<<20))
	require.NoError(t, err)
	tests := []struct {
		name   string
		method string
		path   func() string
		body   []byte
		header map[string]string
		before func()
		status int
		code   string
	}{
		{name: "deny/unknown-exchange", method: http.MethodPut, path: func() string { return "/v1/exchanges/01900000-0000-7000-8000-000000000000/payload" },
			body: payload, status: http.StatusNotFound, code: "exchange-not-found"},
		{name: "deny/length-differs-from-declared", method: http.MethodPut, path: func() string { return "/v1/exchanges/" + declare().ID + "/payload" },
			body: payload[:1000], status: http.StatusBadRequest, code: "payload-size-mismatch"},
		{name: "deny/agreement-suspended-since-declared", method: http.MethodPut, path: func() string { return "/v1/exchanges/" + suspended.ID + "/payload" },
			body: payload, status: http.StatusForbidden, code: "refused",
			before: func() {
				_, err := admin.Suspend(ctx, "police-crime", "Review of the DPIA")
				require.NoError(t, err)
			}},
		{name: "deny/one-request-over-its-limit", method: http.MethodPost, path: func() string { return "/v1/exchanges" },
			body: oneBody, header: map[string]string{"Content-Type": oneType}, status: http.StatusRequestEntityTooLarge, code: "one-request-too-large"},
		{name: "deny/declaration-over-max-json-body", method: http.MethodPost, path: func() string { return "/v1/exchanges" },
			body: payload, header: map[string]string{"Content-Type": "application/json"}, status: http.StatusRequestEntityTooLarge, code: "payload-too-large"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path()
			if tc.before != nil {
				tc.before()
			}
			before := auditTypes(t, gw)
			resp, body, sentBytes := send(tc.method, path, tc.body, tc.header)
			p := requireProblemBody(t, resp, body, tc.status, tc.code)
			require.NotEmpty(t, p.ErrorID)
			require.NotEmpty(t, resp.Header.Get("X-Request-Id"))
			require.Zero(t, sentBytes, "the client sent the body of a refused upload")
			if tc.code == "refused" {
				require.Equal(t, "agreement.active", p.Decision.Checks[failedIndex(p.Decision)].Code)
				require.Equal(t, before[audit.TypeExchangeDecided]+1, auditTypes(t, gw)[audit.TypeExchangeDecided], "the refusal at upload is recorded once")
			}
		})
	}
	_, err = admin.Resume(ctx, "police-crime", "DPIA reviewed")
	require.NoError(t, err)

	// An upload that may go ahead gets "100 Continue" and its body is sealed.
	e := declare()
	resp, body, sentBytes := send(http.MethodPut, "/v1/exchanges/"+e.ID+"/payload", payload, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	require.Equal(t, int64(len(payload)), sentBytes)
	require.NoError(t, json.Unmarshal(body, e))
	require.Equal(t, "delivered", e.State)

	// So does a one-request disclosure within the limit.
	small := make([]byte, 1000)
	oneBody, oneType, err = client.OneRequestBody(policeDisclosure(int64(len(small))), small)
	require.NoError(t, err)
	resp, body, sentBytes = send(http.MethodPost, "/v1/exchanges", oneBody, map[string]string{"Content-Type": oneType})
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(body))
	require.Equal(t, int64(len(oneBody)), sentBytes)
}

func failedIndex(d *api.Decision) int {
	for i, c := range d.Checks {
		if !c.Passed {
			return i
		}
	}
	return -1
}
