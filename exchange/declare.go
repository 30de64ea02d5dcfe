package exchange

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"mime"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/certs"
	"github.com/gatehouse-gw/gatehouse/internal/idem"
	"github.com/gatehouse-gw/gatehouse/internal/metrics"
	"github.com/gatehouse-gw/gatehouse/internal/strictjson"
	"github.com/gatehouse-gw/gatehouse/internal/valid"
)

// Urgency levels.
const (
	UrgencyRoutine   = "routine"
	UrgencyUrgent    = "urgent"
	UrgencyEmergency = "emergency"
)

var (
	codePattern    = regexp.MustCompile(`^[A-Za-z0-9]+(?:[.-][A-Za-z0-9]+)*$`)
	subjectPattern = regexp.MustCompile(`^[a-z0-9]+(?:-[a-z0-9]+)*$`)
)

// Limits on declared metadata, so that one request cannot bloat a row, an
// audit entry or an answer (docs/problems.md lists them).
const (
	maxSubjects   = 10000
	maxTextLength = 4096 // justification, necessity and other free text
	maxListLength = 64
	maxCode       = 64   // ids and codes
	maxName       = 256  // names of people
	maxRef        = 256  // references
	maxReason     = 1024 // notification reasons
	maxMediaType  = 255
)

// q quotes a value of the request for a message: cut short, control and
// invisible characters escaped.
func q(s string) string { return strictjson.Quote(s) }

// ValidateDeclaration checks the shape of a declaration: required fields,
// formats and limits. Whether it is lawful is for Decide.
func ValidateDeclaration(d *api.ExchangeDeclaration, maxSize int64) error {
	var v valid.Errors
	switch {
	case d.Agreement == "" && d.Urgency != UrgencyEmergency:
		v.Add("agreement", "required", "is required (only an emergency disclosure may name none)")
	case d.Agreement != "" && (len(d.Agreement) > maxCode || !codePattern.MatchString(d.Agreement)):
		v.Add("agreement", "format", "%s is not an agreement id (at most %d characters)", q(d.Agreement), maxCode)
	}
	switch {
	case d.AgreementVersion < 0:
		v.Add("agreement_version", "minimum", "must be a version number (1 or more)")
	case d.AgreementVersion > 0 && d.Agreement == "":
		v.Add("agreement_version", "agreement", "names a version of no agreement: name the agreement too")
	}
	if v.Required("recipient", d.Recipient) && !certs.ValidPartyID(d.Recipient) {
		v.Add("recipient", "format", "%s is not a party id", q(d.Recipient))
	}
	codeField(&v, "purpose", d.Purpose, true)
	codeField(&v, "lawful_basis", d.LawfulBasis, true)
	codeList(&v, "special_category", d.SpecialCategory, false)
	codeList(&v, "criminal_offence", d.CriminalOffence, false)
	codeField(&v, "exemption", d.Exemption, false)
	codeList(&v, "data_categories", d.DataCategories, true)

	if len(d.Subjects) > maxSubjects {
		v.Add("subjects", "max-items", "at most %d subjects may be named; use subject_count for bulk data", maxSubjects)
	}
	for i, s := range d.Subjects {
		if v.Required(valid.Path("subjects", i, "type"), s.Type) && (len(s.Type) > maxCode || !subjectPattern.MatchString(s.Type)) {
			v.Add(valid.Path("subjects", i, "type"), "format", "%s is not a subject identifier type (lower-case words joined by '-')", q(s.Type))
		}
		if v.Required(valid.Path("subjects", i, "value"), s.Value) && len(s.Value) > 256 {
			v.Add(valid.Path("subjects", i, "value"), "max-length", "is longer than 256 characters")
		}
		text(&v, valid.Path("subjects", i, "consent_ref"), s.ConsentRef, maxRef)
	}
	if d.SubjectCount < 0 {
		v.Add("subject_count", "minimum", "must not be negative")
	} else if d.SubjectCount > 0 && d.SubjectCount < len(d.Subjects) {
		v.Add("subject_count", "minimum", "is %d but %d subjects are named", d.SubjectCount, len(d.Subjects))
	}
	// Free text reaches the audit record, the registers and e-mails: bounded,
	// and with no control or invisible formatting characters (line ends
	// only in the justification).
	if len(d.Justification) > maxTextLength {
		v.Add("justification", "max-length", "is longer than %d characters", maxTextLength)
	} else if i := valid.ControlAt(d.Justification, true); i >= 0 {
		v.Add("justification", "control-character", "%s", valid.ControlMessage(d.Justification, i))
	}
	text(&v, "requested_by", d.RequestedBy, maxName)
	text(&v, "request_ref", d.RequestRef, maxRef)
	text(&v, "consent_ref", d.ConsentRef, maxRef)
	if d.Authoriser != nil {
		if v.Required("authoriser.name", d.Authoriser.Name) {
			text(&v, "authoriser.name", d.Authoriser.Name, maxName)
		}
		text(&v, "authoriser.rank", d.Authoriser.Rank, maxCode)
	}
	switch d.Urgency {
	case "", UrgencyRoutine, UrgencyUrgent, UrgencyEmergency:
	default:
		v.Add("urgency", "enum", "%s is not one of routine, urgent, emergency", q(d.Urgency))
	}
	if n := d.Notification; n != nil {
		switch n.Decision {
		case "notify":
		case "withhold":
			v.Required("notification.reason", n.Reason)
		default:
			v.Add("notification.decision", "enum", "%s is not one of notify, withhold", q(n.Decision))
		}
		text(&v, "notification.reason", n.Reason, maxReason)
	}
	if v.Required("content_type", d.ContentType) && text(&v, "content_type", d.ContentType, maxMediaType) {
		if _, _, err := mime.ParseMediaType(d.ContentType); err != nil {
			v.Add("content_type", "format", "%s is not a media type", q(d.ContentType))
		}
	}
	if d.Size < 0 {
		v.Add("size", "minimum", "must not be negative")
	}
	if d.SHA256 != "" {
		if b, err := hex.DecodeString(d.SHA256); err != nil || len(b) != 32 || strings.ToLower(d.SHA256) != d.SHA256 {
			v.Add("sha256", "format", "must be 64 lower-case hex digits")
		}
	}
	if err := v.Err(); err != nil {
		return err
	}
	if d.Size > maxSize {
		return ErrTooLarge
	}
	return nil
}

