package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/gatehouse-gw/gatehouse/alerts"
	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/config"
	"github.com/gatehouse-gw/gatehouse/devenv"
	"github.com/gatehouse-gw/gatehouse/devenv/demo"
	"github.com/gatehouse-gw/gatehouse/devenv/testenv"
	"github.com/gatehouse-gw/gatehouse/server"
)

// writeConfig changes env's configuration and writes it to its file, for
// a gateway run as a process.
func writeConfig(t *testing.T, env *devenv.Env, change func(*config.Config)) {
	t.Helper()
	change(env.Config)
	b, err := yaml.Marshal(env.Config)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(env.ConfigFile, b, 0o600))
	env.Config, err = config.Load(env.ConfigFile, nil)
	require.NoError(t, err)
}

// overrideDisclosure is an emergency disclosure no agreement covers: an
// override for the DPO to review. Its subject identifier and payload must
// never appear in an alert.
func overrideDisclosure() *api.ExchangeDeclaration {
	return &api.ExchangeDeclaration{
		Recipient: "police.northshire", Purpose: "safeguarding-child", LawfulBasis: "A6-1-d",
		DataCategories: []string{"identity", "address-history"}, Subjects: []api.Subject{{Type: "council-ref", Value: "CS-7731"}},
		Justification: "Child at immediate risk at 14 Elm Row; officers attending now", Urgency: "emergency",
		Authoriser: &api.Authoriser{Name: "M. Ade", Rank: "head-of-service"}, ContentType: "text/plain", Size: 21,
	}
}

const overridePayload = "Whereabouts: Elm Row."

// mailTo waits until Mailpit holds a message to addr of the given event
// type and returns it as received, then its body decoded.
func mailTo(t *testing.T, mp *devenv.Mailpit, addr, eventType string) string {
	t.Helper()
	var raw string
	require.Eventually(t, func() bool {
		msgs, err := mp.Messages(context.Background())
		if err != nil {
			return false
		}
		for _, m := range msgs {
			for _, to := range m.To {
				if to.Address != addr {
					continue
				}
				r, err := mp.Raw(context.Background(), m.ID)
				if err != nil || !strings.Contains(r, "X-Gatehouse-Event-Type: "+eventType) {
					continue
				}
				text, err := mp.Text(context.Background(), m.ID)
				if err == nil {
					raw = r + "\n" + text
					return true
				}
			}
		}
		return false
	}, 60*time.Second, 100*time.Millisecond, "no %s mail to %s", eventType, addr)
	return raw
}

// An emergency override reaches the DPO's mailbox at once, through a real
// SMTP server (STARTTLS, login), and says which exchange, what to do and
// by when, with no subject identifier, justification or payload text.
func TestAlertOverrideReachesTheDPOMailbox(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{Mail: true})
	e, err := gw.Client(t, "council.social-care").Send(ctx, overrideDisclosure(), strings.NewReader(overridePayload))
	require.NoError(t, err)
	got, err := gw.Client(t, "council.social-care").Exchange(ctx, e.ID)
	require.NoError(t, err)
	require.NotNil(t, got.Decision.ReviewBy)

	raw := mailTo(t, gw.Mailpit, "dpo@council.example", alerts.OverrideMade)
	require.Contains(t, raw, e.ID)
	require.Contains(t, raw, got.Decision.ReviewBy.UTC().Format(time.RFC3339), "the review's deadline")
	require.Contains(t, raw, "review the emergency override")
	for _, secret := range []string{"CS-7731", "Elm Row", "Whereabouts", "Child at immediate risk"} {
		require.NotContains(t, raw, secret, "an alert carries no personal data")
	}
	// The recipient's contact hears of the delivery, with no more in it.
	raw = mailTo(t, gw.Mailpit, "police.northshire@partners.example", alerts.ExchangeDelivered)
	require.Contains(t, raw, e.ID)
	require.NotContains(t, raw, "CS-7731")
}

