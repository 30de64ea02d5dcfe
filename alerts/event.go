// Package alerts tells people and partner systems what needs their
// attention: events written to an outbox in the transaction of the change
// that causes them, delivered at least once by e-mail and by signed
// webhooks (docs/alerts.md). Events carry ids, deadlines and links, never
// subject identifiers or payload content.
package alerts

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/compliance"
	"github.com/gatehouse-gw/gatehouse/exchange"
)

// Event types. Those a partner's webhook receives are marked "partner";
// the others go to people (role mailboxes and role webhooks).
const (
	// Partner events.
	ExchangeDelivered    = "exchange.delivered"   // partner: a disclosure is in its inbox
	RequestReceived      = "request.received"     // partner: a request for it to answer
	RequestAnswered      = "request.answered"     // partner: its request was answered
	RequestDeclined      = "request.declined"     // partner: its request was declined
	RectificationNotice  = "rectification.notice" // partner: data it received was corrected (Art 19)
	AgreementSuspended   = "agreement.suspended"  // partner and people
	AgreementResumed     = "agreement.resumed"    // partner and people
	AgreementTerminated  = "agreement.terminated" // partner and people
	CertificateExpiring  = "certificate.expiring" // partner and operators
	OverrideMade         = "override.made"        // people: at once
	OverrideReviewDue    = "override.review-due"  // people: within 24 hours
	OverrideOverdue      = "override.review-overdue"
	DraftAwaitingApprove = "agreement.awaiting-approval"
	PartyChangeAwaiting  = "party.change-awaiting-approval"
	AgreementReviewDue   = "agreement.review-due"
	AgreementLapsed      = "agreement.review-lapsed"
	DPIADue              = "agreement.dpia-due"
	DPIALapsed           = "agreement.dpia-lapsed"
	NotificationDue      = "notification.due"
	RequestDeadlineNear  = "request.deadline-near"
	RequestDeadlinePast  = "request.deadline-passed"
	AuditBroken          = "audit.verification-broken"
	CheckpointStale      = "audit.checkpoint-stale"
	Digest               = "digest.daily"
	Test                 = "test"
)

// Roles that receive people's events. admin, dpo and auditor are the admin
// API's roles; operator is whoever runs the gateway.
const (
	RoleAdmin    = agreements.RoleAdmin
	RoleDPO      = agreements.RoleDPO
	RoleAuditor  = agreements.RoleAuditor
	RoleOperator = "operator"
)

// Roles lists every role an event may go to.
var Roles = []string{RoleAdmin, RoleDPO, RoleAuditor, RoleOperator}

// Event is one thing someone must hear about.
type Event struct {
	ID   string
	Type string
	Time time.Time
	// Party is the partner the event is for (its webhooks and contacts),
	// or empty.
	Party string
	// Roles are the people it is for.
	Roles []string
	Data  Data
}

// Data is what an event says: ids, what needs doing and by when. It never
// holds subject identifiers or payload content.
type Data struct {
	Exchange      string    `json:"exchange,omitempty"`
	Request       string    `json:"request,omitempty"`
	Agreement     string    `json:"agreement,omitempty"`
	Party         string    `json:"party,omitempty"`
	Rectification string    `json:"rectification,omitempty"`
	Notice        string    `json:"notice,omitempty"`
	Serial        string    `json:"serial,omitempty"`
	Override      bool      `json:"override,omitempty"`
	Urgency       string    `json:"urgency,omitempty"`
	Deadline      time.Time `json:"deadline,omitzero"`
	// Action says in a sentence what needs doing.
	Action string `json:"action,omitempty"`
	// Items are a digest's entries.
	Items []Item `json:"items,omitempty"`
}

// Item is one entry of a digest: what is due and by when. Type is the
// kind of thing due: override, notification, request, agreement-review
// or dpia.
type Item struct {
	Type     string    `json:"type"`
	ID       string    `json:"id"`
	Deadline time.Time `json:"deadline,omitzero"`
	Action   string    `json:"action"`
}

// NewID is a fresh event id.
func NewID() string { return "evt_" + strings.ReplaceAll(uuid.Must(uuid.NewV7()).String(), "-", "") }

// KeyID is the event id for a key that names one occurrence (an override's
// 24-hour reminder, a day's digest): writing the same key twice, on any
// node, makes one event.
func KeyID(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "evt_" + hex.EncodeToString(sum[:16])
}

// Lookup is what FromAudit needs of the transaction it runs in.
type Lookup interface {
	// AgreementParties are the parties named in an agreement version's flows.
	AgreementParties(ref string) ([]string, error)
}