// text checks a single-line free-text field: at most max characters, no
// control or invisible formatting characters. It reports whether it passed.
func text(v *valid.Errors, path, val string, max int) bool {
	if len(val) > max {
		v.Add(path, "max-length", "is longer than %d characters", max)
		return false
	}
	if i := valid.ControlAt(val, false); i >= 0 {
		v.Add(path, "control-character", "%s", valid.ControlMessage(val, i))
		return false
	}
	return true
}

func codeField(v *valid.Errors, path, val string, required bool) {
	if val == "" {
		if required {
			v.Add(path, "required", "is required")
		}
		return
	}
	if len(val) > maxCode || !codePattern.MatchString(val) {
		v.Add(path, "format", "%s is not a code (at most %d characters)", q(val), maxCode)
	}
}

func codeList(v *valid.Errors, path string, vals []string, required bool) {
	if len(vals) == 0 {
		if required {
			v.Add(path, "required", "needs at least one entry")
		}
		return
	}
	if len(vals) > maxListLength {
		v.Add(path, "max-items", "has more than %d entries", maxListLength)
		return
	}
	for i, val := range vals {
		codeField(v, valid.Path(path, i), val, true)
		if slices.Index(vals, val) < i {
			v.Add(valid.Path(path, i), "unique", "%s is listed twice", q(val))
		}
	}
}