// The daily digest lists what is due: here an override awaiting review.
func TestAlertDigestListsWhatIsDue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{Mail: true, Configure: func(c *config.Config) {
		c.Alerts.DigestAt = "00:00" // today's digest is due as soon as something is
	}})
	e, err := gw.Client(t, "council.social-care").Send(ctx, overrideDisclosure(), strings.NewReader(overridePayload))
	require.NoError(t, err)
	raw := mailTo(t, gw.Mailpit, "dpo@council.example", alerts.Digest)
	require.Contains(t, raw, "Daily digest")
	require.Contains(t, raw, e.ID)
	require.Contains(t, raw, "review the emergency override")
	require.NotContains(t, raw, "CS-7731")
	raw = mailTo(t, gw.Mailpit, "information-governance@council.example", alerts.Digest)
	require.Contains(t, raw, e.ID)
	// One digest a day, however often the reminders run.
	time.Sleep(3 * time.Second) // several reminder passes (every 2s in tests)
	msgs, err := gw.Mailpit.Messages(ctx)
	require.NoError(t, err)
	digests := 0
	for _, m := range msgs {
		if strings.Contains(m.Subject, "Daily digest") {
			digests++
		}
	}
	require.Equal(t, 2, digests, "one to the DPO, one to information governance")
}

// With the SMTP server down the alert waits, its failures visible in the
// admin API, and is delivered once the server is back.
func TestAlertSMTPDownDeliveredAfterItReturns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{Mail: true})
	require.NoError(t, gw.Mailpit.Stop())
	e, err := gw.Client(t, "council.social-care").Send(ctx, overrideDisclosure(), strings.NewReader(overridePayload))
	require.NoError(t, err)
	admin := gw.Admin(t, "dana", "dpo")
	var failing api.AlertDelivery
	require.Eventually(t, func() bool {
		ds, err := admin.AlertDeliveries(ctx, alerts.StatePending)
		if err != nil {
			return false
		}
		for _, d := range ds {
			if d.EventType == alerts.OverrideMade && d.Target == "dpo@council.example" && d.Attempts >= 2 {
				failing = d
				return true
			}
		}
		return false
	}, 60*time.Second, 100*time.Millisecond)
	require.Contains(t, failing.LastError, "smtp")
	// The failures show in the metrics too.
	hc := testenv.HTTPClient(t, gw.Env.CAFile())
	require.Eventually(t, func() bool {
		req, _ := http.NewRequest(http.MethodGet, gw.AdminURL+"/metrics", nil)
		req.Header.Set("Authorization", "Bearer "+gw.Token(t, "aziz", "auditor"))
		resp, err := hc.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		text := string(b)
		return strings.Contains(text, `gatehouse_alert_attempts_total{channel="email",outcome="failed"}`) &&
			strings.Contains(text, `gatehouse_outbox_depth{channel="email",state="pending"}`) &&
			strings.Contains(text, "gatehouse_overrides_awaiting_review ")
	}, 30*time.Second, 200*time.Millisecond)
	require.NoError(t, gw.Mailpit.Restart(ctx))
	raw := mailTo(t, gw.Mailpit, "dpo@council.example", alerts.OverrideMade)
	require.Contains(t, raw, e.ID)
	// The attempt is recorded a moment after the server took the message.
	var delivered *api.AlertDelivery
	require.Eventually(t, func() bool {
		ds, err := admin.AlertDeliveries(ctx, alerts.StateDelivered)
		if err != nil {
			return false
		}
		for i := range ds {
			if ds[i].ID == failing.ID {
				delivered = &ds[i]
			}
		}
		return delivered != nil
	}, 30*time.Second, 50*time.Millisecond, "the delivery that failed is recorded as delivered")
	require.Greater(t, delivered.Attempts, failing.Attempts)
}

// hookReceiver is a partner's webhook endpoint on real TLS: it records
// every request and answers with what answer says.
type hookReceiver struct {
	srv    *httptest.Server
	caFile string
	mu     sync.Mutex
	reqs   []hookRequest
	answer func(n int) int
}

type hookRequest struct {
	Header http.Header
	Body   []byte
	Status int
	At     time.Time
}

