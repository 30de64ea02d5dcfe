package exchange_test

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/exchange"
	"github.com/gatehouse-gw/gatehouse/internal/idem"
)

// policeRequest is an allowed request from the police to the council,
// routed to Legal Services by the agreement.
func policeRequest() *api.InformationRequest {
	return &api.InformationRequest{
		Agreement: "police-crime", Purpose: "crime-prevention-detection", LawfulBasis: "A6-1-e",
		DataCategories: []string{"identity", "contact"}, DataSought: "Current address and telephone number",
		Subjects: []api.Subject{{Type: "nino", Value: "QQ123456C"}},
		Offence:  "fraud by false representation", Necessity: "Suspect in investigation NP-2026-0142",
		Reference: "NP-2026-0142",
	}
}

func TestValidateRequest(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 4097)
	tests := []struct {
		name       string
		edit       func(q *api.InformationRequest)
		path, rule string
	}{
		{"ok/routed-by-the-agreement", func(*api.InformationRequest) {}, "", ""},
		{"ok/named-handler", func(q *api.InformationRequest) { q.To = legal }, "", ""},
		{"ok/crime-exemption-with-an-offence", func(q *api.InformationRequest) { q.Exemption = agreements.ExemptionCrimeAndTaxation }, "", ""},
		{"ok/crime-exemption-would-prejudice", func(q *api.InformationRequest) {
			q.Exemption, q.Offence, q.WouldPrejudice = agreements.ExemptionCrimeAndTaxation, "", true
		}, "", ""},
		{"err/to-format", func(q *api.InformationRequest) { q.To = "Legal Services" }, "to", "format"},
		{"err/agreement-required", func(q *api.InformationRequest) { q.Agreement = "" }, "agreement", "required"},
		{"err/purpose-required", func(q *api.InformationRequest) { q.Purpose = "" }, "purpose", "required"},
		{"err/categories-required", func(q *api.InformationRequest) { q.DataCategories = nil }, "data_categories", "required"},
		{"err/subject-type", func(q *api.InformationRequest) { q.Subjects[0].Type = "N I" }, "subjects[0].type", "format"},
		{"err/data-sought-required", func(q *api.InformationRequest) { q.DataSought = "" }, "data_sought", "required"},
		{"err/necessity-required", func(q *api.InformationRequest) { q.Necessity = "" }, "necessity", "required"},
		{"err/necessity-too-long", func(q *api.InformationRequest) { q.Necessity = long }, "necessity", "max-length"},
		{"err/data-sought-too-long", func(q *api.InformationRequest) { q.DataSought = long }, "data_sought", "max-length"},
		{"err/reference-too-long", func(q *api.InformationRequest) { q.Reference = long }, "reference", "max-length"},
		{"err/crime-exemption-names-no-offence", func(q *api.InformationRequest) {
			q.Exemption, q.Offence = agreements.ExemptionCrimeAndTaxation, " "
		}, "offence", "sch2-prejudice"},
		{"err/part3-request-names-no-offence", func(q *api.InformationRequest) { q.LawfulBasis, q.Offence = "DPA-S35-2-b", "" }, "offence", "sch2-prejudice"},
		{"ok/part3-request-would-prejudice", func(q *api.InformationRequest) { q.LawfulBasis, q.Offence, q.WouldPrejudice = "DPA-S35-2-b", "", true }, "", ""},
		{"err/urgency", func(q *api.InformationRequest) { q.Urgency = "now" }, "urgency", "enum"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := policeRequest()
			tt.edit(q)
			err := exchange.ValidateRequest(q)
			if tt.path == "" {
				require.NoError(t, err)
				return
			}
			requireProblem(t, err, tt.path, tt.rule)
		})
	}
}

