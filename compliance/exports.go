package compliance

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/exchange"
)

// The builders below are pure: the service gathers what they need, they
// turn it into a table. Golden files fix their output.

// Refs holds the registry as the exports need it: every version of every
// agreement by id@version, and the parties by id.
type Refs struct {
	Agreements map[string]*agreements.Agreement
	Parties    map[string]*agreements.Party
}

// NewRefs indexes agreement versions and parties.
func NewRefs(versions []*agreements.Agreement, parties []*agreements.Party) Refs {
	r := Refs{Agreements: map[string]*agreements.Agreement{}, Parties: map[string]*agreements.Party{}}
	for _, a := range versions {
		r.Agreements[a.Ref()] = a
	}
	for _, p := range parties {
		r.Parties[p.ID] = p
	}
	return r
}

func (r Refs) partyName(id string) string {
	if p := r.Parties[id]; p != nil {
		return p.Name
	}
	return ""
}

func (r Refs) partyKind(id string) string {
	if p := r.Parties[id]; p != nil {
		return string(p.Kind)
	}
	return ""
}

func (r Refs) flow(ref string, detail map[string]string) *agreements.Flow {
	a := r.Agreements[ref]
	if a == nil {
		return nil
	}
	i, err := strconv.Atoi(detail["flow"])
	if err != nil || i < 0 || i >= len(a.Flows) {
		return nil
	}
	return &a.Flows[i]
}

var registerColumns = []Column{
	{"decided_at", "When the gateway decided the disclosure"},
	{"decision", "allow, allow-override (emergency, awaiting DPO review) or deny"},
	{"exchange", "Exchange id (empty for a refusal: nothing was stored)"},
	{"discloser", "The party disclosing the data"},
	{"recipient", "The party the data goes to"},
	{"requester", "Who asked for the data: the requesting party for an answer to a request, the discloser itself for a disclosure of its own motion"},
	{"requester_role", "The requester's kind of body, and the requesting officer and rank where given"},
	{"data_description", "Categories of data, format and number of subjects"},
	{"agreement", "Data-sharing agreement id@version"},
	{"agreement_title", "Title of the agreement"},
	{"agreement_sha256", "SHA-256 of the agreement version's document as its DPO approved it (docs/agreements.md)"},
	{"purpose", "Purpose code"},
	{"regime", "The law relied on: uk-gdpr (UK GDPR with DPA 2018 Sch 1 and 2) or dpa-part-3 (law-enforcement processing, DPA 2018 Part 3)"},
	{"lawful_basis", "UK GDPR Art 6 basis, or the DPA 2018 s.35(2) condition under Part 3"},
	{"necessity", "Why the disclosure is necessary, as the discloser recorded it"},
	{"special_category_conditions", "Art 9(2) and DPA 2018 Sch 1 conditions"},
	{"criminal_offence_conditions", "Art 10 and DPA 2018 Sch 1 conditions"},
	{"exemption", "DPA 2018 Sch 2 exemption relied on"},
	{"legal_power", "The statutory instrument the disclosure relied on (declared per exchange), or the power the request cited"},
	{"dpia", "Data protection impact assessment: reference, outcome, date"},
	{"retention", "How long the recipient's copy is kept by the gateway"},
	{"reasons", "Why the decision came out as it did"},
	{"failed_checks", "Codes of the checks that did not pass"},
	{"decision_maker", "Who authorised the disclosure; the decision engine applied the agreement"},
	{"urgency", "routine, urgent or emergency"},
	{"request", "Inbound request answered, if any"},
	{"audit_seq", "Sequence number of the decision in the audit chain"},
}

