package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/client"
	"github.com/gatehouse-gw/gatehouse/devenv/testenv"
)

const youthJusticeYAML = `
id: youth-justice
title: Youth offending team referrals
controllers: separate
signatories:
  - {party: council.social-care, name: A. Grey, role: Director of Children's Services}
  - {party: police.northshire, name: Supt. K. Moss, role: Head of Public Protection}
appropriate_policy_document: NSC-APD-2025-03
dpia: {reference: NSC-DPIA-2026-007, completed: 2026-02-01, outcome: approved, approver: DPO}
effective_from: 2026-03-01
review_by: 2027-03-01
retention: 60d
subject_notification: {default: notify}
flows:
  - from: [council.social-care]
    to: [police.northshire]
    purposes: [safeguarding-child]
    lawful_bases: [A6-1-e]
    data_categories: [identity, family]
    requires_named_subject: true
`

func adminEntries(t *testing.T, gw *testenv.Gateway) map[string][]audit.Entry {
	t.Helper()
	recs, err := gw.App.DB.AuditRecords(context.Background(), 0, 10000)
	require.NoError(t, err)
	out := map[string][]audit.Entry{}
	v := audit.NewVerifier()
	for _, r := range recs {
		require.NoError(t, v.Next(r))
		var e audit.Entry
		require.NoError(t, json.Unmarshal(r.Body, &e))
		out[e.Type] = append(out[e.Type], e)
	}
	return out
}

