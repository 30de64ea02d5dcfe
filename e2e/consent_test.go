package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/devenv/testenv"
)

// offersYAML lets the revenues service disclose to the DWP for marketing,
// on the subjects' consent only.
const offersYAML = `
id: consented-offers
title: Offers the subjects asked for
controllers: separate
signatories:
  - {party: council.revenues, name: R. Khan, role: Head of Revenues}
  - {party: dwp, name: J. Obi, role: Data Protection Officer}
appropriate_policy_document: NSC-APD-2025-03
dpia: {reference: NSC-DPIA-2026-031, completed: 2026-02-01, outcome: approved, approver: DPO}
effective_from: 2026-03-01
review_by: 2027-03-01
retention: 30d
subject_notification: {default: notify}
flows:
  - from: [council.revenues]
    to: [dwp]
    purposes: [marketing]
    lawful_bases: [A6-1-a]
    data_categories: [identity, contact]
`

func offersDisclosure(subjects ...api.Subject) *api.ExchangeDeclaration {
	return &api.ExchangeDeclaration{
		Agreement: "consented-offers", Recipient: "dwp", Purpose: "marketing", LawfulBasis: "A6-1-a",
		DataCategories: []string{"identity", "contact"}, Subjects: subjects, ContentType: "text/plain", Size: 4,
	}
}

// A marketing disclosure under consent (A6-1-a) goes only where the consent
// register holds each subject's cited consent: over real TLS and MinIO it is
// refused by name while the record is missing, goes once a DPO records it,
// is refused again once it is withdrawn; a consent of another subject or for
// another purpose does not count; the dry run says the same as the
// declaration; the register's changes are audited with the subject keyed.
// On SQLite and on PostgreSQL.
func TestConsentRecordsLookedUp(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) { testConsentRecordsLookedUp(t, backend == "postgres") })
	}
}