// DisclosureRegister lists every decision on a disclosure in the period,
// with what the ICO's data-sharing code asks a register to hold.
func DisclosureRegister(t *Table, entries []audit.Entry, requests map[string]*exchange.Request, refs Refs) {
	t.Kind, t.Title, t.Columns = KindDisclosures, "Disclosure register", registerColumns
	for _, e := range entries {
		d := e.Detail
		a := refs.Agreements[e.Agreement]
		flow := refs.flow(e.Agreement, d)

		// A disclosure of the discloser's own motion was asked for by the
		// discloser itself (its officer in requested_by); an answer, by the
		// party whose request it answers.
		requester, role := e.Actor, strings.Trim(refs.partyKind(e.Actor)+", own motion", ", ")
		officer := d["requested_by"]
		// The one instrument the disclosure relied on, as declared.
		legal := instrumentTitle(flow, d["instrument"])
		if q := requests[e.Request]; q != nil {
			requester, role = q.Requester, refs.partyKind(q.Requester)
			if q.Meta.RequestedBy != "" {
				officer = q.Meta.RequestedBy
			}
			if q.Meta.Authoriser != nil {
				officer = strings.TrimSpace(officer + ", authorised by " + authoriser(q.Meta.Authoriser.Name, q.Meta.Authoriser.Rank))
			}
			if q.Meta.StatutoryPower != "" && legal == "" {
				legal = q.Meta.StatutoryPower
			}
		}
		if officer != "" {
			role = strings.Trim(role+"; "+officer, "; ")
		}

		desc := strings.Join(e.Categories, ", ")
		if ct := d["content_type"]; ct != "" {
			desc += " (" + ct + ")"
		}
		if n := d["subject_count"]; n != "" {
			desc += "; " + n + " subject(s)"
		}
		var special, criminal []string
		criminalCodes := strings.Fields(d["criminal_offence"])
		for _, c := range e.Conditions {
			if slices.Contains(criminalCodes, c) {
				criminal = append(criminal, c)
			} else {
				special = append(special, c)
			}
		}
		dpia, retention, title, digest := "", "", "", ""
		if a != nil {
			title, digest = a.Title, a.ApprovedSHA256
			if a.DPIA != nil {
				dpia = fmt.Sprintf("%s, %s, %s", a.DPIA.Reference, a.DPIA.Outcome, a.DPIA.Completed)
			}
			if a.Retention > 0 {
				retention = a.Retention.String()
			}
		}
		regime := d["regime"]
		if regime == "" && flow != nil {
			regime = flow.RegimeOf() // recorded before the regime was
		}
		maker := "decision engine under the agreement"
		if name := d["authoriser"]; name != "" {
			maker = authoriser(name, d["authoriser_rank"])
		}
		if e.Outcome == string(agreements.AllowOverride) {
			maker += "; emergency override, DPO review by " + d["override_review_by"]
		}
		t.Rows = append(t.Rows, []any{
			e.Time, e.Outcome, e.Exchange, e.Actor, e.Recipient, requester, role, desc,
			e.Agreement, title, digest, e.Purpose, regime, e.LawfulBasis, d["justification"], special, criminal,
			e.Exemption, legal, dpia, retention, d["reasons"], e.Failed, maker, d["urgency"], e.Request, e.Seq,
		})
	}
}

// instrumentTitle is the instrument named (by code, or by title where it
// has none) with its code and title from the flow, or the name alone.
func instrumentTitle(f *agreements.Flow, name string) string {
	if name == "" {
		return ""
	}
	if f != nil {
		for _, in := range f.Instruments {
			if in.Code == name || (in.Code == "" && in.Title == name) {
				return strings.TrimSpace(in.Code + " " + in.Title)
			}
		}
	}
	return name
}

func authoriser(name, rank string) string {
	if rank == "" {
		return name
	}
	return name + " (" + rank + ")"
}

var subjectAccessColumns = []Column{
	{"disclosed_at", "When the data was delivered to the recipient"},
	{"exchange", "Exchange id"},
	{"discloser", "The party that disclosed the data"},
	{"recipient", "Who received it (UK GDPR Art 15(1)(c))"},
	{"recipient_name", "The recipient's name"},
	{"agreement", "Data-sharing agreement id@version"},
	{"purpose", "Purpose code"},
	{"lawful_basis", "UK GDPR Art 6 basis"},
	{"categories", "Categories of data disclosed"},
	{"exemption", "DPA 2018 Sch 2 exemption relied on"},
	{"state", "Where the exchange is now"},
	{"withheld", "yes: still covered by a live exemption; do not disclose to the subject"},
	{"withheld_reason", "Why telling the subject is withheld"},
	{"exemption_review_at", "When the withholding must be reviewed"},
	{"exemption_review_overdue", "yes: the review date has passed; review before answering"},
	{"rectifications", "Corrections or erasures of this subject's data that covered this exchange"},
}