// A request is decided like a disclosure and, if allowed, routed to its
// handler; a refusal stores only its audit entry.
func TestSubmitRequest(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	deadline := t0.Add(10 * 24 * time.Hour)
	tests := []struct {
		name    string
		caller  string
		edit    func(q *api.InformationRequest)
		handler string
		failed  string // a check the refusal names
		field   string // a validation error's path, and :rule if not "required"
	}{
		{"ok/routed-to-the-flows-handler", police, func(*api.InformationRequest) {}, legal, "", ""},
		{"ok/to-the-named-handler", police, func(q *api.InformationRequest) { q.To = legal; q.Deadline = &deadline }, legal, "", ""},
		{"err/agreement-names-no-handler", revenues, func(q *api.InformationRequest) {
			q.Agreement, q.Purpose, q.DataCategories = "dwp-benefits", "benefit-administration", []string{"identity"}
		}, "", "", "to"},
		{"deny/not-a-sender-under-the-agreement", dwp, func(q *api.InformationRequest) { q.To = legal }, "", agreements.CheckPartyIsSender, ""},
		{"deny/purpose-not-permitted", police, func(q *api.InformationRequest) { q.Purpose = "tax-assessment-collection" }, "", agreements.CheckPurposePermitted, ""},
		{"deny/to-a-service-the-flow-does-not-name", police, func(q *api.InformationRequest) { q.To = revenues }, "", agreements.CheckFlowPermitted, ""},
		{"err/deadline-already-passed", police, func(q *api.InformationRequest) { past := t0.Add(-time.Minute); q.Deadline = &past }, "", "", "deadline:future"},
		{"err/deadline-now", police, func(q *api.InformationRequest) { now := t0; q.Deadline = &now }, "", "", "deadline:future"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(r.entries(t))
			madeBefore, err := r.svc.Requests(r.ctx, tt.caller, false, nil, "", 0)
			require.NoError(t, err)
			req := policeRequest()
			tt.edit(req)
			got, err := r.svc.SubmitRequest(r.ctx, tt.caller, req, "")
			entries := r.entries(t)
			switch {
			case tt.field != "":
				field, rule, ok := strings.Cut(tt.field, ":")
				if !ok {
					rule = "required"
				}
				requireProblem(t, err, field, rule)
				require.Len(t, entries, before, "nothing was decided")
				return
			case tt.failed != "":
				var refused *exchange.RefusedError
				require.ErrorAs(t, err, &refused)
				require.Contains(t, refused.Decision.FailedCodes(), tt.failed)
				require.Len(t, entries, before+1)
				last := entries[len(entries)-1]
				require.Equal(t, exchange.TypeRequestDecided, last.Type)
				require.Equal(t, "deny", last.Outcome)
				require.Empty(t, last.Request)
				made, err := r.svc.Requests(r.ctx, tt.caller, false, nil, "", 0)
				require.NoError(t, err)
				require.Len(t, made, len(madeBefore), "a refusal stores no request")
				return
			}
			require.NoError(t, err)
			require.Equal(t, exchange.RequestOpen, got.State)
			require.Equal(t, tt.caller, got.Requester)
			require.Equal(t, tt.handler, got.Handler)
			require.Equal(t, "police-crime", got.AgreementID)
			require.Equal(t, 1, got.AgreementVersion)
			require.Equal(t, "Current address and telephone number", got.Meta.DataSought)
			require.Len(t, got.Meta.SubjectKeys, 1)
			if req.Deadline != nil {
				require.Equal(t, deadline, got.Deadline)
			}
			stored, err := r.svc.GetRequest(r.ctx, tt.handler, got.ID)
			require.NoError(t, err)
			require.Equal(t, got.Meta, stored.Meta)
			require.Len(t, entries, before+1)
			last := entries[len(entries)-1]
			require.Equal(t, exchange.TypeRequestDecided, last.Type)
			require.Equal(t, got.ID, last.Request)
			require.Equal(t, tt.handler, last.Recipient)
			require.Equal(t, "allow", last.Outcome)
			for _, e := range entries {
				require.NotContains(t, strings.Join(e.Subjects, " "), "QQ123456C")
			}
		})
	}
}

