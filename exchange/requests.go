package exchange

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/certs"
	"github.com/gatehouse-gw/gatehouse/internal/idem"
	"github.com/gatehouse-gw/gatehouse/internal/public"
	"github.com/gatehouse-gw/gatehouse/internal/strictjson"
	"github.com/gatehouse-gw/gatehouse/internal/valid"
)

// RequestState is where an information request is.
type RequestState string

// Request states: open (allowed, waiting for the handler) → accepted →
// answered (an exchange that references it was delivered), or declined.
const (
	RequestOpen     RequestState = "open"
	RequestAccepted RequestState = "accepted"
	RequestDeclined RequestState = "declined"
	RequestAnswered RequestState = "answered"
)

// Audit entry types for requests.
const (
	TypeRequestDecided  = "request.decided"
	TypeRequestAccepted = "request.accepted"
	TypeRequestDeclined = "request.declined"
	TypeRequestAnswered = "request.answered"
)

// Request is an inbound information request, routed to a handler service.
type Request struct {
	ID    string
	State RequestState
	// Replayed is set (never stored) when a repeated Idempotency-Key
	// returns the request created the first time.
	Replayed bool
	// Receipt is the signed receipt (never stored) of the audit entry the
	// call that returned the request recorded, if it recorded one.
	Receipt          string
	Requester        string
	Handler          string
	AgreementID      string
	AgreementVersion int
	Meta             RequestMeta
	Decision         agreements.Decision
	Response         RequestResponse
	Deadline         time.Time
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// RequestMeta is what the requester asked, with subjects as keyed HMACs.
type RequestMeta struct {
	Meta
	DataSought     string `json:"data_sought"`
	Offence        string `json:"offence,omitempty"`
	WouldPrejudice bool   `json:"would_prejudice,omitempty"`
	StatutoryPower string `json:"statutory_power,omitempty"`
	Reference      string `json:"reference,omitempty"`
}

// RequestResponse is the handler's answer.
type RequestResponse struct {
	Reason    string    `json:"reason,omitempty"`
	By        string    `json:"by,omitempty"`
	At        time.Time `json:"at,omitzero"`
	Exchanges []string  `json:"exchanges,omitempty"`
}

// RequestQuery selects requests by handler or requester.
type RequestQuery struct {
	Handler   string
	Requester string
	States    []RequestState
	After     string
	Limit     int
}

// ErrRequestNotFound: no such request, or not one the caller may see.
var ErrRequestNotFound = errors.New("request not found")

// Overdue reports whether the request is still to be answered after its deadline.
func (r *Request) Overdue(now time.Time) bool {
	return !r.Deadline.IsZero() && now.After(r.Deadline) && (r.State == RequestOpen || r.State == RequestAccepted)
}

// ValidateRequest checks the shape of an information request.
func ValidateRequest(q *api.InformationRequest) error {
	d := requestDeclaration(q)
	err := ValidateDeclaration(d, 0)
	v, _ := valid.As(err)
	if err != nil && v == nil {
		return err
	}
	// The declaration's payload fields do not apply to a request, and its
	// fields have the request's names.
	v = slices.DeleteFunc(v, func(p valid.Problem) bool {
		return p.Path == "content_type" || p.Path == "size" || (p.Path == "recipient" && q.To == "") || p.Path == "justification"
	})
	for i := range v {
		if v[i].Path == "recipient" {
			v[i].Path = "to"
		}
	}
	if q.To != "" && !certs.ValidPartyID(q.To) {
		v.Add("to", "format", "%s is not a party id", strictjson.Quote(q.To))
	}
	v.Required("data_sought", q.DataSought)
	v.Required("necessity", q.Necessity)
	// A request for law enforcement (DPA 2018 Part 3) asks the handler to
	// disclose under the Sch 2 para 2 exemption as much as one that cites it.
	sch2 := q.Exemption == agreements.ExemptionCrimeAndTaxation || agreements.Part3Bases[q.LawfulBasis] != ""
	if sch2 && strings.TrimSpace(q.Offence) == "" && !q.WouldPrejudice {
		v.Add("offence", "sch2-prejudice", "a request under DPA 2018 Sch 2 para 2, or for law enforcement under DPA 2018 Part 3, must name the offence or state that not disclosing would prejudice the prevention or detection of crime (would_prejudice)")
	}
	for _, f := range []struct{ path, val string }{{"data_sought", q.DataSought}, {"offence", q.Offence}, {"statutory_power", q.StatutoryPower}, {"necessity", q.Necessity}} {
		if len(f.val) > maxTextLength {
			v.Add(f.path, "max-length", "is longer than %d characters", maxTextLength)
		} else if i := valid.ControlAt(f.val, true); i >= 0 {
			v.Add(f.path, "control-character", "%s", valid.ControlMessage(f.val, i))
		}
	}
	text(&v, "reference", q.Reference, maxRef)
	return v.Err()
}

// requestDeclaration maps a request onto the declaration it is decided as.
func requestDeclaration(q *api.InformationRequest) *api.ExchangeDeclaration {
	return &api.ExchangeDeclaration{
		Agreement: q.Agreement, AgreementVersion: q.AgreementVersion, Recipient: q.To, Purpose: q.Purpose, LawfulBasis: q.LawfulBasis,
		SpecialCategory: q.SpecialCategory, CriminalOffence: q.CriminalOffence, Exemption: q.Exemption,
		DataCategories: q.DataCategories, Subjects: q.Subjects, Justification: q.Necessity,
		Authoriser: q.Authoriser, Urgency: q.Urgency, ContentType: "application/octet-stream",
	}
}

// handlerFor is the council service that answers caller's requests under an
// agreement: the handler of the first flow from caller that names one.
func handlerFor(reg *agreements.Registry, agreement, caller string) string {
	a := reg.Agreement(agreement)
	if a == nil {
		return ""
	}
	for i := range a.Flows {
		if f := &a.Flows[i]; f.Handler != "" && f.Sends(caller) {
			return f.Handler
		}
	}
	return ""
}

// decideRequest decides an information request by caller at now: what
// SubmitRequest and its dry run share. It returns the handler it is routed
// to and what is recorded of it.
func (s *Service) decideRequest(ctx context.Context, reg *agreements.Registry, caller string, q *api.InformationRequest, now time.Time) (string, RequestMeta, agreements.Decision, error) {
	d := requestDeclaration(q)
	if d.Recipient == "" {
		d.Recipient = handlerFor(reg, q.Agreement, caller)
		if d.Recipient == "" {
			return "", RequestMeta{}, agreements.Decision{}, valid.Errors{{Path: "to", Rule: "required", Message: "no flow of this agreement names a handler for your requests; name the council service"}}
		}
	}
	if q.Deadline != nil && !q.Deadline.After(now) {
		return "", RequestMeta{}, agreements.Decision{}, valid.Errors{{Path: "deadline", Rule: "future",
			Message: fmt.Sprintf("%s has already passed; give a time the handler can still meet", q.Deadline.UTC().Format(time.RFC3339))}}
	}
	meta := RequestMeta{
		Meta: s.meta(d), DataSought: q.DataSought, Offence: q.Offence, WouldPrejudice: q.WouldPrejudice,
		StatutoryPower: q.StatutoryPower, Reference: q.Reference,
	}
	decision, err := s.decide(ctx, reg, caller, d.Recipient, q.Agreement, "", &meta.Meta, now)
	return d.Recipient, meta, decision, err
}

// CheckRequest decides an information request by caller without storing
// anything: the dry run of SubmitRequest, with every check it runs.
func (s *Service) CheckRequest(ctx context.Context, caller string, q *api.InformationRequest) (agreements.Decision, error) {
	if err := ValidateRequest(q); err != nil {
		return agreements.Decision{}, err
	}
	reg, err := s.registry.Snapshot(ctx)
	if err != nil {
		return agreements.Decision{}, unavailable(err)
	}
	_, _, decision, err := s.decideRequest(ctx, reg, caller, q, s.now().UTC())
	return decision, err
}

// SubmitRequest decides an information request by caller and, if it is
// allowed, routes it to the handler. A refusal stores only its audit entry.
func (s *Service) SubmitRequest(ctx context.Context, caller string, q *api.InformationRequest, key string) (*Request, error) {
	if err := ValidateRequest(q); err != nil {
		return nil, err
	}
	fingerprint := idem.Fingerprint(q)
	if id, err := s.replay(ctx, caller, key, fingerprint); err != nil || id != "" {
		if err != nil {
			return nil, err
		}
		return s.replayedRequest(ctx, id)
	}
	reg, err := s.registry.Snapshot(ctx)
	if err != nil {
		return nil, unavailable(err)
	}
	now := s.now().UTC()
	handler, meta, decision, err := s.decideRequest(ctx, reg, caller, q, now)
	if err != nil {
		return nil, err
	}
	countDecision(reg, "request", caller, q.Agreement, &decision)
	entry := decisionEntry(now, caller, handler, &meta.Meta, &decision)
	entry.Type = TypeRequestDecided
	if !decision.Outcome.Allowed() {
		if err := s.update(ctx, func(tx Tx) error { return tx.AppendAudit(ctx, entry) }); err != nil {
			return nil, err
		}
		return nil, &RefusedError{Decision: decision, Receipt: s.receipt(entry)}
	}
	id, version := splitRef(decision.Agreement)
	r := &Request{
		ID: uuid.Must(uuid.NewV7()).String(), State: RequestOpen, Requester: caller, Handler: handler,
		AgreementID: id, AgreementVersion: version, Meta: meta, Decision: decision, CreatedAt: now, UpdatedAt: now,
	}
	if q.Deadline != nil {
		r.Deadline = q.Deadline.UTC()
	}
	entry.Request = r.ID
	err = s.update(ctx, func(tx Tx) error {
		if key != "" {
			if err := tx.ClaimKey(ctx, caller, key, fingerprint, r.ID, now); err != nil {
				return err
			}
		}
		if err := tx.AppendAudit(ctx, entry); err != nil {
			return err
		}
		return tx.CreateRequest(ctx, r)
	})
	if err != nil {
		if id, rerr := s.replay(ctx, caller, key, fingerprint); rerr == nil && id != "" {
			return s.replayedRequest(ctx, id)
		}
		return nil, err
	}
	r.Receipt = s.receipt(entry)
	return r, nil
}

func (s *Service) replayedRequest(ctx context.Context, id string) (*Request, error) {
	r, err := s.store.Request(ctx, id)
	if err != nil {
		return nil, err
	}
	r.Replayed = true
	return r, nil
}

// GetRequest returns a request its requester or handler may see.
func (s *Service) GetRequest(ctx context.Context, caller, id string) (*Request, error) {
	r, err := s.store.Request(ctx, id)
	if err != nil {
		return nil, err
	}
	if r.Requester != caller && r.Handler != caller {
		return nil, ErrRequestNotFound
	}
	return r, nil
}

// Requests lists requests the caller handles (handled) or made (!handled).
func (s *Service) Requests(ctx context.Context, caller string, handled bool, states []RequestState, after string, limit int) ([]*Request, error) {
	q := RequestQuery{States: states, After: after, Limit: limit}
	if handled {
		q.Handler = caller
	} else {
		q.Requester = caller
	}
	if q.Limit <= 0 || q.Limit > 500 {
		q.Limit = 100
	}
	return s.store.Requests(ctx, q)
}

// RespondRequest accepts or declines a request (its handler only). A
// declined request needs a reason; the requester sees it.
func (s *Service) RespondRequest(ctx context.Context, caller, id string, accept bool, reason string) (*Request, error) {
	if !accept && strings.TrimSpace(reason) == "" {
		return nil, valid.Errors{{Path: "reason", Rule: "required", Message: "is required: the requester is told why"}}
	}
	if len(reason) > maxTextLength {
		return nil, valid.Errors{{Path: "reason", Rule: "max-length", Message: fmt.Sprintf("is longer than %d characters", maxTextLength)}}
	}
	var (
		out   *Request
		entry *audit.Entry
	)
	err := s.update(ctx, func(tx Tx) error {
		out, entry = nil, nil
		r, err := tx.LockRequest(ctx, id)
		if err != nil {
			return err
		}
		if r.Handler != caller {
			return ErrRequestNotFound
		}
		next, typ := RequestAccepted, TypeRequestAccepted
		if !accept {
			next, typ = RequestDeclined, TypeRequestDeclined
		}
		if r.State == next {
			out = r // repeating an answer changes nothing
			return nil
		}
		if r.State != RequestOpen && !(!accept && r.State == RequestAccepted) {
			return public.Errorf(ErrState, "request is %s", r.State)
		}
		now := s.now().UTC()
		r.State, r.UpdatedAt = next, now
		r.Response.Reason, r.Response.By, r.Response.At = reason, caller, now
		entry = &audit.Entry{
			Time: now, Type: typ, Actor: caller, Request: r.ID, Agreement: r.Decision.Agreement,
			Recipient: r.Requester, Subjects: r.Meta.SubjectKeys, Detail: reasonDetail(reason),
		}
		if err := tx.AppendAudit(ctx, entry); err != nil {
			return err
		}
		out = r
		return tx.SaveRequest(ctx, r)
	})
	if err != nil {
		return nil, err
	}
	out.Receipt = s.receipt(entry)
	return out, nil
}

func reasonDetail(reason string) map[string]string {
	if reason == "" {
		return nil
	}
	return map[string]string{"reason": reason}
}

// answerable checks, at declaration, that an exchange answering a request
// goes from its handler to its requester, and returns the request id.
func (s *Service) answerable(ctx context.Context, caller string, d *api.ExchangeDeclaration) (string, error) {
	r, err := s.store.Request(ctx, d.RequestRef)
	if errors.Is(err, ErrRequestNotFound) {
		return "", nil // a reference to something outside the gateway
	}
	if err != nil {
		return "", unavailable(err)
	}
	if r.Handler != caller || r.Requester != d.Recipient {
		return "", valid.Errors{{Path: "request_ref", Rule: "handler", Message: "answers to a request go from its handler to its requester"}}
	}
	if r.State == RequestDeclined {
		return "", public.Errorf(ErrState, "request %s was declined", r.ID)
	}
	return r.ID, nil
}

// markAnswered records that a delivered exchange answers its request. A
// request declined since the exchange was declared is settled: the
// delivery is refused, as the declaration would be now.
func markAnswered(ctx context.Context, tx Tx, e *Exchange, now time.Time) error {
	r, err := tx.LockRequest(ctx, e.RequestID)
	if err != nil {
		return err
	}
	if r.State == RequestDeclined {
		return public.Errorf(ErrState, "request %s was declined", r.ID)
	}
	r.State, r.UpdatedAt = RequestAnswered, now
	if !slices.Contains(r.Response.Exchanges, e.ID) {
		r.Response.Exchanges = append(r.Response.Exchanges, e.ID)
	}
	if err := tx.AppendAudit(ctx, &audit.Entry{
		Time: now, Type: TypeRequestAnswered, Actor: e.Sender, Request: r.ID, Exchange: e.ID,
		Agreement: e.AgreementRef(), Recipient: r.Requester, Subjects: r.Meta.SubjectKeys,
	}); err != nil {
		return err
	}
	return tx.SaveRequest(ctx, r)
}
