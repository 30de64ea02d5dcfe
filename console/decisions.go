package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/exchange"
	"github.com/gatehouse-gw/gatehouse/store"
)

// Decisions reads the decisions the audit record holds, and the exchanges
// and requests they made.
type Decisions interface {
	Decisions(ctx context.Context, q store.DecisionQuery) ([]audit.Entry, error)
	Decision(ctx context.Context, seq int64) (audit.Entry, error)
	Exchange(ctx context.Context, id string) (*exchange.Exchange, error)
	Request(ctx context.Context, id string) (*exchange.Request, error)
}

// Bounds of a decision search.
const (
	decisionPageSizes   = "10 25 50 100"
	decisionDefaultSize = 25
	// decisionMaxDays is the longest period one search covers.
	decisionMaxDays = 366
	// decisionMaxPage bounds how far a search pages (the offset).
	decisionMaxPage = 1000
)

var outcomes = []struct{ Code, Name string }{
	{string(agreements.Allow), "Allowed"},
	{string(agreements.AllowOverride), "Allowed by emergency override"},
	{string(agreements.Deny), "Refused"},
}

// checkNames are the checks in plain English.
var checkNames = map[string]string{
	agreements.CheckPartyIdentified:      "The sender is a registered, active party",
	agreements.CheckRecipientActive:      "The recipient is active",
	agreements.CheckPurposeNotProhibited: "The purpose is not a prohibited one (marketing, sale)",
	agreements.CheckConsentRecorded:      "Consent is recorded where the purpose needs it",
	agreements.CheckAgreementExists:      "There is an agreement",
	agreements.CheckAgreementVersion:     "The agreement version is the one in force",
	agreements.CheckAgreementActive:      "The agreement is active",
	agreements.CheckAgreementInForce:     "The agreement is in force today",
	agreements.CheckAgreementReview:      "The agreement's review is not overdue",
	agreements.CheckAgreementDPIA:        "A DPIA is complete",
	agreements.CheckPartyIsSender:        "The sender is a party to the agreement",
	agreements.CheckFlowPermitted:        "The agreement has this flow",
	agreements.CheckPurposePermitted:     "The flow permits the purpose",
	agreements.CheckBasisArticle6:        "A permitted Art 6 lawful basis",
	agreements.CheckBasisLawEnforcement:  "A DPA 2018 Part 3 condition",
	agreements.CheckCategoriesPermitted:  "The flow permits the data categories",
	agreements.CheckBasisSpecialCategory: "An Art 9 condition for special category data",
	agreements.CheckBasisCriminalOffence: "An Art 10 condition for criminal offence data",
	agreements.CheckBasisExemption:       "The exemption relied on is permitted",
	agreements.CheckSubjectsNamed:        "The people are named",
	agreements.CheckSubjectsWithinLimit:  "No more people than the flow allows",
	agreements.CheckAuthoriserRank:       "The authoriser's rank is high enough",
	agreements.CheckVolumeWithinLimit:    "Within the flow's daily volume",
	agreements.CheckJustificationPresent: "A justification is given",
	agreements.CheckNotification:         "The notification decision is permitted",
	agreements.CheckOverrideEmergency:    "Emergency override",
}

type decisionSearch struct {
	From, To, Party, Agreement, Outcome string
	Size, Page                          int
}

func (q decisionSearch) values(page int) string {
	v := url.Values{}
	v.Set("from", q.From)
	v.Set("to", q.To)
	for k, s := range map[string]string{"party": q.Party, "agreement": q.Agreement, "outcome": q.Outcome} {
		if s != "" {
			v.Set(k, s)
		}
	}
	v.Set("size", strconv.Itoa(q.Size))
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	return v.Encode()
}

type decisionRow struct {
	Seq                           int64
	Time                          time.Time
	Kind                          string
	Sender, Recipient, Agreement  string
	Purpose, Outcome, OutcomeName string
	Tag                           string
	Failed                        []string
	Subjects                      int
	SubjectWord                   string
}

func outcomeName(code string) string {
	for _, o := range outcomes {
		if o.Code == code {
			return o.Name
		}
	}
	return code
}

func subjectCount(e *audit.Entry) int {
	if n, err := strconv.Atoi(e.Detail["subject_count"]); err == nil && n > 0 {
		return n
	}
	return len(e.Subjects)
}

func rowOf(e *audit.Entry) decisionRow {
	r := decisionRow{Seq: e.Seq, Time: e.Time, Kind: "Disclosure", Sender: e.Actor, Recipient: e.Recipient,
		Agreement: e.Agreement, Purpose: e.Purpose, Outcome: e.Outcome, OutcomeName: outcomeName(e.Outcome),
		Failed: e.Failed, Subjects: subjectCount(e)}
	if e.Type == exchange.TypeRequestDecided {
		r.Kind = "Information request"
	}
	switch agreements.Outcome(e.Outcome) {
	case agreements.Allow:
		r.Tag = "govuk-tag--green"
	case agreements.AllowOverride:
		r.Tag = "govuk-tag--orange"
	default:
		r.Tag = "govuk-tag--red"
	}
	r.SubjectWord = "people"
	if r.Subjects == 1 {
		r.SubjectWord = "person"
	}
	return r
}

