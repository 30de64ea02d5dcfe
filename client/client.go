// Package client is the Go SDK for partner agencies and council services:
// it speaks mutual TLS to the gateway, sends disclosures, lists the inbox and
// fetches, verifies and decrypts what was sent.
package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse-gw/gatehouse/api"
)

// Config says how to reach the gateway and who the caller is.
type Config struct {
	// Gateway is the gateway's base URL, e.g. https://gatehouse.example:8443.
	Gateway string
	// CertFile and KeyFile are the party's client certificate and key.
	CertFile string
	KeyFile  string
	// CAFile is the CA that issued the gateway's server certificate; empty
	// means the system roots.
	CAFile string
	// HTTPClient, if set, is used instead of one built from the files.
	HTTPClient *http.Client
	// Retry is how failed requests are repeated; the zero value is the default.
	Retry Retry
	// OneRequestMax is the largest payload Send sends together with its
	// declaration, in one request; larger ones are declared first and then
	// uploaded. Zero means DefaultOneRequestMax; a negative value always
	// uses two requests.
	OneRequestMax int64
}

// DefaultOneRequestMax is the payload size up to which Send uses one request:
// well under the gateway's default limits.one_request_max, so that a refused
// declaration wastes little, and small enough to hold in memory.
const DefaultOneRequestMax = 1 << 20

// ExpectContinueMin is the payload size above which Upload asks the gateway
// first (Expect: 100-continue), so that a refused upload never sends its body.
const ExpectContinueMin = 1 << 20

// Client talks to one gateway as one party.
type Client struct {
	conn
	oneRequestMax int64
}

// conn is an HTTP connection to one of the gateway's APIs.
type conn struct {
	base *url.URL
	hc   *http.Client
	// token, if set, is sent as a bearer token (the admin API).
	token string
	retry Retry
	// waiting, if set, is called as a retry starts its wait (for tests:
	// it lets one act at that moment rather than guess it).
	waiting func(time.Duration)
}

// New returns a client.
func New(cfg Config) (*Client, error) {
	if cfg.Gateway == "" {
		return nil, errors.New("client: the gateway URL is required")
	}
	base, err := url.Parse(strings.TrimRight(cfg.Gateway, "/"))
	if err != nil || base.Scheme != "https" || base.Host == "" {
		return nil, fmt.Errorf("client: gateway %q is not an https:// URL", cfg.Gateway)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		tlsCfg, err := TLSConfig(cfg.CertFile, cfg.KeyFile, cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("client: %w", err)
		}
		hc = &http.Client{Transport: &http.Transport{
			TLSClientConfig:       tlsCfg,
			ForceAttemptHTTP2:     false,
			MaxIdleConnsPerHost:   8,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: 5 * time.Minute,
			ExpectContinueTimeout: 2 * time.Second,
			// Large buffers: payloads go out in full TLS records rather
			// than 4 KiB writes.
			WriteBufferSize: 256 << 10,
			ReadBufferSize:  256 << 10,
		}}
	}
	one := cfg.OneRequestMax
	if one == 0 {
		one = DefaultOneRequestMax
	}
	return &Client{conn: conn{base: base, hc: hc, retry: cfg.Retry}, oneRequestMax: one}, nil
}

func (c *conn) url(path string) string { return c.base.String() + path }

