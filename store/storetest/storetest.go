// Package storetest is the contract every SQL backend must meet. Each backend's
// tests call Run with a function that opens a fresh, empty store.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/exchange"
	"github.com/gatehouse-gw/gatehouse/store"
	"github.com/gatehouse-gw/gatehouse/store/migrations"
)

// Open returns a fresh, empty, migrated store.
type Open func(t *testing.T) *store.DB

// Run runs the contract suite.
func Run(t *testing.T, open Open) {
	t.Run("exchanges", func(t *testing.T) { testExchanges(t, open(t)) })
	t.Run("inbox", func(t *testing.T) { testInbox(t, open(t)) })
	t.Run("audit-chain", func(t *testing.T) { testAuditChain(t, open(t)) })
	t.Run("audit-atomic-with-change", func(t *testing.T) { testAuditAtomic(t, open(t)) })
	t.Run("audit-append-only", func(t *testing.T) { testAuditAppendOnly(t, open(t)) })
	t.Run("audit-concurrent", func(t *testing.T) { testAuditConcurrent(t, open(t)) })
	t.Run("audit-tree-proofs", func(t *testing.T) { testAuditTreeProofs(t, open(t)) })
	t.Run("audit-head-forward-only", func(t *testing.T) { testAuditHeadForwardOnly(t, open(t)) })
	t.Run("audit-archiver-lease", func(t *testing.T) { testArchiverLease(t, open(t)) })
	t.Run("audit-checkpoint-claim", func(t *testing.T) { testCheckpointClaim(t, open(t)) })
	t.Run("group-commit-isolation", func(t *testing.T) { testBatchIsolation(t, open(t)) })
	t.Run("registry", func(t *testing.T) { testRegistry(t, open(t)) })
	t.Run("registry-service", func(t *testing.T) { testRegistryService(t, open(t)) })
	t.Run("party-changes", func(t *testing.T) { testPartyChanges(t, open(t)) })
	t.Run("party-registration", func(t *testing.T) { testPartyRegistration(t, open(t)) })
	t.Run("refusals-fail-closed", func(t *testing.T) { testRefusalsFailClosed(t, open(t)) })
	t.Run("requests", func(t *testing.T) { testRequests(t, open(t)) })
	t.Run("idempotency", func(t *testing.T) { testIdempotency(t, open(t)) })
	t.Run("certificates", func(t *testing.T) { testCertificates(t, open(t)) })
	t.Run("compliance", func(t *testing.T) { testCompliance(t, open(t)) })
	t.Run("orphans", func(t *testing.T) { testOrphans(t, open(t)) })
	t.Run("volume", func(t *testing.T) { testVolume(t, open(t)) })
	t.Run("consents", func(t *testing.T) { testConsents(t, open(t)) })
	t.Run("outbox", func(t *testing.T) { testOutbox(t, open(t)) })
	t.Run("outbox-concurrent-claims", func(t *testing.T) { testOutboxConcurrentClaims(t, open(t)) })
	t.Run("due-before", func(t *testing.T) { testDueBefore(t, open(t)) })
	t.Run("decisions", func(t *testing.T) { testDecisions(t, open(t)) })
	t.Run("console-state", func(t *testing.T) { testConsoleState(t, open(t)) })
	t.Run("compliance-backfill", func(t *testing.T) {
		db := open(t)
		testComplianceBackfill(t, db, backfillSQL(t, db.Driver()))
	})
}

var t0 = time.Date(2026, 11, 1, 9, 30, 15, 123456789, time.UTC)

func newExchange(id, recipient string, state exchange.State) *exchange.Exchange {
	return &exchange.Exchange{
		ID: id, State: state, Sender: "council.revenues", Recipient: recipient,
		AgreementID: "police-crime", AgreementVersion: 1,
		Meta: exchange.Meta{
			Purpose: "crime-prevention-detection", LawfulBasis: "A6-1-e",
			DataCategories: []string{"identity"}, SubjectKeys: []string{"hmac-sha256:ab"}, SubjectCount: 1,
			ContentType: "text/plain", DeclaredSize: 5,
		},
		Decision:  agreements.Decision{Outcome: agreements.Allow, Agreement: "police-crime@1", Flow: 0, Checks: []agreements.Check{{Code: "flow.permitted", Passed: true, Message: "ok"}}},
		CreatedAt: t0, UpdatedAt: t0,
	}
}

