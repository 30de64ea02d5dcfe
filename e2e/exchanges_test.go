package e2e

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/devenv/testenv"
	"github.com/gatehouse-gw/gatehouse/exchange/seal"
)

const analyticsYAML = `
id: fraud-analytics
title: Counter-fraud analytics with pseudonymised identifiers
controllers: separate
signatories:
  - {party: council.fraud, name: S. Byrne, role: Section 151 Officer}
dpia: {reference: NSC-DPIA-2026-019, completed: 2026-04-01, outcome: approved, approver: DPO}
effective_from: 2026-05-01
review_by: 2027-05-01
retention: 14d
subject_notification: {default: notify}
flows:
  - from: [council.fraud]
    to: [cabinet-office.nfi]
    purposes: [fraud-prevention-detection]
    lawful_bases: [A6-1-c]
    data_categories: [identity, financial]
    fields:
      allow: [case_ref, nino, amount, postcode]
      pseudonymise: [nino]
      on_extra: ONEXTRA
`

// registerAnalytics registers and activates the fraud-analytics agreement
// with the given handling of extra fields.
func registerAnalytics(t *testing.T, gw *testenv.Gateway, onExtra string) {
	t.Helper()
	ctx := context.Background()
	admin, dpo := gw.Admin(t, "alice", "admin"), gw.Admin(t, "dana", "dpo")
	a, err := admin.Register(ctx, []byte(strings.Replace(analyticsYAML, "ONEXTRA", onExtra, 1)), "application/yaml")
	require.NoError(t, err)
	_, err = dpo.Approve(ctx, a.ID, a.Version, a.SHA256)
	require.NoError(t, err)
	_, err = admin.Activate(ctx, a.ID, a.Version, a.SHA256)
	require.NoError(t, err)
}

func analyticsDeclaration(contentType string, size int) *api.ExchangeDeclaration {
	return &api.ExchangeDeclaration{
		Agreement: "fraud-analytics", Recipient: "cabinet-office.nfi", Purpose: "fraud-prevention-detection",
		LawfulBasis: "A6-1-c", DataCategories: []string{"identity", "financial"}, SubjectCount: 2,
		ContentType: contentType, Size: int64(size),
	}
}

func TestStructuredPayloadsAreMinimised(t *testing.T) {
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	registerAnalytics(t, gw, "strip")
	fraud, nfi := gw.Client(t, "council.fraud"), gw.Client(t, "cabinet-office.nfi")

	payload := `[{"case_ref":"F-1","nino":"QQ123456C","religion":"x","amount":1200},{"case_ref":"F-2","nino":"AB654321D","health":"y","postcode":"NS1 1AA"}]`
	e, err := fraud.Send(ctx, analyticsDeclaration("application/json", len(payload)), strings.NewReader(payload))
	require.NoError(t, err)
	var got bytes.Buffer
	m, err := nfi.Fetch(ctx, e.ID, gw.DecryptKey(t, "cabinet-office.nfi"), &got)
	require.NoError(t, err)
	require.NotContains(t, got.String(), "QQ123456C")
	require.NotContains(t, got.String(), "religion")
	require.NotContains(t, got.String(), "health")
	var records []map[string]any
	require.NoError(t, json.Unmarshal(got.Bytes(), &records))
	require.Len(t, records, 2)
	require.Equal(t, "F-1", records[0]["case_ref"])
	pn1 := records[0]["nino"].(string)
	require.True(t, strings.HasPrefix(pn1, "hmac-sha256:"))
	require.Equal(t, &seal.Minimisation{Format: "json", Mode: "strip", Records: 2, Subjects: 2, Stripped: []string{"health", "religion"}, Pseudonymised: []string{"nino"}}, m.Minimised)
	require.Equal(t, int64(got.Len()), m.Plaintext.Size)

	// The same person gets the same pseudonym in a CSV under the same agreement.
	csvPayload := "case_ref,nino,amount,ethnicity\nF-3,QQ123456C,75,z\n"
	e2, err := fraud.Send(ctx, analyticsDeclaration("text/csv", len(csvPayload)), strings.NewReader(csvPayload))
	require.NoError(t, err)
	got.Reset()
	m2, err := nfi.Fetch(ctx, e2.ID, gw.DecryptKey(t, "cabinet-office.nfi"), &got)
	require.NoError(t, err)
	rows, err := csv.NewReader(&got).ReadAll()
	require.NoError(t, err)
	require.Equal(t, [][]string{{"case_ref", "nino", "amount"}, {"F-3", pn1, "75"}}, rows)
	require.Equal(t, []string{"ethnicity"}, m2.Minimised.Stripped)

	// The audit record says what was stripped, and the digest of what was received.
	sealed := adminEntries(t, gw)[audit.TypeExchangeSealed]
	require.Len(t, sealed, 2)
	require.Equal(t, "json, 2 records, strip, 2 subjects; stripped health,religion; pseudonymised nino", sealed[0].Detail["minimised"])
	require.NotEqual(t, sealed[0].PayloadDigest, sealed[0].Detail["received_digest"])

	// A flow with an allowlist takes only JSON or CSV.
	_, err = fraud.Declare(ctx, analyticsDeclaration("application/pdf", 10))
	p := requireProblem(t, err, http.StatusBadRequest, "invalid-request")
	require.Equal(t, "content_type", p.Errors[0].Field)

	// A malformed payload stores nothing.
	bad := `[{"case_ref":"F-9",`
	d := analyticsDeclaration("application/json", len(bad))
	e3, err := fraud.Declare(ctx, d)
	require.NoError(t, err)
	_, err = fraud.Upload(ctx, e3.ID, strings.NewReader(bad), int64(len(bad)))
	requireProblem(t, err, http.StatusBadRequest, "payload-malformed")
	keys, err := gw.App.Objects.Keys(ctx, "payloads/"+e3.ID)
	require.NoError(t, err)
	require.Empty(t, keys)
}