// Request turns the declared facts of an exchange from sender to recipient
// under an agreement into the decision engine's request.
func (m *Meta) Request(sender, recipient, agreement string) *agreements.Request {
	r := &agreements.Request{
		Sender:           sender,
		Recipient:        recipient,
		Agreement:        agreement,
		AgreementVersion: m.AgreementVersion,
		Purpose:          m.Purpose,
		LawfulBasis:      m.LawfulBasis,
		SpecialCategory:  m.SpecialCategory,
		CriminalOffence:  m.CriminalOffence,
		Exemption:        m.Exemption,
		DataCategories:   m.DataCategories,
		NamedSubjects:    len(m.SubjectKeys),
		SubjectCount:     m.SubjectCount,
		Justification:    m.Justification,
		ConsentRef:       m.ConsentRef,
		Instrument:       m.Instrument,
		Emergency:        m.Urgency == UrgencyEmergency,
	}
	r.ConsentRecords = len(m.SubjectConsentRefs)
	if m.ConsentRef != "" && len(m.SubjectKeys) == 1 {
		// The one consent record cited is the one subject's.
		r.ConsentRecords = 1
	}
	if m.Authoriser != nil {
		r.AuthoriserName, r.AuthoriserRank = m.Authoriser.Name, m.Authoriser.Rank
	}
	if n := m.Notification; n != nil {
		r.Notification = n.Decision
		if n.ReviewAt != nil {
			r.NotificationReviewAt = n.ReviewAt.UTC()
		}
	}
	return r
}

// Declare decides a declaration by caller. An allowed declaration creates an
// exchange awaiting its payload; a refusal returns *RefusedError and stores
// nothing but its audit entry. With an idempotency key, a repeat of the same
// declaration returns the exchange it created (Replayed set).
func (s *Service) Declare(ctx context.Context, caller string, d *api.ExchangeDeclaration, key string) (*Exchange, error) {
	p, err := s.decideDeclaration(ctx, caller, d, key)
	switch {
	case err != nil:
		return nil, err
	case p.replayed != nil:
		return p.replayed, nil
	}
	return s.record(ctx, caller, p)
}

// declaration is an allowed declaration, found declarable and not yet
// recorded; or, for a repeated idempotency key, the exchange it made.
type declaration struct {
	d                *api.ExchangeDeclaration
	reg              *agreements.Registry
	meta             Meta
	decision         agreements.Decision
	requestID        string
	key, fingerprint string
	now              time.Time
	replayed         *Exchange
}

// decideDeclaration validates and decides a declaration, recording a
// refusal (a RefusedError); an allowed one is returned to be recorded.
func (s *Service) decideDeclaration(ctx context.Context, caller string, d *api.ExchangeDeclaration, key string) (*declaration, error) {
	d, asked, err := s.inherit(ctx, caller, d)
	if err != nil {
		return nil, err
	}
	if err := ValidateDeclaration(d, s.cfg.MaxPayloadSize); err != nil {
		return nil, err
	}
	fingerprint := idem.Fingerprint(d)
	if id, err := s.replay(ctx, caller, key, fingerprint); err != nil || id != "" {
		if err != nil {
			return nil, err
		}
		e, err := s.replayed(ctx, id)
		return &declaration{replayed: e}, err
	}
	reg, err := s.registry.Snapshot(ctx)
	if err != nil {
		return nil, unavailable(err)
	}
	now := s.now().UTC()
	meta := s.meta(d)
	if asked != nil && len(d.Subjects) == 0 && d.SubjectCount == 0 {
		// The answer is about the people the request named.
		meta.SubjectKeys, meta.SubjectCount = asked.Meta.SubjectKeys, asked.Meta.SubjectCount
	}
	decision, err := s.decide(ctx, reg, caller, d.Recipient, d.Agreement, "", &meta, now)
	if err != nil {
		return nil, err
	}
	countDecision(reg, "exchange", caller, d.Agreement, &decision)
	if !decision.Outcome.Allowed() {
		return nil, s.refuse(ctx, decisionEntry(now, caller, d.Recipient, &meta, &decision), decision)
	}
	requestID, err := s.declarable(ctx, reg, caller, d, &meta, &decision, asked)
	if err != nil {
		return nil, err
	}
	return &declaration{d: d, reg: reg, meta: meta, decision: decision, requestID: requestID, key: key, fingerprint: fingerprint, now: now}, nil
}

// refuse records a refused decision and returns it as a RefusedError.
func (s *Service) refuse(ctx context.Context, entry *audit.Entry, decision agreements.Decision) error {
	if err := s.update(ctx, func(tx Tx) error { return tx.AppendAudit(ctx, entry) }); err != nil {
		return err
	}
	return &RefusedError{Decision: decision, Receipt: s.receipt(entry)}
}