func canReadDecisions(s *session) bool {
	return slices.Contains(s.Roles, agreements.RoleDPO) || slices.Contains(s.Roles, agreements.RoleAuditor)
}

// decisionsPage searches the decisions of the record: a GET form, so that
// a search can be bookmarked and shared; bounded in period and page size.
func (c *Console) decisionsPage(w http.ResponseWriter, r *http.Request, s *session) {
	if !canReadDecisions(s) {
		c.forbidden(w, r, s, "Decisions are read by the DPO and auditors.")
		return
	}
	if c.opts.Decisions == nil {
		c.fail(w, r, s, errors.New("console: no decision records"))
		return
	}
	ctx, q := r.Context(), r.URL.Query()
	today := c.now().In(c.loc)
	search := decisionSearch{
		From: strings.TrimSpace(q.Get("from")), To: strings.TrimSpace(q.Get("to")),
		Party: strings.TrimSpace(q.Get("party")), Agreement: strings.TrimSpace(q.Get("agreement")), Outcome: q.Get("outcome"),
		Size: decisionDefaultSize, Page: 1,
	}
	if !q.Has("from") && !q.Has("to") {
		search.From, search.To = today.AddDate(0, 0, -30).Format(time.DateOnly), today.Format(time.DateOnly)
	}
	parties, err := c.opts.Registry.Parties(ctx, s.actor())
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	sort.Slice(parties, func(i, j int) bool { return parties[i].ID < parties[j].ID })
	list, err := c.opts.Registry.List(ctx, s.actor())
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })

	var errs []fieldError
	from, errFrom := time.ParseInLocation(time.DateOnly, search.From, c.loc)
	to, errTo := time.ParseInLocation(time.DateOnly, search.To, c.loc)
	switch {
	case errFrom != nil:
		errs = append(errs, fieldError{"from", "Enter the first day as a date, for example " + today.AddDate(0, 0, -7).Format(time.DateOnly)})
	case errTo != nil:
		errs = append(errs, fieldError{"to", "Enter the last day as a date, for example " + today.Format(time.DateOnly)})
	case to.Before(from):
		errs = append(errs, fieldError{"to", "The last day must be the same as or after the first day"})
	case to.Sub(from) > decisionMaxDays*24*time.Hour:
		errs = append(errs, fieldError{"to", fmt.Sprintf("Search at most %d days at a time", decisionMaxDays)})
	}
	if search.Party != "" && !slices.ContainsFunc(parties, func(p *agreements.Party) bool { return p.ID == search.Party }) {
		errs = append(errs, fieldError{"party", "Select a registered party"})
	}
	if search.Agreement != "" && !slices.ContainsFunc(list, func(a *agreements.Agreement) bool { return a.ID == search.Agreement }) {
		errs = append(errs, fieldError{"agreement", "Select a registered agreement"})
	}
	if search.Outcome != "" && !slices.ContainsFunc(outcomes, func(o struct{ Code, Name string }) bool { return o.Code == search.Outcome }) {
		errs = append(errs, fieldError{"outcome", "Select allowed, allowed by emergency override or refused"})
	}
	if v := q.Get("size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || !slices.Contains(strings.Fields(decisionPageSizes), v) {
			errs = append(errs, fieldError{"size", "Select 10, 25, 50 or 100 decisions a page"})
		} else {
			search.Size = n
		}
	}
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > decisionMaxPage {
			errs = append(errs, fieldError{"from", fmt.Sprintf("The page must be a number from 1 to %d: narrow the search to see older decisions", decisionMaxPage)})
		} else {
			search.Page = n
		}
	}
	data := map[string]any{"Search": search, "Parties": parties, "Agreements": list, "Outcomes": outcomes,
		"Sizes": strings.Fields(decisionPageSizes), "MaxDays": decisionMaxDays}
	if len(errs) > 0 {
		c.render(w, r, http.StatusUnprocessableEntity, "decisions", s, page{Title: "Decisions", Nav: "decisions", Errors: errs, Data: data})
		return
	}
	entries, err := c.opts.Decisions.Decisions(ctx, store.DecisionQuery{
		From: from, To: to.AddDate(0, 0, 1), Party: search.Party, Agreement: search.Agreement, Outcome: search.Outcome,
		Limit: search.Size + 1, Offset: (search.Page - 1) * search.Size,
	})
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	more := len(entries) > search.Size
	if more {
		entries = entries[:search.Size]
	}
	rows := make([]decisionRow, 0, len(entries))
	for i := range entries {
		rows = append(rows, rowOf(&entries[i]))
	}
	data["Rows"] = rows
	data["First"], data["Last"] = (search.Page-1)*search.Size+1, (search.Page-1)*search.Size+len(rows)
	if search.Page > 1 {
		data["Previous"] = Prefix + "/decisions?" + search.values(search.Page-1)
	}
	if more && search.Page < decisionMaxPage {
		data["Next"] = Prefix + "/decisions?" + search.values(search.Page+1)
	}
	data["Query"] = search.values(search.Page)
	c.render(w, r, http.StatusOK, "decisions", s, page{Title: "Decisions", Nav: "decisions", Data: data})
}