// SubjectAccess lists everything disclosed about one subject and who
// received it. Disclosures under an exemption whose notification is still
// withheld are marked withheld.
func SubjectAccess(t *Table, exs []*exchange.Exchange, notes map[string]*Notification, rects []*Rectification, refs Refs, now time.Time) {
	t.Kind, t.Title, t.Columns = KindSubjectAccess, "Subject access: disclosures about one data subject", subjectAccessColumns
	byExchange := map[string][]string{}
	for _, r := range rects {
		for _, n := range r.Notices {
			for _, id := range n.Exchanges {
				byExchange[id] = append(byExchange[id], fmt.Sprintf("%s on %s (%s)", r.Action, r.CreatedAt.UTC().Format(time.DateOnly), r.ID))
			}
		}
	}
	for _, e := range disclosed(exs) {
		withheld, reason, reviewAt := false, "", time.Time{}
		if n := notes[e.ID]; n != nil && e.Meta.Exemption != "" && n.State == exchange.NotifyWithheld {
			withheld, reason, reviewAt = true, n.Reason, n.ReviewAt
		}
		t.Rows = append(t.Rows, []any{
			e.DeliveredAt, e.ID, e.Sender, e.Recipient, refs.partyName(e.Recipient), e.AgreementRef(),
			e.Meta.Purpose, e.Meta.LawfulBasis, e.Meta.DataCategories, e.Meta.Exemption, string(e.State),
			withheld, reason, reviewAt, withheld && !reviewAt.IsZero() && !reviewAt.After(now), byExchange[e.ID],
		})
	}
}

