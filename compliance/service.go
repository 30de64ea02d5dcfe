package compliance

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/exchange"
	"github.com/gatehouse-gw/gatehouse/internal/idem"
	"github.com/gatehouse-gw/gatehouse/internal/public"
	"github.com/gatehouse-gw/gatehouse/internal/valid"
)

// Config shapes the service.
type Config struct {
	// Issuer names the gateway in every export.
	Issuer string
	// SubjectKey is the HMAC key for subject identifiers, version 2; a
	// keyring (SubjectKeys), if set, is used instead.
	SubjectKey  []byte
	SubjectKeys *audit.SubjectKeyring
	// DPIAReview is how old a DPIA may get before it lapses (the decision's
	// policy.dpia_review: one rule for both).
	DPIAReview time.Duration
}

// Service makes exports and records reviews, notifications and
// rectifications. Every change and every export is audited with its actor,
// in the same transaction: no audit record, no export.
type Service struct {
	cfg    Config
	store  Store
	signer DetachedSigner
	now    func() time.Time
}

// NewService returns the compliance service.
func NewService(cfg Config, store Store, signer DetachedSigner) *Service {
	return &Service{cfg: cfg, store: store, signer: signer, now: time.Now}
}

// SetClock replaces the clock; for tests.
func (s *Service) SetClock(now func() time.Time) { s.now = now }

func needRole(actor agreements.Actor, roles ...string) error {
	for _, r := range roles {
		if actor.Has(r) {
			return nil
		}
	}
	return public.Errorf(ErrForbidden, "needs role %s", strings.Join(roles, " or "))
}

func (s *Service) entry(actor agreements.Actor, typ string) *audit.Entry {
	return &audit.Entry{Time: s.now().UTC(), Type: typ, Actor: actor.Subject, Detail: actor.AuditDetail()}
}

// ExportRequest asks for one export.
type ExportRequest struct {
	Kind   string
	Format string
	// From and To bound the disclosure register: [From, To).
	From, To time.Time
	// Subject or SubjectKey names the person for a subject access export;
	// Subjects and SubjectKeys name more identifiers of the same person,
	// and the export is the union of what was shared under any of them.
	Subject     *api.Subject
	SubjectKey  string
	Subjects    []api.Subject
	SubjectKeys []string
	// Filter selects overrides: open (default), overdue, reviewed or all.
	Filter string
	// Within is the look-ahead for agreements due (default 30 days).
	Within time.Duration
}

// Export is a rendered, signed export.
type Export struct {
	Table     *Table
	Format    string
	Body      []byte
	Signature string
}

var subjectKeyPattern = regexp.MustCompile(`^hmac-sha256:(v[1-9][0-9]{0,3}:)?[0-9a-f]{64}$`)

// maxSubjectIdentifiers bounds the identifiers of one subject access export.
const maxSubjectIdentifiers = 16

// keyring is the subject keyring.
func (s *Service) keyring() *audit.SubjectKeyring {
	if s.cfg.SubjectKeys != nil {
		return s.cfg.SubjectKeys
	}
	r, err := audit.NewSubjectKeyring(s.cfg.SubjectKey)
	if err != nil {
		panic(err) // the key was checked at start-up
	}
	return r
}

// subjectKeys checks the identifiers and keys of one person and returns
// every key they may be recorded under (each identifier under every key
// version, and the legacy form), without repeats, and the keys that stand
// for the person in the export's own audit entry (the current version's).
func (s *Service) subjectKeys(v *valid.Errors, subs []api.Subject, keys []string) (lookup, recorded []string) {
	if len(subs)+len(keys) == 0 {
		v.Add("subjects", "required", "give the subject's identifiers (subjects) or keys (subject_keys)")
		return nil, nil
	}
	if len(subs)+len(keys) > maxSubjectIdentifiers {
		v.Add("subjects", "max-items", "at most %d identifiers and keys of one person", maxSubjectIdentifiers)
		return nil, nil
	}
	ring := s.keyring()
	var out []string
	for i, sub := range subs {
		if v.Required(valid.Path("subjects", i, "type"), sub.Type) && v.Required(valid.Path("subjects", i, "value"), sub.Value) {
			out = append(out, ring.Keys(sub.Type, sub.Value)...)
			recorded = append(recorded, ring.Key(sub.Type, sub.Value))
		}
	}
	for i, k := range keys {
		if !subjectKeyPattern.MatchString(k) && !slices.ContainsFunc(*v, func(p valid.Problem) bool { return p.Path == "subject_key" }) {
			v.Add(valid.Path("subject_keys", i), "format", "must be hmac-sha256:, optionally v<N>:, and 64 lower-case hex digits (gatehouse audit subject-key prints it)")
		}
		out = append(out, k)
		recorded = append(recorded, k)
	}
	slices.Sort(out)
	return slices.Compact(out), slices.Compact(recorded)
}

