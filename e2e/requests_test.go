package e2e

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/devenv/testenv"
)

// scheduleTwoRequest is a police request for crime, which the council
// answers under DPA 2018 Sch 2 para 2: the police process for law
// enforcement (DPA 2018 Part 3, s.35(2)(b)), and cite no Sch 2 exemption,
// which is the council's to rely on.
func scheduleTwoRequest() *api.InformationRequest {
	deadline := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Second)
	return &api.InformationRequest{
		Agreement: "police-crime", Purpose: "crime-prevention-detection", LawfulBasis: "DPA-S35-2-b",
		DataCategories: []string{"identity", "address-history"},
		DataSought:     "Current and previous addresses held for council tax",
		Subjects:       []api.Subject{{Type: "name-dob", Value: "Jane Doe 1990-04-01"}},
		Offence:        "Burglary, crime ref NP/26/88812", StatutoryPower: "DPA 2018 Sch 2 para 2",
		Necessity:  "Suspect has left her known address; needed to locate and arrest",
		Authoriser: &api.Authoriser{Name: "DI R. Shaw", Rank: "inspector"}, Urgency: "urgent",
		Deadline: &deadline, Reference: "NP-REQ-5521",
	}
}

func TestInformationRequestIsRoutedAnsweredAndFollowed(t *testing.T) {
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	police, legal := gw.Client(t, "police.northshire"), gw.Client(t, "council.legal")

	r, err := police.Request(ctx, scheduleTwoRequest())
	require.NoError(t, err)
	require.Equal(t, "open", r.State)
	require.Equal(t, "council.legal", r.Handler, "routed to the agreement's handler")
	require.Equal(t, "police-crime@1", r.Agreement)

	// The handler finds it in its inbox; others cannot see it.
	inbox, err := legal.Inbox(ctx, "", 0)
	require.NoError(t, err)
	require.Len(t, inbox.Requests, 1)
	require.Equal(t, r.ID, inbox.Requests[0].ID)
	require.Equal(t, "Current and previous addresses held for council tax", inbox.Requests[0].DataSought)
	_, err = gw.Client(t, "dwp").RequestStatus(ctx, r.ID)
	requireProblem(t, err, http.StatusNotFound, "request-not-found")
	_, err = police.Accept(ctx, r.ID, "")
	requireProblem(t, err, http.StatusNotFound, "request-not-found")
	_, err = legal.Decline(ctx, r.ID, "")
	requireProblem(t, err, http.StatusBadRequest, "invalid-request")

	accepted, err := legal.Accept(ctx, r.ID, "Checking council tax records")
	require.NoError(t, err)
	require.Equal(t, "accepted", accepted.State)

	// The answer is an exchange that references the request.
	answer := policeDisclosure(5)
	answer.RequestRef = r.ID
	answer.Subjects = []api.Subject{{Type: "name-dob", Value: "Jane Doe 1990-04-01"}}
	answer.DataCategories = []string{"identity", "address-history"}
	e, err := legal.Send(ctx, answer, strings.NewReader("addrs"))
	require.NoError(t, err)
	require.Equal(t, r.ID, e.RequestID)

	status, err := police.RequestStatus(ctx, r.ID)
	require.NoError(t, err)
	require.Equal(t, "answered", status.State)
	require.Equal(t, []string{e.ID}, status.Exchanges)
	require.Equal(t, "Checking council tax records", status.Reason)
	var out bytes.Buffer
	_, err = police.Fetch(ctx, e.ID, gw.DecryptKey(t, "police.northshire"), &out)
	require.NoError(t, err)
	require.Equal(t, "addrs", out.String())

	// Only the handler may answer, and only to the requester.
	wrong := policeDisclosure(5)
	wrong.RequestRef = r.ID
	_, err = gw.Client(t, "council.revenues").Declare(ctx, wrong)
	p := requireProblem(t, err, http.StatusBadRequest, "invalid-request")
	require.Equal(t, "request_ref", p.Errors[0].Field)

	types := adminEntries(t, gw)
	require.Len(t, types["request.decided"], 1)
	require.Len(t, types["request.accepted"], 1)
	require.Len(t, types["request.answered"], 1)
	require.NotContains(t, types["request.decided"][0].Subjects[0], "Jane")
}

func TestRequestsAreDecidedLikeDisclosures(t *testing.T) {
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	police := gw.Client(t, "police.northshire")

	trawl := scheduleTwoRequest()
	trawl.Subjects = nil
	_, err := police.Request(ctx, trawl)
	requireFailed(t, err, "subjects.named")

	junior := scheduleTwoRequest()
	junior.Authoriser.Rank = "constable"
	_, err = police.Request(ctx, junior)
	requireFailed(t, err, "authoriser.rank")

	vague := scheduleTwoRequest()
	vague.Offence = ""
	_, err = police.Request(ctx, vague)
	p := requireProblem(t, err, http.StatusBadRequest, "invalid-request")
	require.Equal(t, "offence", p.Errors[0].Field)

	prejudice := scheduleTwoRequest()
	prejudice.Offence, prejudice.WouldPrejudice = "", true
	_, err = police.Request(ctx, prejudice)
	require.NoError(t, err)

	// DWP has no agreement to ask under.
	_, err = gw.Client(t, "dwp").Request(ctx, scheduleTwoRequest())
	requireProblem(t, err, http.StatusBadRequest, "invalid-request") // no handler for dwp in police-crime

	// A declined request tells the requester why, and cannot then be answered.
	r, err := police.Request(ctx, scheduleTwoRequest())
	require.NoError(t, err)
	legal := gw.Client(t, "council.legal")
	_, err = legal.Decline(ctx, r.ID, "No record of this person")
	require.NoError(t, err)
	again, err := legal.Decline(ctx, r.ID, "No record of this person")
	require.NoError(t, err, "declining twice changes nothing")
	require.Equal(t, "declined", again.State)
	status, err := police.RequestStatus(ctx, r.ID)
	require.NoError(t, err)
	require.Equal(t, "declined", status.State)
	require.Equal(t, "No record of this person", status.Reason)
	answer := policeDisclosure(5)
	answer.RequestRef = r.ID
	_, err = legal.Declare(ctx, answer)
	requireProblem(t, err, http.StatusConflict, "exchange-state")

	sent, err := police.Requests(ctx, false)
	require.NoError(t, err)
	require.Len(t, sent.Requests, 2)
	received, err := legal.Requests(ctx, true, "declined")
	require.NoError(t, err)
	require.Len(t, received.Requests, 1)
}