func newHookReceiver(t *testing.T) *hookReceiver {
	t.Helper()
	h := &hookReceiver{answer: func(int) int { return http.StatusNoContent }}
	h.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		status := h.answer(len(h.reqs))
		h.reqs = append(h.reqs, hookRequest{Header: r.Header.Clone(), Body: body, Status: status, At: time.Now()})
		h.mu.Unlock()
		w.WriteHeader(status)
	}))
	h.srv.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	h.srv.StartTLS()
	t.Cleanup(h.srv.Close)
	h.caFile = filepath.Join(t.TempDir(), "receiver-ca.pem")
	require.NoError(t, os.WriteFile(h.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: h.srv.Certificate().Raw}), 0o644))
	return h
}

func (h *hookReceiver) setAnswer(f func(n int) int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.answer = f
}

func (h *hookReceiver) requests() []hookRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookRequest(nil), h.reqs...)
}

// ofType returns the requests whose payload is of the event type.
func (h *hookReceiver) ofType(typ string) []hookRequest {
	var out []hookRequest
	for _, r := range h.requests() {
		var p struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(r.Body, &p) == nil && p.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

// webhook is the configuration of an endpoint at h for party, with a
// fresh secret.
func (h *hookReceiver) webhook(t *testing.T, name, party string) (config.Webhook, string) {
	t.Helper()
	secret := alerts.NewSecret()
	file := filepath.Join(t.TempDir(), name+".secret")
	require.NoError(t, os.WriteFile(file, []byte(secret+"\n"), 0o600))
	return config.Webhook{Name: name, URL: h.srv.URL + "/hooks/gatehouse", Party: party, SecretFile: file, CAFile: h.caFile}, secret
}

// verifyWithNode checks a request's signature with the Standard Webhooks
// reference library for JavaScript, and returns the payload it verified.
func verifyWithNode(t *testing.T, secret string, r hookRequest) (map[string]any, error) {
	t.Helper()
	root, err := devenv.ModuleRoot()
	require.NoError(t, err)
	if _, err := os.Stat(filepath.Join(root, "interop", "node_modules", "standardwebhooks")); err != nil {
		t.Fatalf("interop/node_modules is missing: run 'make test' (it runs npm ci in interop/)")
	}
	node, err := exec.LookPath("node")
	require.NoError(t, err, "Node.js is needed to verify webhooks independently")
	headers := map[string]string{}
	for _, k := range []string{"webhook-id", "webhook-timestamp", "webhook-signature"} {
		headers[k] = r.Header.Get(k)
	}
	doc, err := json.Marshal(map[string]any{"secret": secret, "headers": headers, "body": string(r.Body)})
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "request.json")
	require.NoError(t, os.WriteFile(file, doc, 0o600))
	out, err := exec.Command(node, filepath.Join(root, "interop", "verify-webhook.mjs"), file).Output()
	if err != nil {
		return nil, err
	}
	var payload map[string]any
	require.NoError(t, json.Unmarshal(out, &payload))
	return payload, nil
}

// A partner's webhook fires when an exchange is delivered to it, signed by
// the Standard Webhooks scheme: the JavaScript reference library verifies
// it, and refuses it when the body or the secret differ.
func TestWebhookSignatureVerifiesIndependently(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHookReceiver(t)
	hook, secret := h.webhook(t, "police-cms", "police.northshire")
	gw := testenv.StartGateway(t, testenv.GatewayOptions{Configure: func(c *config.Config) { c.Alerts.Webhooks = []config.Webhook{hook} }})
	e, err := gw.Client(t, "council.revenues").Send(ctx, policeDisclosure(5), strings.NewReader("hello"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(h.ofType(alerts.ExchangeDelivered)) > 0 }, 30*time.Second, 50*time.Millisecond)
	r := h.ofType(alerts.ExchangeDelivered)[0]
	require.Equal(t, "application/json", r.Header.Get("Content-Type"))
	require.True(t, strings.HasPrefix(r.Header.Get("webhook-id"), "evt_"))
	require.True(t, strings.HasPrefix(r.Header.Get("webhook-signature"), "v1,"))

	payload, err := verifyWithNode(t, secret, r)
	require.NoError(t, err, "the reference implementation verifies the signature")
	require.Equal(t, alerts.ExchangeDelivered, payload["type"])
	data := payload["data"].(map[string]any)
	require.Equal(t, e.ID, data["exchange"])
	require.Equal(t, r.Header.Get("webhook-id"), data["id"])
	require.Equal(t, "council.revenues", data["party"])
	require.NotContains(t, string(r.Body), "QQ123456C")

	tampered := r
	tampered.Body = []byte(strings.Replace(string(r.Body), e.ID, "0000", 1))
	_, err = verifyWithNode(t, secret, tampered)
	require.Error(t, err, "a changed body does not verify")
	_, err = verifyWithNode(t, alerts.NewSecret(), r)
	require.Error(t, err, "another secret does not verify")
	// Our own verifier agrees.
	key, err := alerts.ParseSecret(secret)
	require.NoError(t, err)
	require.NoError(t, alerts.Verify(key, r.Header, r.Body, time.Now()))
}

// A receiver answering 500 gets the same event again, with the waits
// between attempts doubling, until it answers 2xx; every attempt is
// recorded.
func TestWebhookRetriesWithBackoff(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHookReceiver(t)
	h.setAnswer(func(int) int { return http.StatusInternalServerError })
	hook, _ := h.webhook(t, "police-cms", "police.northshire")
	gw := testenv.StartGateway(t, testenv.GatewayOptions{Configure: func(c *config.Config) {
		c.Alerts.Webhooks = []config.Webhook{hook}
		c.Alerts.RetryMin, c.Alerts.RetryMax = 100*time.Millisecond, 10*time.Second
	}})
	_, err := gw.Client(t, "council.revenues").Send(ctx, policeDisclosure(5), strings.NewReader("hello"))
	require.NoError(t, err)
	admin := gw.Admin(t, "aziz", "auditor")
	// The delivery's record says when the next attempt is due: the wait
	// after n failures is retry_min × 2^(n-1).
	waits := map[int]time.Duration{}
	require.Eventually(t, func() bool {
		ds, err := admin.AlertDeliveries(ctx, alerts.StatePending)
		if err != nil || len(ds) != 1 {
			return false
		}
		d := ds[0]
		if d.Attempts > 0 && !d.LastAt.IsZero() && !d.NextAt.IsZero() {
			waits[d.Attempts] = d.NextAt.Sub(d.LastAt)
		}
		return d.Attempts >= 4
	}, 60*time.Second, 20*time.Millisecond)
	for n, wait := range waits {
		require.Equal(t, 100*time.Millisecond<<(n-1), wait, "the wait after attempt %d", n)
	}
	require.GreaterOrEqual(t, len(waits), 2, "the waits of several attempts were seen")
	h.setAnswer(func(int) int { return http.StatusOK })
	require.Eventually(t, func() bool {
		ds, err := admin.AlertDeliveries(ctx, alerts.StateDelivered)
		return err == nil && len(ds) == 1
	}, 60*time.Second, 50*time.Millisecond)
	reqs := h.ofType(alerts.ExchangeDelivered)
	require.GreaterOrEqual(t, len(reqs), 5)
	for _, r := range reqs {
		require.Equal(t, reqs[0].Header.Get("webhook-id"), r.Header.Get("webhook-id"), "every retry carries the event's id")
	}
	require.Equal(t, http.StatusOK, reqs[len(reqs)-1].Status)
}

// A partner's webhook hears of an exchange delivered to it and of a
// rectification notice about data it received; another partner's hears
// of neither.
func TestWebhookPartnerHearsOfDeliveriesAndRectifications(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	police, dwp := newHookReceiver(t), newHookReceiver(t)
	policeHook, secret := police.webhook(t, "police-cms", "police.northshire")
	dwpHook, _ := dwp.webhook(t, "dwp-cms", "dwp")
	gw := testenv.StartGateway(t, testenv.GatewayOptions{Configure: func(c *config.Config) {
		c.Alerts.Webhooks = []config.Webhook{policeHook, dwpHook}
	}})
	e, err := gw.Client(t, "council.revenues").Send(ctx, policeDisclosure(5), strings.NewReader("hello"))
	require.NoError(t, err)
	rect, err := gw.Admin(t, "dana", "dpo").Rectify(ctx, api.RectificationRequest{
		Subject: &api.Subject{Type: "nino", Value: "QQ123456C"}, Action: "corrected", Description: "Address corrected",
	})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(police.ofType(alerts.RectificationNotice)) > 0 }, 30*time.Second, 50*time.Millisecond)
	require.Len(t, police.ofType(alerts.ExchangeDelivered), 1)
	r := police.ofType(alerts.RectificationNotice)[0]
	payload, err := verifyWithNode(t, secret, r)
	require.NoError(t, err)
	require.Equal(t, rect.ID, payload["data"].(map[string]any)["rectification"])
	require.NotContains(t, string(r.Body), "QQ123456C")
	require.NotContains(t, string(r.Body), "Address corrected", "the notice's text is fetched over the API, not pushed")
	d := police.ofType(alerts.ExchangeDelivered)[0]
	require.Contains(t, string(d.Body), e.ID)
	require.Empty(t, dwp.requests(), "dwp received nothing, so hears of nothing")
}