// maxPeriod bounds one disclosure register.
const maxPeriod = 6 * 366 * 24 * time.Hour

// subjectKey checks a subject given by identifier or by key and returns
// the key.
func (s *Service) subjectKey(v *valid.Errors, sub *api.Subject, key string) string {
	switch {
	case sub != nil && key != "":
		v.Add("subject_key", "exclusive", "give subject or subject_key, not both")
	case sub != nil:
		v.Required("subject.type", sub.Type)
		v.Required("subject.value", sub.Value)
		return s.keyring().Key(sub.Type, sub.Value)
	case key != "":
		if !subjectKeyPattern.MatchString(key) {
			v.Add("subject_key", "format", "must be hmac-sha256:, optionally v<N>:, and 64 lower-case hex digits (gatehouse audit subject-key prints it)")
		}
		return key
	default:
		v.Add("subject", "required", "give the subject's identifier (subject) or its key (subject_key)")
	}
	return ""
}

// Export builds, renders and signs an export, and audits it.
func (s *Service) Export(ctx context.Context, actor agreements.Actor, req ExportRequest) (*Export, error) {
	if !slices.Contains(Kinds, req.Kind) {
		return nil, valid.Errors{{Path: "kind", Rule: "enum", Message: fmt.Sprintf("%q is not one of %s", req.Kind, strings.Join(Kinds, ", "))}}
	}
	roles := []string{agreements.RoleDPO, agreements.RoleAuditor}
	if req.Kind == KindSubjectAccess || req.Kind == KindRectifications {
		// What was shared about one person, and the corrections made to a
		// person's data: for the DPO alone.
		roles = roles[:1]
	}
	if err := needRole(actor, roles...); err != nil {
		return nil, err
	}
	var v valid.Errors
	if req.Format == "" {
		req.Format = FormatJSON
	}
	if req.Format != FormatCSV && req.Format != FormatJSON {
		v.Add("format", "enum", "%q is not one of csv, json", req.Format)
	}
	now := s.now().UTC()
	params := map[string]string{}
	var subjectKeys, recorded []string
	switch req.Kind {
	case KindDisclosures:
		switch {
		case req.From.IsZero():
			v.Add("from", "required", "the start of the period is required")
		case req.To.IsZero():
			v.Add("to", "required", "the end of the period is required")
		case !req.To.After(req.From):
			v.Add("to", "after", "must be after from")
		case req.To.Sub(req.From) > maxPeriod:
			v.Add("to", "max-period", "a register covers at most six years")
		}
		params["from"], params["to"] = req.From.UTC().Format(time.RFC3339), req.To.UTC().Format(time.RFC3339)
	case KindSubjectAccess:
		subs, keys := req.Subjects, req.SubjectKeys
		if req.Subject != nil {
			subs = append([]api.Subject{*req.Subject}, subs...)
		}
		if req.SubjectKey != "" {
			if !subjectKeyPattern.MatchString(req.SubjectKey) {
				v.Add("subject_key", "format", "must be hmac-sha256:, optionally v<N>:, and 64 lower-case hex digits (gatehouse audit subject-key prints it)")
			}
			keys = append([]string{req.SubjectKey}, keys...)
		}
		subjectKeys, recorded = s.subjectKeys(&v, subs, keys)
		params["subject_keys"] = strings.Join(recorded, " ")
	case KindOverrides:
		if req.Filter == "" {
			req.Filter = FilterOpen
		}
		if !slices.Contains([]string{FilterOpen, FilterOverdue, FilterReviewed, FilterAll}, req.Filter) {
			v.Add("state", "enum", "%q is not one of open, overdue, reviewed, all", req.Filter)
		}
		params["state"] = req.Filter
	case KindAgreements:
		if req.Within == 0 {
			req.Within = 30 * 24 * time.Hour
		}
		if req.Within < 24*time.Hour || req.Within > 366*24*time.Hour {
			v.Add("within", "range", "must be between 1 and 366 days")
		}
		params["within_days"] = strconv.Itoa(int(req.Within.Hours() / 24))
	}
	if err := v.Err(); err != nil {
		return nil, err
	}

	t := &Table{GeneratedAt: now, GeneratedBy: s.cfg.Issuer, RequestedBy: actor.Subject, RequestedByName: actor.Name, Parameters: params}
	if err := s.build(ctx, t, req, subjectKeys, now); err != nil {
		return nil, unavailable(err)
	}
	body, err := t.Bytes(req.Format)
	if err != nil {
		return nil, err
	}
	sig, err := Sign(s.signer, body, Signed{
		Kind: t.Kind, Format: req.Format, GeneratedAt: now, GeneratedBy: s.cfg.Issuer,
		RequestedBy: actor.Subject, RequestedByName: actor.Name, Parameters: params, Rows: len(t.Rows),
	})
	if err != nil {
		return nil, err
	}
	e := s.entry(actor, AuditExportGenerated)
	e.Detail["export"], e.Detail["format"], e.Detail["rows"] = t.Kind, req.Format, strconv.Itoa(len(t.Rows))
	e.Detail["export_sha256"] = sha256Hex(body)
	for k, val := range params {
		if k != "subject_keys" {
			e.Detail[k] = val
		}
	}
	e.Subjects = recorded
	if err := s.store.Update(ctx, func(tx Tx) error { return tx.AppendAudit(ctx, e) }); err != nil {
		return nil, unavailable(err)
	}
	return &Export{Table: t, Format: req.Format, Body: body, Signature: sig}, nil
}

