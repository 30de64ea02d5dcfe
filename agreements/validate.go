package agreements

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-gw/gatehouse/internal/valid"
)

var slugPattern = regexp.MustCompile(`^[a-z0-9]+(?:[.-][a-z0-9]+)*$`)

// ValidAgreementID reports whether id is an agreement slug: lower-case
// letters and digits in words joined by '.' or '-', at most 64 characters.
func ValidAgreementID(id string) bool { return len(id) <= 64 && slugPattern.MatchString(id) }

// ValidPartyID reports whether id is a party slug, with the same rule.
func ValidPartyID(id string) bool { return len(id) <= 64 && slugPattern.MatchString(id) }

// Validate checks an agreement document and reports every problem at once,
// each with its path and rule. It checks the document on its own; see
// CheckActivation for what must also hold before it can be activated.
func (a *Agreement) Validate() error {
	var v valid.Errors
	if v.Required("id", a.ID) && !ValidAgreementID(a.ID) {
		v.Add("id", "format", "%q is not an agreement id (lower-case words joined by '.' or '-')", a.ID)
	}
	v.Required("title", a.Title)
	switch a.Controllers {
	case "separate", "joint":
	case "":
		v.Add("controllers", "required", "is required (separate or joint)")
	default:
		v.Add("controllers", "enum", "%q is not one of separate, joint", a.Controllers)
	}

	if len(a.Signatories) == 0 {
		v.Add("signatories", "required", "needs at least one signatory for each side")
	}
	for i, s := range a.Signatories {
		p := valid.Path("signatories", i)
		partyField(&v, p+".party", s.Party)
		v.Required(p+".name", s.Name)
		v.Required(p+".role", s.Role)
	}

	if len(a.Flows) == 0 {
		v.Add("flows", "required", "needs at least one flow")
	}
	needsAPD := false
	for i := range a.Flows {
		if validateFlow(&v, valid.Path("flows", i), &a.Flows[i]) {
			needsAPD = true
		}
	}
	duplicateFlows(&v, a.Flows)
	if needsAPD && strings.TrimSpace(a.AppropriatePolicyDocument) == "" {
		v.Add("appropriate_policy_document", "required", "a DPA Sch 1 Part 2 condition is relied on, so the controller's appropriate policy document (Sch 1 Pt 4) must be referenced")
	}

	if a.DPIA != nil {
		v.Required("dpia.reference", a.DPIA.Reference)
		if a.DPIA.Completed.IsZero() {
			v.Add("dpia.completed", "required", "is required")
		}
		switch a.DPIA.Outcome {
		case DPIAApproved, DPIAApprovedWithMitigations, DPIARejected:
		default:
			v.Add("dpia.outcome", "enum", "%q is not one of approved, approved-with-mitigations, rejected", a.DPIA.Outcome)
		}
		v.Required("dpia.approver", a.DPIA.Approver)
	}

	if a.EffectiveFrom.IsZero() {
		v.Add("effective_from", "required", "is required")
	}
	if !a.ExpiresAt.IsZero() && !a.EffectiveFrom.IsZero() && !a.EffectiveFrom.Before(a.ExpiresAt) {
		v.Add("expires_at", "after", "must be after effective_from (%s)", a.EffectiveFrom)
	}
	switch {
	case a.ReviewBy.IsZero():
		v.Add("review_by", "required", "is required: every agreement is reviewed")
	case !a.EffectiveFrom.IsZero() && a.ReviewBy.Before(a.EffectiveFrom):
		v.Add("review_by", "after", "must not be before effective_from (%s)", a.EffectiveFrom)
	}
	if a.Retention <= 0 {
		v.Add("retention", "required", "is required: delivered payloads are kept only as long as needed (e.g. 90d)")
	} else if a.Retention.Std() > 10*365*24*time.Hour {
		v.Add("retention", "maximum", "is more than ten years")
	}
	switch n := a.SubjectNotification; n.Default {
	case "notify":
	case "withhold":
		v.Required("subject_notification.reason", n.Reason)
		if n.ReviewAfter <= 0 {
			v.Add("subject_notification.review_after", "required", "is required when notification is withheld by default: withholding is reviewed")
		}
	case "":
		v.Add("subject_notification.default", "required", "is required (notify or withhold)")
	default:
		v.Add("subject_notification.default", "enum", "%q is not one of notify, withhold", n.Default)
	}
	return v.Err()
}

