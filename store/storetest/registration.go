package storetest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/internal/valid"
	"github.com/gatehouse-gw/gatehouse/store"
)

// testPartyRegistration runs the two-person rule for a new party against
// the backend: it is registered pending, not active in the registry's
// snapshot; its registrant cannot approve it, nor can anyone with another
// digest; each refusal is audited and changes nothing; approved by someone
// else with its digest, it is active; a rejected registration is replaced
// by registering the id again.
func testPartyRegistration(t *testing.T, db *store.DB) {
	ctx := context.Background()
	cache := db.Registry(agreements.DefaultPolicy)
	svc := agreements.NewService(db.Agreements(cache))
	clock := time.Date(2026, 11, 22, 12, 0, 0, 123456789, time.UTC)
	svc.SetClock(func() time.Time { return clock })
	alice := agreements.Actor{Subject: "alice", Name: "Alice Admin", Roles: []string{agreements.RoleAdmin}}
	aliceAgain := agreements.Actor{Subject: " ALICE", Roles: []string{agreements.RoleAdmin, agreements.RoleDPO}}
	dana := agreements.Actor{Subject: "dana", Name: "Dana DPO", Roles: []string{agreements.RoleDPO}}
	bob := agreements.Actor{Subject: "bob", Roles: []string{agreements.RoleAdmin}}
	aziz := agreements.Actor{Subject: "aziz", Roles: []string{agreements.RoleAuditor}}

	// A status named by the caller is refused, naming the field.
	_, err := svc.RegisterParty(ctx, alice, &agreements.Party{ID: "police.rogue", Kind: agreements.KindPolice, Name: "Rogue", Status: agreements.PartyActive, EncryptionKey: changeKey1}, "")
	var verr valid.Errors
	require.ErrorAs(t, err, &verr)
	require.Equal(t, "status", verr[0].Path)

	p, err := svc.RegisterParty(ctx, alice, &agreements.Party{ID: "police.rogue", Kind: agreements.KindPolice, Name: "Rogue", EncryptionKey: changeKey1}, "")
	require.NoError(t, err)
	require.Equal(t, agreements.PartyPending, p.Status)
	require.Equal(t, "alice", p.RegisteredBy)
	require.Equal(t, agreements.RegistrationDigest(p), p.RegistrationSHA256)
	require.Len(t, p.RegistrationSHA256, 64)
	stored, err := db.Party(ctx, "police.rogue")
	require.NoError(t, err)
	require.Equal(t, p.RegistrationSHA256, agreements.RegistrationDigest(stored), "the digest survives the store's round trip")
	snap, err := cache.Snapshot(ctx)
	require.NoError(t, err)
	require.NotNil(t, snap.Party("police.rogue"))
	require.False(t, snap.Party("police.rogue").Active(), "a pending party is not active")

	// A pending party is neither resumed, suspended, renamed nor changed:
	// what is approved is the registration as it was made.
	_, err = svc.SetPartyStatus(ctx, alice, "police.rogue", agreements.PartyActive, "go")
	require.ErrorIs(t, err, agreements.ErrChangeState)
	_, err = svc.SetPartyStatus(ctx, alice, "police.rogue", agreements.PartySuspended, "hold")
	require.ErrorIs(t, err, agreements.ErrChangeState)
	renamed := *stored
	renamed.Name = "Northshire Police"
	_, err = svc.UpdateParty(ctx, alice, &renamed)
	require.ErrorIs(t, err, agreements.ErrChangeState)
	_, err = svc.ProposePartyChange(ctx, alice, "police.rogue", agreements.TrustEdit{EncryptionKey: changeKey2}, "rotate", "")
	require.ErrorIs(t, err, agreements.ErrChangeState)

	// Its registrant cannot approve it (compared as one person), an auditor
	// cannot, nor can anyone with another digest or none.
	_, err = svc.ApproveParty(ctx, alice, "police.rogue", p.RegistrationSHA256)
	require.ErrorIs(t, err, agreements.ErrSameRegistrant)
	_, err = svc.ApproveParty(ctx, aliceAgain, "police.rogue", p.RegistrationSHA256)
	require.ErrorIs(t, err, agreements.ErrSameRegistrant)
	_, err = svc.ApproveParty(ctx, aziz, "police.rogue", p.RegistrationSHA256)
	require.ErrorIs(t, err, agreements.ErrForbidden)
	other := "0000000000000000000000000000000000000000000000000000000000000000"
	_, err = svc.ApproveParty(ctx, dana, "police.rogue", other)
	require.ErrorIs(t, err, agreements.ErrDigestMismatch)
	_, err = svc.ApproveParty(ctx, dana, "police.rogue", "")
	require.ErrorAs(t, err, &verr)
	require.Equal(t, "sha256", verr[0].Path)
	stored, err = db.Party(ctx, "police.rogue")
	require.NoError(t, err)
	require.Equal(t, agreements.PartyPending, stored.Status, "refusals change nothing")

	// Every refusal is recorded with its reason: the registrant's, the
	// auditor's, the digest's (a request without one is not a refusal but
	// an invalid request).
	var refused []string
	for _, e := range entriesOf(t, db, agreements.AuditPartyRegistrationApprovalRefused) {
		require.Equal(t, "police.rogue", e.Recipient)
		require.Equal(t, p.RegistrationSHA256, e.Detail["expected_sha256"])
		require.Equal(t, "refused", e.Outcome)
		require.Equal(t, string(agreements.PartyPending), e.Detail["status"])
		refused = append(refused, e.Actor+" "+e.Detail["refused"]+" "+e.Detail["sha256"])
	}
	require.Equal(t, []string{
		"alice registrant " + p.RegistrationSHA256, " ALICE registrant " + p.RegistrationSHA256,
		"aziz role " + p.RegistrationSHA256, "dana digest " + other,
	}, refused)

	// Someone else, naming the digest, makes it active.
	clock = clock.Add(time.Hour)
	approved, err := svc.ApproveParty(ctx, dana, "police.rogue", " "+p.RegistrationSHA256+" ")
	require.NoError(t, err)
	require.Equal(t, agreements.PartyActive, approved.Status)
	require.Equal(t, "dana", approved.DecidedBy)
	snap, err = cache.Snapshot(ctx)
	require.NoError(t, err)
	require.True(t, snap.Party("police.rogue").Active(), "approved, it is active on the next snapshot")
	// Its approver's retry answers as the first did and records nothing;
	// anyone else's, or one naming another digest, is refused.
	recorded := len(auditEntries(t, db))
	retried, err := svc.ApproveParty(ctx, dana, "police.rogue", p.RegistrationSHA256)
	require.NoError(t, err)
	require.Equal(t, approved, retried)
	require.Len(t, auditEntries(t, db), recorded, "a retry records nothing")
	_, err = svc.ApproveParty(ctx, bob, "police.rogue", p.RegistrationSHA256)
	require.ErrorIs(t, err, agreements.ErrChangeState, "approved once")
	_, err = svc.ApproveParty(ctx, dana, "police.rogue", other)
	require.ErrorIs(t, err, agreements.ErrChangeState, "a retry names the digest approved")
	approvals := entriesOf(t, db, agreements.AuditPartyRegistrationApproved)
	require.Len(t, approvals, 1)
	require.Equal(t, agreements.AuditPartyRegistrationApproved, approvals[0].Type)
	require.Equal(t, "dana", approvals[0].Actor)
	require.Equal(t, p.RegistrationSHA256, approvals[0].Detail["sha256"])

	// A rejected registration is not active and cannot be approved; the id
	// may be registered again, pending again.
	q, err := svc.RegisterParty(ctx, alice, &agreements.Party{ID: "council.rogue", Kind: agreements.KindCouncilService, Name: "Rogue", EncryptionKey: changeKey2}, "")
	require.NoError(t, err)
	_, err = svc.RejectParty(ctx, dana, "council.rogue", "")
	require.ErrorAs(t, err, &verr)
	_, err = svc.RejectParty(ctx, aziz, "council.rogue", "not for me")
	require.ErrorIs(t, err, agreements.ErrForbidden)
	rejected, err := svc.RejectParty(ctx, dana, "council.rogue", "no such service")
	require.NoError(t, err)
	require.Equal(t, agreements.PartyRejected, rejected.Status)
	_, err = svc.RejectParty(ctx, alice, "council.rogue", "withdrawn")
	require.ErrorIs(t, err, agreements.ErrChangeState, "rejected once")
	recorded = len(auditEntries(t, db))
	rerejected, err := svc.RejectParty(ctx, dana, "council.rogue", "no such service")
	require.NoError(t, err, "its rejecter's retry answers as the first did")
	require.Equal(t, rejected, rerejected)
	require.Len(t, auditEntries(t, db), recorded, "a retry records nothing")
	_, err = svc.ApproveParty(ctx, dana, "council.rogue", q.RegistrationSHA256)
	require.ErrorIs(t, err, agreements.ErrChangeState)
	var states []string
	for _, e := range entriesOf(t, db, agreements.AuditPartyRegistrationApprovalRefused) {
		if e.Detail["refused"] == agreements.RefusedState {
			states = append(states, e.Recipient+" "+e.Detail["status"])
		}
	}
	require.Equal(t, []string{"police.rogue active", "police.rogue active", "council.rogue rejected"}, states, "an approval of what is no longer pending is recorded")
	var rejRefused []string
	for _, e := range entriesOf(t, db, agreements.AuditPartyRegistrationRejectionRefused) {
		rejRefused = append(rejRefused, e.Actor+" "+e.Recipient+" "+e.Detail["refused"]+" "+e.Detail["status"])
	}
	require.Equal(t, []string{"aziz council.rogue role pending", "alice council.rogue state rejected"}, rejRefused)
	_, err = svc.SetPartyStatus(ctx, alice, "council.rogue", agreements.PartyActive, "go")
	require.ErrorIs(t, err, agreements.ErrChangeState)
	snap, err = cache.Snapshot(ctx)
	require.NoError(t, err)
	require.False(t, snap.Party("council.rogue").Active())
	again, err := svc.RegisterParty(ctx, alice, &agreements.Party{ID: "council.rogue", Kind: agreements.KindCouncilService, Name: "Rogue again", EncryptionKey: changeKey2}, "")
	require.NoError(t, err)
	require.Equal(t, agreements.PartyPending, again.Status)
	require.NotEqual(t, q.RegistrationSHA256, again.RegistrationSHA256)
	_, err = svc.RegisterParty(ctx, alice, &agreements.Party{ID: "council.rogue", Kind: agreements.KindCouncilService, Name: "thrice", EncryptionKey: changeKey2}, "")
	require.ErrorIs(t, err, agreements.ErrExists, "a pending party is not replaced")
	verifyAll(t, db)
}

// entriesOf are the audit entries of one type, in order.
func entriesOf(t *testing.T, db *store.DB, typ string) []audit.Entry {
	t.Helper()
	var out []audit.Entry
	for _, e := range auditEntries(t, db) {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

func auditEntries(t *testing.T, db *store.DB) []audit.Entry {
	t.Helper()
	recs, err := db.AuditRecords(context.Background(), 0, 1000)
	require.NoError(t, err)
	out := make([]audit.Entry, len(recs))
	for i, r := range recs {
		require.NoError(t, json.Unmarshal(r.Body, &out[i]))
	}
	return out
}