func entry(actor string) *audit.Entry {
	return &audit.Entry{Time: t0, Type: audit.TypeExchangeDecided, Actor: actor, Outcome: "allow"}
}

func testExchanges(t *testing.T, db *store.DB) {
	ctx := context.Background()
	s := db.Exchanges()
	_, err := s.Exchange(ctx, "nope")
	require.ErrorIs(t, err, exchange.ErrNotFound)

	e := newExchange("01-a", "police.northshire", exchange.StateDeclared)
	require.NoError(t, s.Update(ctx, func(tx exchange.Tx) error { return tx.CreateExchange(ctx, e) }))
	got, err := s.Exchange(ctx, "01-a")
	require.NoError(t, err)
	require.Equal(t, e.Meta, got.Meta)
	require.Equal(t, e.Decision, got.Decision)
	require.True(t, got.CreatedAt.Equal(t0.Truncate(time.Microsecond)), "created_at %s", got.CreatedAt)
	require.True(t, got.DeliveredAt.IsZero())
	require.Nil(t, got.Envelope)

	// Duplicate ids are refused.
	require.Error(t, s.Update(ctx, func(tx exchange.Tx) error { return tx.CreateExchange(ctx, e) }))

	delivered := t0.Add(time.Minute)
	require.NoError(t, s.Update(ctx, func(tx exchange.Tx) error {
		cur, err := tx.LockExchange(ctx, "01-a")
		if err != nil {
			return err
		}
		cur.State = exchange.StateDelivered
		cur.Payload = exchange.Payload{Size: 5, Digest: "hmac-sha256:v2:abc", CiphertextSize: 61, ObjectKey: "payloads/01-a/x", ObjectVersion: "v1"}
		cur.Envelope = []byte("eyJ.jwe")
		cur.UpdatedAt, cur.DeliveredAt = delivered, delivered
		return tx.SaveExchange(ctx, cur)
	}))
	got, err = s.Exchange(ctx, "01-a")
	require.NoError(t, err)
	require.Equal(t, exchange.StateDelivered, got.State)
	require.Equal(t, exchange.Payload{Size: 5, Digest: "hmac-sha256:v2:abc", CiphertextSize: 61, ObjectKey: "payloads/01-a/x", ObjectVersion: "v1"}, got.Payload)
	require.Equal(t, []byte("eyJ.jwe"), got.Envelope)
	require.True(t, got.DeliveredAt.Equal(delivered.Truncate(time.Microsecond)))

	err = s.Update(ctx, func(tx exchange.Tx) error {
		return tx.SaveExchange(ctx, newExchange("missing", "x", exchange.StateDeclared))
	})
	require.ErrorIs(t, err, exchange.ErrNotFound)
	_, err = lockMissing(ctx, s)
	require.ErrorIs(t, err, exchange.ErrNotFound)
}

func lockMissing(ctx context.Context, s exchange.Store) (*exchange.Exchange, error) {
	var out *exchange.Exchange
	err := s.Update(ctx, func(tx exchange.Tx) error {
		var err error
		out, err = tx.LockExchange(ctx, "missing")
		return err
	})
	return out, err
}

func testInbox(t *testing.T, db *store.DB) {
	ctx := context.Background()
	s := db.Exchanges()
	require.NoError(t, s.Update(ctx, func(tx exchange.Tx) error {
		for i := range 5 {
			if err := tx.CreateExchange(ctx, newExchange(fmt.Sprintf("01-%d", i), "police.northshire", exchange.StateDelivered)); err != nil {
				return err
			}
		}
		if err := tx.CreateExchange(ctx, newExchange("01-9", "police.northshire", exchange.StateDeclared)); err != nil {
			return err
		}
		return tx.CreateExchange(ctx, newExchange("01-8", "dwp", exchange.StateDelivered))
	}))
	readable := []exchange.State{exchange.StateDelivered, exchange.StateFetched, exchange.StateAcknowledged}
	page, err := s.Inbox(ctx, "police.northshire", exchange.InboxQuery{States: readable, Limit: 3})
	require.NoError(t, err)
	require.Equal(t, []string{"01-0", "01-1", "01-2"}, ids(page))
	page, err = s.Inbox(ctx, "police.northshire", exchange.InboxQuery{States: readable, After: "01-2", Limit: 3})
	require.NoError(t, err)
	require.Equal(t, []string{"01-3", "01-4"}, ids(page), "declared exchanges and other recipients are not listed")
	page, err = s.Inbox(ctx, "dwp", exchange.InboxQuery{States: readable, Limit: 10})
	require.NoError(t, err)
	require.Equal(t, []string{"01-8"}, ids(page))
}