func partyField(v *valid.Errors, path, id string) {
	if v.Required(path, id) && !ValidPartyID(id) {
		v.Add(path, "format", "%q is not a party id", id)
	}
}

// validateFlow checks one flow and reports whether it relies on a Sch 1
// Part 2 condition (which needs an appropriate policy document).
func validateFlow(v *valid.Errors, path string, f *Flow) (part2 bool) {
	if len(f.From) == 0 {
		v.Add(path+".from", "required", "needs at least one sending party")
	}
	for i, p := range f.From {
		partyField(v, valid.Path(path, "from", i), p)
	}
	if len(f.To) == 0 {
		v.Add(path+".to", "required", "needs at least one receiving party")
	}
	for i, p := range f.To {
		partyField(v, valid.Path(path, "to", i), p)
		if slices.Contains(f.From, p) {
			v.Add(valid.Path(path, "to", i), "distinct", "%q cannot send to itself", p)
		}
	}

	if len(f.Purposes) == 0 {
		v.Add(path+".purposes", "required", "needs at least one purpose")
	}
	for i, p := range f.Purposes {
		pp := valid.Path(path, "purposes", i)
		switch {
		case Purposes[p] == "":
			v.Add(pp, "code", "%q is not a known purpose (%s)", p, strings.Join(sortedKeys(Purposes), ", "))
		case Prohibited(p) && !slices.Contains(f.LawfulBases, BasisConsent):
			v.Add(pp, "consent", "%q needs a consent record: the flow must rely on consent (A6-1-a)", p)
		}
	}

	switch f.Regime {
	case "", RegimeUKGDPR, RegimePart3:
	default:
		v.Add(path+".regime", "enum", "%q is not one of %s, %s", f.Regime, RegimeUKGDPR, RegimePart3)
	}
	part3 := f.RegimeOf() == RegimePart3
	special, criminal := false, false
	if len(f.DataCategories) == 0 {
		v.Add(path+".data_categories", "required", "needs at least one data category")
	}
	for i, c := range f.DataCategories {
		switch Categories[c] {
		case "":
			v.Add(valid.Path(path, "data_categories", i), "code", "%q is not a known data category (%s)", c, strings.Join(sortedKeys(Categories), ", "))
		case CategorySpecial:
			special = true
		case CategoryCriminalOffence:
			criminal = true
		}
	}
	if part3 {
		part2 = validatePart3(v, path, f, special)
	} else {
		part2 = validateGDPRBases(v, path, f, special, criminal)
	}
	for i, in := range f.Instruments {
		v.Required(valid.Path(path, "instruments", i, "title"), in.Title)
	}

	if fp := f.Fields; fp != nil {
		switch fp.OnExtra {
		case "", "strip", "refuse":
		default:
			v.Add(path+".fields.on_extra", "enum", "%q is not one of strip, refuse", fp.OnExtra)
		}
		for i, name := range fp.Pseudonymise {
			if len(fp.Allow) > 0 && !slices.Contains(fp.Allow, name) {
				v.Add(valid.Path(path, "fields", "pseudonymise", i), "allowlist", "%q is pseudonymised but not in fields.allow", name)
			}
		}
		if fp.Subject != "" && len(fp.Allow) > 0 && !slices.Contains(fp.Allow, fp.Subject) {
			v.Add(path+".fields.subject", "allowlist", "%q identifies the subject but is not in fields.allow", fp.Subject)
		}
		for i, name := range fp.Allow {
			if strings.TrimSpace(name) == "" {
				v.Add(valid.Path(path, "fields", "allow", i), "required", "is empty")
			}
		}
	}
	if f.MaxSubjects < 0 {
		v.Add(path+".max_subjects", "minimum", "must not be negative (0 means no limit)")
	}
	if f.DailyVolume < 0 {
		v.Add(path+".daily_volume", "minimum", "must not be negative (0 means no limit)")
	}
	for _, k := range f.AuthoriserRank.Kinds() {
		rank, rp := f.AuthoriserRank[k], path+".authoriser_rank."+string(k)
		l := LadderFor(k)
		switch {
		case l == nil:
			v.Add(rp, "kind", "%q is not a kind of party with ranks (%s)", k, kindList())
		case l.Level(rank) == 0:
			v.Add(rp, "code", "%q is not one of the %s (%s)", rank, l.Name, strings.Join(l.Codes(), ", "))
		case rank != l.Steps[l.Level(rank)-1].Code:
			v.Add(rp, "code", "write the rank as its code: %q is %s", rank, l.Steps[l.Level(rank)-1].Code)
		}
	}
	if f.Handler != "" {
		partyField(v, path+".handler", f.Handler)
		if !slices.Contains(f.To, f.Handler) {
			v.Add(path+".handler", "recipient", "%q must be one of the flow's recipients (to)", f.Handler)
		}
	}
	return part2
}

