package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/client"
	"github.com/gatehouse-gw/gatehouse/compliance"
	"github.com/gatehouse-gw/gatehouse/devenv/testenv"
	"github.com/gatehouse-gw/gatehouse/exchange/seal"
)

// The tests here try the paths around an agreement a hostile or careless
// sender would try: each must be closed, and the record must say so.

// housingYAML is an agreement between the council's revenues service and
// the police with one disclosure a day.
const housingYAML = `
id: housing-checks
title: Tenancy fraud checks
controllers: separate
signatories:
  - {party: council.revenues, name: R. Khan, role: Head of Revenues}
  - {party: police.northshire, name: Supt. K. Moss, role: Head of Public Protection}
appropriate_policy_document: NSC-APD-2025-03
dpia: {reference: NSC-DPIA-2026-011, completed: 2026-02-01, outcome: approved, approver: DPO}
effective_from: 2026-03-01
review_by: 2027-03-01
retention: 30d
subject_notification: {default: notify}
flows:
  - from: [council.revenues]
    to: [police.northshire]
    purposes: [crime-prevention-detection]
    lawful_bases: [A6-1-e]
    data_categories: [identity, housing]
    daily_volume: 1
`

// housingDisclosure is a lawful disclosure under housing-checks.
func housingDisclosure(ref string) *api.ExchangeDeclaration {
	return &api.ExchangeDeclaration{
		Agreement: "housing-checks", Recipient: "police.northshire", Purpose: "crime-prevention-detection", LawfulBasis: "A6-1-e",
		DataCategories: []string{"identity", "housing"}, Subjects: []api.Subject{{Type: "council-ref", Value: ref}},
		ContentType: "text/plain", Size: 3,
	}
}

// putInForce registers an agreement as alice (admin), has dana (DPO)
// approve it and alice activate it.
func putInForce(t *testing.T, gw *testenv.Gateway, doc string) *api.Agreement {
	t.Helper()
	ctx := context.Background()
	alice, dana := gw.Admin(t, "alice", "admin"), gw.Admin(t, "dana", "dpo")
	a, err := alice.Register(ctx, []byte(doc), "application/yaml")
	require.NoError(t, err)
	_, err = dana.Approve(ctx, a.ID, a.Version, a.SHA256)
	require.NoError(t, err)
	a, err = alice.Activate(ctx, a.ID, a.Version, a.SHA256)
	require.NoError(t, err)
	return a
}

// Concurrent declarations over their own mutual-TLS connections race for a
// daily limit of one: exactly one wins, on SQLite and on PostgreSQL, and
// every loser is refused by name and recorded.
func TestDailyVolumeRace(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			gw := testenv.StartGateway(t, testenv.GatewayOptions{Postgres: backend == "postgres"})
			putInForce(t, gw, housingYAML)

			const n = 8
			clients := make([]*client.Client, n)
			for i := range clients {
				clients[i] = gw.Client(t, "council.revenues") // a connection of its own each
				_, err := clients[i].WhoAmI(ctx)
				require.NoError(t, err)
			}
			start := make(chan struct{})
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i, c := range clients {
				wg.Go(func() {
					<-start
					_, errs[i] = c.Declare(ctx, housingDisclosure("HC-"+strings.Repeat("1", i+1)))
				})
			}
			close(start)
			wg.Wait()

			allowed := 0
			for _, err := range errs {
				if err == nil {
					allowed++
					continue
				}
				var p *api.Problem
				require.True(t, errors.As(err, &p), "%v", err)
				require.Equal(t, http.StatusForbidden, p.Status)
				require.Equal(t, []string{"volume.within-limit"}, failedCodes(p.Decision))
			}
			require.Equal(t, 1, allowed, "a daily limit of one lets exactly one through")

			// One exchange exists; every decision is recorded.
			count, err := gw.App.DB.CountExchanges(ctx)
			require.NoError(t, err)
			require.Equal(t, 1, count)
			outcomes := map[string]int{}
			for _, e := range adminEntries(t, gw)["exchange.decided"] {
				if strings.HasPrefix(e.Agreement, "housing-checks@") {
					outcomes[e.Outcome]++
				}
			}
			require.Equal(t, map[string]int{"allow": 1, "deny": n - 1}, outcomes)

			// The next declaration of the day is refused as well.
			_, err = clients[0].Declare(ctx, housingDisclosure("HC-9"))
			requireFailed(t, err, "volume.within-limit")
		})
	}
}

