package gateway

import (
	"time"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/exchange"
)

// The partner API's exchange, request and decision documents: domain → wire.

func exchangeLinks(e *exchange.Exchange, forSender bool) map[string]string {
	base := "/v1/exchanges/" + e.ID
	links := map[string]string{"self": base}
	if forSender && e.State.Uploadable() {
		links["upload"] = base + "/payload"
	}
	if !forSender && e.State.Readable() {
		links["envelope"] = base + "/envelope"
		links["payload"] = base + "/payload"
		if e.State != exchange.StateAcknowledged {
			links["ack"] = base + "/ack"
		}
	}
	return links
}

// exchangeView is an exchange as caller sees it: the decision and the upload
// link for its sender, the envelope, payload and ack links for its recipient.
func exchangeView(e *exchange.Exchange, caller string) api.Exchange {
	forSender := e.Sender == caller
	v := api.Exchange{
		ID:          e.ID,
		State:       string(e.State),
		Sender:      e.Sender,
		Recipient:   e.Recipient,
		Agreement:   e.AgreementRef(),
		Purpose:     e.Meta.Purpose,
		LawfulBasis: e.Meta.LawfulBasis,
		Categories:  e.Meta.DataCategories,
		Subjects:    e.Meta.SubjectCount,
		Urgency:     e.Meta.Urgency,
		RequestRef:  e.Meta.RequestRef,
		Payload: api.Payload{
			ContentType:    e.Meta.ContentType,
			Size:           e.Meta.DeclaredSize,
			SHA256:         e.Payload.SHA256,
			CiphertextSize: e.Payload.CiphertextSize,
		},
		CreatedAt:      e.CreatedAt,
		UpdatedAt:      e.UpdatedAt,
		DeliveredAt:    e.DeliveredAt,
		AcknowledgedAt: e.AcknowledgedAt,
		ExpiresAt:      e.ExpiresAt,
		RequestID:      e.RequestID,
		Links:          exchangeLinks(e, forSender),
	}
	if n := len(e.Receipts); n > 0 {
		v.Receipt = e.Receipts[n-1]
		if n > 1 {
			v.Receipts = e.Receipts
		}
	}
	if e.Decision.Outcome == agreements.AllowOverride {
		v.Override = true
		if rb := e.Decision.ReviewBy; !rb.IsZero() {
			v.OverrideReviewBy = &rb
		}
	}
	if forSender {
		v.Decision = decisionView(&e.Decision)
	}
	return v
}

// decisionView is a decision with every check it ran.
func decisionView(d *agreements.Decision) *api.Decision {
	out := &api.Decision{Outcome: string(d.Outcome), Agreement: d.Agreement, Regime: d.Regime, Checks: make([]api.Check, len(d.Checks))}
	for i, c := range d.Checks {
		out.Checks[i] = api.Check{Code: c.Code, Passed: c.Passed, Message: c.Message}
	}
	if !d.ReviewBy.IsZero() {
		t := d.ReviewBy.UTC()
		out.ReviewBy = &t
	}
	return out
}

// requestView is an information request as its requester or handler sees
// it at now.
func requestView(r *exchange.Request, now time.Time) api.Request {
	v := api.Request{
		ID: r.ID, State: string(r.State), Requester: r.Requester, Handler: r.Handler,
		Purpose: r.Meta.Purpose, LawfulBasis: r.Meta.LawfulBasis, Exemption: r.Meta.Exemption,
		DataCategories: r.Meta.DataCategories, DataSought: r.Meta.DataSought, Subjects: r.Meta.SubjectCount,
		Offence: r.Meta.Offence, WouldPrejudice: r.Meta.WouldPrejudice, StatutoryPower: r.Meta.StatutoryPower,
		Necessity: r.Meta.Justification, Authoriser: r.Meta.Authoriser, Urgency: r.Meta.Urgency,
		Reference: r.Meta.Reference, Overdue: r.Overdue(now), Reason: r.Response.Reason,
		Exchanges: r.Response.Exchanges, Decision: decisionView(&r.Decision),
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, Receipt: r.Receipt,
	}
	if r.AgreementID != "" {
		v.Agreement = agreements.Ref(r.AgreementID, r.AgreementVersion)
	}
	if !r.Deadline.IsZero() {
		d := r.Deadline
		v.Deadline = &d
	}
	return v
}