func firstOfKind(cats []string, kind string) string {
	for _, c := range cats {
		if Categories[c] == kind {
			return c
		}
	}
	return ""
}

// CheckActivation reports what stops a valid agreement from being activated
// at now with the registry's parties: a completed DPIA, dates, and parties
// that are registered (the handler a council service).
func (a *Agreement) CheckActivation(reg *Registry, now time.Time) error {
	var v valid.Errors
	switch {
	case a.DPIA == nil:
		v.Add("dpia", "required", "required before activation")
	case a.DPIA.Outcome == DPIARejected:
		v.Add("dpia.outcome", "rejected", "the privacy impact assessment was rejected; sharing cannot start")
	case !a.DPIA.Complete(now):
		v.Add("dpia.completed", "future", "the privacy impact assessment must be completed before activation")
	}
	if !a.ExpiresAt.IsZero() && !now.Before(a.ExpiresAt.End()) {
		v.Add("expires_at", "past", "the agreement expired on %s", a.ExpiresAt)
	}
	seen := map[string]bool{}
	check := func(path, id string) {
		if seen[path] {
			return
		}
		seen[path] = true
		if reg.Party(id) == nil {
			v.Add(path, "registered", "party %q is not registered", id)
		}
	}
	for i, f := range a.Flows {
		for j, p := range f.From {
			check(valid.Path("flows", i, "from", j), p)
		}
		for j, p := range f.To {
			check(valid.Path("flows", i, "to", j), p)
		}
		if f.Handler != "" {
			if h := reg.Party(f.Handler); h != nil && h.Kind != KindCouncilService {
				v.Add(valid.Path("flows", i, "handler"), "council-service", "handler %q must be a council service, not %s", f.Handler, h.Kind)
			}
		}
	}
	return v.Err()
}

// EffectiveStatus is the status as of now: an active agreement past its
// expiry date is expired.
func (a *Agreement) EffectiveStatus(now time.Time) Status {
	if (a.Status == StatusActive || a.Status == StatusSuspended) && !a.ExpiresAt.IsZero() && !now.Before(a.ExpiresAt.End()) {
		return StatusExpired
	}
	return a.Status
}

// String names the agreement version for messages.
func (a *Agreement) String() string { return fmt.Sprintf("%s@%d (%s)", a.ID, a.Version, a.Status) }

func kindList() string {
	names := make([]string, len(RankKinds))
	for i, k := range RankKinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}

// conditionCodes lists the condition codes for special-category data (Art
// 9(2) and the Sch 1 conditions that complete one) or for criminal-offence
// data (A10 and every Sch 1 condition).
func conditionCodes(special bool) []string {
	var out []string
	if special {
		out = sortedKeys(Article9)
	} else {
		out = []string{ConditionArticle10}
	}
	for _, c := range sortedKeys(Schedule1) {
		if !special || Schedule1[c].Article9 != "" {
			out = append(out, c)
		}
	}
	return out
}