// failedCodes lists the checks of a decision that did not pass.
func failedCodes(d *api.Decision) []string {
	var out []string
	if d == nil {
		return out
	}
	for _, c := range d.Checks {
		if !c.Passed {
			out = append(out, c.Code)
		}
	}
	return out
}

// safeguardingDisclosure is an emergency disclosure from children's social
// care to the police under police-crime, allowed without an override while
// the agreement is active.
func safeguardingDisclosure(size int64) *api.ExchangeDeclaration {
	return &api.ExchangeDeclaration{
		Agreement: "police-crime", Recipient: "police.northshire", Purpose: "safeguarding-child", LawfulBasis: "A6-1-e",
		Instrument: "CA-2004-S11", DataCategories: []string{"identity", "address-history"},
		Subjects:      []api.Subject{{Type: "council-ref", Value: "CS-3141"}},
		Justification: "Child at immediate risk; officers attending now", Urgency: "emergency",
		Authoriser:  &api.Authoriser{Name: "Priya Shah", Rank: "service-manager"},
		ContentType: "text/plain", Size: size,
	}
}

// An upload whose re-decision is worse than its declaration is refused and
// recorded with its checks; it never goes as an override nobody reviews.
func TestUploadWorseThanDeclarationIsRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	care := gw.Client(t, "council.social-care")
	alice := gw.Admin(t, "alice", "admin")
	auditor := gw.Admin(t, "aziz", "auditor")

	e, err := care.Declare(ctx, safeguardingDisclosure(5))
	require.NoError(t, err)
	_, err = alice.Suspend(ctx, "police-crime", "Breach reported by the recipient")
	require.NoError(t, err)
	_, err = care.Upload(ctx, e.ID, strings.NewReader("alert"), 5)
	requireFailed(t, err, "agreement.active")
	requireFailed(t, err, "override.emergency")
	var p *api.Problem
	require.ErrorAs(t, err, &p)
	require.Equal(t, "deny", p.Decision.Outcome)
	require.Nil(t, p.Decision.ReviewBy)

	got, err := care.Exchange(ctx, e.ID)
	require.NoError(t, err)
	require.Equal(t, "declared", got.State, "nothing was delivered")
	entries := adminEntries(t, gw)
	last := entries["exchange.decided"][len(entries["exchange.decided"])-1]
	require.Equal(t, e.ID, last.Exchange)
	require.Equal(t, "deny", last.Outcome)
	require.Equal(t, "upload", last.Detail["stage"])
	require.Contains(t, last.Failed, "agreement.active")
	require.Empty(t, entries["exchange.sealed"])
	ex, err := auditor.Export(ctx, "overrides", nil)
	require.Zero(t, download(t, gw, ex, err).Count, "no override was made")
}