func TestSubmitRequestIdempotencyKey(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	first, err := r.svc.SubmitRequest(r.ctx, police, policeRequest(), "req-1")
	require.NoError(t, err)
	tests := []struct {
		name     string
		edit     func(q *api.InformationRequest)
		replayed bool
		err      error
	}{
		{"ok/same-request-replays", func(*api.InformationRequest) {}, true, nil},
		{"err/other-request-same-key", func(q *api.InformationRequest) { q.DataSought = "Bank details" }, false, idem.ErrReused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := policeRequest()
			tt.edit(q)
			got, err := r.svc.SubmitRequest(r.ctx, police, q, "req-1")
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.True(t, got.Replayed)
			require.Equal(t, first.ID, got.ID)
		})
	}

	// Concurrent retries with a new key make one request.
	const n = 6
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			got, err := r.svc.SubmitRequest(r.ctx, police, policeRequest(), "req-2")
			if err == nil {
				ids[i] = got.ID
			}
		})
	}
	wg.Wait()
	for i := range n {
		require.NotEmpty(t, ids[i])
		require.Equal(t, ids[0], ids[i])
	}
	made, err := r.svc.Requests(r.ctx, police, false, nil, "", 0)
	require.NoError(t, err)
	require.Len(t, made, 2)
	require.Len(t, r.entries(t, exchange.TypeRequestDecided), 2)
}

// requestIn makes a request from the police and brings it to state.
func (r *rig) requestIn(t *testing.T, state exchange.RequestState) *exchange.Request {
	t.Helper()
	req, err := r.svc.SubmitRequest(r.ctx, police, policeRequest(), "")
	require.NoError(t, err)
	switch state {
	case exchange.RequestOpen:
	case exchange.RequestAccepted:
		req, err = r.svc.RespondRequest(r.ctx, legal, req.ID, true, "")
	case exchange.RequestDeclined:
		req, err = r.svc.RespondRequest(r.ctx, legal, req.ID, false, "no record of this person")
	case exchange.RequestAnswered:
		e := r.declare(t, legal, answerTo(req.ID, 6))
		r.upload(t, legal, e.ID, []byte("answer"))
		req, err = r.svc.GetRequest(r.ctx, police, req.ID)
	}
	require.NoError(t, err)
	require.Equal(t, state, req.State)
	return req
}

// answerTo is a declaration from Legal Services to the police answering a request.
func answerTo(ref string, size int64) *api.ExchangeDeclaration {
	d := policeDisclosure(size)
	d.RequestRef = ref
	d.DataCategories = policeRequest().DataCategories // what was asked for
	return d
}

// The handler accepts or declines; a declined request says why; an
// answered one is settled.
func TestRespondRequestStateRules(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	tests := []struct {
		name   string
		from   exchange.RequestState
		caller string
		accept bool
		reason string
		want   exchange.RequestState
		err    error
		// problem is a validation error's path:rule.
		problem string
		entry   string // the audit entry recorded, if any
	}{
		{"ok/open-accepted", exchange.RequestOpen, legal, true, "", exchange.RequestAccepted, nil, "", exchange.TypeRequestAccepted},
		{"ok/open-declined", exchange.RequestOpen, legal, false, "outside our records", exchange.RequestDeclined, nil, "", exchange.TypeRequestDeclined},
		{"ok/accepted-then-declined", exchange.RequestAccepted, legal, false, "on review, not necessary", exchange.RequestDeclined, nil, "", exchange.TypeRequestDeclined},
		{"ok/accepted-again-changes-nothing", exchange.RequestAccepted, legal, true, "", exchange.RequestAccepted, nil, "", ""},
		{"ok/declined-again-changes-nothing", exchange.RequestDeclined, legal, false, "still no", exchange.RequestDeclined, nil, "", ""},
		{"err/declined-cannot-be-accepted", exchange.RequestDeclined, legal, true, "", "", exchange.ErrState, "", ""},
		{"err/answered-cannot-be-accepted", exchange.RequestAnswered, legal, true, "", "", exchange.ErrState, "", ""},
		{"err/answered-cannot-be-declined", exchange.RequestAnswered, legal, false, "too late", "", exchange.ErrState, "", ""},
		{"err/decline-needs-a-reason", exchange.RequestOpen, legal, false, "  ", "", nil, "reason:required", ""},
		{"err/reason-too-long", exchange.RequestOpen, legal, true, strings.Repeat("x", 4097), "", nil, "reason:max-length", ""},
		{"deny/the-requester", exchange.RequestOpen, police, true, "", "", exchange.ErrRequestNotFound, "", ""},
		{"deny/another-party", exchange.RequestOpen, revenues, false, "no", "", exchange.ErrRequestNotFound, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := r.requestIn(t, tt.from)
			before := len(r.entries(t))
			got, err := r.svc.RespondRequest(r.ctx, tt.caller, req.ID, tt.accept, tt.reason)
			entries := r.entries(t)
			stored, serr := r.svc.GetRequest(r.ctx, police, req.ID)
			require.NoError(t, serr)
			switch {
			case tt.problem != "":
				path, rule, _ := strings.Cut(tt.problem, ":")
				requireProblem(t, err, path, rule)
			case tt.err != nil:
				require.ErrorIs(t, err, tt.err)
			}
			if tt.problem != "" || tt.err != nil {
				require.Nil(t, got)
				require.Equal(t, tt.from, stored.State, "unchanged")
				require.Len(t, entries, before)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got.State)
			require.Equal(t, tt.want, stored.State)
			if tt.entry == "" {
				require.Len(t, entries, before, "repeating an answer records nothing")
				return
			}
			require.Len(t, entries, before+1)
			last := entries[len(entries)-1]
			require.Equal(t, tt.entry, last.Type)
			require.Equal(t, req.ID, last.Request)
			require.Equal(t, legal, last.Actor)
			require.Equal(t, police, last.Recipient)
			require.Equal(t, tt.reason, stored.Response.Reason, "the requester sees why")
			require.Equal(t, legal, stored.Response.By)
		})
	}
}