// An answer inherits what its request said: the agreement, the requester as
// recipient, the purpose, the categories, the necessity and the subjects (by
// their keyed hashes: the gateway never held them in clear). It is the
// council's own disclosure, judged under its own flow's regime: the police
// asked under DPA 2018 Part 3 (s.35(2)(b)); the answer relies on UK GDPR
// Art 6(1)(e) with the Sch 2 para 2 crime exemption, as its flow permits, and
// the register records each under its regime. What the answer declares
// itself stands, and is decided as usual.
func TestAnswerInheritsItsRequest(t *testing.T) {
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	police, legal := gw.Client(t, "police.northshire"), gw.Client(t, "council.legal")
	q := scheduleTwoRequest()
	r, err := police.Request(ctx, q)
	require.NoError(t, err)

	answer := &api.ExchangeDeclaration{
		RequestRef: r.ID, ContentType: "text/csv", Size: 5,
		Authoriser: &api.Authoriser{Name: "R. Okafor", Rank: "service-manager"},
	}
	dry, err := legal.Check(ctx, answer)
	require.NoError(t, err)
	require.Equal(t, "allow", dry.Outcome, "a dry run inherits the same way")
	e, err := legal.Send(ctx, answer, strings.NewReader("addrs"))
	require.NoError(t, err)
	require.Equal(t, "delivered", e.State)
	require.Equal(t, "police.northshire", e.Recipient)
	require.Equal(t, "police-crime@1", e.Agreement)
	require.Equal(t, q.Purpose, e.Purpose)
	require.Equal(t, "A6-1-e", e.LawfulBasis, "the council's own basis, not the police's s.35 condition")
	require.Equal(t, q.DataCategories, e.Categories)
	require.Equal(t, 1, e.Subjects)
	require.Equal(t, r.ID, e.RequestID)

	entries := adminEntries(t, gw)
	asked, decided := entries["request.decided"][0], entries["exchange.decided"][0]
	require.Equal(t, asked.Subjects, decided.Subjects, "the answer is about the people the request named")
	require.Equal(t, "DPA-S2-P1-2", decided.Exemption, "the flow's exemption for the purpose")
	require.Equal(t, q.Necessity, decided.Detail["justification"])
	require.Equal(t, "dpa-part-3", asked.Detail["regime"], "the police's request is law-enforcement processing")
	require.Equal(t, "uk-gdpr", decided.Detail["regime"], "the council's answer is its own disclosure under UK GDPR")

	// The register records the answer under its regime.
	ex, err := gw.Admin(t, "dana", "dpo").Export(ctx, "disclosures", url.Values{
		"from": {time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}, "to": {time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}})
	row := rowWhere(t, download(t, gw, ex, err), "exchange", e.ID)
	require.Equal(t, "uk-gdpr", row["regime"])
	require.Equal(t, "A6-1-e", row["lawful_basis"])
	require.Equal(t, "DPA-S2-P1-2", row["exemption"])

	// Citing the request's Part 3 condition on the council's flow is refused
	// by name: the answer is judged under UK GDPR.
	cited := *answer
	cited.LawfulBasis = q.LawfulBasis
	_, err = legal.Declare(ctx, &cited)
	requireFailed(t, err, "basis.article6")

	// What the answer declares stands: a category outside the flow is
	// refused, and one inside it that the request did not seek as well.
	narrower := *answer
	narrower.DataCategories = []string{"health"}
	_, err = legal.Declare(ctx, &narrower)
	requireFailed(t, err, "categories.permitted")
	wider := *answer
	wider.DataCategories = []string{"identity", "financial"}
	_, err = legal.Declare(ctx, &wider)
	p := requireProblem(t, err, http.StatusBadRequest, "invalid-request")
	require.Equal(t, "data_categories[1]", p.Errors[0].Field)
	require.Equal(t, "requested", p.Errors[0].Rule)
}

func TestRequestDeadlineInThePastIsRefused(t *testing.T) {
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	q := scheduleTwoRequest()
	past := time.Now().Add(-time.Hour)
	q.Deadline = &past
	_, err := gw.Client(t, "police.northshire").Request(ctx, q)
	p := requireProblem(t, err, http.StatusBadRequest, "invalid-request")
	require.Equal(t, "deadline", p.Errors[0].Field)
	require.Equal(t, "future", p.Errors[0].Rule)
	require.Empty(t, adminEntries(t, gw)["request.decided"], "nothing decided, nothing recorded")
}