func TestFieldsOutsideTheAllowlistCanBeRefused(t *testing.T) {
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	registerAnalytics(t, gw, "refuse")
	fraud := gw.Client(t, "council.fraud")

	payload := `[{"case_ref":"F-1","nino":"QQ123456C"},{"case_ref":"F-2","religion":"x"}]`
	e, err := fraud.Declare(ctx, analyticsDeclaration("application/json", len(payload)))
	require.NoError(t, err)
	_, err = fraud.Upload(ctx, e.ID, strings.NewReader(payload), int64(len(payload)))
	p := requireProblem(t, err, http.StatusUnprocessableEntity, "payload-fields-refused")
	require.Equal(t, "religion", p.Errors[0].Field)
	keys, err := gw.App.Objects.Keys(ctx, "payloads/")
	require.NoError(t, err)
	require.Empty(t, keys, "nothing stored")
	failed := adminEntries(t, gw)[audit.TypeExchangeFailed]
	require.Len(t, failed, 1)
	require.Equal(t, "fields-refused: [religion]", failed[0].Detail["reason"])

	// Cleaned up, the same exchange goes through.
	clean := `[{"case_ref":"F-1","nino":"QQ123456C"},{"case_ref":"F-2"}]`
	d := analyticsDeclaration("application/json", len(clean))
	e2, err := fraud.Declare(ctx, d)
	require.NoError(t, err)
	_, err = fraud.Upload(ctx, e2.ID, strings.NewReader(clean), int64(len(clean)))
	require.NoError(t, err)
}

func TestAcknowledge(t *testing.T) {
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	e, err := gw.Client(t, "council.revenues").Send(ctx, policeDisclosure(4), strings.NewReader("data"))
	require.NoError(t, err)
	police := gw.Client(t, "police.northshire")
	require.Equal(t, "/v1/exchanges/"+e.ID+"/ack", mustExchange(t, police, e.ID).Links["ack"])
	acked, err := police.Acknowledge(ctx, e.ID)
	require.NoError(t, err)
	require.Equal(t, "acknowledged", acked.State)
	require.False(t, acked.AcknowledgedAt.IsZero())
	again, err := police.Acknowledge(ctx, e.ID)
	require.NoError(t, err)
	require.Equal(t, acked.AcknowledgedAt, again.AcknowledgedAt, "acknowledging twice changes nothing")
	_, err = gw.Client(t, "dwp").Acknowledge(ctx, e.ID)
	requireProblem(t, err, http.StatusNotFound, "exchange-not-found")
	_, err = gw.Client(t, "council.revenues").Acknowledge(ctx, e.ID)
	requireProblem(t, err, http.StatusNotFound, "exchange-not-found")
	require.Len(t, adminEntries(t, gw)["exchange.acknowledged"], 1)
	// Still fetchable after acknowledgement.
	var out bytes.Buffer
	_, err = police.Fetch(ctx, e.ID, gw.DecryptKey(t, "police.northshire"), &out)
	require.NoError(t, err)
}