// record records an allowed declaration as a declared exchange.
func (s *Service) record(ctx context.Context, caller string, p *declaration) (*Exchange, error) {
	d, reg, meta, decision, now := p.d, p.reg, &p.meta, p.decision, p.now
	for attempt := 0; ; attempt++ {
		e, err := s.create(ctx, reg, caller, d, p.key, p.fingerprint, meta, decision, p.requestID, now)
		if !errors.Is(err, errVolumeReached) || attempt > 0 {
			if err != nil {
				return s.lostClaim(ctx, caller, p, err)
			}
			return e, nil
		}
		// Concurrent declarations used up the flow's daily limit between
		// the decision and the reservation: decide again at the limit. An
		// emergency may still go (an override waives the volume, never the
		// law); anything else is refused and recorded as such.
		if decision, err = s.decideAtLimit(ctx, reg, caller, d.Recipient, d.Agreement, meta, now); err != nil {
			return nil, err
		}
		if !decision.Outcome.Allowed() {
			return nil, s.refuse(ctx, decisionEntry(now, caller, d.Recipient, meta, &decision), decision)
		}
	}
}

// lostClaim is the answer to a declaration whose recording failed with err:
// a concurrent retry with the same key may have won the claim, and then it
// is that exchange.
func (s *Service) lostClaim(ctx context.Context, caller string, p *declaration, err error) (*Exchange, error) {
	if id, rerr := s.replay(ctx, caller, p.key, p.fingerprint); rerr == nil && id != "" {
		return s.replayed(ctx, id)
	}
	return nil, err
}

// declarable runs the checks an allowed declaration must still pass before
// it is recorded, the same for a declaration and its dry run: the payload
// can be minimised as the flow says, the instrument relied on is the
// flow's, and an answer goes to an answerable request with only what it
// asked for. It returns the id of the request answered, if any.
func (s *Service) declarable(ctx context.Context, reg *agreements.Registry, caller string, d *api.ExchangeDeclaration, meta *Meta, decision *agreements.Decision, asked *Request) (string, error) {
	f := decidedFlow(reg, decision)
	if err := minimisable(f, d.ContentType); err != nil {
		return "", err
	}
	if err := instrumentRelied(f, meta, asked != nil); err != nil {
		return "", err
	}
	requestID := ""
	if d.RequestRef != "" {
		var err error
		if requestID, err = s.answerable(ctx, caller, d); err != nil {
			return "", err
		}
	}
	return requestID, answerWithin(asked, meta)
}

// errVolumeReached: the reservation found the flow's daily limit reached.
var errVolumeReached = errors.New("exchange: the flow's daily limit is reached")

// create records an allowed declaration: its audit entry, the exchange, the
// idempotency key and, on a flow with a daily limit, its place in the day's
// volume, all in one transaction (declareIn). errVolumeReached: the flow's
// daily limit was reached meanwhile and nothing was written.
func (s *Service) create(ctx context.Context, reg *agreements.Registry, caller string, d *api.ExchangeDeclaration, key, fingerprint string,
	meta *Meta, decision agreements.Decision, requestID string, now time.Time) (*Exchange, error) {
	e := newExchange(reg, caller, d, meta, decision, requestID, now)
	entry := e.declaredEntry()
	if err := s.update(ctx, func(tx Tx) error { return declareIn(ctx, tx, reg, e, entry, key, fingerprint) }); err != nil {
		return nil, err
	}
	e.Receipts = appendReceipt(nil, s.receipt(entry))
	return e, nil
}

// newExchange is the exchange an allowed declaration creates, not yet stored.
func newExchange(reg *agreements.Registry, caller string, d *api.ExchangeDeclaration, meta *Meta, decision agreements.Decision, requestID string, now time.Time) *Exchange {
	agreementID, version := splitRef(decision.Agreement)
	e := &Exchange{
		ID:               uuid.Must(uuid.NewV7()).String(),
		State:            StateDeclared,
		Sender:           caller,
		Recipient:        d.Recipient,
		AgreementID:      agreementID,
		AgreementVersion: version,
		Meta:             *meta,
		Decision:         decision,
		CreatedAt:        now,
		UpdatedAt:        now,
		RequestID:        requestID,
	}
	e.Notify = notifyPlan(reg, &decision, d.Notification, now)
	if e.Notify.State == NotifyWithheld {
		// The sender's withholding is pending until a DPO confirms it,
		// within the time the DPO has to review an emergency override.
		e.Notify.ConfirmBy = now.Add(reg.Policy().OverrideReview)
	}
	return e
}