// Validate checks that every code a request uses is one the gateway knows,
// naming the field (as the API spells it) and listing the valid codes: an
// unknown purpose, basis, condition, exemption, category or rank is a
// mistake to correct (400), not a refusal. Whether the request is lawful is
// for Decide, which refuses unknown codes too.
func (r *Request) Validate() error {
	var v valid.Errors
	code := func(path, val string, known bool, list func() []string) {
		if val != "" && !known {
			v.Add(path, "code", "%q is not a known code; use one of: %s", val, strings.Join(list(), ", "))
		}
	}
	code("purpose", r.Purpose, Purposes[r.Purpose] != "", func() []string { return sortedKeys(Purposes) })
	code("lawful_basis", r.LawfulBasis, Article6[r.LawfulBasis] != "" || Part3Bases[r.LawfulBasis] != "", func() []string {
		return append(sortedKeys(Article6), sortedKeys(Part3Bases)...)
	})
	for i, c := range r.SpecialCategory {
		_, art9 := Article9[c]
		code(valid.Path("special_category", i), c, art9 || Schedule1[c].Article9 != "" || Part3Sensitive[c] != "", func() []string {
			return append(conditionCodes(true), sortedKeys(Part3Sensitive)...)
		})
	}
	for i, c := range r.CriminalOffence {
		code(valid.Path("criminal_offence", i), c, c == ConditionArticle10 || Article10Condition(c), func() []string { return conditionCodes(false) })
	}
	code("exemption", r.Exemption, Schedule2[r.Exemption] != "", func() []string { return sortedKeys(Schedule2) })
	for i, c := range r.DataCategories {
		code(valid.Path("data_categories", i), c, Categories[c] != "", func() []string { return sortedKeys(Categories) })
	}
	if strings.TrimSpace(r.AuthoriserRank) != "" && !KnownRank(r.AuthoriserRank) {
		var lists []string
		for _, l := range []*Ladder{PoliceRanks, CouncilGrades, CivilServiceGrades, HMRCGrades} {
			lists = append(lists, l.Name+": "+strings.Join(l.Codes(), ", "))
		}
		v.Add("authoriser.rank", "code", "%q is not a known rank or grade; use one of the %s", r.AuthoriserRank, strings.Join(lists, "; "))
	}
	return v.Err()
}

// validateGDPRBases checks the bases and conditions of a flow under UK GDPR
// and reports whether it relies on a Sch 1 Part 2 condition.
func validateGDPRBases(v *valid.Errors, path string, f *Flow, special, criminal bool) (part2 bool) {
	if len(f.LawfulBases) == 0 {
		v.Add(path+".lawful_bases", "required", "needs at least one Art 6 lawful basis")
	}
	for i, b := range f.LawfulBases {
		bp := valid.Path(path, "lawful_bases", i)
		switch {
		case Article6[b] == "":
			v.Add(bp, "code", "%q is not an Art 6 lawful basis (%s)", b, strings.Join(sortedKeys(Article6), ", "))
		case b == BasisLegitimateInterests:
			v.Add(bp, "public-authority", "%q is not available to a public authority performing its tasks", b)
		}
	}

	if special && len(f.SpecialCategory) == 0 {
		v.Add(path+".data_categories", "special-category", "%q needs a special_category condition", firstOfKind(f.DataCategories, CategorySpecial))
	}
	if criminal && len(f.CriminalOffence) == 0 {
		v.Add(path+".data_categories", "criminal-offence", `"criminal-offence" needs a criminal_offence condition (A10 with a DPA Sch 1 condition)`)
	}

	for i, c := range f.SpecialCategory {
		cp := valid.Path(path, "special_category", i)
		if a9, ok := Article9[c]; ok {
			if a9.NeedsSchedule && !hasScheduleFor(f.SpecialCategory, c) {
				v.Add(cp, "schedule-1", "%q needs a DPA Sch 1 condition as well (DPA 2018 s.10)", c)
			}
			continue
		}
		s, ok := Schedule1[c]
		switch {
		case !ok:
			v.Add(cp, "code", "%q is not an Art 9(2) or DPA Sch 1 condition (%s)", c, strings.Join(conditionCodes(true), ", "))
			continue
		case s.Article9 == "":
			v.Add(cp, "article-10-only", "%q is a Sch 1 Part 3 condition: it serves criminal-offence data (Art 10) only", c)
			continue
		}
		part2 = part2 || s.Part2
		if !slices.Contains(f.SpecialCategory, s.Article9) {
			v.Add(cp, "pairing", "%q completes %q, which the flow does not list", c, s.Article9)
		}
	}
	if len(f.SpecialCategory) > 0 && !special {
		v.Add(path+".special_category", "unused", "conditions are listed but data_categories has no special-category data")
	}

	if len(f.CriminalOffence) > 0 {
		if !slices.Contains(f.CriminalOffence, ConditionArticle10) {
			v.Add(path+".criminal_offence", "article-10", "must include A10 (Art 10 criminal-offence data)")
		}
		sch := false
		for i, c := range f.CriminalOffence {
			if c == ConditionArticle10 {
				continue
			}
			s, ok := Schedule1[c]
			if !ok {
				v.Add(valid.Path(path, "criminal_offence", i), "code", "%q is not A10 or a DPA Sch 1 condition (%s)", c, strings.Join(conditionCodes(false), ", "))
				continue
			}
			sch = true
			part2 = part2 || s.Part2
		}
		if !sch {
			v.Add(path+".criminal_offence", "schedule-1", "A10 needs a DPA Sch 1 condition (e.g. DPA-S1-P2-10)")
		}
		if !criminal {
			v.Add(path+".criminal_offence", "unused", "conditions are listed but data_categories has no criminal-offence data")
		}
	}

	for i, e := range f.Exemptions {
		ep := valid.Path(path, "exemptions", i)
		switch {
		case Schedule2[e] == "":
			v.Add(ep, "code", "%q is not a DPA Sch 2 exemption (%s)", e, strings.Join(sortedKeys(Schedule2), ", "))
		case !slices.ContainsFunc(f.Purposes, func(p string) bool { return ExemptionServes(e, p) }):
			v.Add(ep, "purpose", "%s serves only %s; the flow has none of those purposes", e, strings.Join(ExemptionPurposes[e], ", "))
		}
	}
	return part2
}

