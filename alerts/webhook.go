package alerts

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// Standard Webhooks (https://www.standardwebhooks.com): each request has
// a webhook-id (the event id: the same on every retry, so that a receiver
// can drop a repeat), a webhook-timestamp (Unix seconds) and a
// webhook-signature, "v1," and the base64 HMAC-SHA256 of
// "id.timestamp.body" under the endpoint's secret.

// SecretPrefix starts an endpoint secret: whsec_ and base64 of 24 to 64
// random bytes.
const SecretPrefix = "whsec_"

// NewSecret returns a fresh endpoint secret.
func NewSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return SecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// ParseSecret returns the key an endpoint secret holds.
func ParseSecret(s string) ([]byte, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), SecretPrefix)
	if !ok {
		return nil, errors.New("a webhook secret starts with whsec_")
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return nil, errors.New("a webhook secret is whsec_ and base64")
	}
	if len(key) < 24 || len(key) > 64 {
		return nil, fmt.Errorf("a webhook secret holds 24 to 64 bytes, not %d", len(key))
	}
	return key, nil
}

// Sign returns the webhook-signature value for a message.
func Sign(key []byte, id string, ts time.Time, body []byte) string {
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.", id, ts.Unix())
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Tolerance is the replay window Verify allows either side of now.
const Tolerance = 5 * time.Minute

// Verify checks a request's Standard Webhooks headers against body, as a
// receiver would: the timestamp within Tolerance of now and one v1
// signature matching. It is the Go verification example of docs/alerts.md.
func Verify(key []byte, header http.Header, body []byte, now time.Time) error {
	id, tsText, sigs := header.Get("webhook-id"), header.Get("webhook-timestamp"), header.Get("webhook-signature")
	if id == "" || tsText == "" || sigs == "" {
		return errors.New("webhook-id, webhook-timestamp and webhook-signature are required")
	}
	sec, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return errors.New("webhook-timestamp is not Unix seconds")
	}
	ts := time.Unix(sec, 0)
	if ts.Before(now.Add(-Tolerance)) || ts.After(now.Add(Tolerance)) {
		return errors.New("webhook-timestamp is outside the replay window")
	}
	want := Sign(key, id, ts, body)
	for _, s := range strings.Fields(sigs) {
		if hmac.Equal([]byte(s), []byte(want)) {
			return nil
		}
	}
	return errors.New("no webhook-signature matches")
}

// Payload is the JSON body of a webhook: the Standard Webhooks envelope.
type Payload struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      Body      `json:"data"`
}

// Body is an event's data as a webhook or e-mail carries it.
type Body struct {
	ID string `json:"id"`
	Data
	// Link is the console page that shows what the event is about.
	Link string `json:"link,omitempty"`
}

// Endpoint is a webhook receiver.
type Endpoint struct {
	Name string
	URL  string
	Key  []byte
}

// Webhooks delivers events to webhook endpoints.
type Webhooks struct {
	Endpoints map[string]Endpoint
	Client    *http.Client
	// Link returns the console page for an event ("" for none).
	Link func(Event) string
	Now  func() time.Time
}

// WebhookClient is an HTTP client for webhook endpoints: TLS 1.2 or
// later verified against the system roots and caFile, no redirects
// followed, timeout bounding each attempt.
func WebhookClient(caFile string, timeout time.Duration) (*http.Client, error) {
	var roots *x509.CertPool
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, err
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
		}
	}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
			Proxy:               http.ProxyFromEnvironment,
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     90 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}

// Render is the webhook body of an event.
func Render(ev Event, link string) ([]byte, error) {
	return json.Marshal(Payload{Type: ev.Type, Timestamp: ev.Time.UTC(), Data: Body{ID: ev.ID, Data: ev.Data, Link: link}})
}

// Send posts the event to the delivery's endpoint.
func (w *Webhooks) Send(ctx context.Context, d *Delivery) error {
	ep, ok := w.Endpoints[d.Target]
	if !ok {
		return &PermanentError{Err: fmt.Errorf("webhook %s is not configured", d.Target)}
	}
	link := ""
	if w.Link != nil {
		link = w.Link(d.Event)
	}
	body, err := Render(d.Event, link)
	if err != nil {
		return &PermanentError{Err: err}
	}
	now := time.Now()
	if w.Now != nil {
		now = w.Now()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		return &PermanentError{Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "gatehouse-webhooks")
	req.Header.Set("webhook-id", d.Event.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", Sign(ep.Key, d.Event.ID, now, body))
	resp, err := w.Client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook %s: %w", ep.Name, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// Any other answer is tried again: a receiver that is down,
		// overloaded or misconfigured may be mended before the last attempt.
		return fmt.Errorf("webhook %s answered %d", ep.Name, resp.StatusCode)
	}
	return nil
}
