package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// Retry says how the client repeats a request that failed in a way a repeat
// can cure: the connection failed, or the gateway answered 429 (rate
// limited), 502, 503 (it could not record the request, so did nothing) or
// 504. Only requests that are safe to repeat are retried: GETs, and POSTs,
// which always carry an Idempotency-Key so that the gateway answers a repeat
// with what the first attempt created. A payload upload (a stream) is never
// repeated. The zero value is the default policy.
type Retry struct {
	// Attempts is how many times a request is tried in all: 0 means 4,
	// 1 means never retry.
	Attempts int
	// MaxWait is the longest the client waits before one retry, the
	// gateway's Retry-After or its own backoff: 0 means 30 seconds. A
	// Retry-After longer than this ends the retries, and the caller gets the
	// gateway's answer (an *api.Problem) at once.
	MaxWait time.Duration
}

// Defaults of Retry, and its backoff: exponential from retryInitial,
// doubling, with ±50% jitter, each wait at most retryCeiling (or MaxWait).
const (
	defaultAttempts = 4
	defaultMaxWait  = 30 * time.Second
	retryInitial    = 250 * time.Millisecond
	retryCeiling    = 5 * time.Second
)

func (r Retry) attempts() int {
	if r.Attempts <= 0 {
		return defaultAttempts
	}
	return r.Attempts
}

func (r Retry) maxWait() time.Duration {
	if r.MaxWait <= 0 {
		return defaultMaxWait
	}
	return r.MaxWait
}

func (r Retry) backoff() *backoff.ExponentialBackOff {
	b := &backoff.ExponentialBackOff{
		InitialInterval:     retryInitial,
		RandomizationFactor: 0.5,
		Multiplier:          2,
		MaxInterval:         min(retryCeiling, r.maxWait()),
	}
	b.Reset()
	return b
}

// send sends the request newReq builds and returns the answer if it is
// 2xx; any other answer becomes an error (*api.Problem where the gateway
// sent one). If repeatable, a failure a retry can cure is retried as the
// policy allows: after the answer's Retry-After (seconds or an HTTP date),
// else after a jittered exponential backoff; never past the context's
// deadline. newReq is called for each attempt, so that each sends the whole
// body. The caller closes the answer's body.
func (c *conn) send(ctx context.Context, repeatable bool, newReq func() (*http.Request, error)) (*http.Response, error) {
	b := c.retry.backoff()
	for attempt := 1; ; attempt++ {
		req, err := newReq()
		if err != nil {
			return nil, err
		}
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		resp, err := c.hc.Do(req)
		if err == nil && resp.StatusCode/100 == 2 {
			return resp, nil
		}
		var (
			wait   time.Duration
			cured  bool
			header bool
		)
		if err != nil {
			cured = transient(err)
		} else {
			cured = retryStatus(resp.StatusCode)
			wait, header = retryAfter(resp.Header.Get("Retry-After"), time.Now())
			err = readProblem(resp)
			resp.Body.Close()
		}
		if !repeatable || !cured || attempt >= c.retry.attempts() {
			return nil, err
		}
		switch {
		case !header:
			wait = min(b.NextBackOff(), c.retry.maxWait())
		case wait > c.retry.maxWait():
			return nil, err // the gateway asks for longer than the caller will wait
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			return nil, err
		}
		if c.waiting != nil {
			c.waiting(wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w (gave up waiting to retry: %w)", err, context.Cause(ctx))
		case <-t.C:
		}
	}
}

// retryStatus reports whether an answer with this status may be cured by
// asking again.
func retryStatus(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// transient reports whether a failure to get an answer may be cured by
// asking again: not if the caller gave up, nor if TLS refused the gateway's
// certificate or the gateway refused ours (that will not change by itself).
func transient(err error) bool {
	var (
		ue     *url.Error
		verify *tls.CertificateVerificationError
		op     *net.OpError
	)
	switch {
	case !errors.As(err, &ue):
		return false
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return false
	case errors.As(err, &verify):
		return false
	case errors.As(err, &op) && op.Op == "remote error": // a TLS alert from the gateway
		return false
	}
	return true
}

// retryAfter reads a Retry-After header (RFC 9110 §10.2.3): a number of
// seconds or an HTTP date. A date already past means now. ok is false if
// the header is absent or malformed.
func retryAfter(h string, now time.Time) (wait time.Duration, ok bool) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(h, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(24*time.Hour/time.Second) {
			secs = int64(24 * time.Hour / time.Second) // beyond any MaxWait; no overflow
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(h)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}