func testConsentRecordsLookedUp(t *testing.T, postgres bool) {
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{Postgres: postgres})
	putInForce(t, gw, offersYAML)
	council := gw.Client(t, "council.revenues")
	dpo, auditor := gw.Admin(t, "dana", "dpo"), gw.Admin(t, "ali.auditor", "auditor")
	alice := api.Subject{Type: "nino", Value: "QQ123456C", ConsentRef: "NSC-CONSENT-0091"}
	bob := api.Subject{Type: "nino", Value: "AB654321D"}

	refused := func(d *api.ExchangeDeclaration, reason string) {
		t.Helper()
		dry, err := council.Check(ctx, d)
		require.NoError(t, err)
		require.Equal(t, "deny", dry.Outcome)
		_, err = council.Send(ctx, d, strings.NewReader("data"))
		p := requireProblem(t, err, 403, "refused")
		require.NotNil(t, p.Decision)
		var failed []string
		for _, decs := range []*api.Decision{p.Decision, dry} {
			for _, c := range decs.Checks {
				if !c.Passed {
					failed = append(failed, c.Code)
					require.Contains(t, c.Message, reason)
					require.NotContains(t, c.Message, alice.Value)
					require.NotContains(t, c.Message, bob.Value)
				}
			}
		}
		require.Equal(t, []string{"consent.recorded", "consent.recorded"}, failed, "the dry run and the declaration fail by the same name")
	}
	allowed := func(d *api.ExchangeDeclaration) {
		t.Helper()
		dry, err := council.Check(ctx, d)
		require.NoError(t, err)
		require.Equal(t, "allow", dry.Outcome)
		e, err := council.Send(ctx, d, strings.NewReader("data"))
		require.NoError(t, err)
		require.Equal(t, "delivered", e.State)
	}

	// Cited, but not in the register.
	refused(offersDisclosure(alice), `subjects[0]: council.revenues has no consent record "NSC-CONSENT-0091"`)

	// Only an admin or a DPO keeps the register.
	record := api.ConsentRecord{Party: "council.revenues", ConsentRef: "NSC-CONSENT-0091",
		Subject: &api.Subject{Type: "nino", Value: "qq 12 34 56 c"}, Purposes: []string{"marketing"}}
	_, err := auditor.RecordConsent(ctx, record)
	requireProblem(t, err, 403, "role-forbidden")
	_, err = dpo.RecordConsent(ctx, api.ConsentRecord{Party: "council.nowhere", ConsentRef: "X", Subject: record.Subject, Purposes: []string{"nonsense"}})
	p := requireProblem(t, err, 400, "invalid-request")
	require.Equal(t, "purposes[0]", p.Errors[0].Field)
	future := record
	future.GivenAt = time.Now().Add(time.Hour)
	_, err = dpo.RecordConsent(ctx, future)
	p = requireProblem(t, err, 400, "invalid-request")
	require.Equal(t, "given_at", p.Errors[0].Field)
	given, err := dpo.RecordConsent(ctx, record)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(given.SubjectKey, "hmac-sha256:"), given.SubjectKey)
	_, err = dpo.RecordConsent(ctx, record)
	requireProblem(t, err, 409, "consent-exists")

	allowed(offersDisclosure(alice))

	// Another subject's consent, and one for another purpose, do not count.
	_, err = dpo.RecordConsent(ctx, api.ConsentRecord{Party: "council.revenues", ConsentRef: "NSC-CONSENT-0092",
		Subject: &api.Subject{Type: bob.Type, Value: bob.Value}, Purposes: []string{"marketing"}})
	require.NoError(t, err)
	_, err = dpo.RecordConsent(ctx, api.ConsentRecord{Party: "council.revenues", ConsentRef: "NSC-CONSENT-0093",
		Subject: &api.Subject{Type: alice.Type, Value: alice.Value}, Purposes: []string{"sale"}})
	require.NoError(t, err)
	other := alice
	other.ConsentRef = "NSC-CONSENT-0092"
	refused(offersDisclosure(other), `subjects[0]: consent "NSC-CONSENT-0092" was given by another subject`)
	other.ConsentRef = "NSC-CONSENT-0093"
	refused(offersDisclosure(other), `subjects[0]: consent "NSC-CONSENT-0093" does not cover the purpose "marketing"`)
	bobCites := bob
	bobCites.ConsentRef = "NSC-CONSENT-0092"
	allowed(offersDisclosure(alice, bobCites))

	// Withdrawn: refused again, and a withdrawal is made once.
	_, err = dpo.WithdrawConsent(ctx, given.ID, given.GivenAt.Add(-time.Hour))
	p = requireProblem(t, err, 400, "invalid-request")
	require.Equal(t, "withdrawn_at", p.Errors[0].Field)
	_, err = dpo.WithdrawConsent(ctx, "01900000-0000-7000-8000-000000000000", time.Time{})
	requireProblem(t, err, 404, "record-not-found")
	w, err := dpo.WithdrawConsent(ctx, given.ID, given.GivenAt)
	require.NoError(t, err)
	require.Equal(t, "dana", w.WithdrawnBy)
	refused(offersDisclosure(alice), `subjects[0]: consent "NSC-CONSENT-0091" was withdrawn`)
	_, err = dpo.WithdrawConsent(ctx, given.ID, given.GivenAt)
	requireProblem(t, err, 409, "record-state")

	list, err := auditor.Consents(ctx, "council.revenues")
	require.NoError(t, err)
	require.Len(t, list, 3)
	require.False(t, list[0].WithdrawnAt.IsZero())

	// The command line lists the register readably.
	tok := gw.Token(t, "ali.auditor", "auditor")
	t.Setenv("GATEHOUSE_ADMIN_URL", gw.AdminURL)
	t.Setenv("GATEHOUSE_ADMIN_CA", gw.Env.CAFile())
	t.Setenv("GATEHOUSE_ADMIN_TOKEN", tok)
	out, _, err := gatehouse(t, "consents", "list", "--party", "council.revenues")
	require.NoError(t, err)
	require.Contains(t, out, "CONSENT REF")
	require.Contains(t, out, "NSC-CONSENT-0091")
	require.Contains(t, out, "withdrawn")
	out, _, err = gatehouse(t, "consents", "list", "--json")
	require.NoError(t, err)
	var listed []api.Consent
	require.NoError(t, json.Unmarshal([]byte(out), &listed))
	require.Len(t, listed, 3)

	// The audit record has every change, the subject only keyed.
	entries := adminEntries(t, gw)
	require.Len(t, entries["consent.recorded"], 3)
	require.Len(t, entries["consent.withdrawn"], 1)
	require.Equal(t, []string{given.SubjectKey}, entries["consent.withdrawn"][0].Subjects)
	for _, typ := range []string{"consent.recorded", "consent.withdrawn"} {
		for _, e := range entries[typ] {
			b, err := json.Marshal(e)
			require.NoError(t, err)
			require.NotContains(t, string(b), "QQ123456C")
			require.NotContains(t, string(b), "AB654321D")
		}
	}
}
