package exchange_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/exchange"
	"github.com/gatehouse-gw/gatehouse/exchange/seal"
	"github.com/gatehouse-gw/gatehouse/store"
)

// The tests run the service as server/app.go wires it: a store.DB on
// SQLite (in t.TempDir), its registry cache, the real seal keys, and an
// object store in memory in place of S3.

// t0 is the tests' "now": the fixture agreements are in force then.
var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// Fixture parties.
const (
	revenues = "council.revenues"
	legal    = "council.legal"
	police   = "police.northshire"
	dwp      = "dwp"
	hmrc     = "hmrc" // registered without an encryption key
)

// defaultMaxPayload is the tests' limits.max_payload_size.
const defaultMaxPayload = 1 << 20

// oneRequestMax is the tests' limits.one_request_max.
const oneRequestMax = 64 << 10

// clock is a settable time source shared by the service and the object store.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func fixtureParties() []*agreements.Party {
	return []*agreements.Party{
		{ID: revenues, Kind: agreements.KindCouncilService, Name: "Revenues and Benefits", Status: agreements.PartyActive},
		{ID: legal, Kind: agreements.KindCouncilService, Name: "Legal Services", Status: agreements.PartyActive},
		{ID: police, Kind: agreements.KindPolice, Name: "Northshire Police", Status: agreements.PartyActive},
		{ID: dwp, Kind: agreements.KindDWP, Name: "Department for Work and Pensions", Status: agreements.PartyActive},
		{ID: hmrc, Kind: agreements.KindHMRC, Name: "HM Revenue and Customs", Status: agreements.PartyActive},
	}
}

// fixtureAgreement is an active version 1 in force at t0.
func fixtureAgreement(id string, retention time.Duration, flows ...agreements.Flow) *agreements.Agreement {
	var signatories []agreements.Signatory
	for _, p := range slices.Compact(slices.Sorted(slices.Values(slices.Concat(flows[0].From, flows[0].To)))) {
		signatories = append(signatories, agreements.Signatory{Party: p, Name: "Signatory of " + p, Role: "Data Protection Officer"})
	}
	return &agreements.Agreement{Signatories: signatories,
		ID: id, Version: 1, Status: agreements.StatusActive, Title: id, Controllers: "separate",
		DPIA:          &agreements.DPIA{Reference: "DPIA-" + id, Completed: agreements.MustDate("2026-03-01"), Outcome: agreements.DPIAApproved, Approver: "DPO"},
		EffectiveFrom: agreements.MustDate("2026-01-01"), ExpiresAt: agreements.MustDate("2028-12-31"), ReviewBy: agreements.MustDate("2027-06-30"),
		Retention: agreements.Duration(retention), Flows: flows,
	}
}

func fixtureAgreements() []*agreements.Agreement {
	crime := []string{"crime-prevention-detection", "safeguarding-child"}
	police := fixtureAgreement("police-crime", 90*24*time.Hour,
		// The council discloses to the police ...
		agreements.Flow{
			From: []string{revenues, legal}, To: []string{police}, Purposes: crime, LawfulBases: []string{"A6-1-e"},
			DataCategories: []string{"identity", "contact", "financial"}, EmergencyOverride: true,
		},
		// ... and the police ask Legal Services for information.
		agreements.Flow{
			From: []string{police}, To: []string{legal}, Purposes: crime, LawfulBases: []string{"A6-1-e"},
			DataCategories: []string{"identity", "contact", "financial"}, Handler: legal,
		})
	police.SubjectNotification = agreements.Notification{Default: "withhold", Reason: "would prejudice the detection of crime", ReviewAfter: agreements.Duration(180 * 24 * time.Hour)}
	benefits := fixtureAgreement("dwp-benefits", 30*24*time.Hour, agreements.Flow{
		From: []string{revenues}, To: []string{dwp}, Purposes: []string{"benefit-administration"}, LawfulBases: []string{"A6-1-e"},
		DataCategories: []string{"identity", "financial"}, DailyVolume: 2,
		Fields: &agreements.FieldPolicy{Allow: []string{"name", "nino"}, OnExtra: "strip"},
	})
	benefits.SubjectNotification = agreements.Notification{Default: "notify"}
	tax := fixtureAgreement("hmrc-tax", 30*24*time.Hour, agreements.Flow{
		From: []string{revenues}, To: []string{hmrc}, Purposes: []string{"tax-assessment-collection"}, LawfulBases: []string{"A6-1-e"},
		DataCategories: []string{"identity", "financial"},
	})
	tax.SubjectNotification = agreements.Notification{Default: "notify"}
	return []*agreements.Agreement{police, benefits, tax}
}