// The gateway killed while events wait (the receiver down): after a
// restart every event is delivered, and the receiver accepts each event
// id once.
func TestWebhookKilledWithEventsPendingDeliversOnceAfterRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	bin := buildGatehouse(t, dir)
	m := testenv.MinIO(t)
	listen, err := devenv.FreeAddr()
	require.NoError(t, err)
	env, err := devenv.Prepare(filepath.Join(dir, "gw"), devenv.Options{
		Listen: listen, TrustDomain: demo.TrustDomain, Parties: demo.PartyIDs(),
		ObjectsEndpoint: m.Endpoint, AccessKey: m.AccessKey, SecretKey: m.SecretKey, Bucket: "e2e-" + testenv.RandomHex(6),
	})
	require.NoError(t, err)
	h := newHookReceiver(t)
	h.setAnswer(func(int) int { return http.StatusServiceUnavailable })
	hook, _ := h.webhook(t, "police-cms", "police.northshire")
	writeConfig(t, env, func(c *config.Config) {
		c.Alerts.Webhooks = []config.Webhook{hook}
		c.Alerts.Poll, c.Alerts.RetryMin, c.Alerts.RetryMax, c.Alerts.Lease = 50*time.Millisecond, 100*time.Millisecond, 300*time.Millisecond, 2*time.Second
	})
	a, err := server.New(ctx, env.Config, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	require.NoError(t, demo.Seed(ctx, a.Agreements, env.EncryptionKeys))
	require.NoError(t, a.Close())
	p := startGatewayProcess(t, bin, env)
	council := partyClient(t, env, "council.revenues")
	const n = 5
	for range n {
		_, err := council.Send(ctx, policeDisclosure(5), strings.NewReader("hello"))
		require.NoError(t, err)
	}
	ids := func(status int) map[string]int {
		out := map[string]int{}
		for _, r := range h.ofType(alerts.ExchangeDelivered) {
			if status == 0 || r.Status == status {
				out[r.Header.Get("webhook-id")]++
			}
		}
		return out
	}
	require.Eventually(t, func() bool { return len(ids(0)) == n }, 60*time.Second, 50*time.Millisecond, "every event was attempted")
	require.NoError(t, p.cmd.Process.Kill())
	_, _ = p.cmd.Process.Wait()
	h.setAnswer(func(int) int { return http.StatusOK })
	startGatewayProcess(t, bin, env)
	require.Eventually(t, func() bool { return len(ids(http.StatusOK)) == n }, 60*time.Second, 50*time.Millisecond,
		"every event is delivered after the restart")
	time.Sleep(time.Second) // time for a duplicate, if there were one, to arrive
	for id, count := range ids(http.StatusOK) {
		require.Equal(t, 1, count, "event %s accepted once", id)
	}
}