func (s *Service) build(ctx context.Context, t *Table, req ExportRequest, subjectKeys []string, now time.Time) error {
	refs, err := s.refs(ctx)
	if err != nil {
		return err
	}
	switch req.Kind {
	case KindDisclosures:
		entries, err := s.store.AuditEntries(ctx, audit.TypeExchangeDecided, req.From, req.To)
		if err != nil {
			return err
		}
		requests := map[string]*exchange.Request{}
		for _, e := range entries {
			if e.Request == "" || requests[e.Request] != nil {
				continue
			}
			q, err := s.store.Request(ctx, e.Request)
			if err != nil && !errors.Is(err, exchange.ErrNotFound) {
				return err
			}
			requests[e.Request] = q
		}
		DisclosureRegister(t, entries, requests, refs)
	case KindSubjectAccess:
		exs, err := s.subjectExchanges(ctx, subjectKeys)
		if err != nil {
			return err
		}
		notes := map[string]*Notification{}
		for _, e := range exs {
			n, err := s.store.Notification(ctx, e.ID)
			if err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
			notes[e.ID] = n
		}
		var rects []*Rectification
		for _, key := range subjectKeys {
			rs, err := s.store.Rectifications(ctx, key)
			if err != nil {
				return err
			}
			rects = append(rects, rs...)
		}
		slices.SortFunc(rects, func(a, b *Rectification) int { return strings.Compare(a.ID, b.ID) })
		rects = slices.CompactFunc(rects, func(a, b *Rectification) bool { return a.ID == b.ID })
		SubjectAccess(t, exs, notes, rects, refs, now)
	case KindOverrides:
		os, err := s.store.Overrides(ctx)
		if err != nil {
			return err
		}
		exs, err := s.exchanges(ctx, func(yield func(string) bool) {
			for _, o := range os {
				if !yield(o.ExchangeID) {
					return
				}
			}
		})
		if err != nil {
			return err
		}
		Overrides(t, os, exs, req.Filter, now)
	case KindNotifications:
		notes, err := s.store.Notifications(ctx, exchange.NotifyDue, exchange.NotifyWithheld)
		if err != nil {
			return err
		}
		exs, err := s.exchanges(ctx, func(yield func(string) bool) {
			for _, n := range notes {
				if !yield(n.ExchangeID) {
					return
				}
			}
		})
		if err != nil {
			return err
		}
		NotificationsDue(t, notes, exs, now)
	case KindAgreements:
		versions, err := s.store.AgreementVersions(ctx, "")
		if err != nil {
			return err
		}
		AgreementsDue(t, versions, req.Within, s.cfg.DPIAReview, now)
	case KindReleases:
		entries, err := s.store.AuditEntries(ctx, exchange.TypeReleased, time.Time{}, now.Add(time.Hour))
		if err != nil {
			return err
		}
		exs, err := s.exchanges(ctx, func(yield func(string) bool) {
			for _, e := range entries {
				if !yield(e.Exchange) {
					return
				}
			}
		})
		if err != nil {
			return err
		}
		Releases(t, entries, exs)
	case KindRectifications:
		rects, err := s.store.Rectifications(ctx, "")
		if err != nil {
			return err
		}
		Rectifications(t, rects, now)
	}
	return nil
}