// rig is one service over its own SQLite database and object store.
type rig struct {
	ctx     context.Context
	db      *store.DB
	store   *faultyStore
	objects *memObjects
	clock   *clock
	svc     *exchange.Service
	signer  *seal.Signer
	// keys are the parties' private encryption keys.
	keys        map[string]jwk.Key
	gatewayKeys jwk.Set
}

func newRig(t testing.TB) *rig {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, store.SQLite, filepath.Join(t.TempDir(), "gatehouse.db"), nil)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })

	r := &rig{ctx: ctx, db: db, clock: &clock{now: t0}, keys: map[string]jwk.Key{}}
	for _, p := range fixtureParties() {
		if p.ID != hmrc {
			key, err := seal.GenerateKey(seal.UseEncryption)
			require.NoError(t, err)
			r.keys[p.ID] = key
			p.EncryptionKey, err = seal.PublicJSON(key)
			require.NoError(t, err)
		}
		require.NoError(t, db.PutParty(ctx, p))
	}
	for _, a := range fixtureAgreements() {
		require.NoError(t, a.Validate(), a.ID)
		require.NoError(t, db.PutAgreement(ctx, a))
	}
	signingKey, err := seal.GenerateKey(seal.UseSignature)
	require.NoError(t, err)
	r.signer, err = seal.NewSigner(signingKey)
	require.NoError(t, err)
	r.gatewayKeys, err = r.signer.PublicSet()
	require.NoError(t, err)
	r.store = &faultyStore{Store: db.Exchanges()}
	r.objects = newMemObjects(r.clock.Now)
	r.svc = r.service(defaultMaxPayload)
	return r
}

// service returns a service over the rig's store and objects with another
// limits.max_payload_size (as a restart with a new setting would).
func (r *rig) service(maxPayload int64) *exchange.Service {
	svc := exchange.New(exchange.Config{
		Issuer: "gatehouse.test", MaxPayloadSize: maxPayload, OneRequestMax: oneRequestMax,
		SubjectKey: bytes.Repeat([]byte{7}, 32), PseudonymKey: bytes.Repeat([]byte{9}, 32),
		DefaultRetention: 30 * 24 * time.Hour,
	}, r.store, r.objects, r.db.Registry(agreements.DefaultPolicy), r.signer, slog.New(slog.DiscardHandler))
	svc.SetClock(r.clock.Now)
	return svc
}

// setParty replaces a party in the registry (a suspension, a key change).
func (r *rig) setParty(t *testing.T, id string, edit func(p *agreements.Party)) {
	t.Helper()
	p, err := r.db.Party(r.ctx, id)
	require.NoError(t, err)
	edit(p)
	require.NoError(t, r.db.PutParty(r.ctx, p))
}

// errAuditDown is what a failing audit append returns.
var errAuditDown = errors.New("audit chain cannot be written")

// faultyStore is the real store with two faults it can be told to have:
// an audit append that fails for some entries (the transaction then rolls
// back, as it would if the chain could not be written), and an Update that
// fails outright (the database is down).
type faultyStore struct {
	exchange.Store
	mu        sync.Mutex
	failAudit func(e *audit.Entry) bool
	updateErr error
	// updates counts the transactions that committed.
	updates int
}