// The sender's command line says an override was made and by when the DPO
// must review it; the recipient's inbox (API and command line) shows the
// urgency and that it is an override.
func TestAlertOverrideShownToSenderAndRecipient(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	as := func(party string, args ...string) []string {
		return append([]string{"client", "--gateway", gw.URL, "--cert", gw.Env.CertFile(party), "--key", gw.Env.KeyFile(party), "--ca", gw.Env.CAFile()}, args...)
	}
	file := filepath.Join(t.TempDir(), "whereabouts.txt")
	require.NoError(t, os.WriteFile(file, []byte(overridePayload), 0o600))
	out, _, err := gatehouse(t, as("council.social-care", "send", file, "--to", "police.northshire", "--purpose", "safeguarding-child",
		"--basis", "A6-1-d", "--category", "identity,address-history", "--subject", "council-ref:CS-7731",
		"--justification", "Child at immediate risk; officers attending now", "--urgency", "emergency",
		"--authoriser", "M. Ade", "--rank", "head-of-service")...)
	require.NoError(t, err)
	require.Contains(t, out, "an emergency override: a DPO must review it by ")

	inbox, err := gw.Client(t, "police.northshire").Inbox(ctx, "", 0)
	require.NoError(t, err)
	require.Len(t, inbox.Exchanges, 1)
	e := inbox.Exchanges[0]
	require.True(t, e.Override)
	require.Equal(t, "emergency", e.Urgency)
	require.NotNil(t, e.OverrideReviewBy)
	require.Contains(t, out, e.OverrideReviewBy.UTC().Format(time.RFC3339))
	require.Nil(t, e.Decision, "the recipient sees that it is an override, not the sender's checks")

	out, _, err = gatehouse(t, as("police.northshire", "inbox")...)
	require.NoError(t, err)
	require.Contains(t, out, "URGENCY")
	require.Contains(t, out, "emergency OVERRIDE")
}

