package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/store"
)

// failingUpdates is a registry store whose transactions fail from the
// failFrom'th on, as if the database had gone away between two of them.
type failingUpdates struct {
	agreements.Store
	calls, failFrom int
}

func (f *failingUpdates) Update(ctx context.Context, fn func(agreements.Tx) error) error {
	f.calls++
	if f.failFrom > 0 && f.calls >= f.failFrom {
		return errors.New("database unreachable")
	}
	return f.Store.Update(ctx, fn)
}

// failNext makes every transaction after the next n fail.
func (f *failingUpdates) failNext(n int) { f.failFrom = f.calls + n + 1 }

// testRefusalsFailClosed: a refusal that cannot be recorded is not answered
// as a refusal but as the record being unavailable (ErrUnavailable), and
// leaves nothing behind; once the record is back, the same refusal is
// recorded.
func testRefusalsFailClosed(t *testing.T, db *store.DB) {
	ctx := context.Background()
	st := &failingUpdates{Store: db.Agreements(db.Registry(agreements.DefaultPolicy))}
	svc := agreements.NewService(st)
	svc.SetClock(func() time.Time { return time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC) })
	alice := agreements.Actor{Subject: "alice", Roles: []string{agreements.RoleAdmin}}
	bob := agreements.Actor{Subject: "bob", Roles: []string{agreements.RoleAdmin}}
	aziz := agreements.Actor{Subject: "aziz", Roles: []string{agreements.RoleAuditor}}
	p, err := svc.RegisterParty(ctx, alice, &agreements.Party{ID: "dwp", Kind: agreements.KindDWP, Name: "DWP", EncryptionKey: changeKey1}, "")
	require.NoError(t, err)
	start := len(auditEntries(t, db))

	// The registrant's approval: the approval's transaction is refused,
	// and the refusal's own cannot be written.
	st.failNext(1)
	_, err = svc.ApproveParty(ctx, alice, "dwp", p.RegistrationSHA256)
	require.ErrorIs(t, err, agreements.ErrUnavailable)
	require.NotErrorIs(t, err, agreements.ErrSameRegistrant, "not answered as a refusal")
	// An auditor's: refused before any transaction.
	st.failNext(0)
	_, err = svc.ApproveParty(ctx, aziz, "dwp", p.RegistrationSHA256)
	require.ErrorIs(t, err, agreements.ErrUnavailable)
	require.NotErrorIs(t, err, agreements.ErrForbidden)
	st.failNext(0)
	_, err = svc.Approve(ctx, aziz, "nfi", 1, hex64()+"ab")
	require.ErrorIs(t, err, agreements.ErrUnavailable)
	require.Len(t, auditEntries(t, db), start, "nothing was recorded")

	// The record back, the same refusal is answered and recorded.
	st.failFrom = 0
	_, err = svc.ApproveParty(ctx, alice, "dwp", p.RegistrationSHA256)
	require.ErrorIs(t, err, agreements.ErrSameRegistrant)
	_, err = svc.ApproveParty(ctx, bob, "dwp", p.RegistrationSHA256)
	require.NoError(t, err)
	ch, err := svc.ProposePartyChange(ctx, alice, "dwp", agreements.TrustEdit{EncryptionKey: changeKey2}, "rotation", "")
	require.NoError(t, err)
	before := len(auditEntries(t, db))
	st.failNext(1)
	_, _, err = svc.ApprovePartyChange(ctx, alice, ch.ID, ch.Digest)
	require.ErrorIs(t, err, agreements.ErrUnavailable)
	st.failNext(0)
	_, err = svc.RejectPartyChange(ctx, aziz, ch.ID, "no")
	require.ErrorIs(t, err, agreements.ErrUnavailable)
	require.Len(t, auditEntries(t, db), before, "nothing was recorded")
	st.failFrom = 0
	_, _, err = svc.ApprovePartyChange(ctx, alice, ch.ID, ch.Digest)
	require.ErrorIs(t, err, agreements.ErrSameProposer)
	require.Len(t, entriesOf(t, db, agreements.AuditPartyChangeApprovalRefused), 1)
	verifyAll(t, db)
}