func (f *faultyStore) Update(ctx context.Context, fn func(exchange.Tx) error) error {
	f.mu.Lock()
	err := f.updateErr
	f.mu.Unlock()
	if err != nil {
		return err
	}
	err = f.Store.Update(ctx, func(tx exchange.Tx) error { return fn(&faultyTx{Tx: tx, f: f}) })
	if err == nil {
		f.mu.Lock()
		f.updates++
		f.mu.Unlock()
	}
	return err
}

// committed is how many transactions have committed so far.
func (f *faultyStore) committed() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.updates
}

// failAuditOf makes appending entries of the given types fail; none: stop.
func (f *faultyStore) failAuditOf(types ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failAudit = nil
	if len(types) > 0 {
		f.failAudit = func(e *audit.Entry) bool { return slices.Contains(types, e.Type) }
	}
}

func (f *faultyStore) failUpdates(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.updateErr = err
}

type faultyTx struct {
	exchange.Tx
	f *faultyStore
}

func (t *faultyTx) AppendAudit(ctx context.Context, e *audit.Entry) error {
	t.f.mu.Lock()
	fail := t.f.failAudit
	t.f.mu.Unlock()
	if fail != nil && fail(e) {
		return errAuditDown
	}
	return t.Tx.AppendAudit(ctx, e)
}

// entries returns the audit record, oldest first; with types, only those.
func (r *rig) entries(t *testing.T, types ...string) []audit.Entry {
	t.Helper()
	recs, err := r.db.AuditRecords(r.ctx, 0, 10000)
	require.NoError(t, err)
	var out []audit.Entry
	for _, rec := range recs {
		var e audit.Entry
		require.NoError(t, json.Unmarshal(rec.Body, &e))
		if len(types) == 0 || slices.Contains(types, e.Type) {
			out = append(out, e)
		}
	}
	return out
}

// entriesFor returns the audit entries about one exchange, by type.
func (r *rig) entriesFor(t *testing.T, exchangeID string) []string {
	t.Helper()
	var out []string
	for _, e := range r.entries(t) {
		if e.Exchange == exchangeID {
			out = append(out, e.Type)
		}
	}
	return out
}

// exchange reads an exchange as stored.
func (r *rig) exchange(t *testing.T, id string) *exchange.Exchange {
	t.Helper()
	e, err := r.db.Exchanges().Exchange(r.ctx, id)
	require.NoError(t, err)
	return e
}

func (r *rig) countExchanges(t *testing.T) int {
	t.Helper()
	n, err := r.db.CountExchanges(r.ctx)
	require.NoError(t, err)
	return n
}

// policeDisclosure is an allowed declaration from the council to the police.
func policeDisclosure(size int64) *api.ExchangeDeclaration {
	return &api.ExchangeDeclaration{
		Agreement: "police-crime", Recipient: police,
		Purpose: "crime-prevention-detection", LawfulBasis: "A6-1-e",
		DataCategories: []string{"identity", "financial"},
		Subjects:       []api.Subject{{Type: "nino", Value: "QQ123456C"}},
		Justification:  "Named suspect in investigation NP-2026-0142",
		ContentType:    "text/plain", Size: size,
	}
}

// withDigest sets the declaration's SHA-256 to that of body.
func withDigest(d *api.ExchangeDeclaration, body []byte) *api.ExchangeDeclaration {
	d.SHA256 = sha256Hex(body)
	return d
}