func TestRespondRequestFailsClosedWithoutAudit(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	req := r.requestIn(t, exchange.RequestOpen)
	r.store.failAuditOf(exchange.TypeRequestAccepted, exchange.TypeRequestDeclined)
	for _, accept := range []bool{true, false} {
		_, err := r.svc.RespondRequest(r.ctx, legal, req.ID, accept, "reason")
		require.ErrorIs(t, err, exchange.ErrUnavailable)
	}
	stored, err := r.svc.GetRequest(r.ctx, legal, req.ID)
	require.NoError(t, err)
	require.Equal(t, exchange.RequestOpen, stored.State)
	require.Empty(t, stored.Response.By)
}

// A request is seen only by its requester and its handler.
func TestRequestVisibility(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	req := r.requestIn(t, exchange.RequestOpen)
	accepted := r.requestIn(t, exchange.RequestAccepted)
	tests := []struct {
		name    string
		caller  string
		visible bool
		handled []string // what Requests(handled) lists
		made    []string // what Requests(made) lists
	}{
		{"ok/requester", police, true, nil, []string{req.ID, accepted.ID}},
		{"ok/handler", legal, true, []string{req.ID, accepted.ID}, nil},
		{"deny/the-councils-other-service", revenues, false, nil, nil},
		{"deny/another-party", dwp, false, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.svc.GetRequest(r.ctx, tt.caller, req.ID)
			if tt.visible {
				require.NoError(t, err)
				require.Equal(t, req.ID, got.ID)
			} else {
				require.ErrorIs(t, err, exchange.ErrRequestNotFound)
				require.Nil(t, got)
			}
			for _, c := range []struct {
				handled bool
				want    []string
			}{{true, tt.handled}, {false, tt.made}} {
				list, err := r.svc.Requests(r.ctx, tt.caller, c.handled, nil, "", 0)
				require.NoError(t, err)
				var ids []string
				for _, q := range list {
					ids = append(ids, q.ID)
				}
				require.Equal(t, c.want, ids, "handled=%v", c.handled)
			}
		})
	}
	t.Run("ok/by-state", func(t *testing.T) {
		list, err := r.svc.Requests(r.ctx, legal, true, []exchange.RequestState{exchange.RequestAccepted}, "", 0)
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Equal(t, accepted.ID, list[0].ID)
	})
	t.Run("err/no-such-request", func(t *testing.T) {
		_, err := r.svc.GetRequest(r.ctx, police, "0193a0b2-0000-7000-8000-00000000dead")
		require.ErrorIs(t, err, exchange.ErrRequestNotFound)
	})
}