func mustExchange(t *testing.T, c interface {
	Exchange(context.Context, string) (*api.Exchange, error)
}, id string) *api.Exchange {
	t.Helper()
	e, err := c.Exchange(context.Background(), id)
	require.NoError(t, err)
	return e
}

func TestIdempotencyKey(t *testing.T) {
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	hc := testenv.PartyHTTPClient(t, gw, "council.revenues")
	post := func(key string, d *api.ExchangeDeclaration) (*http.Response, api.Exchange) {
		b, _ := json.Marshal(d)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, gw.URL+"/v1/exchanges", bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		resp, err := hc.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var e api.Exchange
		body, _ := io.ReadAll(resp.Body)
		_ = json.Unmarshal(body, &e)
		return resp, e
	}
	d := policeDisclosure(10)
	r1, e1 := post("key-1", d)
	require.Equal(t, http.StatusCreated, r1.StatusCode)
	r2, e2 := post("key-1", d)
	require.Equal(t, http.StatusCreated, r2.StatusCode)
	require.Equal(t, e1.ID, e2.ID, "a retry returns the exchange the first attempt created")
	require.Equal(t, "true", r2.Header.Get("Idempotent-Replayed"))
	d2 := policeDisclosure(11)
	r3, _ := post("key-1", d2)
	require.Equal(t, http.StatusUnprocessableEntity, r3.StatusCode)
	r4, _ := post(strings.Repeat("x", 300), d)
	require.Equal(t, http.StatusBadRequest, r4.StatusCode)

	// Racing retries create one exchange.
	var wg sync.WaitGroup
	ids := make([]string, 8)
	for i := range ids {
		wg.Go(func() {
			resp, e := post("race", d)
			if resp.StatusCode == http.StatusCreated {
				ids[i] = e.ID
			}
		})
	}
	wg.Wait()
	for _, id := range ids {
		require.Equal(t, ids[0], id)
	}
	n, err := gw.App.DB.CountExchanges(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, n)
}

func TestRetentionDeletesPayloadsAndKeepsTheRecord(t *testing.T) {
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	e, err := gw.Client(t, "council.revenues").Send(ctx, policeDisclosure(4), strings.NewReader("data"))
	require.NoError(t, err)
	police := gw.Client(t, "police.northshire")
	view := mustExchange(t, police, e.ID)
	require.WithinDuration(t, time.Now().Add(90*24*time.Hour), view.ExpiresAt, time.Minute, "police-crime keeps payloads 90 days")

	// The object is locked until then.
	m, err := police.OpenEnvelope(ctx, e.ID, gw.DecryptKey(t, "police.northshire"))
	require.NoError(t, err)
	mode, until, err := gw.App.Objects.Retention(ctx, m.Object.Key, m.Object.Version)
	require.NoError(t, err)
	require.Equal(t, "GOVERNANCE", mode)
	require.WithinDuration(t, view.ExpiresAt, until, time.Second)
	err = gw.App.Objects.Client().RemoveObject(ctx, m.Object.Bucket, m.Object.Key, minio.RemoveObjectOptions{VersionID: m.Object.Version})
	require.Error(t, err, "the lock holds against a plain delete")

	// Nothing happens before the retention ends.
	gw.App.SweepOnce(ctx)
	require.Equal(t, "delivered", mustExchange(t, police, e.ID).State)

	gw.App.Service.SetClock(func() time.Time { return time.Now().Add(91 * 24 * time.Hour) })
	gw.App.SweepOnce(ctx)
	after := mustExchange(t, police, e.ID)
	require.Equal(t, "expired", after.State, "the metadata stays")
	keys, err := gw.App.Objects.Keys(ctx, "payloads/"+e.ID)
	require.NoError(t, err)
	require.Empty(t, keys, "the payload is gone")
	_, err = police.PayloadReader(ctx, e.ID, 0)
	requireProblem(t, err, http.StatusGone, "payload-expired")
	_, err = police.Envelope(ctx, e.ID)
	requireProblem(t, err, http.StatusGone, "payload-expired")
	deleted := adminEntries(t, gw)["exchange.payload-deleted"]
	require.Len(t, deleted, 1)
	require.Equal(t, e.ID, deleted[0].Exchange)
	gw.App.SweepOnce(ctx)
	require.Len(t, adminEntries(t, gw)["exchange.payload-deleted"], 1, "sweeping again records nothing new")
}