// An audit record that no longer verifies (an entry edited behind the
// gateway's back) is reported at once to the operators, the DPO and the
// auditors.
func TestAlertAuditBrokenReachesTheOperators(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{Mail: true, Configure: func(c *config.Config) {
		c.Alerts.VerifyEvery = time.Second
	}})
	_, err := gw.Client(t, "council.revenues").Send(ctx, policeDisclosure(5), strings.NewReader("hello"))
	require.NoError(t, err)
	db := gw.App.DB.SQL()
	_, err = db.Exec("DROP TRIGGER audit_log_no_update")
	require.NoError(t, err)
	res, err := db.Exec(`UPDATE audit_log SET body = replace(body, '"actor":"', '"actor":"x') WHERE seq = 3`)
	require.NoError(t, err)
	n, err := res.RowsAffected()
	require.NoError(t, err)
	require.Equal(t, int64(1), n)
	raw := mailTo(t, gw.Mailpit, "operators@council.example", alerts.AuditBroken)
	require.Contains(t, raw, "audit chain broken at seq 3")
	mailTo(t, gw.Mailpit, "dpo@council.example", alerts.AuditBroken)
	mailTo(t, gw.Mailpit, "audit@council.example", alerts.AuditBroken)
}

// Two nodes on one PostgreSQL database share one outbox: each event is
// delivered once, whichever node wrote it and whichever delivers it.
func TestWebhookTwoNodesDeliverEachEventOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHookReceiver(t)
	hook, _ := h.webhook(t, "police-cms", "police.northshire")
	configure := func(c *config.Config) { c.Alerts.Webhooks = []config.Webhook{hook} }
	dsn := testenv.Postgres(t)
	a := testenv.StartGateway(t, testenv.GatewayOptions{Postgres: true, DSN: dsn, Configure: configure})
	b := testenv.StartGateway(t, testenv.GatewayOptions{Postgres: true, DSN: dsn, Dir: a.Env.Dir, Bucket: a.Env.Config.Objects.Bucket, Configure: configure})
	const each = 6
	var wg sync.WaitGroup
	for _, gw := range []*testenv.Gateway{a, b} {
		council := gw.Client(t, "council.revenues")
		wg.Go(func() {
			for range each {
				_, err := council.Send(ctx, policeDisclosure(5), strings.NewReader("hello"))
				require.NoError(t, err)
			}
		})
	}
	wg.Wait()
	count := func() map[string]int {
		out := map[string]int{}
		for _, r := range h.ofType(alerts.ExchangeDelivered) {
			out[r.Header.Get("webhook-id")]++
		}
		return out
	}
	require.Eventually(t, func() bool { return len(count()) == 2*each }, 60*time.Second, 50*time.Millisecond)
	time.Sleep(time.Second) // time for a duplicate, if there were one, to arrive
	for id, n := range count() {
		require.Equal(t, 1, n, "event %s delivered once", id)
	}
}
