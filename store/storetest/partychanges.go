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

// Two public P-256 keys (RFC 7515 A.3's and another point on the curve).
var (
	changeKey1 = []byte(`{"kty":"EC","crv":"P-256","kid":"k1","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}`)
	changeKey2 = []byte(`{"kty":"EC","crv":"P-256","kid":"k2","x":"gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0","y":"SLW_xSffzlPWrHEVI30DHM_4egVwt3NQqeUD7nMFpps"}`)
)

// testPartyChanges runs the two-person rule for a party's trust against
// the backend: a proposal changes nothing, its proposer cannot approve it,
// an approval names its digest and applies it in the same transaction as
// its audit entry, and a party has one open proposal at a time.
func testPartyChanges(t *testing.T, db *store.DB) {
	ctx := context.Background()
	svc := agreements.NewService(db.Agreements(db.Registry(agreements.DefaultPolicy)))
	clock := time.Date(2026, 11, 22, 12, 0, 0, 123456789, time.UTC)
	svc.SetClock(func() time.Time { return clock })
	alice := agreements.Actor{Subject: "alice", Name: "Alice Admin", Roles: []string{agreements.RoleAdmin}}
	aliceAgain := agreements.Actor{Subject: " ALICE", Roles: []string{agreements.RoleAdmin, agreements.RoleDPO}}
	bob := agreements.Actor{Subject: "bob", Roles: []string{agreements.RoleAdmin}}
	dana := agreements.Actor{Subject: "dana", Name: "Dana DPO", Roles: []string{agreements.RoleDPO}}
	aziz := agreements.Actor{Subject: "aziz", Roles: []string{agreements.RoleAuditor}}
	regd, err := svc.RegisterParty(ctx, alice, &agreements.Party{ID: "dwp", Kind: agreements.KindDWP, Name: "DWP", EncryptionKey: changeKey1}, "")
	require.NoError(t, err)
	_, err = svc.ApproveParty(ctx, bob, "dwp", regd.RegistrationSHA256)
	require.NoError(t, err)
	p0, err := db.Party(ctx, "dwp")
	require.NoError(t, err)

	// A direct update may change the name, never the trust.
	renamed := *p0
	renamed.Name = "Department for Work and Pensions"
	_, err = svc.UpdateParty(ctx, alice, &renamed)
	require.NoError(t, err)
	rekeyed := renamed
	rekeyed.EncryptionKey = changeKey2
	_, err = svc.UpdateParty(ctx, alice, &rekeyed)
	require.ErrorIs(t, err, agreements.ErrNeedsApproval)
	require.ErrorContains(t, err, "encryption_key")
	rekinded := renamed
	rekinded.Kind = agreements.KindPolice
	_, err = svc.UpdateParty(ctx, alice, &rekinded)
	require.ErrorIs(t, err, agreements.ErrNeedsApproval)

	// Proposals: admins only, with a reason, changing something valid.
	edit := agreements.TrustEdit{EncryptionKey: changeKey2}
	_, err = svc.ProposePartyChange(ctx, dana, "dwp", edit, "rotation", "")
	require.ErrorIs(t, err, agreements.ErrForbidden)
	_, err = svc.ProposePartyChange(ctx, alice, "dwp", edit, " ", "")
	requireField(t, err, "reason", "required")
	_, err = svc.ProposePartyChange(ctx, alice, "dwp", agreements.TrustEdit{EncryptionKey: changeKey1}, "same key", "")
	requireField(t, err, "change", "changed")
	_, err = svc.ProposePartyChange(ctx, alice, "dwp", agreements.TrustEdit{EncryptionKey: []byte(`{"kty":"EC","crv":"P-256","kid":"k","x":"a","y":"b","d":"secret"}`)}, "bad", "")
	requireField(t, err, "encryption_key", "jwk")
	_, err = svc.ProposePartyChange(ctx, alice, "missing", edit, "rotation", "")
	require.ErrorIs(t, err, agreements.ErrNotFound)

	ch, err := svc.ProposePartyChange(ctx, alice, "dwp", edit, "annual key rotation", "key-1")
	require.NoError(t, err)
	require.Equal(t, agreements.ChangeProposed, ch.Status)
	require.Equal(t, []string{"encryption_key"}, ch.Fields())
	require.Equal(t, agreements.ChangeDigest(ch), ch.Digest)
	require.Len(t, ch.Digest, 64)
	again, err := svc.ProposePartyChange(ctx, alice, "dwp", edit, "annual key rotation", "key-1")
	require.NoError(t, err, "a repeat with the same idempotency key returns the proposal")
	require.Equal(t, ch.ID, again.ID)
	_, err = svc.ProposePartyChange(ctx, bob, "dwp", agreements.TrustEdit{Kind: ptr(agreements.KindHMRC)}, "second", "")
	require.ErrorIs(t, err, agreements.ErrChangeState, "one open proposal per party")

	// Nothing has changed yet.
	p, err := db.Party(ctx, "dwp")
	require.NoError(t, err)
	require.JSONEq(t, string(changeKey1), string(p.EncryptionKey))
	reg, err := db.Registry(agreements.DefaultPolicy).Snapshot(ctx)
	require.NoError(t, err)
	require.JSONEq(t, string(changeKey1), string(reg.Party("dwp").EncryptionKey))

	// The stored proposal is the one whose digest was shown.
	stored, err := svc.PartyChange(ctx, aziz, ch.ID)
	require.NoError(t, err)
	require.Equal(t, ch.Digest, agreements.ChangeDigest(stored), "the digest survives the store")
	list, err := svc.PartyChanges(ctx, aziz, "dwp")
	require.NoError(t, err)
	require.Len(t, list, 1)

	// The proposer cannot approve, however they write their id; an auditor
	// cannot; a wrong or missing digest is refused.
	_, _, err = svc.ApprovePartyChange(ctx, aliceAgain, ch.ID, ch.Digest)
	require.ErrorIs(t, err, agreements.ErrSameProposer)
	_, _, err = svc.ApprovePartyChange(ctx, aziz, ch.ID, ch.Digest)
	require.ErrorIs(t, err, agreements.ErrForbidden)
	_, _, err = svc.ApprovePartyChange(ctx, dana, ch.ID, "")
	requireField(t, err, "sha256", "required")
	_, _, err = svc.ApprovePartyChange(ctx, dana, ch.ID, agreements.ChangeDigest(&agreements.PartyChange{ID: ch.ID}))
	require.ErrorIs(t, err, agreements.ErrDigestMismatch)
	_, _, err = svc.ApprovePartyChange(ctx, dana, "missing", ch.Digest)
	require.ErrorIs(t, err, agreements.ErrNotFound)
	p, err = db.Party(ctx, "dwp")
	require.NoError(t, err)
	require.JSONEq(t, string(changeKey1), string(p.EncryptionKey), "refusals change nothing")

	// A DPO approves with the digest (written in capitals): now in effect.
	clock = clock.Add(time.Hour)
	done, applied, err := svc.ApprovePartyChange(ctx, dana, ch.ID, " "+upper(ch.Digest))
	require.NoError(t, err)
	require.Equal(t, agreements.ChangeApproved, done.Status)
	require.Equal(t, "dana", done.DecidedBy)
	require.JSONEq(t, string(changeKey2), string(applied.EncryptionKey))
	require.Equal(t, "Department for Work and Pensions", applied.Name, "what is not in the change stays")
	reg, err = db.Registry(agreements.DefaultPolicy).Snapshot(ctx)
	require.NoError(t, err)
	require.JSONEq(t, string(changeKey2), string(reg.Party("dwp").EncryptionKey))
	_, _, err = svc.ApprovePartyChange(ctx, bob, ch.ID, ch.Digest)
	require.ErrorIs(t, err, agreements.ErrChangeState, "approved once")
	// Its approver's retry (whose answer was lost) answers as the first
	// did and records nothing; with another digest it is refused.
	recorded := len(auditEntries(t, db))
	retried, reapplied, err := svc.ApprovePartyChange(ctx, agreements.Actor{Subject: "Dana ", Roles: []string{agreements.RoleDPO}}, ch.ID, ch.Digest)
	require.NoError(t, err)
	require.Equal(t, done, retried)
	require.Equal(t, applied.EncryptionKey, reapplied.EncryptionKey)
	require.Equal(t, applied.Name, reapplied.Name)
	require.Len(t, auditEntries(t, db), recorded, "a retry records nothing")
	_, _, err = svc.ApprovePartyChange(ctx, dana, ch.ID, agreements.ChangeDigest(&agreements.PartyChange{ID: ch.ID}))
	require.ErrorIs(t, err, agreements.ErrChangeState, "a retry names the digest approved")

	// Rejected by another person; withdrawn by its proposer.
	ch2, err := svc.ProposePartyChange(ctx, bob, "dwp", agreements.TrustEdit{Identity: &agreements.IdentityRule{SubjectDN: "CN=dwp", IssuerFingerprint: "ab" + hex64()}}, "their PKI has no URI SANs", "")
	require.NoError(t, err)
	_, err = svc.RejectPartyChange(ctx, dana, ch2.ID, "")
	requireField(t, err, "reason", "required")
	_, err = svc.RejectPartyChange(ctx, aziz, ch2.ID, "not for me")
	require.ErrorIs(t, err, agreements.ErrForbidden)
	r2, err := svc.RejectPartyChange(ctx, dana, ch2.ID, "ask DWP to confirm the DN first")
	require.NoError(t, err)
	require.Equal(t, agreements.ChangeRejected, r2.Status)
	_, err = svc.RejectPartyChange(ctx, bob, ch2.ID, "and again")
	require.ErrorIs(t, err, agreements.ErrChangeState, "rejected once")
	recorded = len(auditEntries(t, db))
	again2, err := svc.RejectPartyChange(ctx, dana, ch2.ID, "ask DWP to confirm the DN first")
	require.NoError(t, err, "its rejecter's retry answers as the first did")
	require.Equal(t, r2, again2)
	require.Len(t, auditEntries(t, db), recorded, "a retry records nothing")
	ch3, err := svc.ProposePartyChange(ctx, bob, "dwp", agreements.TrustEdit{RevocationHosts: &[]string{"crl.dwp.example"}}, "their CRL host", "")
	require.NoError(t, err)
	r3, err := svc.RejectPartyChange(ctx, bob, ch3.ID, "typo")
	require.NoError(t, err)
	require.Equal(t, agreements.ChangeWithdrawn, r3.Status)
	again3, err := svc.RejectPartyChange(ctx, bob, ch3.ID, "typo")
	require.NoError(t, err)
	require.Equal(t, agreements.ChangeWithdrawn, again3.Status)
	_, _, err = svc.ApprovePartyChange(ctx, dana, ch3.ID, ch3.Digest)
	require.ErrorIs(t, err, agreements.ErrChangeState)
	p, err = db.Party(ctx, "dwp")
	require.NoError(t, err)
	require.Equal(t, agreements.IdentityRule{}, p.Identity)
	require.Empty(t, p.RevocationHosts)

	list, err = svc.PartyChanges(ctx, aziz, "")
	require.NoError(t, err)
	require.Equal(t, []string{ch3.ID, ch2.ID, ch.ID}, []string{list[0].ID, list[1].ID, list[2].ID}, "newest first")

	// Each step audited with the digest, in the chain.
	recs, err := db.AuditRecords(ctx, 0, 100)
	require.NoError(t, err)
	byType := map[string][]map[string]string{}
	for _, r := range recs {
		var e audit.Entry
		require.NoError(t, json.Unmarshal(r.Body, &e))
		byType[e.Type] = append(byType[e.Type], e.Detail)
	}
	require.Len(t, byType[agreements.AuditPartyChangeProposed], 3)
	require.Equal(t, ch.Digest, byType[agreements.AuditPartyChangeProposed][0]["sha256"])
	require.Equal(t, "encryption_key", byType[agreements.AuditPartyChangeProposed][0]["fields"])
	require.Len(t, byType[agreements.AuditPartyChangeApproved], 1)
	require.Equal(t, ch.Digest, byType[agreements.AuditPartyChangeApproved][0]["sha256"])
	require.Equal(t, "Dana DPO", byType[agreements.AuditPartyChangeApproved][0]["actor_name"])
	require.Len(t, byType[agreements.AuditPartyChangeRejected], 1)
	require.Len(t, byType[agreements.AuditPartyChangeWithdrawn], 1)
	// Every refused approval is recorded with its reason: the proposer's,
	// the auditor's, the wrong digest, and approvals of a change no longer
	// open; so are refused rejections.
	refused := byType[agreements.AuditPartyChangeApprovalRefused]
	require.Equal(t, []string{"proposer", "role", "digest", "state", "state", "state"}, details(refused, "refused"))
	require.Equal(t, []string{ch.ID, ch.ID, ch.ID, ch.ID, ch.ID, ch3.ID}, details(refused, "change"))
	require.Equal(t, ch.Digest, refused[1]["sha256"], "the digest given")
	require.Equal(t, ch.Digest, refused[2]["expected_sha256"])
	require.Equal(t, []string{"proposed", "proposed", "proposed", "approved", "approved", "withdrawn"}, details(refused, "status"))
	require.Equal(t, "[auditor]", refused[1]["roles"])
	rejRefused := byType[agreements.AuditPartyChangeRejectionRefused]
	require.Equal(t, []string{"role", "state"}, details(rejRefused, "refused"))
	require.Equal(t, []string{ch2.ID, ch2.ID}, details(rejRefused, "change"))
	require.Equal(t, "and again", rejRefused[1]["reason"])
	verifyAll(t, db)
}

// details lists one detail of each entry.
func details(entries []map[string]string, key string) []string {
	out := make([]string, len(entries))
	for i, d := range entries {
		out[i] = d[key]
	}
	return out
}

func requireField(t *testing.T, err error, path, rule string) {
	t.Helper()
	v, ok := valid.As(err)
	require.True(t, ok, "want a validation error, got %v", err)
	require.Equal(t, path, v[0].Path)
	require.Equal(t, rule, v[0].Rule)
}

func ptr[T any](v T) *T { return &v }

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func hex64() string { return "cd0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab" }