// The handler answers a request with an exchange that names it: the
// request is answered when the exchange is delivered.
func TestAnswerRequestByExchange(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	tests := []struct {
		name   string
		from   exchange.RequestState
		sender string
		ref    func(req *exchange.Request) string
		err    error
		field  string
		linked bool
	}{
		{"ok/answers-an-accepted-request", exchange.RequestAccepted, legal, func(q *exchange.Request) string { return q.ID }, nil, "", true},
		{"ok/answers-an-open-request", exchange.RequestOpen, legal, func(q *exchange.Request) string { return q.ID }, nil, "", true},
		{"ok/answers-again", exchange.RequestAnswered, legal, func(q *exchange.Request) string { return q.ID }, nil, "", true},
		{"ok/a-reference-outside-the-gateway", exchange.RequestOpen, legal, func(*exchange.Request) string { return "NP-2026-0142" }, nil, "", false},
		{"err/declined-request", exchange.RequestDeclined, legal, func(q *exchange.Request) string { return q.ID }, exchange.ErrState, "", false},
		{"deny/from-a-service-that-is-not-the-handler", exchange.RequestAccepted, revenues, func(q *exchange.Request) string { return q.ID }, nil, "request_ref", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := r.requestIn(t, tt.from)
			payload := []byte("answer")
			e, err := r.svc.Declare(r.ctx, tt.sender, answerTo(tt.ref(req), int64(len(payload))), "")
			switch {
			case tt.field != "":
				requireProblem(t, err, tt.field, "handler")
				return
			case tt.err != nil:
				require.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			if !tt.linked {
				require.Empty(t, e.RequestID)
				r.upload(t, tt.sender, e.ID, payload)
				stored, err := r.svc.GetRequest(r.ctx, police, req.ID)
				require.NoError(t, err)
				require.Equal(t, tt.from, stored.State)
				return
			}
			require.Equal(t, req.ID, e.RequestID)
			before := len(req.Response.Exchanges)
			r.upload(t, legal, e.ID, payload)

			stored, err := r.svc.GetRequest(r.ctx, police, req.ID)
			require.NoError(t, err)
			require.Equal(t, exchange.RequestAnswered, stored.State)
			require.Len(t, stored.Response.Exchanges, before+1)
			require.Equal(t, e.ID, stored.Response.Exchanges[before])
			m, _ := r.open(t, police, e.ID)
			require.Equal(t, req.ID, m.RequestRef)
			require.Equal(t,
				[]string{audit.TypeExchangeDecided, audit.TypeExchangeSealed, exchange.TypeRequestAnswered, audit.TypeEnvelopeFetched, audit.TypeExchangeFetched},
				r.entriesFor(t, e.ID))
		})
	}
}

// Delivery and the answered request are one change: if the request's entry
// cannot be written, neither happens and no object is left.
func TestAnswerRequestFailsClosedWithoutAudit(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	req := r.requestIn(t, exchange.RequestAccepted)
	e := r.declare(t, legal, answerTo(req.ID, 6))
	r.store.failAuditOf(exchange.TypeRequestAnswered)
	_, err := r.svc.Upload(r.ctx, legal, e.ID, bytes.NewReader([]byte("answer")), 6)
	require.ErrorIs(t, err, exchange.ErrUnavailable)
	require.Equal(t, exchange.StateDeclared, r.exchange(t, e.ID).State)
	stored, err := r.svc.GetRequest(r.ctx, police, req.ID)
	require.NoError(t, err)
	require.Equal(t, exchange.RequestAccepted, stored.State)
	require.Empty(t, stored.Response.Exchanges)
	require.Empty(t, r.entries(t, audit.TypeExchangeSealed), "the sealed entry rolled back with it")
	r.noPayloadObjects(t, e.ID)
}

// A request is overdue while it is still to be answered after its deadline.
func TestRequestOverdue(t *testing.T) {
	t.Parallel()
	deadline := t0.Add(24 * time.Hour)
	tests := []struct {
		name     string
		state    exchange.RequestState
		deadline time.Time
		now      time.Time
		overdue  bool
	}{
		{"ok/open-before-its-deadline", exchange.RequestOpen, deadline, t0, false},
		{"ok/open-at-its-deadline", exchange.RequestOpen, deadline, deadline, false},
		{"ok/open-past-its-deadline", exchange.RequestOpen, deadline, deadline.Add(time.Second), true},
		{"ok/accepted-past-its-deadline", exchange.RequestAccepted, deadline, deadline.Add(time.Hour), true},
		{"ok/answered-is-never-overdue", exchange.RequestAnswered, deadline, deadline.Add(time.Hour), false},
		{"ok/declined-is-never-overdue", exchange.RequestDeclined, deadline, deadline.Add(time.Hour), false},
		{"ok/no-deadline", exchange.RequestOpen, time.Time{}, deadline.Add(time.Hour), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := &exchange.Request{ID: "r1", State: tt.state, Requester: police, Handler: legal, Deadline: tt.deadline}
			require.Equal(t, tt.overdue, q.Overdue(tt.now))
		})
	}
}