// disclosed keeps the exchanges whose data reached the recipient, oldest first.
func disclosed(exs []*exchange.Exchange) []*exchange.Exchange {
	var out []*exchange.Exchange
	for _, e := range exs {
		if e.State.VisibleToRecipient() {
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, func(a, b *exchange.Exchange) int {
		return cmp.Or(a.DeliveredAt.Compare(b.DeliveredAt), cmp.Compare(a.ID, b.ID))
	})
	return out
}

var overrideColumns = []Column{
	{"exchange", "Exchange id"},
	{"declared_at", "When the emergency disclosure was decided"},
	{"discloser", "The party that disclosed the data"},
	{"recipient", "Who received it"},
	{"agreement", "Agreement id@version, empty if none applied"},
	{"purpose", "Purpose code"},
	{"lawful_basis", "UK GDPR Art 6 basis"},
	{"categories", "Categories of data disclosed"},
	{"justification", "The emergency, as the discloser recorded it"},
	{"authoriser", "Who authorised the disclosure"},
	{"review_by", "When the DPO must have reviewed it"},
	{"status", "awaiting, overdue or reviewed"},
	{"outcome", "The DPO's finding: justified or not-justified"},
	{"reviewer", "The DPO who reviewed it"},
	{"reviewed_at", "When"},
	{"notes", "The DPO's notes"},
}

// Override filters.
const (
	FilterOpen     = "open" // awaiting or overdue
	FilterOverdue  = "overdue"
	FilterReviewed = "reviewed"
	FilterAll      = "all"
)

// OverrideStatus is awaiting, overdue or reviewed.
func OverrideStatus(o *Override, now time.Time) string {
	switch {
	case o.State == OverrideReviewed:
		return OverrideReviewed
	case !o.ReviewBy.After(now):
		return FilterOverdue
	}
	return OverrideAwaiting
}

// Overrides lists emergency overrides and their review.
func Overrides(t *Table, os []*Override, exs map[string]*exchange.Exchange, filter string, now time.Time) {
	t.Kind, t.Title, t.Columns = KindOverrides, "Emergency overrides and their DPO review", overrideColumns
	for _, o := range os {
		status := OverrideStatus(o, now)
		switch filter {
		case FilterOpen:
			if status == OverrideReviewed {
				continue
			}
		case FilterOverdue, FilterReviewed:
			if status != filter {
				continue
			}
		}
		e := exs[o.ExchangeID]
		if e == nil {
			continue
		}
		auth := ""
		if e.Meta.Authoriser != nil {
			auth = authoriser(e.Meta.Authoriser.Name, e.Meta.Authoriser.Rank)
		}
		t.Rows = append(t.Rows, []any{
			e.ID, e.CreatedAt, e.Sender, e.Recipient, e.AgreementRef(), e.Meta.Purpose, e.Meta.LawfulBasis,
			e.Meta.DataCategories, e.Meta.Justification, auth, o.ReviewBy, status, o.Outcome, o.Reviewer, o.ReviewedAt, o.Notes,
		})
	}
}

var releaseColumns = []Column{
	{"exchange", "Exchange id"},
	{"released_at", "When the DPO released it"},
	{"released_by", "The DPO who released it (stable id)"},
	{"released_by_name", "The DPO's name"},
	{"reason", "Why the DPO let the recipient fetch what the agreement's or the recipient's state held back"},
	{"sender", "The party that disclosed the data"},
	{"recipient", "Who may fetch it"},
	{"agreement", "Agreement id@version it was delivered under"},
	{"purpose", "Purpose code"},
	{"data_categories", "Categories of data"},
	{"state", "The exchange's state now (delivered, fetched, acknowledged, expired)"},
	{"audit_seq", "Sequence number of the release in the audit chain"},
}

// Releases lists the DPO's releases of delivered exchanges that a
// suspension, termination or change of flows held back at fetch, from
// their exchange.released entries in the audit chain.
func Releases(t *Table, entries []audit.Entry, exs map[string]*exchange.Exchange) {
	t.Kind, t.Title, t.Columns = KindReleases, "Exchanges released by a DPO while held back", releaseColumns
	for _, en := range entries {
		purpose, state := "", ""
		var categories []string
		if e := exs[en.Exchange]; e != nil {
			purpose, categories, state = e.Meta.Purpose, e.Meta.DataCategories, string(e.State)
		}
		t.Rows = append(t.Rows, []any{
			en.Exchange, en.Time, en.Actor, en.Detail["actor_name"], en.Detail["reason"], en.Detail["sender"], en.Recipient,
			en.Agreement, purpose, categories, state, en.Seq,
		})
	}
}

var notificationColumns = []Column{
	{"exchange", "Exchange id"},
	{"disclosed_at", "When the data was delivered"},
	{"discloser", "The party that disclosed the data"},
	{"recipient", "Who received it"},
	{"purpose", "Purpose code"},
	{"exemption", "DPA 2018 Sch 2 exemption relied on"},
	{"subjects", "How many data subjects the disclosure concerns"},
	{"state", "due (to be told) or withheld"},
	{"due_because", "notify: the subjects are to be told; review-date-passed: a withheld notification must be looked at again; confirmation-pending or confirmation-overdue: the sender withheld it and a DPO has yet to confirm that"},
	{"reason", "Why telling the subjects was withheld"},
	{"review_at", "When the withholding was to be reviewed"},
	{"days_overdue", "Days since the review date (0 if not withheld)"},
	{"updated_by", "Who last recorded the decision"},
	{"confirmation", "For a withheld notification: confirmed by a DPO, pending (until confirm_by) or overdue"},
	{"confirm_by", "When a DPO must have confirmed the sender's withholding"},
	{"confirmed_by", "The DPO who confirmed it"},
	{"confirmed_at", "When it was confirmed"},
}

// NotificationsDue lists delivered disclosures whose subjects are to be
// told now, or whose withholding needs a DPO: those whose notification is
// due, those withheld whose review date has passed, and those withheld by
// their sender that no DPO has confirmed yet, each with its confirmation
// state.
func NotificationsDue(t *Table, notes []*Notification, exs map[string]*exchange.Exchange, now time.Time) {
	t.Kind, t.Title, t.Columns = KindNotifications, "Notifications to data subjects that are due", notificationColumns
	for _, n := range notes {
		e := exs[n.ExchangeID]
		if e == nil || !e.State.VisibleToRecipient() {
			continue // nothing was disclosed (yet)
		}
		because, overdue := "", 0
		switch {
		case n.State == exchange.NotifyDue:
			because = "notify"
		case n.State == exchange.NotifyWithheld && !n.ReviewAt.After(now):
			because = "review-date-passed"
			overdue = int(math.Floor(now.Sub(n.ReviewAt).Hours() / 24))
		case n.Confirmation(now) == ConfirmationPending || n.Confirmation(now) == ConfirmationOverdue:
			because = "confirmation-" + n.Confirmation(now)
		default:
			continue
		}
		t.Rows = append(t.Rows, []any{
			e.ID, e.DeliveredAt, e.Sender, e.Recipient, e.Meta.Purpose, e.Meta.Exemption, e.Meta.SubjectCount,
			n.State, because, n.Reason, n.ReviewAt, overdue, n.UpdatedBy,
			n.Confirmation(now), n.ConfirmBy, n.ConfirmedBy, n.ConfirmedAt,
		})
	}
}

var agreementColumns = []Column{
	{"agreement", "Agreement id@version"},
	{"title", "Title"},
	{"status", "Lifecycle status"},
	{"issue", "review-overdue, review-due, dpia-missing, dpia-lapsed, dpia-review-due, expiring or expired"},
	{"date", "The date the issue is about"},
	{"days", "Days until that date (negative: days since)"},
	{"detail", "What to do"},
	{"approved_sha256", "SHA-256 of the version's document as its DPO approved it (docs/agreements.md)"},
}

// AgreementsDue lists agreements in force, or about to be, that need
// attention: review dates passed or within the window, DPIAs missing or
// older than dpiaInterval, expiry within the window.
func AgreementsDue(t *Table, versions []*agreements.Agreement, within, dpiaInterval time.Duration, now time.Time) {
	t.Kind, t.Title, t.Columns = KindAgreements, "Agreements due for review, DPIAs lapsed, agreements expiring", agreementColumns
	days := func(d time.Time) int { return int(math.Floor(d.Sub(now).Hours() / 24)) }
	for _, a := range versions {
		switch a.Status {
		case agreements.StatusActive, agreements.StatusSuspended, agreements.StatusApproved:
		default:
			continue
		}
		add := func(issue string, date time.Time, detail string) {
			t.Rows = append(t.Rows, []any{a.Ref(), a.Title, string(a.Status), issue, date.Format(time.DateOnly), days(date), detail, a.ApprovedSHA256})
		}
		if review := a.ReviewBy.Start(); !a.ReviewBy.IsZero() {
			switch {
			case review.Before(now):
				add("review-overdue", review, "review the agreement; sharing pauses once the review grace has passed")
			case review.Before(now.Add(within)):
				add("review-due", review, "review the agreement before this date")
			}
		}
		switch {
		case a.DPIA == nil || a.DPIA.Reference == "" || a.DPIA.Completed.IsZero():
			add("dpia-missing", now, "complete a DPIA: no sharing may start without one")
		case dpiaInterval > 0:
			lapses := a.DPIA.LapsesAt(dpiaInterval)
			switch {
			case a.DPIA.Lapsed(now, dpiaInterval):
				add("dpia-lapsed", lapses, fmt.Sprintf("revisit DPIA %s (completed %s): sharing is paused until then", a.DPIA.Reference, a.DPIA.Completed))
			case lapses.Before(now.Add(within)):
				add("dpia-review-due", lapses, fmt.Sprintf("revisit DPIA %s (completed %s) before this date", a.DPIA.Reference, a.DPIA.Completed))
			}
		}
		if !a.ExpiresAt.IsZero() {
			exp := a.ExpiresAt.Start()
			switch {
			case exp.Before(now):
				add("expired", exp, "the agreement has ended: renew it or terminate it")
			case exp.Before(now.Add(within)):
				add("expiring", exp, "renew the agreement (register a new version) or let it end")
			}
		}
	}
}

var rectificationColumns = []Column{
	{"rectification", "Rectification id"},
	{"recorded_at", "When the correction was recorded"},
	{"action", "corrected, erased or restricted"},
	{"description", "What changed"},
	{"subject_key", "The subject, as the keyed HMAC the audit record uses"},
	{"recorded_by", "Who recorded it"},
	{"recipient", "A party that received the subject's data (Art 19)"},
	{"exchanges", "The exchanges that carried it"},
	{"notice", "The notice sent to the recipient"},
	{"sent_at", "When the notice was sent"},
	{"acknowledged_at", "When the recipient acknowledged it"},
	{"status", "acknowledged or awaiting"},
	{"days_outstanding", "Days the notice has waited, if unacknowledged"},
}

// Rectifications lists each rectification notice and whether its recipient
// acknowledged it.
func Rectifications(t *Table, rects []*Rectification, now time.Time) {
	t.Kind, t.Title, t.Columns = KindRectifications, "Art 19 rectification notices", rectificationColumns
	for _, r := range rects {
		for _, n := range r.Notices {
			status, waiting := "acknowledged", 0
			if n.AcknowledgedAt.IsZero() {
				status, waiting = "awaiting", int(math.Floor(now.Sub(n.SentAt).Hours()/24))
			}
			t.Rows = append(t.Rows, []any{
				r.ID, r.CreatedAt, r.Action, r.Description, r.SubjectKey, r.RecordedBy, n.Recipient, n.Exchanges,
				n.ID, n.SentAt, n.AcknowledgedAt, status, waiting,
			})
		}
	}
}