type checkRow struct {
	Code, Name, Message string
	Passed              bool
}

func checkRowOf(code string, passed bool, message string) checkRow {
	name := checkNames[code]
	if name == "" {
		name = code
	}
	return checkRow{Code: code, Name: name, Passed: passed, Message: message}
}

// checksOf are the checks a decision ran. The exchange or request an
// allowed decision made keeps them all with their messages; for a refusal
// (which stores nothing else) and for a later re-decision the entry keeps
// the failed checks with their reasons and the codes of those that passed.
func (c *Console) checksOf(ctx context.Context, e *audit.Entry) ([]checkRow, error) {
	var stored *agreements.Decision
	switch {
	case e.Exchange != "" && e.Type == audit.TypeExchangeDecided:
		x, err := c.opts.Decisions.Exchange(ctx, e.Exchange)
		if err != nil && !errors.Is(err, exchange.ErrNotFound) {
			return nil, err
		}
		if x != nil {
			stored = &x.Decision
		}
	case e.Request != "":
		q, err := c.opts.Decisions.Request(ctx, e.Request)
		if err != nil && !errors.Is(err, exchange.ErrRequestNotFound) {
			return nil, err
		}
		if q != nil {
			stored = &q.Decision
		}
	}
	if stored != nil && string(stored.Outcome) == e.Outcome && slices.Equal(stored.FailedCodes(), e.Failed) && len(stored.Checks) > 0 {
		out := make([]checkRow, 0, len(stored.Checks))
		for _, ch := range stored.Checks {
			out = append(out, checkRowOf(ch.Code, ch.Passed, ch.Message))
		}
		return out, nil
	}
	reasons := strings.Split(e.Detail["reasons"], "; ")
	failed := map[string]string{}
	for i, code := range e.Failed {
		switch {
		case e.Outcome == string(agreements.Deny) && len(reasons) == len(e.Failed):
			failed[code] = reasons[i]
		case len(e.Failed) == 1 && e.Outcome == string(agreements.Deny):
			failed[code] = e.Detail["reasons"]
		}
	}
	var out []checkRow
	passed := strings.Fields(e.Detail["passed"])
	for _, code := range agreements.CheckCodes {
		if slices.Contains(passed, code) {
			out = append(out, checkRowOf(code, true, ""))
		} else if slices.Contains(e.Failed, code) {
			out = append(out, checkRowOf(code, false, failed[code]))
		}
	}
	for _, code := range e.Failed { // a code this console does not know
		if !slices.Contains(agreements.CheckCodes, code) {
			out = append(out, checkRowOf(code, false, failed[code]))
		}
	}
	return out, nil
}

// decisionPage shows one decision with every check it ran. Subjects are
// counted, never shown: the record holds only their keyed HMACs.
func (c *Console) decisionPage(w http.ResponseWriter, r *http.Request, s *session) {
	if !canReadDecisions(s) {
		c.forbidden(w, r, s, "Decisions are read by the DPO and auditors.")
		return
	}
	if c.opts.Decisions == nil {
		c.fail(w, r, s, errors.New("console: no decision records"))
		return
	}
	seq, err := strconv.ParseInt(r.PathValue("seq"), 10, 64)
	if err != nil || seq < 1 {
		c.fail(w, r, s, agreements.ErrNotFound)
		return
	}
	e, err := c.opts.Decisions.Decision(r.Context(), seq)
	if errors.Is(err, store.ErrNoDecision) {
		c.fail(w, r, s, agreements.ErrNotFound)
		return
	}
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	checks, err := c.checksOf(r.Context(), &e)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	back := Prefix + "/decisions"
	if q := r.URL.Query().Get("back"); q != "" {
		if v, err := url.ParseQuery(q); err == nil {
			back += "?" + v.Encode()
		}
	}
	row := rowOf(&e)
	reviewBy, _ := time.Parse(time.RFC3339, e.Detail["override_review_by"])
	title := fmt.Sprintf("Decision %d", e.Seq)
	c.render(w, r, http.StatusOK, "decision", s, page{Title: title, Nav: "decisions", Data: map[string]any{
		"Row": row, "Entry": e, "Checks": checks, "Back": back,
		"Conditions": e.Conditions, "Stage": e.Detail["stage"], "ReviewBy": reviewBy,
	}})
}