// decode decodes a JSON answer into out (nil: discard it) and closes it.
func decode(resp *http.Response, err error, out any) error {
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// readProblem turns an error response into an error, quoting the gateway's
// problem+json when it sent one.
func readProblem(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == api.MediaProblem {
		var p api.Problem
		if err := json.Unmarshal(body, &p); err == nil && p.Code != "" {
			return &p
		}
	}
	return fmt.Errorf("gateway answered %s: %s", resp.Status, strings.TrimSpace(string(body)))
}

// get sends a GET, retried as the policy allows.
func (c *conn) get(ctx context.Context, path, accept string) (*http.Response, error) {
	return c.send(ctx, true, func() (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url(path), nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", accept)
		return req, nil
	})
}

func (c *conn) getJSON(ctx context.Context, path string, out any) error {
	resp, err := c.get(ctx, path, api.MediaJSON)
	return decode(resp, err, out)
}

// post sends a POST with a fresh Idempotency-Key, and retries it with the
// same key if the answer is lost or the gateway is briefly unavailable or
// busy: the gateway then returns what the first attempt created.
func (c *conn) post(ctx context.Context, path, contentType, accept string, body []byte) (*http.Response, error) {
	key := newIdempotencyKey()
	return c.send(ctx, true, func() (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url(path), bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Accept", accept)
		req.Header.Set(HeaderIdempotencyKey, key)
		return req, nil
	})
}

func (c *conn) postJSON(ctx context.Context, path string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	resp, err := c.post(ctx, path, api.MediaJSON, api.MediaJSON, b)
	return decode(resp, err, out)
}

// HeaderIdempotencyKey carries the key that makes a POST safe to repeat: a
// repeat with the same key gets what the first attempt created.
const HeaderIdempotencyKey = "Idempotency-Key"

// newIdempotencyKey returns a fresh random key (32 hex digits, well within
// the gateway's 1 to 255 printable characters).
func newIdempotencyKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// WhoAmI asks the gateway who it takes the caller to be.
func (c *Client) WhoAmI(ctx context.Context) (*api.WhoAmI, error) {
	var w api.WhoAmI
	return &w, c.getJSON(ctx, "/v1/whoami", &w)
}

// Declare declares a disclosure. A refusal is an *api.Problem with code
// "refused" and the decision's checks.
func (c *Client) Declare(ctx context.Context, d *api.ExchangeDeclaration) (*api.Exchange, error) {
	var e api.Exchange
	return &e, c.postJSON(ctx, "/v1/exchanges", d, &e)
}

// Upload streams exactly size bytes of r as the payload of a declared
// exchange (size < 0: chunked, to the end of r). It is not retried (r is a
// stream): after a failure, Exchange says whether the payload arrived, and a
// declared exchange takes a new upload until it expires. Above
// ExpectContinueMin it asks first (Expect: 100-continue): a refused upload
// never sends its body.
func (c *Client) Upload(ctx context.Context, id string, r io.Reader, size int64) (*api.Exchange, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, c.url("/v1/exchanges/"+url.PathEscape(id)+"/payload"), r)
	if err != nil {
		return nil, err
	}
	req.ContentLength = size
	if size == 0 {
		req.Body = http.NoBody
	}
	if size < 0 || size > ExpectContinueMin {
		req.Header.Set("Expect", "100-continue")
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Accept", api.MediaJSON)
	var e api.Exchange
	resp, err := c.send(ctx, false, func() (*http.Request, error) { return req, nil })
	return &e, decode(resp, err, &e)
}

// Send discloses d.Size bytes of r: declared and, if allowed, uploaded.
// A payload of at most Config.OneRequestMax bytes goes with its declaration
// in one request (SendOne); a larger one in two (Declare, then Upload). If
// the gateway takes less in one request than the client was configured for,
// Send falls back to two. When a declaration was allowed but its upload
// failed, the declared exchange is returned with the error.
func (c *Client) Send(ctx context.Context, d *api.ExchangeDeclaration, r io.Reader) (*api.Exchange, error) {
	if c.oneRequestMax < 0 || d.Size < 0 || d.Size > c.oneRequestMax {
		return c.sendTwoSteps(ctx, d, r)
	}
	payload, err := io.ReadAll(io.LimitReader(r, d.Size+1))
	if err != nil {
		return nil, err
	}
	e, err := c.SendOne(ctx, d, payload)
	var p *api.Problem
	if errors.As(err, &p) && p.Code == CodeOneRequestTooLarge {
		return c.sendTwoSteps(ctx, d, bytes.NewReader(payload))
	}
	return e, err
}

// CodeOneRequestTooLarge is the gateway's answer to a one-request disclosure
// whose payload is over its limit.
const CodeOneRequestTooLarge = "one-request-too-large"

func (c *Client) sendTwoSteps(ctx context.Context, d *api.ExchangeDeclaration, r io.Reader) (*api.Exchange, error) {
	e, err := c.Declare(ctx, d)
	if err != nil {
		return nil, err
	}
	sent, err := c.Upload(ctx, e.ID, r, d.Size)
	if err != nil {
		return e, err
	}
	return sent, nil
}

// SendOne declares a disclosure and sends its payload in one request
// (multipart/form-data: the declaration part, then the payload part). The
// gateway decides the declaration before it reads the payload; a refusal is
// an *api.Problem "refused", as from Declare. It retries with the same
// Idempotency-Key like every POST: a retry after a lost answer returns the
// exchange the first attempt delivered.
func (c *Client) SendOne(ctx context.Context, d *api.ExchangeDeclaration, payload []byte) (*api.Exchange, error) {
	body, contentType, err := OneRequestBody(d, payload)
	if err != nil {
		return nil, err
	}
	var e api.Exchange
	resp, err := c.post(ctx, "/v1/exchanges", contentType, api.MediaJSON, body)
	return &e, decode(resp, err, &e)
}

// OneRequestBody encodes a one-request disclosure: the multipart/form-data
// body (a "declaration" part of JSON, then a "payload" part) and its
// Content-Type with the boundary.
func OneRequestBody(d *api.ExchangeDeclaration, payload []byte) ([]byte, string, error) {
	decl, err := json.Marshal(d)
	if err != nil {
		return nil, "", err
	}
	var buf bytes.Buffer
	buf.Grow(len(decl) + len(payload) + 512)
	mw := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="declaration"`)
	h.Set("Content-Type", api.MediaJSON)
	w, err := mw.CreatePart(h)
	if err != nil {
		return nil, "", err
	}
	if _, err := w.Write(decl); err != nil {
		return nil, "", err
	}
	h = textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="payload"; filename="payload"`)
	h.Set("Content-Type", "application/octet-stream")
	if w, err = mw.CreatePart(h); err != nil {
		return nil, "", err
	}
	if _, err := w.Write(payload); err != nil {
		return nil, "", err
	}
	if err := mw.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), mw.FormDataContentType(), nil
}