func TestAgreementLifecycleThroughTheAdminAPI(t *testing.T) {
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	alice := gw.Admin(t, "alice", "admin", "dpo") // an admin who is also a DPO
	dana := gw.Admin(t, "dana", "dpo")
	aziz := gw.Admin(t, "aziz", "auditor")
	care := gw.Client(t, "council.social-care")

	sub, roles, err := alice.WhoAmI(ctx)
	require.NoError(t, err)
	require.Equal(t, "alice", sub)
	require.Equal(t, []string{"admin", "dpo"}, roles)

	// Only admins register; the document is validated with paths.
	_, err = aziz.Register(ctx, []byte(youthJusticeYAML), "application/yaml")
	requireProblem(t, err, http.StatusForbidden, "role-forbidden")
	bad := strings.Replace(youthJusticeYAML, "lawful_bases: [A6-1-e]", "lawful_bases: [A6-1-f]", 1)
	_, err = alice.Register(ctx, []byte(bad), "application/yaml")
	p := requireProblem(t, err, http.StatusBadRequest, "invalid-request")
	require.Equal(t, "flows[0].lawful_bases[0]", p.Errors[0].Field)
	require.Equal(t, `"A6-1-f" is not available to a public authority performing its tasks`, p.Errors[0].Message)
	_, err = alice.Register(ctx, []byte(youthJusticeYAML+"colour: blue\n"), "application/yaml")
	requireProblem(t, err, http.StatusBadRequest, "invalid-request")

	v1, err := alice.Register(ctx, []byte(youthJusticeYAML), "application/yaml")
	require.NoError(t, err)
	require.Equal(t, 1, v1.Version)
	require.Equal(t, "draft", string(v1.Status))
	require.Equal(t, "alice", v1.Author)

	declare := func() error {
		_, err := care.Declare(ctx, &api.ExchangeDeclaration{
			Agreement: "youth-justice", Recipient: "police.northshire", Purpose: "safeguarding-child", LawfulBasis: "A6-1-e",
			DataCategories: []string{"identity", "family"}, Subjects: []api.Subject{{Type: "council-ref", Value: "CS-1182"}},
			ContentType: "text/plain", Size: 3,
		})
		return err
	}
	requireFailed(t, declare(), "agreement.active")

	// Two-person rule: the author cannot approve, even as a DPO.
	_, err = alice.Approve(ctx, "youth-justice", 1, v1.SHA256)
	requireProblem(t, err, http.StatusForbidden, "two-person-rule")
	_, err = alice.Activate(ctx, "youth-justice", 1, v1.SHA256)
	requireProblem(t, err, http.StatusConflict, "lifecycle")
	approved, err := dana.Approve(ctx, "youth-justice", 1, v1.SHA256)
	require.NoError(t, err)
	require.Equal(t, "approved", string(approved.Status))
	require.Equal(t, "dana", approved.ApprovedBy)
	_, err = dana.Activate(ctx, "youth-justice", 1, v1.SHA256)
	requireProblem(t, err, http.StatusForbidden, "role-forbidden")
	active, err := alice.Activate(ctx, "youth-justice", 1, v1.SHA256)
	require.NoError(t, err)
	require.Equal(t, "active", string(active.Status))
	require.NoError(t, declare())

	// A change is a new version; the version in force governs until the new
	// one is activated, then it is superseded.
	v2doc := strings.Replace(youthJusticeYAML, "Youth offending team referrals", "Youth offending team referrals (2026 revision)", 1)
	v2, err := alice.Register(ctx, []byte(v2doc), "application/yaml")
	require.NoError(t, err)
	require.Equal(t, 2, v2.Version)
	shown, err := aziz.Agreement(ctx, "youth-justice")
	require.NoError(t, err)
	require.Equal(t, 1, shown.Version)
	_, err = dana.Approve(ctx, "youth-justice", 2, v2.SHA256)
	require.NoError(t, err)
	_, err = alice.Activate(ctx, "youth-justice", 2, v2.SHA256)
	require.NoError(t, err)
	versions, err := aziz.Versions(ctx, "youth-justice")
	require.NoError(t, err)
	require.Len(t, versions, 2)
	require.Equal(t, "superseded", string(versions[0].Status))
	require.Equal(t, "active", string(versions[1].Status))
	e, err := care.Declare(ctx, &api.ExchangeDeclaration{
		Agreement: "youth-justice", Recipient: "police.northshire", Purpose: "safeguarding-child", LawfulBasis: "A6-1-e",
		DataCategories: []string{"identity"}, Subjects: []api.Subject{{Type: "council-ref", Value: "CS-1182"}},
		ContentType: "text/plain", Size: 3,
	})
	require.NoError(t, err)
	require.Equal(t, "youth-justice@2", e.Agreement)

	// Suspension takes effect on the next request: a declared exchange's
	// upload is refused too. Resuming lets it through.
	_, err = alice.Suspend(ctx, "youth-justice", "")
	requireProblem(t, err, http.StatusBadRequest, "invalid-request")
	_, err = alice.Suspend(ctx, "youth-justice", "Complaint under investigation")
	require.NoError(t, err)
	requireFailed(t, declare(), "agreement.active")
	_, err = care.Upload(ctx, e.ID, strings.NewReader("abc"), 3)
	requireFailed(t, err, "agreement.active")
	_, err = alice.Resume(ctx, "youth-justice", "Investigation closed")
	require.NoError(t, err)
	_, err = care.Upload(ctx, e.ID, strings.NewReader("abc"), 3)
	require.NoError(t, err)
	_, err = alice.Terminate(ctx, "youth-justice", "Replaced by the regional agreement")
	require.NoError(t, err)
	requireFailed(t, declare(), "agreement.active")
	_, err = alice.Resume(ctx, "youth-justice", "oops")
	requireProblem(t, err, http.StatusConflict, "lifecycle")

	list, err := aziz.Agreements(ctx)
	require.NoError(t, err)
	require.Len(t, list, 6, "five demo agreements and this one")

	// Every admin action is in the audit chain with its actor.
	entries := adminEntries(t, gw)
	actors := func(typ string) []string {
		var out []string
		for _, e := range entries[typ] {
			if e.Agreement != "" && strings.HasPrefix(e.Agreement, "youth-justice") {
				out = append(out, e.Actor+" "+e.Agreement)
			}
		}
		return out
	}
	require.Equal(t, []string{"alice youth-justice@1", "alice youth-justice@2"}, actors("admin.agreement.registered"))
	require.Equal(t, []string{"dana youth-justice@1", "dana youth-justice@2"}, actors("admin.agreement.approved"))
	require.Equal(t, []string{"alice youth-justice@1", "alice youth-justice@2"}, actors("admin.agreement.activated"))
	require.Equal(t, []string{"alice youth-justice@2"}, actors("admin.agreement.suspended"))
	require.Equal(t, []string{"alice youth-justice@2"}, actors("admin.agreement.terminated"))
	require.Equal(t, "Complaint under investigation", entries["admin.agreement.suspended"][0].Detail["reason"])
	// So is every refused approval and activation, with why.
	refusals := func(typ string) []string {
		var out []string
		for _, e := range entries[typ] {
			if strings.HasPrefix(e.Agreement, "youth-justice") {
				require.Equal(t, "refused", e.Outcome)
				out = append(out, e.Actor+" "+e.Agreement+" "+e.Detail["refused"]+" "+e.Detail["sha256"])
			}
		}
		return out
	}
	require.Equal(t, []string{"alice youth-justice@1 author " + v1.SHA256}, refusals(agreements.AuditAgreementApprovalRefused))
	require.Equal(t, []string{"alice youth-justice@1 state " + v1.SHA256, "dana youth-justice@1 role " + v1.SHA256}, refusals(agreements.AuditAgreementActivationRefused))
}