func (s *Service) refs(ctx context.Context) (Refs, error) {
	versions, err := s.store.AgreementVersions(ctx, "")
	if err != nil {
		return Refs{}, err
	}
	parties, err := s.store.Parties(ctx)
	if err != nil {
		return Refs{}, err
	}
	return NewRefs(versions, parties), nil
}

func (s *Service) exchanges(ctx context.Context, ids func(func(string) bool)) (map[string]*exchange.Exchange, error) {
	out := map[string]*exchange.Exchange{}
	for id := range ids {
		if _, ok := out[id]; ok {
			continue
		}
		e, err := s.store.Exchange(ctx, id)
		if err != nil && !errors.Is(err, exchange.ErrNotFound) {
			return nil, err
		}
		out[id] = e
	}
	return out, nil
}

// ReviewOverride records the DPO's review of an emergency override.
func (s *Service) ReviewOverride(ctx context.Context, actor agreements.Actor, exchangeID string, r *api.OverrideReview) (*Override, error) {
	if err := needRole(actor, agreements.RoleDPO); err != nil {
		return nil, err
	}
	var v valid.Errors
	if r.Outcome != OutcomeJustified && r.Outcome != OutcomeNotJustified {
		v.Add("outcome", "enum", "%q is not one of justified, not-justified", r.Outcome)
	}
	if v.Required("notes", r.Notes) && len(r.Notes) > 4096 {
		v.Add("notes", "max-length", "is longer than 4096 characters")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out *Override
	err := s.store.Update(ctx, func(tx Tx) error {
		o, err := tx.LockOverride(ctx, exchangeID)
		if err != nil {
			return err
		}
		if o.State == OverrideReviewed && o.Reviewer == actor.Subject && o.Outcome == r.Outcome && o.Notes == r.Notes {
			out = o // the same review again (a retry): nothing to change
			return nil
		}
		if o.State == OverrideReviewed {
			return public.Errorf(ErrState, "reviewed by %s on %s", o.Reviewer, o.ReviewedAt.Format(time.DateOnly))
		}
		now := s.now().UTC()
		o.State, o.Outcome, o.Notes, o.Reviewer, o.ReviewedAt = OverrideReviewed, r.Outcome, r.Notes, actor.Subject, now
		e := s.entry(actor, AuditOverrideReviewed)
		e.Exchange, e.Outcome = exchangeID, r.Outcome
		e.Detail["notes"] = r.Notes
		e.Detail["review_by"] = o.ReviewBy.Format(time.RFC3339)
		if now.After(o.ReviewBy) {
			e.Detail["late"] = "true"
		}
		if err := tx.AppendAudit(ctx, e); err != nil {
			return err
		}
		out = o
		return tx.SaveOverride(ctx, o)
	})
	return out, unavailable(err)
}

// Notification actions.
const (
	NotificationTold     = "told"
	NotificationWithhold = "withhold"
	NotificationConfirm  = "confirm"
)

// RecordNotification records that a disclosure's subjects were told, that
// telling them is withheld again (with why and until when; the DPO's own
// decision, so confirmed as it is made), or confirms the withholding the
// sender made at declaration (confirm: pending until a DPO does so).
func (s *Service) RecordNotification(ctx context.Context, actor agreements.Actor, exchangeID string, u *api.NotificationUpdate) (*Notification, error) {
	if err := needRole(actor, agreements.RoleDPO); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	var v valid.Errors
	switch u.Action {
	case NotificationTold, NotificationConfirm:
	case NotificationWithhold:
		v.Required("reason", u.Reason)
		switch {
		case u.ReviewAt == nil:
			v.Add("review_at", "required", "a withheld notification needs a date to review it again")
		case !u.ReviewAt.After(now):
			v.Add("review_at", "future", "must be in the future")
		case u.ReviewAt.Sub(now) > 366*24*time.Hour:
			v.Add("review_at", "max", "must be within a year: withholding is reviewed at least yearly")
		}
	default:
		v.Add("action", "enum", "%q is not one of told, withhold, confirm", u.Action)
	}
	if len(u.Reason) > 4096 {
		v.Add("reason", "max-length", "is longer than 4096 characters")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out *Notification
	err := s.store.Update(ctx, func(tx Tx) error {
		n, err := tx.LockNotification(ctx, exchangeID)
		if err != nil {
			return err
		}
		if n.State == exchange.NotifyTold && u.Action == NotificationTold && n.UpdatedBy == actor.Subject {
			out = n // recorded already (a retry)
			return nil
		}
		if n.State == exchange.NotifyTold {
			return public.Errorf(ErrState, "the subjects were already told (recorded by %s)", n.UpdatedBy)
		}
		if u.Action == NotificationConfirm {
			return s.confirmNotification(ctx, tx, actor, n, u.Reason, now, &out)
		}
		e := s.entry(actor, AuditNotificationUpdated)
		e.Exchange, e.Outcome = exchangeID, u.Action
		e.Detail["previous_state"] = n.State
		if u.Action == NotificationTold {
			n.State, n.ReviewAt = exchange.NotifyTold, time.Time{}
			if u.Reason != "" {
				n.Reason = u.Reason
			}
		} else {
			n.State, n.Reason, n.ReviewAt = exchange.NotifyWithheld, u.Reason, u.ReviewAt.UTC()
			n.ConfirmedBy, n.ConfirmedAt = actor.Subject, now
			e.Detail["review_at"] = n.ReviewAt.Format(time.RFC3339)
		}
		e.Detail["reason"] = n.Reason
		n.UpdatedBy, n.UpdatedAt = actor.Subject, now
		if err := tx.AppendAudit(ctx, e); err != nil {
			return err
		}
		out = n
		return tx.SaveNotification(ctx, n)
	})
	return out, unavailable(err)
}

// confirmNotification confirms a withheld notification: the DPO agrees that
// the subjects are not to be told until its review date. Confirming one
// confirmed already changes nothing.
func (s *Service) confirmNotification(ctx context.Context, tx Tx, actor agreements.Actor, n *Notification, note string, now time.Time, out **Notification) error {
	if n.State != exchange.NotifyWithheld {
		return public.Errorf(ErrState, "only a withheld notification is confirmed; this one is %s", n.State)
	}
	*out = n
	if !n.ConfirmedAt.IsZero() {
		return nil
	}
	e := s.entry(actor, AuditNotificationConfirmed)
	e.Exchange, e.Outcome = n.ExchangeID, NotificationConfirm
	e.Detail["reason"] = n.Reason
	e.Detail["review_at"] = n.ReviewAt.Format(time.RFC3339)
	e.Detail["withheld_by"] = n.UpdatedBy
	if note != "" {
		e.Detail["note"] = note
	}
	if !n.ConfirmBy.IsZero() {
		e.Detail["confirm_by"] = n.ConfirmBy.Format(time.RFC3339)
	}
	// As the store keeps it, so that a repeat answers the same.
	n.ConfirmedBy, n.ConfirmedAt = actor.Subject, now.Truncate(time.Microsecond)
	if err := tx.AppendAudit(ctx, e); err != nil {
		return err
	}
	return tx.SaveNotification(ctx, n)
}

// Rectify records that a subject's data was corrected, erased or
// restricted, and sends a notice to every party that received it (UK GDPR
// Art 19), listing the exchanges that carried it.
//
// With an idempotency key, a repeat of the same request returns the
// rectification it recorded instead of notifying everyone twice.
func (s *Service) Rectify(ctx context.Context, actor agreements.Actor, r *api.RectificationRequest, key string) (*Rectification, error) {
	if err := needRole(actor, agreements.RoleDPO); err != nil {
		return nil, err
	}
	var v valid.Errors
	subject := s.subjectKey(&v, r.Subject, r.SubjectKey)
	if !slices.Contains([]string{ActionCorrected, ActionErased, ActionRestricted}, r.Action) {
		v.Add("action", "enum", "%q is not one of corrected, erased, restricted", r.Action)
	}
	if v.Required("description", r.Description) && len(r.Description) > 4096 {
		v.Add("description", "max-length", "is longer than 4096 characters")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	scope := "admin:" + actor.Subject
	fingerprint := idem.Fingerprint(api.RectificationRequest{SubjectKey: subject, Action: r.Action, Description: r.Description})
	if id, err := idem.Replay(ctx, s.store, scope, key, fingerprint); err != nil || id != "" {
		if err != nil {
			return nil, unavailable(err) // ErrReused passes through
		}
		rect, err := s.store.Rectification(ctx, id)
		return rect, unavailable(err)
	}
	lookup := []string{subject}
	if r.Subject != nil {
		lookup = s.keyring().Keys(r.Subject.Type, r.Subject.Value)
	}
	exs, err := s.subjectExchanges(ctx, lookup)
	if err != nil {
		return nil, unavailable(err)
	}
	now := s.now().UTC()
	rect := &Rectification{
		ID: uuid.Must(uuid.NewV7()).String(), SubjectKey: subject, Action: r.Action, Description: r.Description,
		RecordedBy: actor.Subject, CreatedAt: now,
	}
	byRecipient := map[string][]string{}
	for _, e := range disclosed(exs) {
		byRecipient[e.Recipient] = append(byRecipient[e.Recipient], e.ID)
	}
	for _, recipient := range slices.Sorted(maps.Keys(byRecipient)) {
		rect.Notices = append(rect.Notices, &Notice{
			ID: uuid.Must(uuid.NewV7()).String(), RectificationID: rect.ID, Recipient: recipient,
			Exchanges: byRecipient[recipient], SentAt: now, Action: r.Action, Description: r.Description,
		})
	}
	e := s.entry(actor, AuditRectification)
	e.Subjects, e.Outcome = []string{subject}, r.Action
	e.Detail["rectification"] = rect.ID
	e.Detail["recipients"] = strings.Join(slices.Sorted(maps.Keys(byRecipient)), " ")
	e.Detail["notices"] = strconv.Itoa(len(rect.Notices))
	err = s.store.Update(ctx, func(tx Tx) error {
		if key != "" {
			if err := tx.ClaimKey(ctx, scope, key, fingerprint, rect.ID, now); err != nil {
				return err
			}
		}
		if err := tx.AppendAudit(ctx, e); err != nil {
			return err
		}
		return tx.CreateRectification(ctx, rect)
	})
	if err != nil {
		// A concurrent retry with the same key may have won the claim.
		if id, rerr := idem.Replay(ctx, s.store, scope, key, fingerprint); rerr == nil && id != "" {
			rect, err := s.store.Rectification(ctx, id)
			return rect, unavailable(err)
		}
		return nil, unavailable(err)
	}
	return rect, nil
}

// Notices returns the rectification notices sent to a party.
func (s *Service) Notices(ctx context.Context, party string, pending bool) ([]*Notice, error) {
	ns, err := s.store.Notices(ctx, party, pending)
	if err != nil {
		return nil, unavailable(err)
	}
	return ns, nil
}

// AcknowledgeNotice records that the recipient acted on a notice. Asking
// again is harmless and returns the first acknowledgement.
func (s *Service) AcknowledgeNotice(ctx context.Context, party, id string) (*Notice, error) {
	var out *Notice
	err := s.store.Update(ctx, func(tx Tx) error {
		n, err := tx.LockNotice(ctx, id)
		if err != nil {
			return err
		}
		if n.Recipient != party {
			return ErrNotFound // another party's notice: not even its existence
		}
		out = n
		if !n.AcknowledgedAt.IsZero() {
			return nil
		}
		n.AcknowledgedAt = s.now().UTC()
		if err := tx.AppendAudit(ctx, &audit.Entry{
			Time: n.AcknowledgedAt, Type: AuditNoticeAcknowledged, Actor: party,
			Detail: map[string]string{"notice": n.ID, "rectification": n.RectificationID, "exchanges": strings.Join(n.Exchanges, " ")},
		}); err != nil {
			return err
		}
		return tx.SaveNotice(ctx, n)
	})
	return out, unavailable(err)
}

// ErrUnavailable is returned when the record could not be read or written;
// nothing was done.
var ErrUnavailable = errors.New("the compliance record is unavailable; nothing was done")

func unavailable(err error) error {
	if err == nil {
		return nil
	}
	var ve valid.Errors
	if errors.As(err, &ve) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrForbidden) || errors.Is(err, ErrState) || errors.Is(err, ErrConsentExists) || errors.Is(err, idem.ErrReused) {
		return err
	}
	return fmt.Errorf("%w: %v", ErrUnavailable, err)
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// subjectExchanges is the union of the exchanges recorded under any of
// the keys, by id.
func (s *Service) subjectExchanges(ctx context.Context, keys []string) ([]*exchange.Exchange, error) {
	var out []*exchange.Exchange
	for _, key := range keys {
		exs, err := s.store.SubjectExchanges(ctx, key)
		if err != nil {
			return nil, err
		}
		out = append(out, exs...)
	}
	slices.SortFunc(out, func(a, b *exchange.Exchange) int { return strings.Compare(a.ID, b.ID) })
	return slices.CompactFunc(out, func(a, b *exchange.Exchange) bool { return a.ID == b.ID }), nil
}