func TestMultipartUploadAbortsCleanly(t *testing.T) {
	if testing.Short() {
		t.Skip("uploads 40 MiB")
	}
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	council := gw.Client(t, "council.revenues")
	const size = 40 << 20 // several 8 MiB parts
	payload := randomBytes(t, size)

	// Longer than declared, in the last part: the upload is aborted.
	e, err := council.Declare(ctx, policeDisclosure(size))
	require.NoError(t, err)
	_, err = council.Upload(ctx, e.ID, io.MultiReader(bytes.NewReader(payload), strings.NewReader("extra")), -1)
	requireProblem(t, err, http.StatusBadRequest, "payload-size-mismatch")
	keys, err := gw.App.Objects.Keys(ctx, "payloads/")
	require.NoError(t, err)
	require.Empty(t, keys)
	var incomplete int
	for u := range gw.App.Objects.Client().ListIncompleteUploads(ctx, gw.App.Objects.Bucket(), "payloads/", true) {
		require.NoError(t, u.Err)
		incomplete++
	}
	require.Zero(t, incomplete, "no multipart upload is left behind")

	_, err = council.Upload(ctx, e.ID, bytes.NewReader(payload), size)
	require.NoError(t, err)
	var got bytes.Buffer
	_, err = gw.Client(t, "police.northshire").Fetch(ctx, e.ID, gw.DecryptKey(t, "police.northshire"), &got)
	require.NoError(t, err)
	require.True(t, bytes.Equal(payload, got.Bytes()))
	fmt.Fprint(io.Discard, got.Len())
}

func TestDownloadResumes(t *testing.T) {
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	payload := randomBytes(t, 3<<20+12345)
	e, err := gw.Client(t, "council.revenues").Send(ctx, policeDisclosure(int64(len(payload))), bytes.NewReader(payload))
	require.NoError(t, err)
	police := gw.Client(t, "police.northshire")
	key := gw.DecryptKey(t, "police.northshire")

	// A first attempt stopped after 1 MiB of ciphertext.
	dir := t.TempDir()
	out := filepath.Join(dir, "case.bin")
	body, err := police.PayloadReader(ctx, e.ID, 0)
	require.NoError(t, err)
	head := make([]byte, 1<<20)
	_, err = io.ReadFull(body, head)
	require.NoError(t, err)
	body.Close()
	require.NoError(t, os.WriteFile(out+"."+e.ID+".part", head, 0o600))

	var resumedFrom int64 = -1
	m, err := police.Download(ctx, e.ID, key, out, func(r io.Reader, size int64) io.Reader {
		resumedFrom = m0(e) - size
		return r
	})
	require.NoError(t, err)
	require.Equal(t, int64(1<<20), resumedFrom, "only the rest was downloaded")
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	require.True(t, bytes.Equal(payload, got))
	require.Equal(t, e.Payload.SHA256, m.Plaintext.SHA256)
	_, err = os.Stat(out + "." + e.ID + ".part")
	require.True(t, os.IsNotExist(err), "the partial ciphertext is removed")

	// A corrupt partial file fails the checks, leaves no output, and is discarded.
	bad := bytes.Clone(head)
	bad[5000] ^= 1
	out2 := filepath.Join(dir, "case2.bin")
	require.NoError(t, os.WriteFile(out2+"."+e.ID+".part", bad, 0o600))
	_, err = police.Download(ctx, e.ID, key, out2, nil)
	require.Error(t, err)
	_, err = os.Stat(out2)
	require.True(t, os.IsNotExist(err))
	_, err = police.Download(ctx, e.ID, key, out2, nil)
	require.NoError(t, err, "the next attempt starts afresh")
}

// m0 is the ciphertext size of an exchange as the sender saw it.
func m0(e *api.Exchange) int64 { return e.Payload.CiphertextSize }