// What was delivered and not yet fetched is held back while its agreement
// is suspended or terminated (a breach by the recipient, say): neither the
// envelope nor the payload is handed over, and the refusals are recorded.
// A DPO may release one exchange explicitly, which is recorded too.
func TestFetchHeldBackUntilReleased(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	council := gw.Client(t, "council.revenues")
	police := gw.Client(t, "police.northshire")
	alice, dana := gw.Admin(t, "alice", "admin"), gw.Admin(t, "dana", "dpo")

	first, err := council.Send(ctx, policeDisclosure(5), strings.NewReader("first"))
	require.NoError(t, err)
	second, err := council.Send(ctx, policeDisclosure(6), strings.NewReader("second"))
	require.NoError(t, err)
	_, err = alice.Suspend(ctx, "police-crime", "Breach by the recipient under investigation")
	require.NoError(t, err)

	_, err = police.Envelope(ctx, first.ID)
	requireFailed(t, err, "agreement.active")
	_, err = police.PayloadReader(ctx, first.ID, 0)
	requireFailed(t, err, "agreement.active")
	_, err = police.Fetch(ctx, first.ID, gw.DecryptKey(t, "police.northshire"), io.Discard)
	requireFailed(t, err, "agreement.active")

	// Releasing is the DPO's, with a reason, and holds for that exchange.
	_, err = alice.Release(ctx, first.ID, "Needed now")
	requireProblem(t, err, http.StatusForbidden, "role-forbidden")
	_, err = dana.Release(ctx, first.ID, "")
	requireProblem(t, err, http.StatusBadRequest, "invalid-request")
	rel, err := dana.Release(ctx, first.ID, "Evidence needed for a charging decision today")
	require.NoError(t, err)
	require.Equal(t, "dana", rel.ReleasedBy)
	var got bytes.Buffer
	_, err = police.Fetch(ctx, first.ID, gw.DecryptKey(t, "police.northshire"), &got)
	require.NoError(t, err)
	require.Equal(t, "first", got.String())
	_, err = police.Envelope(ctx, second.ID)
	requireFailed(t, err, "agreement.active")

	// Terminated: held back for good, unless released.
	_, err = alice.Terminate(ctx, "police-crime", "Breach confirmed")
	require.NoError(t, err)
	_, err = police.PayloadReader(ctx, second.ID, 0)
	requireFailed(t, err, "agreement.active")
	after, err := council.Exchange(ctx, second.ID)
	require.NoError(t, err)
	require.Equal(t, "delivered", after.State, "never fetched")

	entries := adminEntries(t, gw)
	stages := map[string]int{}
	for _, e := range entries["exchange.decided"] {
		if e.Actor == "police.northshire" {
			require.Equal(t, "deny", e.Outcome)
			require.Equal(t, []string{"agreement.active"}, e.Failed)
			stages[e.Detail["stage"]]++
		}
	}
	require.Equal(t, map[string]int{"envelope": 3, "payload": 2}, stages)
	require.Len(t, entries["exchange.released"], 1)
	require.Equal(t, "dana", entries["exchange.released"][0].Actor)
	require.Equal(t, first.ID, entries["exchange.released"][0].Exchange)
	require.Equal(t, "Evidence needed for a charging decision today", entries["exchange.released"][0].Detail["reason"])
	for _, e := range entries["exchange.fetched"] {
		require.Equal(t, first.ID, e.Exchange, "only the released exchange was fetched")
	}

	// The release is in the compliance exports, signed like the rest.
	auditor := gw.Admin(t, "ola", "auditor")
	ex, err := auditor.Export(ctx, compliance.KindReleases, nil)
	doc := download(t, gw, ex, err)
	require.Equal(t, 1, doc.Count)
	row := rowWhere(t, doc, "exchange", first.ID)
	require.Equal(t, "dana", row["released_by"])
	require.Equal(t, "Evidence needed for a charging decision today", row["reason"])
	require.Equal(t, "council.revenues", row["sender"])
	require.Equal(t, "police.northshire", row["recipient"])
	require.Equal(t, "fetched", row["state"])
	require.EqualValues(t, entries["exchange.released"][0].Seq, row["audit_seq"])
}