// FromAudit returns the events an audit entry causes, to be written in the
// entry's own transaction.
func FromAudit(e *audit.Entry, look Lookup) ([]Event, error) {
	ev := func(typ, party string, roles []string, d Data) Event {
		return Event{ID: NewID(), Type: typ, Time: e.Time, Party: party, Roles: roles, Data: d}
	}
	override := e.Outcome == string(agreements.AllowOverride)
	switch e.Type {
	case audit.TypeExchangeDecided, exchange.TypeRequestDecided:
		var out []Event
		if e.Type == exchange.TypeRequestDecided && e.Request != "" && (e.Outcome == string(agreements.Allow) || override) {
			out = append(out, ev(RequestReceived, e.Recipient, nil, Data{
				Request: e.Request, Agreement: e.Agreement, Party: e.Actor, Urgency: e.Detail["urgency"], Override: override,
				Action: "answer or decline the request",
			}))
		}
		if override && (e.Exchange != "" || e.Request != "") {
			deadline, _ := time.Parse(time.RFC3339, e.Detail["override_review_by"])
			out = append(out, ev(OverrideMade, "", []string{RoleDPO}, Data{
				Exchange: e.Exchange, Request: e.Request, Agreement: e.Agreement, Party: e.Actor,
				Urgency: e.Detail["urgency"], Override: true, Deadline: deadline,
				Action: "review the emergency override",
			}))
		}
		return out, nil
	case audit.TypeExchangeSealed:
		return []Event{ev(ExchangeDelivered, e.Recipient, nil, Data{
			Exchange: e.Exchange, Agreement: e.Agreement, Party: e.Actor, Override: override,
			Action: "fetch the exchange from the inbox",
		})}, nil
	case exchange.TypeRequestAnswered:
		return []Event{ev(RequestAnswered, e.Recipient, nil, Data{
			Request: e.Request, Exchange: e.Exchange, Agreement: e.Agreement, Party: e.Actor,
			Action: "fetch the answering exchange",
		})}, nil
	case exchange.TypeRequestDeclined:
		return []Event{ev(RequestDeclined, e.Recipient, nil, Data{
			Request: e.Request, Agreement: e.Agreement, Party: e.Actor,
			Action: "read the reason the request was declined",
		})}, nil
	case compliance.AuditRectification:
		var out []Event
		for _, p := range strings.Fields(e.Detail["recipients"]) {
			out = append(out, ev(RectificationNotice, p, nil, Data{
				Rectification: e.Detail["rectification"],
				Action:        "correct, erase or restrict the data as the notice says, then acknowledge it",
			}))
		}
		return out, nil
	case agreements.AuditAgreementRegistered:
		return []Event{ev(DraftAwaitingApprove, "", []string{RoleDPO}, Data{
			Agreement: e.Agreement, Action: "approve the draft (a DPO who is not its author)",
		})}, nil
	case agreements.AuditPartyChangeProposed:
		return []Event{ev(PartyChangeAwaiting, "", []string{RoleAdmin, RoleDPO}, Data{
			Party: e.Recipient, Action: "approve or reject the change to the party's " + strings.ReplaceAll(e.Detail["fields"], ",", ", ") + " (someone other than its proposer)",
		})}, nil
	case agreements.AuditAgreementSuspended, agreements.AuditAgreementResumed, agreements.AuditAgreementTerminated:
		typ := map[string]string{
			agreements.AuditAgreementSuspended:  AgreementSuspended,
			agreements.AuditAgreementResumed:    AgreementResumed,
			agreements.AuditAgreementTerminated: AgreementTerminated,
		}[e.Type]
		action := map[string]string{
			AgreementSuspended:  "stop sending under the agreement until it is resumed",
			AgreementResumed:    "sharing under the agreement may start again",
			AgreementTerminated: "stop sharing under the agreement",
		}[typ]
		parties, err := look.AgreementParties(e.Agreement)
		if err != nil {
			return nil, err
		}
		out := []Event{ev(typ, "", []string{RoleAdmin, RoleDPO}, Data{Agreement: e.Agreement, Action: action})}
		for _, p := range parties {
			out = append(out, ev(typ, p, nil, Data{Agreement: e.Agreement, Action: action}))
		}
		return out, nil
	}
	return nil, nil
}

// FlowParties are the parties an agreement's flows name, sorted.
func FlowParties(a *agreements.Agreement) []string {
	var out []string
	for _, f := range a.Flows {
		out = append(out, f.From...)
		out = append(out, f.To...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