// declaredEntry is the audit entry of the decision that allowed e.
func (e *Exchange) declaredEntry() *audit.Entry {
	entry := decisionEntry(e.CreatedAt, e.Sender, e.Recipient, &e.Meta, &e.Decision)
	entry.Exchange = e.ID
	entry.Request = e.RequestID
	return entry
}

// declareIn writes, in tx, what an allowed declaration records: on a flow
// with a daily limit its place in the day's volume (the store's conditional
// update, so that concurrent declarations cannot together pass the limit:
// errVolumeReached), the idempotency key, the decision's audit entry and
// the exchange e as it is.
func declareIn(ctx context.Context, tx Tx, reg *agreements.Registry, e *Exchange, entry *audit.Entry, key, fingerprint string) error {
	if limit, counted := volumeLimit(reg, &e.Decision); counted {
		ok, err := tx.ReserveVolume(ctx, e.AgreementID, e.Sender, e.Recipient, e.CreatedAt, limit)
		if err != nil {
			return err
		}
		if !ok {
			return errVolumeReached
		}
	}
	if key != "" {
		if err := tx.ClaimKey(ctx, e.Sender, key, fingerprint, e.ID, e.CreatedAt); err != nil {
			return err
		}
	}
	if err := tx.AppendAudit(ctx, entry); err != nil {
		return err
	}
	return tx.CreateExchange(ctx, e)
}

// volumeLimit says whether a decision's exchange counts towards its flow's
// daily limit and what the reservation may not pass: the flow's limit for
// an allow, none (0) for an override, which waives the volume but still
// counts.
func volumeLimit(reg *agreements.Registry, d *agreements.Decision) (limit int, counted bool) {
	f := decidedFlow(reg, d)
	if f == nil || f.DailyVolume <= 0 {
		return 0, false
	}
	if d.Outcome == agreements.AllowOverride {
		return 0, true
	}
	return f.DailyVolume, true
}

// appendReceipt adds a receipt to a list, if there is one.
func appendReceipt(list []string, r string) []string {
	if r == "" {
		return list
	}
	return append(list, r)
}

// instrumentRelied checks the instrument the disclosure relies on against
// the flow's: a declared one must be among them; a flow with just one
// implies it; a flow with several needs one named, unless the exchange
// answers a request (whose statutory power then stands). The register names
// the one relied on.
func instrumentRelied(f *agreements.Flow, m *Meta, answer bool) error {
	if f == nil {
		// Under no agreement (an emergency) the power named stands: the
		// decision has judged it.
		return nil
	}
	if len(f.Instruments) == 0 {
		if m.Instrument != "" {
			return valid.Errors{{Path: "instrument", Rule: "flow", Message: "this flow names no statutory instrument"}}
		}
		return nil
	}
	var names []string
	for _, in := range f.Instruments {
		name := in.Code
		if name == "" {
			name = in.Title
		}
		if m.Instrument == name {
			return nil
		}
		names = append(names, name)
	}
	switch {
	case m.Instrument != "":
		return valid.Errors{{Path: "instrument", Rule: "flow", Message: fmt.Sprintf("%q is not an instrument of this flow (%s)", m.Instrument, strings.Join(names, ", "))}}
	case len(names) == 1:
		m.Instrument = names[0]
	case !answer:
		return valid.Errors{{Path: "instrument", Rule: "required", Message: fmt.Sprintf("this flow relies on one of %s: name the one this disclosure relies on", strings.Join(names, ", "))}}
	}
	return nil
}