// An answer declared before its request was declined is not delivered: a
// declined request is settled, as it is at declaration.
func TestAnswerToARequestDeclinedSinceItsDeclaration(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	req := r.requestIn(t, exchange.RequestAccepted)
	e := r.declare(t, legal, answerTo(req.ID, 6))
	_, err := r.svc.RespondRequest(r.ctx, legal, req.ID, false, "on review, not necessary")
	require.NoError(t, err)

	_, err = r.svc.Upload(r.ctx, legal, e.ID, bytes.NewReader([]byte("answer")), 6)
	require.ErrorIs(t, err, exchange.ErrState)
	require.Equal(t, exchange.StateDeclared, r.exchange(t, e.ID).State)
	r.noPayloadObjects(t, e.ID)
	stored, err := r.svc.GetRequest(r.ctx, police, req.ID)
	require.NoError(t, err)
	require.Equal(t, exchange.RequestDeclined, stored.State)
	require.Equal(t, "on review, not necessary", stored.Response.Reason)
	require.Empty(t, stored.Response.Exchanges)
	require.Empty(t, r.entries(t, exchange.TypeRequestAnswered))
}

// An answer inherits what its request said and the answer leaves out; what
// it declares stands.
func TestAnswerInheritsItsRequest(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	req := r.requestIn(t, exchange.RequestAccepted)
	asked := policeRequest()
	bare := &api.ExchangeDeclaration{RequestRef: req.ID, ContentType: "text/csv", Size: 6}

	dry, err := r.svc.Check(r.ctx, legal, bare)
	require.NoError(t, err)
	require.Equal(t, agreements.Allow, dry.Outcome, "the dry run inherits alike")
	e, err := r.svc.Declare(r.ctx, legal, bare, "")
	require.NoError(t, err)
	require.Equal(t, police, e.Recipient)
	require.Equal(t, "police-crime", e.AgreementID)
	require.Equal(t, asked.Purpose, e.Meta.Purpose)
	require.Equal(t, asked.LawfulBasis, e.Meta.LawfulBasis)
	require.Equal(t, asked.DataCategories, e.Meta.DataCategories)
	require.Equal(t, asked.Necessity, e.Meta.Justification)
	require.Equal(t, req.Meta.SubjectKeys, e.Meta.SubjectKeys)
	require.Equal(t, req.ID, e.RequestID)
	require.Empty(t, bare.Recipient, "the caller's declaration is not changed")

	// What the answer declares stands, within what the request asked.
	narrower := *bare
	narrower.DataCategories = []string{"identity"}
	narrower.Subjects = []api.Subject{{Type: "nino", Value: "qq 123456c"}}
	e, err = r.svc.Declare(r.ctx, legal, &narrower, "")
	require.NoError(t, err)
	require.Equal(t, []string{"identity"}, e.Meta.DataCategories)
	require.Equal(t, req.Meta.SubjectKeys, e.Meta.SubjectKeys, "the same person, written otherwise")

	// An answer carries only the request's subjects and categories.
	other := *bare
	other.Subjects = []api.Subject{{Type: "nino", Value: "AB123456C"}}
	_, err = r.svc.Declare(r.ctx, legal, &other, "")
	requireProblem(t, err, "subjects[0]", "requested")
	wider := *bare
	wider.DataCategories = []string{"identity", "financial"}
	_, err = r.svc.Declare(r.ctx, legal, &wider, "")
	requireProblem(t, err, "data_categories[1]", "requested")

	// Only the handler inherits anything.
	_, err = r.svc.Declare(r.ctx, revenues, bare, "")
	requireProblem(t, err, "request_ref", "handler")
}