// Check asks whether a disclosure would be allowed, without making it: the
// decision with every check. Nothing is stored.
func (c *Client) Check(ctx context.Context, d *api.ExchangeDeclaration) (*api.Decision, error) {
	var dec api.Decision
	return &dec, c.postJSON(ctx, "/v1/decisions", d, &dec)
}

// CheckRequest asks whether an information request would be allowed,
// storing nothing: the dry run of Request.
func (c *Client) CheckRequest(ctx context.Context, q *api.InformationRequest) (*api.Decision, error) {
	var dec api.Decision
	return &dec, c.postJSON(ctx, "/v1/requests/decisions", q, &dec)
}

// Exchange reads one exchange the caller sent or receives.
func (c *Client) Exchange(ctx context.Context, id string) (*api.Exchange, error) {
	var e api.Exchange
	return &e, c.getJSON(ctx, "/v1/exchanges/"+url.PathEscape(id), &e)
}

// Inbox lists exchanges delivered to the caller, after the given id, and
// the information requests it is to handle.
func (c *Client) Inbox(ctx context.Context, after string, limit int) (*api.Inbox, error) {
	q := url.Values{}
	if after != "" {
		q.Set("after", after)
	}
	if limit > 0 {
		q.Set("limit", fmt.Sprint(limit))
	}
	path := "/v1/inbox"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var l api.Inbox
	return &l, c.getJSON(ctx, path, &l)
}

// Acknowledge records that the caller received an exchange.
func (c *Client) Acknowledge(ctx context.Context, id string) (*api.Exchange, error) {
	var e api.Exchange
	return &e, c.postJSON(ctx, "/v1/exchanges/"+url.PathEscape(id)+"/ack", struct{}{}, &e)
}

// Request asks for information; the gateway decides it and routes it to the
// council service that handles it. A refusal is an *api.Problem "refused".
func (c *Client) Request(ctx context.Context, q *api.InformationRequest) (*api.Request, error) {
	var r api.Request
	return &r, c.postJSON(ctx, "/v1/requests", q, &r)
}

// RequestStatus reads a request the caller made or handles.
func (c *Client) RequestStatus(ctx context.Context, id string) (*api.Request, error) {
	var r api.Request
	return &r, c.getJSON(ctx, "/v1/requests/"+url.PathEscape(id), &r)
}

// Requests lists requests the caller made (received false) or handles.
func (c *Client) Requests(ctx context.Context, received bool, states ...string) (*api.RequestList, error) {
	q := url.Values{"role": {"sent"}}
	if received {
		q.Set("role", "received")
	}
	if len(states) > 0 {
		q.Set("state", strings.Join(states, ","))
	}
	var l api.RequestList
	return &l, c.getJSON(ctx, "/v1/requests?"+q.Encode(), &l)
}

// Accept accepts a request the caller handles.
func (c *Client) Accept(ctx context.Context, id, note string) (*api.Request, error) {
	var r api.Request
	return &r, c.postJSON(ctx, "/v1/requests/"+url.PathEscape(id)+"/accept", api.Reason{Reason: note}, &r)
}

// Decline declines a request the caller handles, telling the requester why.
func (c *Client) Decline(ctx context.Context, id, reason string) (*api.Request, error) {
	var r api.Request
	return &r, c.postJSON(ctx, "/v1/requests/"+url.PathEscape(id)+"/decline", api.Reason{Reason: reason}, &r)
}