// inherit fills what an answer to a request leaves out from what the request
// said: the agreement, the recipient (the requester), the purpose, the data
// categories, the necessity (as the justification) and, through the request
// returned, the subjects. The answer is the handler's own disclosure, judged
// under its own flow's regime: the request's lawful basis, conditions and
// exemption carry over only where the answer's flow is under the regime the
// request was decided under; across regimes (a police request under DPA 2018
// Part 3, answered by a council under UK GDPR) they come from the answer's
// flow, as agreements.AnswerBasis maps them (docs/agreements.md). What the
// answer does declare stands, and is decided like any declaration. A
// request_ref that names no request of this gateway inherits nothing.
func (s *Service) inherit(ctx context.Context, caller string, d *api.ExchangeDeclaration) (*api.ExchangeDeclaration, *Request, error) {
	if d.RequestRef == "" {
		return d, nil, nil
	}
	r, err := s.store.Request(ctx, d.RequestRef)
	if errors.Is(err, ErrRequestNotFound) {
		return d, nil, nil
	}
	if err != nil {
		return nil, nil, unavailable(err)
	}
	if r.Handler != caller {
		return nil, nil, valid.Errors{{Path: "request_ref", Rule: "handler", Message: "answers to a request go from its handler to its requester"}}
	}
	reg, err := s.registry.Snapshot(ctx)
	if err != nil {
		return nil, nil, unavailable(err)
	}
	out := *d
	fill := func(v *string, from string) {
		if *v == "" {
			*v = from
		}
	}
	fill(&out.Agreement, r.AgreementID)
	fill(&out.Recipient, r.Requester)
	fill(&out.Purpose, r.Meta.Purpose)
	fill(&out.Justification, r.Meta.Justification)
	if len(out.DataCategories) == 0 {
		out.DataCategories = r.Meta.DataCategories
	}
	asked := agreements.Basis{LawfulBasis: r.Meta.LawfulBasis, SpecialCategory: r.Meta.SpecialCategory,
		CriminalOffence: r.Meta.CriminalOffence, Exemption: r.Meta.Exemption}
	b := agreements.AnswerBasis(answerFlow(reg, out.Agreement, caller, out.Recipient, out.Purpose), requestRegime(r), asked, out.Purpose, out.DataCategories)
	fill(&out.LawfulBasis, b.LawfulBasis)
	fill(&out.Exemption, b.Exemption)
	if len(out.SpecialCategory) == 0 {
		out.SpecialCategory = b.SpecialCategory
	}
	if len(out.CriminalOffence) == 0 {
		out.CriminalOffence = b.CriminalOffence
	}
	return &out, r, nil
}

// answerFlow is the flow an answer from the handler to the requester goes
// on: the first of the agreement's flows between them that permits the
// purpose, else the first between them; nil if there is none.
func answerFlow(reg *agreements.Registry, agreement, from, to, purpose string) *agreements.Flow {
	a := reg.Agreement(agreement)
	if a == nil {
		return nil
	}
	var first *agreements.Flow
	for i := range a.Flows {
		f := &a.Flows[i]
		if !f.Sends(from) || !f.Receives(to) {
			continue
		}
		if slices.Contains(f.Purposes, purpose) {
			return f
		}
		if first == nil {
			first = f
		}
	}
	return first
}

// requestRegime is the regime a request was decided under: its decision's,
// or, for a request recorded without one, the regime its lawful basis
// belongs to.
func requestRegime(r *Request) string {
	switch {
	case r.Decision.Regime != "":
		return r.Decision.Regime
	case agreements.Part3Bases[r.Meta.LawfulBasis] != "":
		return agreements.RegimePart3
	}
	return agreements.RegimeUKGDPR
}

// answerWithin holds an answer to a request to what the request asked: only
// the subjects it named and the data categories it sought.
func answerWithin(asked *Request, m *Meta) error {
	if asked == nil {
		return nil
	}
	var v valid.Errors
	for i, k := range m.SubjectKeys {
		if !slices.Contains(asked.Meta.SubjectKeys, k) {
			v.Add(valid.Path("subjects", i), "requested", "is not a subject the request named")
		}
	}
	if n := len(asked.Meta.SubjectKeys); n > 0 && m.SubjectCount > n {
		v.Add("subject_count", "requested", "is %d but the request named %d subjects", m.SubjectCount, n)
	}
	for i, c := range m.DataCategories {
		if !slices.Contains(asked.Meta.DataCategories, c) {
			v.Add(valid.Path("data_categories", i), "requested", "%q is not a data category the request sought (%s)", c, strings.Join(asked.Meta.DataCategories, ", "))
		}
	}
	return v.Err()
}