// validatePart3 checks the bases and conditions of a law-enforcement flow
// (DPA 2018 Part 3) and reports whether it needs an appropriate policy
// document (sensitive processing, s.42).
func validatePart3(v *valid.Errors, path string, f *Flow, special bool) (apd bool) {
	for i, p := range f.Purposes {
		if Purposes[p] != "" && !slices.Contains(LawEnforcementPurposes, p) {
			v.Add(valid.Path(path, "purposes", i), "law-enforcement", "%q is not a law-enforcement purpose (DPA 2018 s.31: %s)", p, strings.Join(LawEnforcementPurposes, ", "))
		}
	}
	if len(f.LawfulBases) == 0 {
		v.Add(path+".lawful_bases", "required", "needs at least one DPA 2018 s.35(2) condition (%s)", strings.Join(sortedKeys(Part3Bases), ", "))
	}
	for i, b := range f.LawfulBases {
		if Part3Bases[b] == "" {
			v.Add(valid.Path(path, "lawful_bases", i), "code", "%q is not a DPA 2018 s.35(2) condition (%s): the flow is law-enforcement processing", b, strings.Join(sortedKeys(Part3Bases), ", "))
		}
	}
	for i, c := range f.SpecialCategory {
		if Part3Sensitive[c] == "" {
			v.Add(valid.Path(path, "special_category", i), "code", "%q is not a sensitive-processing condition of DPA 2018 s.35 (%s)", c, strings.Join(sortedKeys(Part3Sensitive), ", "))
		}
	}
	if special && len(f.SpecialCategory) == 0 {
		v.Add(path+".data_categories", "special-category", "%q is sensitive processing: it needs consent (DPA-S35-4) or a Sch 8 condition (s.35(5))", firstOfKind(f.DataCategories, CategorySpecial))
	}
	if len(f.SpecialCategory) > 0 && !special {
		v.Add(path+".special_category", "unused", "conditions are listed but data_categories has no special-category data")
	}
	if len(f.CriminalOffence) > 0 {
		v.Add(path+".criminal_offence", "part-3", "Art 10 and Sch 1 do not apply to law-enforcement processing: list none")
	}
	if len(f.Exemptions) > 0 {
		v.Add(path+".exemptions", "part-3", "DPA 2018 Sch 2 exemptions do not apply to law-enforcement processing (Part 3 has its own restrictions): list none")
	}
	return special
}