// payloadDigest is the keyed digest the rig's service records for a
// payload's SHA-256.
func payloadDigest(sha256Hex string) string {
	return audit.PayloadDigest(bytes.Repeat([]byte{7}, 32), audit.FirstKeyVersion, sha256Hex)
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// declare declares d as caller and requires it to be allowed.
func (r *rig) declare(t *testing.T, caller string, d *api.ExchangeDeclaration) *exchange.Exchange {
	t.Helper()
	e, err := r.svc.Declare(r.ctx, caller, d, "")
	require.NoError(t, err)
	require.Equal(t, exchange.StateDeclared, e.State)
	return e
}

// upload uploads body with its length announced.
func (r *rig) upload(t *testing.T, caller, id string, body []byte) *exchange.Exchange {
	t.Helper()
	e, err := r.svc.Upload(r.ctx, caller, id, bytes.NewReader(body), int64(len(body)))
	require.NoError(t, err)
	require.Equal(t, exchange.StateDelivered, e.State)
	return e
}

// deliver declares and uploads body from the council to the police.
func (r *rig) deliver(t *testing.T, body []byte) *exchange.Exchange {
	t.Helper()
	e := r.declare(t, revenues, withDigest(policeDisclosure(int64(len(body))), body))
	return r.upload(t, revenues, e.ID, body)
}

// open does what a recipient does: fetches and opens the envelope, reads
// the ciphertext and decrypts it, checking the manifest on the way.
func (r *rig) open(t *testing.T, recipient, id string) (*seal.Manifest, []byte) {
	t.Helper()
	e, err := r.svc.Envelope(r.ctx, recipient, id)
	require.NoError(t, err)
	m, err := seal.OpenEnvelope(e.Envelope, r.keys[recipient], r.gatewayKeys)
	require.NoError(t, err)
	require.Equal(t, id, m.Exchange)
	require.Equal(t, recipient, m.Recipient)
	_, _, rc, err := r.svc.OpenPayload(r.ctx, recipient, id, nil)
	require.NoError(t, err)
	defer rc.Close()
	ciphertext, err := io.ReadAll(rc)
	require.NoError(t, err)
	require.Equal(t, m.Ciphertext.Size, int64(len(ciphertext)))
	plain, err := seal.Decrypt(bytes.NewReader(ciphertext), m.Encryption.Key, m.Encryption.AAD)
	require.NoError(t, err)
	out, err := io.ReadAll(plain)
	require.NoError(t, err)
	require.Equal(t, m.Plaintext.Size, int64(len(out)))
	require.Equal(t, m.Plaintext.SHA256, sha256Hex(out))
	return m, out
}

// noPayloadObjects requires the object store to hold nothing for id.
func (r *rig) noPayloadObjects(t *testing.T, id string) {
	t.Helper()
	for _, k := range r.objects.Keys() {
		require.NotContains(t, k, id, "an object of %s was left behind", id)
	}
}

// inEveryState makes one exchange from the council to the police in each
// state. To expire the first it moves the clock on past its retention.
func (r *rig) inEveryState(t *testing.T) map[exchange.State]*exchange.Exchange {
	t.Helper()
	out := map[exchange.State]*exchange.Exchange{}
	expired := r.deliver(t, []byte("kept for 90 days"))
	r.clock.Advance(91 * 24 * time.Hour)
	n, err := r.svc.Sweep(r.ctx, 10)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	out[exchange.StateExpired] = r.exchange(t, expired.ID)

	out[exchange.StateDeclared] = r.declare(t, revenues, policeDisclosure(5))

	failed := r.declare(t, revenues, policeDisclosure(10))
	_, err = r.svc.Upload(r.ctx, revenues, failed.ID, strings.NewReader("short"), -1)
	require.ErrorIs(t, err, exchange.ErrSizeMismatch)
	out[exchange.StateFailed] = r.exchange(t, failed.ID)

	out[exchange.StateDelivered] = r.deliver(t, []byte("delivered"))

	fetched := r.deliver(t, []byte("fetched"))
	_, _, rc, err := r.svc.OpenPayload(r.ctx, police, fetched.ID, nil)
	require.NoError(t, err)
	require.NoError(t, rc.Close())
	out[exchange.StateFetched] = r.exchange(t, fetched.ID)

	acked := r.deliver(t, []byte("acknowledged"))
	out[exchange.StateAcknowledged], err = r.svc.Acknowledge(r.ctx, police, acked.ID)
	require.NoError(t, err)

	for state, e := range out {
		require.Equal(t, state, e.State)
	}
	return out
}