func requireFailed(t *testing.T, err error, code string) {
	t.Helper()
	p := requireProblem(t, err, http.StatusForbidden, "refused")
	for _, c := range p.Decision.Checks {
		if c.Code == code {
			require.False(t, c.Passed, "%s passed", code)
			return
		}
	}
	t.Fatalf("check %s was not run: %+v", code, p.Decision.Checks)
}

func TestActivationNeedsADPIA(t *testing.T) {
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	alice, dana := gw.Admin(t, "alice", "admin"), gw.Admin(t, "dana", "dpo")
	doc := strings.Replace(youthJusticeYAML, "dpia: {reference: NSC-DPIA-2026-007, completed: 2026-02-01, outcome: approved, approver: DPO}\n", "", 1)
	v1, err := alice.Register(ctx, []byte(doc), "application/yaml")
	require.NoError(t, err)
	_, err = dana.Approve(ctx, "youth-justice", 1, v1.SHA256)
	require.NoError(t, err)
	_, err = alice.Activate(ctx, "youth-justice", 1, v1.SHA256)
	p := requireProblem(t, err, http.StatusBadRequest, "invalid-request")
	require.Equal(t, "dpia", p.Errors[0].Field)
	require.Equal(t, "required before activation", p.Errors[0].Message)
	refused := youthJusticeEntries(t, gw)[agreements.AuditAgreementActivationRefused]
	require.Len(t, refused, 1, "the refused activation is recorded")
	require.Equal(t, "alice", refused[0].Actor)
	require.Equal(t, agreements.RefusedChecks, refused[0].Detail["refused"])
	require.Equal(t, v1.SHA256, refused[0].Detail["sha256"])
}

func TestPartySuspensionTakesEffectOnTheNextRequest(t *testing.T) {
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	admin := gw.Admin(t, "alice", "admin")
	police := gw.Client(t, "police.northshire")
	council := gw.Client(t, "council.revenues")

	_, err := police.WhoAmI(ctx)
	require.NoError(t, err)
	p, err := admin.SuspendParty(ctx, "police.northshire", "Certificate compromise reported")
	require.NoError(t, err)
	require.Equal(t, "suspended", string(p.Status))

	_, err = police.WhoAmI(ctx) // same keep-alive connection, next request
	requireProblem(t, err, http.StatusForbidden, "party-suspended")
	_, err = council.Declare(ctx, policeDisclosure(10))
	requireFailed(t, err, "recipient.active")

	_, err = admin.ResumeParty(ctx, "police.northshire", "New certificate issued")
	require.NoError(t, err)
	_, err = police.WhoAmI(ctx)
	require.NoError(t, err)
	entries := adminEntries(t, gw)
	require.Equal(t, "alice", entries["admin.party.suspended"][0].Actor)
	require.Equal(t, "police.northshire", entries["admin.party.suspended"][0].Recipient)
}