// countDecision counts a decision for the metrics, by the agreement asked
// for ("none" for an emergency under no agreement, "unknown" for an id the
// registry does not hold: what a request names never becomes a label).
func countDecision(reg *agreements.Registry, kind, party, agreement string, d *agreements.Decision) {
	switch {
	case agreement == "":
		agreement = "none"
	case reg == nil || reg.Agreement(agreement) == nil:
		agreement = "unknown"
	}
	metrics.Decisions.WithLabelValues(kind, string(d.Outcome), party, agreement).Inc()
}

// notifyPlan decides how the data subjects are to be told: as the sender
// declared, else as the agreement says by default. An emergency disclosure
// under no agreement is withheld until its override review.
func notifyPlan(reg *agreements.Registry, d *agreements.Decision, declared *api.Notification, now time.Time) NotifyPlan {
	var def agreements.Notification
	id, _ := splitRef(d.Agreement)
	if a := reg.Agreement(id); a != nil {
		def = a.SubjectNotification
	}
	reviewAfter := DefaultNotificationReview
	if def.ReviewAfter > 0 {
		reviewAfter = def.ReviewAfter.Std()
	}
	switch {
	case declared != nil && declared.Decision == "notify":
		return NotifyPlan{State: NotifyDue}
	case declared != nil:
		p := NotifyPlan{State: NotifyWithheld, Reason: declared.Reason, ReviewAt: now.Add(reviewAfter)}
		if declared.ReviewAt != nil && declared.ReviewAt.After(now) {
			p.ReviewAt = declared.ReviewAt.UTC()
		}
		return p
	case def.Default == "notify":
		return NotifyPlan{State: NotifyDue}
	case def.Default == "withhold":
		return NotifyPlan{State: NotifyWithheld, Reason: def.Reason, ReviewAt: now.Add(reviewAfter)}
	case !d.ReviewBy.IsZero():
		return NotifyPlan{State: NotifyWithheld, Reason: "emergency disclosure: to be decided at its override review", ReviewAt: d.ReviewBy.UTC()}
	default:
		return NotifyPlan{State: NotifyWithheld, Reason: "no notification decision was recorded", ReviewAt: now}
	}
}

func (s *Service) replayed(ctx context.Context, id string) (*Exchange, error) {
	e, err := s.store.Exchange(ctx, id)
	if err != nil {
		return nil, err
	}
	e.Replayed = true
	return e, nil
}

// meta records a declaration with subject identifiers replaced by keys.
func (s *Service) meta(d *api.ExchangeDeclaration) Meta {
	keys := make([]string, 0, len(d.Subjects))
	var consents []string
	for _, sub := range d.Subjects {
		keys = append(keys, s.subjectKey(sub.Type, sub.Value))
		if sub.ConsentRef != "" {
			consents = append(consents, sub.ConsentRef)
		}
	}
	urgency := d.Urgency
	if urgency == "" {
		urgency = UrgencyRoutine
	}
	return Meta{
		AgreementVersion:   d.AgreementVersion,
		Purpose:            d.Purpose,
		LawfulBasis:        d.LawfulBasis,
		SpecialCategory:    d.SpecialCategory,
		CriminalOffence:    d.CriminalOffence,
		Exemption:          d.Exemption,
		Instrument:         d.Instrument,
		DataCategories:     d.DataCategories,
		SubjectKeys:        keys,
		SubjectCount:       max(d.SubjectCount, len(d.Subjects)),
		Justification:      d.Justification,
		RequestedBy:        d.RequestedBy,
		Authoriser:         d.Authoriser,
		Urgency:            urgency,
		RequestRef:         d.RequestRef,
		ConsentRef:         d.ConsentRef,
		Notification:       d.Notification,
		ContentType:        d.ContentType,
		DeclaredSize:       d.Size,
		DeclaredSHA256:     s.payloadDigest(d.SHA256),
		SubjectConsentRefs: consents,
	}
}