// tenancyYAML pseudonymises national insurance numbers and keeps every
// other field: a flow with field rules but no allowlist.
const tenancyYAML = `
id: tenancy-matching
title: Tenancy fraud data matching
controllers: separate
signatories:
  - {party: council.fraud, name: P. Shah, role: Head of Counter Fraud}
  - {party: cabinet-office.nfi, name: J. Doe, role: NFI Data Manager}
appropriate_policy_document: NSC-APD-2025-03
dpia: {reference: NSC-DPIA-2026-012, completed: 2026-02-01, outcome: approved, approver: DPO}
effective_from: 2026-03-01
review_by: 2027-03-01
retention: 30d
subject_notification: {default: notify}
flows:
  - from: [council.fraud]
    to: [cabinet-office.nfi]
    purposes: [fraud-prevention-detection]
    lawful_bases: [A6-1-e]
    data_categories: [identity, housing]
    fields: {pseudonymise: [nino]}
`

// Pseudonymisation fails closed: a flow with field rules takes only what it
// can minimise, matches field names whatever their case or Unicode form,
// refuses names it cannot tell apart, and the seal entry says what it did.
func TestPseudonymisationFailsClosed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	putInForce(t, gw, tenancyYAML)
	fraud := gw.Client(t, "council.fraud")
	nfi := gw.Client(t, "cabinet-office.nfi")
	declaration := func(contentType string, size int) *api.ExchangeDeclaration {
		return &api.ExchangeDeclaration{
			Agreement: "tenancy-matching", Recipient: "cabinet-office.nfi", Purpose: "fraud-prevention-detection", LawfulBasis: "A6-1-e",
			DataCategories: []string{"identity", "housing"}, SubjectCount: 2, ContentType: contentType, Size: int64(size),
		}
	}

	for _, ct := range []string{"text/plain", "application/octet-stream"} {
		_, err := fraud.Declare(ctx, declaration(ct, 10))
		p := requireProblem(t, err, http.StatusBadRequest, "invalid-request")
		require.Equal(t, "content_type", p.Errors[0].Field)
		require.Equal(t, "structured", p.Errors[0].Rule)
	}

	body := `[{"NINO":"QQ123456C","tenancy":"T-1"},{" Nino":"QQ654321A","tenancy":"T-2"}]`
	sent, err := fraud.Send(ctx, declaration("application/json", len(body)), strings.NewReader(body))
	require.NoError(t, err)
	var got bytes.Buffer
	m, err := nfi.Fetch(ctx, sent.ID, gw.DecryptKey(t, "cabinet-office.nfi"), &got)
	require.NoError(t, err)
	require.NotContains(t, got.String(), "QQ123456C")
	require.NotContains(t, got.String(), "QQ654321A")
	require.Contains(t, got.String(), "T-2")
	require.Equal(t, []string{" Nino", "NINO"}, m.Minimised.Pseudonymised)

	ambiguous := `[{"nino":"AB","NINO":"QQ123456C"}]`
	_, err = fraud.Send(ctx, declaration("application/json", len(ambiguous)), strings.NewReader(ambiguous))
	p := requireProblem(t, err, 422, "payload-fields-ambiguous")
	require.Len(t, p.Errors, 2)

	var sealed []string
	for _, e := range adminEntries(t, gw)["exchange.sealed"] {
		sealed = append(sealed, e.Detail["field_rules"])
	}
	require.Equal(t, []string{"pseudonymise nino"}, sealed, "one sealed, and its entry says what was applied")
}