func TestAdminAPIRefusesBadTokens(t *testing.T) {
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	c, err := client.NewAdmin(client.AdminConfig{URL: gw.AdminURL, Token: "not-a-token", CAFile: gw.Env.CAFile()})
	require.NoError(t, err)
	_, _, err = c.WhoAmI(ctx)
	requireProblem(t, err, http.StatusUnauthorized, "token-invalid")

	// No token at all.
	hc := testenv.HTTPClient(t, gw.Env.CAFile())
	resp, err := hc.Get(gw.AdminURL + "/admin/v1/parties")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, `Bearer realm="gatehouse-admin"`, resp.Header.Get("WWW-Authenticate"))

	// A token for a role that cannot act.
	_, err = gw.Admin(t, "aziz", "auditor").SuspendParty(ctx, "dwp", "no")
	requireProblem(t, err, http.StatusForbidden, "role-forbidden")

	// The admin listener serves no partner routes, even to a valid token.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, gw.AdminURL+"/v1/inbox", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+gw.Token(t, "alice", "admin"))
	resp, err = hc.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}

func TestDryRunDecidesWithoutStoring(t *testing.T) {
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	council := gw.Client(t, "council.revenues")
	before, err := gw.App.DB.AuditRecords(ctx, 0, 10000)
	require.NoError(t, err)

	d, err := council.Check(ctx, policeDisclosure(10))
	require.NoError(t, err)
	require.Equal(t, "allow", d.Outcome)
	bad := policeDisclosure(10)
	bad.Authoriser.Rank = "sergeant"
	d, err = council.Check(ctx, bad)
	require.NoError(t, err, "a dry-run refusal is an answer, not an error")
	require.Equal(t, "deny", d.Outcome)

	// The same through the admin API, for any sender.
	dec, err := gw.Admin(t, "aziz", "auditor").Check(ctx, "hmrc", policeDisclosure(10))
	require.NoError(t, err)
	require.Equal(t, "deny", dec.Outcome)

	after, err := gw.App.DB.AuditRecords(ctx, 0, 10000)
	require.NoError(t, err)
	require.Equal(t, len(before), len(after), "a dry run records nothing")
	n, err := gw.App.DB.CountExchanges(ctx)
	require.NoError(t, err)
	require.Zero(t, n)
}

func TestEmergencyOverrideWithoutAgreement(t *testing.T) {
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	care := gw.Client(t, "council.social-care")
	d := &api.ExchangeDeclaration{
		Recipient: "police.northshire", Purpose: "safeguarding-child", LawfulBasis: "A6-1-d",
		DataCategories: []string{"identity", "address-history"}, Subjects: []api.Subject{{Type: "council-ref", Value: "CS-2209"}},
		Justification: "Child at immediate risk; officers attending now", Urgency: "emergency",
		Authoriser: &api.Authoriser{Name: "M. Ade", Rank: "head-of-service"}, ContentType: "text/plain", Size: 5,
	}
	e, err := care.Send(ctx, d, strings.NewReader("alert"))
	require.NoError(t, err)
	require.Equal(t, "delivered", e.State)
	require.Equal(t, "", e.Agreement)
	got, err := care.Exchange(ctx, e.ID)
	require.NoError(t, err)
	require.Equal(t, "allow-override", got.Decision.Outcome)
	require.NotNil(t, got.Decision.ReviewBy)
	require.WithinDuration(t, time.Now().Add(72*time.Hour), *got.Decision.ReviewBy, time.Minute)

	var out bytes.Buffer
	_, err = gw.Client(t, "police.northshire").Fetch(ctx, e.ID, gw.DecryptKey(t, "police.northshire"), &out)
	require.NoError(t, err)
	require.Equal(t, "alert", out.String())

	// The same for marketing is refused.
	d.Purpose = "marketing"
	_, err = care.Declare(ctx, d)
	requireFailed(t, err, "override.emergency")
	entries := adminEntries(t, gw)
	var overrides int
	for _, en := range entries[audit.TypeExchangeDecided] {
		if en.Outcome == "allow-override" {
			overrides++
		}
	}
	require.Equal(t, 1, overrides)
}
