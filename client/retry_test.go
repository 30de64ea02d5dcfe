package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/api"
)

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)
	for name, tc := range map[string]struct {
		header string
		wait   time.Duration
		ok     bool
	}{
		"ok/seconds":        {"5", 5 * time.Second, true},
		"ok/zero":           {"0", 0, true},
		"ok/spaces":         {" 2 ", 2 * time.Second, true},
		"ok/http-date":      {now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		"ok/date-past":      {now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		"ok/rfc850-date":    {now.Add(time.Minute).Format(time.RFC850), time.Minute, true},
		"ok/huge-is-capped": {"99999999999999", 24 * time.Hour, true},
		"deny/absent":       {"", 0, false},
		"deny/negative":     {"-1", 0, false},
		"deny/fraction":     {"1.5", 0, false},
		"deny/words":        {"soon", 0, false},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			wait, ok := retryAfter(tc.header, now)
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.wait, wait)
		})
	}
}

// answer is one scripted answer of the test gateway.
type answer struct {
	status     int
	retryAfter string
	// drop closes the connection without answering.
	drop bool
}

// arrival is what the test gateway saw of one request.
type arrival struct {
	method, key string
	at          time.Time
}

// scriptedGateway answers requests with script in turn, then 200 with an
// exchange, over real TLS.
type scriptedGateway struct {
	mu       sync.Mutex
	script   []answer
	arrivals []arrival
}

func (g *scriptedGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	g.arrivals = append(g.arrivals, arrival{method: r.Method, key: r.Header.Get(HeaderIdempotencyKey), at: time.Now()})
	var a *answer
	if len(g.script) > 0 {
		a = &g.script[0]
		g.script = g.script[1:]
	}
	g.mu.Unlock()
	_, _ = io.Copy(io.Discard, r.Body)
	switch {
	case a == nil:
		w.Header().Set("Content-Type", api.MediaJSON)
		_ = json.NewEncoder(w).Encode(api.Exchange{ID: "ex-1", State: "delivered"})
	case a.drop:
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	default:
		if a.retryAfter != "" {
			w.Header().Set("Retry-After", a.retryAfter)
		}
		w.Header().Set("Content-Type", api.MediaProblem)
		w.WriteHeader(a.status)
		_ = json.NewEncoder(w).Encode(api.Problem{Type: "about:blank", Title: http.StatusText(a.status), Status: a.status, Code: "code-" + strconv.Itoa(a.status)})
	}
}

func (g *scriptedGateway) seen() []arrival {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]arrival(nil), g.arrivals...)
}

func TestRetry(t *testing.T) {
	t.Parallel()
	get := func(ctx context.Context, c *Client) error { _, err := c.Exchange(ctx, "ex-1"); return err }
	post := func(ctx context.Context, c *Client) error { _, err := c.Acknowledge(ctx, "ex-1"); return err }
	upload := func(ctx context.Context, c *Client) error {
		_, err := c.Upload(ctx, "ex-1", strings.NewReader("payload"), 7)
		return err
	}
	for name, tc := range map[string]struct {
		script   []answer
		retry    Retry
		timeout  time.Duration
		call     func(context.Context, *Client) error
		requests int
		// status is the *api.Problem's status if the call fails.
		status int
		// waits are the least gaps between successive requests.
		waits []time.Duration
	}{
		"ok/get-429-honours-retry-after": {
			script: []answer{{status: 429, retryAfter: "1"}}, call: get, requests: 2, waits: []time.Duration{time.Second},
		},
		"ok/get-503-http-date": {
			script: []answer{{status: 503, retryAfter: time.Now().Format(http.TimeFormat)}}, call: get, requests: 2,
		},
		"ok/get-502-backs-off-without-header": {
			script: []answer{{status: 502}, {status: 504}}, call: get, requests: 3,
			waits: []time.Duration{retryInitial / 2, retryInitial},
		},
		"ok/get-connection-dropped": {
			script: []answer{{drop: true}}, call: get, requests: 2,
		},
		"ok/post-503-429-same-key": {
			script: []answer{{status: 503, retryAfter: "0"}, {status: 429, retryAfter: "0"}}, call: post, requests: 3,
		},
		"deny/gives-up-after-attempts": {
			script: []answer{{status: 503, retryAfter: "0"}, {status: 503, retryAfter: "0"}, {status: 503, retryAfter: "0"}},
			retry:  Retry{Attempts: 3}, call: get, requests: 3, status: 503,
		},
		"deny/attempts-1-never-retries": {
			script: []answer{{status: 503, retryAfter: "0"}}, retry: Retry{Attempts: 1}, call: post, requests: 1, status: 503,
		},
		"deny/retry-after-beyond-max-wait": {
			script: []answer{{status: 429, retryAfter: "3600"}}, call: get, requests: 1, status: 429,
		},
		"deny/retry-after-beyond-own-max-wait": {
			script: []answer{{status: 429, retryAfter: "2"}}, retry: Retry{MaxWait: time.Second}, call: post, requests: 1, status: 429,
		},
		"deny/retry-after-beyond-deadline": {
			script: []answer{{status: 503, retryAfter: "5"}}, timeout: time.Second, call: get, requests: 1, status: 503,
		},
		"deny/4xx-not-retried": {
			script: []answer{{status: 409}}, call: post, requests: 1, status: 409,
		},
		"deny/upload-not-retried": {
			script: []answer{{status: 503, retryAfter: "0"}}, call: upload, requests: 1, status: 503,
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			g := &scriptedGateway{script: tc.script}
			srv := httptest.NewTLSServer(g)
			t.Cleanup(srv.Close)
			c, err := New(Config{Gateway: srv.URL, HTTPClient: srv.Client(), Retry: tc.retry})
			require.NoError(t, err)
			ctx := context.Background()
			if tc.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.timeout)
				t.Cleanup(cancel)
			}
			err = tc.call(ctx, c)
			seen := g.seen()
			require.Len(t, seen, tc.requests)
			if tc.status == 0 {
				require.NoError(t, err)
			} else {
				var p *api.Problem
				require.True(t, errors.As(err, &p), "%v", err)
				require.Equal(t, tc.status, p.Status)
				require.NoError(t, ctx.Err(), "the client gave up at once rather than waiting out its context")
			}
			for i, w := range tc.waits {
				require.GreaterOrEqual(t, seen[i+1].at.Sub(seen[i].at), w, "the wait before attempt %d", i+2)
			}
			if seen[0].method == http.MethodPost {
				require.NotEmpty(t, seen[0].key)
				for _, a := range seen {
					require.Equal(t, seen[0].key, a.key, "every attempt of a POST carries the same Idempotency-Key")
				}
			}
		})
	}
}

// A context cancelled while the client waits to retry ends the wait at
// once; the error is both the gateway's answer and the cancellation.
func TestRetryWaitEndsWithContext(t *testing.T) {
	t.Parallel()
	g := &scriptedGateway{script: []answer{{status: 503, retryAfter: "20"}}}
	srv := httptest.NewTLSServer(g)
	t.Cleanup(srv.Close)
	c, err := New(Config{Gateway: srv.URL, HTTPClient: srv.Client()})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Cancel once the answer is in and the client waits to retry: not
	// before, when the answer itself would be lost to the cancellation.
	c.conn.waiting = func(time.Duration) { cancel() }
	_, err = c.Exchange(ctx, "ex-1")
	require.ErrorIs(t, err, context.Canceled)
	var p *api.Problem
	require.ErrorAs(t, err, &p)
	require.Equal(t, http.StatusServiceUnavailable, p.Status)
	require.Len(t, g.seen(), 1)
}