// One subject declared, 10,000 CSV rows delivered: the payload is counted
// while it is sealed and refused; nothing is stored. One row goes, and its
// manifest says the payload was only counted, not minimised.
func TestPayloadSubjectsCounted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	council := gw.Client(t, "council.revenues")
	var body bytes.Buffer
	body.WriteString("name,address\n")
	for i := range 10000 {
		fmt.Fprintf(&body, "Person %d,%d High Street\n", i, i)
	}
	d := policeDisclosure(int64(body.Len()))
	d.ContentType = "text/csv"
	_, err := council.Send(ctx, d, bytes.NewReader(body.Bytes()))
	p := requireProblem(t, err, 422, "payload-subjects-exceeded")
	require.Contains(t, p.Detail, "more than 1 subjects")
	n, err := gw.App.DB.CountExchanges(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Empty(t, adminEntries(t, gw)["exchange.sealed"])
	failed := adminEntries(t, gw)["exchange.failed"]
	require.Len(t, failed, 1)
	require.Equal(t, "subjects-exceeded", failed[0].Detail["reason"])

	one := "name,address\nPerson 1,1 High Street\n"
	d = policeDisclosure(int64(len(one)))
	d.ContentType = "text/csv"
	e, err := council.Send(ctx, d, strings.NewReader(one))
	require.NoError(t, err)
	var got bytes.Buffer
	m, err := gw.Client(t, "police.northshire").Fetch(ctx, e.ID, gw.DecryptKey(t, "police.northshire"), &got)
	require.NoError(t, err)
	require.Equal(t, one, got.String(), "sealed unchanged")
	require.Equal(t, &seal.Minimisation{Format: "csv", Mode: "count-only", Records: 1, Subjects: 1}, m.Minimised,
		"the flow has no field rules: the manifest says the payload was counted, not stripped")
	sealed := adminEntries(t, gw)["exchange.sealed"]
	require.Len(t, sealed, 1)
	require.Equal(t, "csv, 1 records, count-only, 1 subjects", sealed[0].Detail["minimised"])
}

// The dry runs are the real decision: POST /v1/decisions refuses what a
// declaration would refuse after its decision (a payload the flow cannot
// minimise), and POST /v1/requests/decisions decides a request as
// POST /v1/requests would; neither records anything.
func TestDryRunIsTheRealDecision(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	putInForce(t, gw, tenancyYAML)
	fraud := gw.Client(t, "council.fraud")
	police := gw.Client(t, "police.northshire")
	before, err := gw.App.DB.AuditRecords(ctx, 0, 100000)
	require.NoError(t, err)

	d := &api.ExchangeDeclaration{
		Agreement: "tenancy-matching", Recipient: "cabinet-office.nfi", Purpose: "fraud-prevention-detection", LawfulBasis: "A6-1-e",
		DataCategories: []string{"identity"}, SubjectCount: 2, ContentType: "text/plain", Size: 10,
	}
	_, err = fraud.Check(ctx, d)
	p := requireProblem(t, err, http.StatusBadRequest, "invalid-request")
	require.Equal(t, "content_type", p.Errors[0].Field)

	dec, err := police.CheckRequest(ctx, scheduleTwoRequest())
	require.NoError(t, err)
	require.Equal(t, "allow", dec.Outcome)
	bad := scheduleTwoRequest()
	bad.Authoriser.Rank = "constable"
	dec, err = police.CheckRequest(ctx, bad)
	require.NoError(t, err, "a refusal is an answer, not an error")
	require.Equal(t, "deny", dec.Outcome)
	require.Contains(t, failedCodes(dec), "authoriser.rank")

	after, err := gw.App.DB.AuditRecords(ctx, 0, 100000)
	require.NoError(t, err)
	require.Len(t, after, len(before), "a dry run records nothing")
}

// The two-person rule compares people after normalisation: the author
// writing her id otherwise is still the author.
func TestTwoPersonRuleNormalisesPeople(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	a, err := gw.Admin(t, "alice", "admin").Register(ctx, []byte(housingYAML), "application/yaml")
	require.NoError(t, err)
	for _, alias := range []string{"Alice ", "ALICE"} {
		_, err = gw.Admin(t, alias, "dpo").Approve(ctx, a.ID, a.Version, a.SHA256)
		requireProblem(t, err, http.StatusForbidden, "two-person-rule")
	}
	approved, err := gw.Admin(t, "dana", "dpo").Approve(ctx, a.ID, a.Version, a.SHA256)
	require.NoError(t, err)
	require.Equal(t, "approved", string(approved.Status))
}