func ids(list []*exchange.Exchange) []string {
	out := []string{}
	for _, e := range list {
		out = append(out, e.ID)
	}
	return out
}

func appendAll(ctx context.Context, s exchange.Store, entries ...*audit.Entry) error {
	return s.Update(ctx, func(tx exchange.Tx) error {
		for _, e := range entries {
			if err := tx.AppendAudit(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
}

func verifyAll(t *testing.T, db *store.DB) int64 {
	t.Helper()
	recs, err := db.AuditRecords(context.Background(), 0, 1_000_000)
	require.NoError(t, err)
	v := audit.NewVerifier()
	for _, r := range recs {
		require.NoError(t, v.Next(r))
	}
	seq, hash := v.Head()
	headSeq, headHash, err := db.AuditHead(context.Background())
	require.NoError(t, err)
	require.Equal(t, headSeq, seq)
	require.Equal(t, headHash, hash)
	verifyTree(t, db, recs)
	return seq
}

func testAuditChain(t *testing.T, db *store.DB) {
	ctx := context.Background()
	s := db.Exchanges()
	require.NoError(t, appendAll(ctx, s, entry("a"), entry("b")))
	require.NoError(t, appendAll(ctx, s, entry("c")))
	require.Equal(t, int64(3), verifyAll(t, db))
	recs, err := db.AuditRecords(ctx, 1, 10)
	require.NoError(t, err)
	require.Len(t, recs, 2)
	require.Equal(t, int64(2), recs[0].Seq)
	require.True(t, recs[0].Time.Equal(t0.Truncate(time.Microsecond)))
}

func testAuditAtomic(t *testing.T, db *store.DB) {
	ctx := context.Background()
	s := db.Exchanges()
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx exchange.Tx) error {
		if err := tx.AppendAudit(ctx, entry("a")); err != nil {
			return err
		}
		if err := tx.CreateExchange(ctx, newExchange("01-x", "dwp", exchange.StateDeclared)); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	_, err = s.Exchange(ctx, "01-x")
	require.ErrorIs(t, err, exchange.ErrNotFound, "the change rolled back")
	require.Equal(t, int64(0), verifyAll(t, db), "and so did its audit entry")
}

func testAuditAppendOnly(t *testing.T, db *store.DB) {
	ctx := context.Background()
	require.NoError(t, appendAll(ctx, db.Exchanges(), entry("a"), entry("b")))
	_, err := db.SQL().ExecContext(ctx, "UPDATE audit_log SET body = 'x' WHERE seq = 1")
	require.ErrorContains(t, err, "append-only")
	_, err = db.SQL().ExecContext(ctx, "DELETE FROM audit_log WHERE seq = 2")
	require.ErrorContains(t, err, "append-only")
	require.Equal(t, int64(2), verifyAll(t, db))
}

func testAuditConcurrent(t *testing.T, db *store.DB) {
	ctx := context.Background()
	s := db.Exchanges()
	const writers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if err := appendAll(ctx, s, entry(fmt.Sprintf("w%d-%d", w, i))); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, int64(writers*each), verifyAll(t, db), "one unbroken chain, no gaps or duplicates")
}

func testRegistry(t *testing.T, db *store.DB) {
	ctx := context.Background()
	cache := db.Registry(agreements.DefaultPolicy)
	reg, err := cache.Snapshot(ctx)
	require.NoError(t, err)
	require.Nil(t, reg.Party("police.northshire"))

	p := &agreements.Party{ID: "police.northshire", Kind: agreements.KindPolice, Name: "Northshire Police",
		Status: agreements.PartyActive, EncryptionKey: []byte(`{"kty":"EC"}`), UpdatedAt: t0}
	require.NoError(t, db.PutParty(ctx, p))
	reg2, err := cache.Snapshot(ctx)
	require.NoError(t, err)
	require.NotSame(t, reg, reg2, "a change is seen on the next snapshot")
	got := reg2.Party("police.northshire")
	require.NotNil(t, got)
	require.Equal(t, "Northshire Police", got.Name)
	require.JSONEq(t, `{"kty":"EC"}`, string(got.EncryptionKey))
	reg3, err := cache.Snapshot(ctx)
	require.NoError(t, err)
	require.Same(t, reg2, reg3, "an unchanged registry is not reread")

	v1 := &agreements.Agreement{ID: "nfi", Version: 1, Status: agreements.StatusActive, Title: "NFI", CreatedAt: t0, UpdatedAt: t0}
	v2 := &agreements.Agreement{ID: "nfi", Version: 2, Status: agreements.StatusDraft, Title: "NFI v2", CreatedAt: t0, UpdatedAt: t0}
	draft := &agreements.Agreement{ID: "new", Version: 1, Status: agreements.StatusDraft, Title: "New", CreatedAt: t0, UpdatedAt: t0}
	for _, a := range []*agreements.Agreement{v1, v2, draft} {
		require.NoError(t, db.PutAgreement(ctx, a))
	}
	reg4, err := cache.Snapshot(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, reg4.Agreement("nfi").Version, "a newer draft does not displace the version in force")
	require.Equal(t, agreements.StatusDraft, reg4.Agreement("new").Status)

	v2.Status = agreements.StatusActive
	v1.Status = agreements.StatusTerminated
	require.NoError(t, db.PutAgreement(ctx, v1))
	require.NoError(t, db.PutAgreement(ctx, v2))
	reg5, err := cache.Snapshot(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, reg5.Agreement("nfi").Version)
	versions, err := db.AgreementVersions(ctx, "")
	require.NoError(t, err)
	require.Len(t, versions, 3, "old versions stay readable")
}

// testRegistryService runs the registry service's lifecycle against the
// backend: locks, versions, audit in the same transaction.
func testRegistryService(t *testing.T, db *store.DB) {
	ctx := context.Background()
	svc := agreements.NewService(db.Agreements(db.Registry(agreements.DefaultPolicy)))
	clock := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	svc.SetClock(func() time.Time { return clock })
	admin := agreements.Actor{Subject: "alice", Roles: []string{agreements.RoleAdmin}}
	dpo := agreements.Actor{Subject: "dana", Roles: []string{agreements.RoleDPO}}
	key := []byte(`{"kty":"EC","crv":"P-256","kid":"k1","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}`)
	for _, id := range []string{"council.fraud", "cabinet-office.nfi"} {
		p, err := svc.RegisterParty(ctx, admin, &agreements.Party{ID: id, Kind: agreements.KindCouncilService, Name: id, EncryptionKey: key}, "")
		require.NoError(t, err)
		_, err = svc.ApproveParty(ctx, dpo, id, p.RegistrationSHA256)
		require.NoError(t, err)
	}
	_, err := svc.RegisterParty(ctx, admin, &agreements.Party{ID: "council.fraud", Kind: agreements.KindCouncilService, Name: "again", EncryptionKey: key}, "")
	require.ErrorIs(t, err, agreements.ErrExists)
	_, err = svc.RegisterParty(ctx, admin, &agreements.Party{ID: "x", Kind: agreements.KindPolice, Name: "x", EncryptionKey: []byte(`{"kty":"EC","crv":"P-256","kid":"k","x":"a","y":"b","d":"secret"}`)}, "")
	require.ErrorContains(t, err, "private key")

	doc := &agreements.Agreement{
		ID: "nfi", Title: "NFI", Controllers: "separate",
		Signatories:   []agreements.Signatory{{Party: "council.fraud", Name: "S", Role: "s151"}},
		DPIA:          &agreements.DPIA{Reference: "D", Completed: agreements.MustDate("2026-01-01"), Outcome: agreements.DPIAApproved, Approver: "DPO"},
		EffectiveFrom: agreements.MustDate("2026-01-01"), ReviewBy: agreements.MustDate("2027-01-01"), Retention: agreements.Duration(30 * 24 * time.Hour),
		SubjectNotification: agreements.Notification{Default: "notify"},
		Flows: []agreements.Flow{{From: []string{"council.fraud"}, To: []string{"cabinet-office.nfi"}, Purposes: []string{"public-funds-audit"},
			LawfulBases: []string{"A6-1-c"}, DataCategories: []string{"identity"}}},
	}
	v1, err := svc.Register(ctx, admin, doc, "")
	require.NoError(t, err)
	require.Equal(t, 1, v1.Version)
	// Refused for the role, the two-person rule and the status: each
	// recorded, changing nothing.
	_, err = svc.Approve(ctx, admin, "nfi", 1, agreements.Digest(v1))
	require.ErrorIs(t, err, agreements.ErrForbidden)
	_, err = svc.Approve(ctx, agreements.Actor{Subject: "Alice", Roles: []string{agreements.RoleDPO}}, "nfi", 1, agreements.Digest(v1))
	require.ErrorIs(t, err, agreements.ErrSamePerson)
	_, err = svc.Activate(ctx, admin, "nfi", 1, agreements.Digest(v1))
	require.ErrorIs(t, err, agreements.ErrTransition)
	_, err = svc.Approve(ctx, dpo, "nfi", 1, agreements.Digest(v1))
	require.NoError(t, err)
	_, err = svc.Activate(ctx, dpo, "nfi", 1, agreements.Digest(v1))
	require.ErrorIs(t, err, agreements.ErrForbidden)
	_, err = svc.Activate(ctx, admin, "nfi", 1, agreements.Digest(v1))
	require.NoError(t, err)
	_, err = svc.Approve(ctx, dpo, "nfi", 1, agreements.Digest(v1))
	require.ErrorIs(t, err, agreements.ErrTransition, "approved once")
	v2, err := svc.Register(ctx, admin, doc, "")
	require.NoError(t, err)
	require.Equal(t, 2, v2.Version)
	// The same content as version 1, but not version 1's document: the
	// approval is refused, recorded, and changes nothing.
	_, err = svc.Approve(ctx, dpo, "nfi", 2, agreements.Digest(v1))
	require.ErrorIs(t, err, agreements.ErrAgreementDigest)
	_, err = svc.Approve(ctx, dpo, "nfi", 2, agreements.Digest(v2))
	require.NoError(t, err)
	// A version whose document is no longer the one its DPO approved (as
	// if its encoding had changed since) cannot be activated, even with its
	// current digest.
	vs, err := db.AgreementVersions(ctx, "nfi")
	require.NoError(t, err)
	approved := vs[1]
	require.Equal(t, agreements.Digest(v2), approved.ApprovedSHA256)
	approved.ApprovedSHA256 = agreements.Digest(v1)
	require.NoError(t, db.PutAgreement(ctx, approved))
	_, err = svc.Activate(ctx, admin, "nfi", 2, agreements.Digest(v2))
	var mismatch *agreements.DigestMismatchError
	require.ErrorAs(t, err, &mismatch)
	require.True(t, mismatch.Approved)
	require.Equal(t, agreements.Digest(v1), mismatch.Expected)
	approved.ApprovedSHA256 = agreements.Digest(v2)
	require.NoError(t, db.PutAgreement(ctx, approved))
	_, err = svc.Activate(ctx, admin, "nfi", 2, agreements.Digest(v2))
	require.NoError(t, err)
	vs, err = svc.Versions(ctx, admin, "nfi")
	require.NoError(t, err)
	require.Equal(t, []agreements.Status{agreements.StatusSuperseded, agreements.StatusActive}, []agreements.Status{vs[0].Status, vs[1].Status})
	_, err = svc.Suspend(ctx, admin, "nfi", "review")
	require.NoError(t, err)
	reg, err := db.Registry(agreements.DefaultPolicy).Snapshot(ctx)
	require.NoError(t, err)
	require.Equal(t, agreements.StatusSuspended, reg.Agreement("nfi").Status)
	require.Equal(t, 2, reg.Agreement("nfi").Version)
	_, err = svc.SetPartyStatus(ctx, admin, "council.fraud", agreements.PartySuspended, "test")
	require.NoError(t, err)
	p, err := db.Party(ctx, "council.fraud")
	require.NoError(t, err)
	require.Equal(t, agreements.PartySuspended, p.Status)
	_, err = svc.Approve(ctx, dpo, "missing", 1, agreements.Digest(v1))
	require.ErrorIs(t, err, agreements.ErrNotFound)
	_, err = db.Party(ctx, "missing")
	require.ErrorIs(t, err, agreements.ErrNotFound)
	// Two parties registered and approved, six lifecycle steps, four
	// refused approvals and three refused activations, two suspensions:
	// each audited. An approval of an agreement that does not exist is not
	// recorded: there is nothing to refuse.
	require.Equal(t, int64(4+6+7+2), verifyAll(t, db))
	var refused []string
	for _, e := range auditEntries(t, db) {
		if e.Type == agreements.AuditAgreementApprovalRefused || e.Type == agreements.AuditAgreementActivationRefused {
			require.Equal(t, "refused", e.Outcome)
			refused = append(refused, e.Type+" "+e.Actor+" "+e.Agreement+" "+e.Detail["refused"]+" "+e.Detail["status"])
		}
	}
	require.Equal(t, []string{
		"admin.agreement.approval-refused alice nfi@1 role ",
		"admin.agreement.approval-refused Alice nfi@1 author draft",
		"admin.agreement.activation-refused alice nfi@1 state draft",
		"admin.agreement.activation-refused dana nfi@1 role ",
		"admin.agreement.approval-refused dana nfi@1 state active",
		"admin.agreement.approval-refused dana nfi@2 digest draft",
		"admin.agreement.activation-refused alice nfi@2 digest approved",
	}, refused)
}

// testBatchIsolation: changes that share a group commit succeed or fail on
// their own; a failed one leaves no trace, the others are durable.
func testBatchIsolation(t *testing.T, db *store.DB) {
	ctx := context.Background()
	s := db.Exchanges()
	const n = 64
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = s.Update(ctx, func(tx exchange.Tx) error {
				if err := tx.AppendAudit(ctx, entry(fmt.Sprintf("unit-%d", i))); err != nil {
					return err
				}
				if err := tx.CreateExchange(ctx, newExchange(fmt.Sprintf("02-%03d", i), "dwp", exchange.StateDeclared)); err != nil {
					return err
				}
				if i%3 == 0 {
					return fmt.Errorf("unit %d fails", i)
				}
				if i%5 == 0 {
					// A SQL error mid-change (a duplicate key) must not
					// poison the other changes in the batch.
					return tx.CreateExchange(ctx, newExchange(fmt.Sprintf("02-%03d", i), "dwp", exchange.StateDeclared))
				}
				return nil
			})
		})
	}
	wg.Wait()
	want := 0
	for i, err := range errs {
		_, getErr := s.Exchange(ctx, fmt.Sprintf("02-%03d", i))
		if i%3 == 0 || i%5 == 0 {
			require.Error(t, err, "unit %d", i)
			require.ErrorIs(t, getErr, exchange.ErrNotFound, "unit %d left its exchange", i)
			continue
		}
		require.NoError(t, err, "unit %d", i)
		require.NoError(t, getErr, "unit %d", i)
		want++
	}
	require.Equal(t, int64(want), verifyAll(t, db), "only the successful changes are in the chain")
}

// backfillSQL is the Up part of migration 00006 for the driver.
func backfillSQL(t *testing.T, driver string) string {
	t.Helper()
	fsys := migrations.SQLite
	if driver == store.Postgres {
		fsys = migrations.Postgres
	}
	b, err := fs.ReadFile(fsys, driver+"/00006_compliance_backfill.sql")
	require.NoError(t, err)
	up, _, ok := strings.Cut(string(b), "-- +goose Down")
	require.True(t, ok)
	return strings.Replace(up, "-- +goose Up", "", 1)
}
