package e2e

import (
	"context"
	"crypto/tls"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/devenv/testenv"
	"github.com/gatehouse-gw/gatehouse/exchange/seal"
)

// A new party is one administrator's registration and a second person's
// approval: registered, a "police" party with its own CA and key is not
// active, so its certificate acts as no active party and an emergency
// disclosure under no agreement (the one path that needs no agreement) is
// refused by name; its registrant cannot approve it, nor can a wrong
// digest; approved by a DPO with the registration's digest, it can.
func TestNewPartyNeedsSecondPerson(t *testing.T) {
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	alice := gw.Admin(t, "alice", "admin")
	dana := gw.Admin(t, "dana", "dpo")
	care := gw.Client(t, "council.social-care")

	rogueCA := newCA(t, "Newshire Police CA")
	reloadWithCRLs(t, gw, []string{emptyCRL(t, rogueCA)})
	key, err := seal.GenerateKey(seal.UseEncryption)
	require.NoError(t, err)
	pub, err := seal.PublicJSON(key)
	require.NoError(t, err)
	reg, err := alice.RegisterParty(ctx, &api.PartyRegistration{
		ID: "police.newshire", Kind: string(agreements.KindPolice), Name: "Newshire Police", TrustAnchors: rogueCA.pem(), EncryptionKey: pub,
	})
	require.NoError(t, err)
	require.Equal(t, "pending", reg.Status)
	require.Equal(t, "alice", reg.RegisteredBy)
	require.Len(t, reg.RegistrationSHA256, 64)

	cert := rogueCA.issue(t, leafOpts{uris: []string{partyURI("police.newshire")}})
	requireParty := func(cert *tls.Certificate, want, wantCode string) {
		t.Helper()
		party, code, _ := dial(t, gw, cert, nil)
		require.Equal(t, want, party)
		require.Equal(t, wantCode, code)
	}
	emergency := func() *api.ExchangeDeclaration {
		return &api.ExchangeDeclaration{
			Recipient: "police.newshire", Purpose: "safeguarding-child", LawfulBasis: "A6-1-d",
			DataCategories: []string{"identity", "address-history"}, Subjects: []api.Subject{{Type: "council-ref", Value: "CS-2209"}},
			Justification: "Child at immediate risk; officers attending now", Urgency: "emergency",
			Authoriser: &api.Authoriser{Name: "M. Ade", Rank: "head-of-service"}, ContentType: "text/plain", Size: 5,
		}
	}

	// Pending: its certificate is no active party, and nothing is
	// disclosed to it, not even in an emergency.
	requireParty(&cert, "", "party-pending")
	_, err = care.Send(ctx, emergency(), strings.NewReader("alert"))
	requireFailed(t, err, agreements.CheckRecipientActive)

	// Its registrant cannot approve it (as any spelling of herself), an
	// auditor cannot, and a digest other than the registration's is refused.
	_, err = alice.ApproveParty(ctx, "police.newshire", reg.RegistrationSHA256)
	requireProblem(t, err, http.StatusForbidden, "two-person-rule")
	_, err = gw.Admin(t, "ALICE ", "admin", "dpo").ApproveParty(ctx, "police.newshire", reg.RegistrationSHA256)
	requireProblem(t, err, http.StatusForbidden, "two-person-rule")
	_, err = gw.Admin(t, "aziz", "auditor").ApproveParty(ctx, "police.newshire", reg.RegistrationSHA256)
	requireProblem(t, err, http.StatusForbidden, "role-forbidden")
	wrong := strings.Repeat("0", 64)
	_, err = dana.ApproveParty(ctx, "police.newshire", wrong)
	requireProblem(t, err, http.StatusConflict, "party-change-digest-mismatch")
	// Nor does resuming it, or a direct update, make it active.
	_, err = alice.ResumeParty(ctx, "police.newshire", "let it in")
	requireProblem(t, err, http.StatusConflict, "party-change-state")
	requireParty(&cert, "", "party-pending")

	// A DPO approves the registration she was shown: active from the next
	// request.
	shown, err := dana.Party(ctx, "police.newshire")
	require.NoError(t, err)
	approved, err := dana.ApproveParty(ctx, "police.newshire", shown.RegistrationSHA256)
	require.NoError(t, err)
	require.Equal(t, "active", approved.Status)
	require.Equal(t, "dana", approved.DecidedBy)
	requireParty(&cert, "police.newshire", "")
	// Her retry answers as the first did and records nothing; anyone
	// else's is refused.
	again, err := dana.ApproveParty(ctx, "police.newshire", shown.RegistrationSHA256)
	require.NoError(t, err)
	require.Equal(t, approved, again)
	_, err = gw.Admin(t, "bob", "admin").ApproveParty(ctx, "police.newshire", shown.RegistrationSHA256)
	requireProblem(t, err, http.StatusConflict, "party-change-state")
	e, err := care.Send(ctx, emergency(), strings.NewReader("alert"))
	require.NoError(t, err)
	require.Equal(t, "delivered", e.State)

	// Each step in the audit chain, with the digest.
	entries := adminEntries(t, gw)
	var registered *audit.Entry
	for i, en := range entries[agreements.AuditPartyRegistered] {
		if en.Recipient == "police.newshire" {
			registered = &entries[agreements.AuditPartyRegistered][i]
		}
	}
	require.NotNil(t, registered)
	require.Equal(t, reg.RegistrationSHA256, registered.Detail["sha256"])
	var ok []audit.Entry
	for _, en := range entries[agreements.AuditPartyRegistrationApproved] {
		if en.Recipient == "police.newshire" {
			ok = append(ok, en)
		}
	}
	require.Len(t, ok, 1, "approved once: the retry recorded nothing")
	require.Equal(t, "dana", ok[0].Actor)
	require.Equal(t, reg.RegistrationSHA256, ok[0].Detail["sha256"])
	refused := entries[agreements.AuditPartyRegistrationApprovalRefused]
	var why []string
	for _, r := range refused {
		require.Equal(t, "refused", r.Outcome)
		require.Equal(t, "police.newshire", r.Recipient)
		why = append(why, r.Actor+" "+r.Detail["refused"])
	}
	require.Equal(t, []string{"alice registrant", "ALICE registrant", "aziz role", "dana digest", "bob state"}, why,
		"the registrant twice, the auditor, the wrong digest, another's approval once approved")
	require.Equal(t, wrong, refused[3].Detail["sha256"])
}