// Check decides a declaration by caller without storing anything: a dry run.
func (s *Service) Check(ctx context.Context, caller string, d *api.ExchangeDeclaration) (agreements.Decision, error) {
	d, asked, err := s.inherit(ctx, caller, d)
	if err != nil {
		return agreements.Decision{}, err
	}
	if err := ValidateDeclaration(d, s.cfg.MaxPayloadSize); err != nil {
		return agreements.Decision{}, err
	}
	reg, err := s.registry.Snapshot(ctx)
	if err != nil {
		return agreements.Decision{}, unavailable(err)
	}
	meta := s.meta(d)
	if asked != nil && len(d.Subjects) == 0 && d.SubjectCount == 0 {
		meta.SubjectKeys, meta.SubjectCount = asked.Meta.SubjectKeys, asked.Meta.SubjectCount
	}
	decision, err := s.decide(ctx, reg, caller, d.Recipient, d.Agreement, "", &meta, s.now().UTC())
	if err != nil || !decision.Outcome.Allowed() {
		return decision, err
	}
	// What a declaration checks after the decision, the dry run checks too.
	if _, err := s.declarable(ctx, reg, caller, d, &meta, &decision, asked); err != nil {
		return agreements.Decision{}, err
	}
	return decision, nil
}

// decide runs the decision engine, counting what the sender has already
// declared today when the flow has a daily limit (exclude: this exchange).
func (s *Service) decide(ctx context.Context, reg *agreements.Registry, sender, recipient, agreement, exclude string, m *Meta, now time.Time) (agreements.Decision, error) {
	req := m.Request(sender, recipient, agreement)
	if err := req.Validate(); err != nil {
		return agreements.Decision{}, err
	}
	if err := s.lookUpConsents(ctx, req, m, now); err != nil {
		return agreements.Decision{}, err
	}
	if dailyLimited(reg, req) {
		y, mo, d := now.Date()
		n, err := s.store.CountSent(ctx, sender, recipient, agreement, time.Date(y, mo, d, 0, 0, 0, 0, time.UTC), exclude)
		if err != nil {
			return agreements.Decision{}, unavailable(err)
		}
		req.SentToday = n
	}
	return agreements.Decide(req, reg, now), nil
}

// decideAtLimit decides a declaration as if the flow's daily limit were
// reached: what a declaration that lost the race for the last place is.
func (s *Service) decideAtLimit(ctx context.Context, reg *agreements.Registry, sender, recipient, agreement string, m *Meta, now time.Time) (agreements.Decision, error) {
	req := m.Request(sender, recipient, agreement)
	req.SentToday = math.MaxInt32
	if err := s.lookUpConsents(ctx, req, m, now); err != nil {
		return agreements.Decision{}, err
	}
	return agreements.Decide(req, reg, now), nil
}

// lookUpConsents consults the consent register for a prohibited purpose
// (marketing, sale, commercial use): each named subject's cited consent
// must be the sender's record for that subject, cover the purpose and
// stand. The decision's consent.recorded check then counts only those.
func (s *Service) lookUpConsents(ctx context.Context, req *agreements.Request, m *Meta, now time.Time) error {
	if !agreements.Prohibited(req.Purpose) || len(m.SubjectKeys) == 0 {
		return nil
	}
	findings, err := CheckConsents(ctx, s.store.Consents, req.Sender, req.Purpose, m, now)
	if err != nil {
		return unavailable(err)
	}
	applyConsents(req, findings)
	return nil
}

func dailyLimited(reg *agreements.Registry, req *agreements.Request) bool {
	a := reg.Agreement(req.Agreement)
	if a == nil {
		return false
	}
	for i := range a.Flows {
		f := &a.Flows[i]
		if f.DailyVolume > 0 && f.Sends(req.Sender) && f.Receives(req.Recipient) {
			return true
		}
	}
	return false
}

// splitRef splits id@version; an emergency override under no agreement has
// neither.
func splitRef(ref string) (string, int) {
	id, version, err := agreements.ParseRef(ref)
	if err != nil {
		return "", 0
	}
	return id, version
}
