package agreements

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Outcome is the result of a decision.
type Outcome string

// Decision outcomes. Anything that is not allow or allow-override is a refusal.
const (
	Allow         Outcome = "allow"
	Deny          Outcome = "deny"
	AllowOverride Outcome = "allow-override"
)

// Allowed reports whether data may move.
func (o Outcome) Allowed() bool { return o == Allow || o == AllowOverride }

// Check codes: the API's vocabulary for why a disclosure was allowed or refused.
const (
	CheckPartyIdentified      = "party.identified"
	CheckPartyIsSender        = "party.is-sender"
	CheckRecipientActive      = "recipient.active"
	CheckAgreementExists      = "agreement.exists"
	CheckAgreementActive      = "agreement.active"
	CheckAgreementInForce     = "agreement.in-force"
	CheckAgreementReview      = "agreement.review-current"
	CheckAgreementDPIA        = "agreement.dpia-complete"
	CheckFlowPermitted        = "flow.permitted"
	CheckPurposePermitted     = "purpose.permitted"
	CheckPurposeNotProhibited = "purpose.not-prohibited"
	CheckBasisArticle6        = "basis.article6"
	CheckBasisSpecialCategory = "basis.special-category"
	CheckBasisCriminalOffence = "basis.criminal-offence"
	CheckBasisExemption       = "basis.exemption"
	CheckCategoriesPermitted  = "categories.permitted"
	CheckSubjectsNamed        = "subjects.named"
	CheckSubjectsWithinLimit  = "subjects.within-limit"
	CheckAuthoriserRank       = "authoriser.rank"
	CheckJustificationPresent = "justification.present"
	CheckConsentRecorded      = "consent.recorded"
	CheckVolumeWithinLimit    = "volume.within-limit"
	CheckOverrideEmergency    = "override.emergency"
	CheckAgreementVersion     = "agreement.version"
	CheckNotification         = "notification.permitted"
	CheckBasisLawEnforcement  = "basis.law-enforcement"
)

// CheckCodes lists every check code, in the order Decide runs them.
var CheckCodes = []string{
	CheckPartyIdentified, CheckRecipientActive, CheckPurposeNotProhibited, CheckConsentRecorded,
	CheckAgreementExists, CheckAgreementVersion, CheckAgreementActive, CheckAgreementInForce, CheckAgreementReview,
	CheckAgreementDPIA, CheckPartyIsSender, CheckFlowPermitted, CheckPurposePermitted, CheckBasisArticle6,
	CheckBasisLawEnforcement, CheckCategoriesPermitted, CheckBasisSpecialCategory, CheckBasisCriminalOffence, CheckBasisExemption,
	CheckSubjectsNamed, CheckSubjectsWithinLimit, CheckAuthoriserRank, CheckVolumeWithinLimit,
	CheckJustificationPresent, CheckNotification, CheckOverrideEmergency,
}

// Check is one test the decision ran.
type Check struct {
	Code    string `json:"code"`
	Passed  bool   `json:"passed"`
	Message string `json:"message"`
}

// Decision is the outcome of Decide with every check it ran, in order.
type Decision struct {
	Outcome Outcome `json:"outcome"`
	// Agreement is the id@version decided against, empty if none applied.
	Agreement string `json:"agreement,omitempty"`
	// Flow is the index of the matching flow in the agreement, -1 if none.
	Flow int `json:"flow"`
	// Regime is the law the decision applied: uk-gdpr or dpa-part-3 (the
	// flow's), uk-gdpr for an emergency override; empty if no flow applied.
	Regime string  `json:"regime,omitempty"`
	Checks []Check `json:"checks"`
	// ReviewBy is set on an emergency override: the DPO must review it by then.
	ReviewBy time.Time `json:"review_by,omitzero"`
	// Handler is the council service that answers an inbound request on the flow.
	Handler string `json:"handler,omitempty"`
}

// Failed returns the checks that did not pass.
func (d *Decision) Failed() []Check {
	var out []Check
	for _, c := range d.Checks {
		if !c.Passed {
			out = append(out, c)
		}
	}
	return out
}

// FailedCodes returns the codes of the checks that did not pass.
func (d *Decision) FailedCodes() []string {
	var out []string
	for _, c := range d.Checks {
		if !c.Passed {
			out = append(out, c.Code)
		}
	}
	return out
}

// Request is what a party asks to do: disclose data to a recipient under an
// agreement (or, in an emergency, under none). Sender comes from the
// verified certificate, never from the request body.
type Request struct {
	Sender    string
	Recipient string
	Agreement string
	// AgreementVersion, if not zero, is the version the sender relies on; it
	// must be the version in force.
	AgreementVersion int
	Purpose          string
	LawfulBasis      string
	SpecialCategory  []string
	CriminalOffence  []string
	Exemption        string
	// Instrument is the statutory power relied on (its code), if named.
	Instrument     string
	DataCategories []string
	// NamedSubjects is how many identified subjects the request names.
	NamedSubjects int
	// SubjectCount is how many subjects the payload covers (bulk); at least NamedSubjects.
	SubjectCount   int
	Justification  string
	AuthoriserName string
	AuthoriserRank string
	// ConsentRef cites the consent record relied on.
	ConsentRef string
	// ConsentRecords is how many of the named subjects have their own
	// consent record cited: a prohibited purpose needs one for each. Where
	// the consent register was consulted (ConsentLookedUp), it is how many
	// of them the register bears out, and ConsentProblems says why the
	// others' do not (by subject position, never identifier).
	ConsentRecords  int
	ConsentLookedUp bool
	ConsentProblems string
	// Notification is the sender's decision on telling the subjects:
	// "" (the agreement's default), notify or withhold.
	Notification string
	// NotificationReviewAt is when a withheld notification is looked at
	// again; zero (or a time past) for the agreement's period.
	NotificationReviewAt time.Time
	// Emergency asks for the emergency override if the normal checks fail.
	Emergency bool
	// SentToday is how many exchanges the sender has declared to this
	// recipient under this agreement since midnight UTC, this one excluded.
	SentToday int
}

// Policy holds the deployment's settings that decisions depend on.
type Policy struct {
	// ReviewGrace is how long sharing continues after an agreement's review date.
	ReviewGrace time.Duration
	// OverrideReview is how soon the DPO must review an emergency override.
	OverrideReview time.Duration
	// DPIAReview is how old a DPIA may get before it lapses and sharing
	// pauses until it is revisited; zero: DPIAs do not lapse.
	DPIAReview time.Duration
	// NotificationReview is the longest a sender may withhold notification
	// before it is reviewed, where the agreement sets no period.
	NotificationReview time.Duration
}

// DefaultPolicy is used when a registry is built without one.
var DefaultPolicy = Policy{ReviewGrace: 30 * 24 * time.Hour, OverrideReview: 72 * time.Hour, DPIAReview: 365 * 24 * time.Hour,
	NotificationReview: 90 * 24 * time.Hour}

// decider accumulates checks. Deny by default: the outcome is allow only if
// every check that ran passed.
type decider struct {
	d      Decision
	failed int
	// senderKind is the kind of the sending organisation, whose officer
	// authorises the request: its ladder judges the authoriser's rank.
	senderKind PartyKind
}

func (x *decider) pass(code, msg string) {
	x.d.Checks = append(x.d.Checks, Check{Code: code, Passed: true, Message: msg})
}

func (x *decider) fail(code, msg string) {
	x.d.Checks = append(x.d.Checks, Check{Code: code, Passed: false, Message: msg})
	x.failed++
}

func (x *decider) check(code string, ok bool, passMsg string, failMsg func() string) {
	if ok {
		x.pass(code, passMsg)
	} else {
		x.fail(code, failMsg())
	}
}

// find returns the check with code, or nil.
func (x *decider) find(code string) *Check {
	for i := range x.d.Checks {
		if x.d.Checks[i].Code == code {
			return &x.d.Checks[i]
		}
	}
	return nil
}

// Decide decides whether req is allowed by the registry at time now. It is
// pure and deterministic: the same inputs give the same decision. It denies
// by default and returns every check it ran; a refusal names every failing
// check, not just the first.
func Decide(req *Request, reg *Registry, now time.Time) Decision {
	x := &decider{d: Decision{Outcome: Deny, Flow: -1, Checks: make([]Check, 0, len(CheckCodes))}}
	policy := reg.Policy()

	sender := reg.Party(req.Sender)
	if !sender.Active() {
		x.fail(CheckPartyIdentified, fmt.Sprintf("sender %q is not a registered, active party", req.Sender))
		return x.d // nothing else can be decided for an unknown sender
	}
	x.pass(CheckPartyIdentified, "the sender is a registered, active party")
	x.senderKind = sender.Kind

	recipient := reg.Party(req.Recipient)
	x.check(CheckRecipientActive, recipient.Active(), "the recipient is a registered, active party",
		func() string { return fmt.Sprintf("recipient %q is not a registered, active party", req.Recipient) })

	x.checkConsent(req)

	ag := reg.Agreement(req.Agreement)
	var flow *Flow
	if ag == nil {
		if req.Agreement == "" {
			x.fail(CheckAgreementExists, "no agreement is named")
		} else {
			x.fail(CheckAgreementExists, fmt.Sprintf("no agreement %q is registered", req.Agreement))
		}
	} else {
		x.pass(CheckAgreementExists, "the agreement is registered")
		x.d.Agreement = ag.Ref()
		flow = x.checkAgreement(req, ag, policy, now)
	}

	cats := classify(req.DataCategories)
	if req.Exemption != "" || cats.special || cats.criminal || req.Emergency {
		x.check(CheckJustificationPresent, strings.TrimSpace(req.Justification) != "", "a justification is recorded", func() string {
			return "a justification is required for emergency, exempt, special-category or criminal-offence disclosures"
		})
	}
	x.checkNotification(req, ag, policy, now)

	if x.failed == 0 {
		x.d.Outcome = Allow
		return x.d
	}
	if req.Emergency {
		x.emergency(req, recipient, ag, flow, cats, policy, now)
	}
	return x.d
}

// checkConsent runs the consent checks. Marketing, sale and commercial use
// are never allowed without the person's consent: the disclosure must rely
// on consent (A6-1-a) and cite a consent record for every subject, each of
// them named.
func (x *decider) checkConsent(req *Request) {
	prohibited := Prohibited(req.Purpose)
	if prohibited {
		x.check(CheckPurposeNotProhibited, req.LawfulBasis == BasisConsent,
			"purpose "+req.Purpose+" is allowed only with each subject's recorded consent", func() string {
				return fmt.Sprintf("purpose %q is prohibited unless the disclosure relies on consent (A6-1-a) with each subject's consent recorded", req.Purpose)
			})
	} else {
		x.pass(CheckPurposeNotProhibited, "the purpose is not marketing, sale or commercial use")
	}
	switch {
	case prohibited:
		perSubject := req.NamedSubjects > 0 && req.SubjectCount <= req.NamedSubjects && req.ConsentRecords >= req.NamedSubjects
		pass := "a consent record is cited for every subject"
		if req.ConsentLookedUp {
			pass = "every subject's consent is in the consent register, covers the purpose and stands"
		}
		x.check(CheckConsentRecorded, perSubject, pass, func() string {
			if req.ConsentLookedUp && req.ConsentProblems != "" {
				return fmt.Sprintf("purpose %q needs every subject's consent in the consent register: %s", req.Purpose, req.ConsentProblems)
			}
			return fmt.Sprintf("purpose %q needs every subject named with their own consent record (%d of %d named, %d in all)",
				req.Purpose, req.ConsentRecords, req.NamedSubjects, max(req.SubjectCount, req.NamedSubjects))
		})
	case req.LawfulBasis == BasisConsent || req.LawfulBasis == BasisPart3Consent || slices.Contains(req.SpecialCategory, ConditionExplicitConsent) ||
		slices.Contains(req.SpecialCategory, ConditionPart3Consent) || slices.Contains(req.CriminalOffence, ConditionSchedule1Consent):
		x.check(CheckConsentRecorded, req.ConsentRef != "" || req.ConsentRecords > 0, "a consent record is cited", func() string {
			return "this disclosure relies on consent but cites no consent record (consent_ref)"
		})
	}
}

// checkAgreement runs the checks on the agreement itself and returns the
// flow that the rest of the decision is judged by, or nil.
func (x *decider) checkAgreement(req *Request, ag *Agreement, policy Policy, now time.Time) *Flow {
	if req.AgreementVersion != 0 {
		x.check(CheckAgreementVersion, req.AgreementVersion == ag.Version && ag.Status.InForce(),
			fmt.Sprintf("version %d is the version in force", ag.Version), func() string {
				if !ag.Status.InForce() {
					return fmt.Sprintf("no version of %s is in force; version %d was named", ag.ID, req.AgreementVersion)
				}
				return fmt.Sprintf("version %d of %s is not the version in force (%d)", req.AgreementVersion, ag.ID, ag.Version)
			})
	}
	x.check(CheckAgreementActive, ag.Status == StatusActive, "the agreement is active",
		func() string { return fmt.Sprintf("agreement %s is %s, not active", ag.Ref(), ag.Status) })
	switch {
	case now.Before(ag.EffectiveFrom.Start()):
		x.fail(CheckAgreementInForce, "agreement "+ag.Ref()+" takes effect on "+ag.EffectiveFrom.String())
	case !ag.ExpiresAt.IsZero() && !now.Before(ag.ExpiresAt.End()):
		x.fail(CheckAgreementInForce, "agreement "+ag.Ref()+" expired on "+ag.ExpiresAt.String())
	default:
		x.pass(CheckAgreementInForce, "the agreement is in force")
	}
	x.check(CheckAgreementReview, ag.ReviewBy.IsZero() || now.Before(ag.ReviewBy.End().Add(policy.ReviewGrace)),
		"the agreement's review is not overdue", func() string {
			return fmt.Sprintf("agreement %s was due for review on %s; sharing pauses until it is reviewed", ag.Ref(), ag.ReviewBy)
		})
	switch {
	case !ag.DPIA.Complete(now):
		x.fail(CheckAgreementDPIA, "agreement "+ag.Ref()+" has no completed, approved privacy impact assessment")
	case ag.DPIA.Lapsed(now, policy.DPIAReview):
		x.fail(CheckAgreementDPIA, fmt.Sprintf("the privacy impact assessment of %s (%s, completed %s) lapsed on %s; sharing pauses until it is revisited",
			ag.Ref(), ag.DPIA.Reference, ag.DPIA.Completed, ag.DPIA.LapsesAt(policy.DPIAReview).Format(time.DateOnly)))
	default:
		x.pass(CheckAgreementDPIA, "a privacy impact assessment was completed before sharing and is current")
	}

	sends, matches := false, false
	for i := range ag.Flows {
		if f := &ag.Flows[i]; f.Sends(req.Sender) {
			sends = true
			matches = matches || f.Receives(req.Recipient)
		}
	}
	x.check(CheckPartyIsSender, sends, "the sender may send under this agreement",
		func() string { return fmt.Sprintf("%s is not a sender in any flow of %s", req.Sender, ag.Ref()) })
	if !matches {
		x.fail(CheckFlowPermitted, fmt.Sprintf("no flow in %s permits %s → %s", ag.Ref(), req.Sender, req.Recipient))
		return nil
	}
	x.pass(CheckFlowPermitted, "a flow permits sender → recipient")

	// Every flow from the sender to the recipient is considered: the
	// request is judged by the first that permits it, or else by the one
	// it fails least (the first of those), whose failures it reports.
	best, bestFailed := -1, 0
	for i := range ag.Flows {
		f := &ag.Flows[i]
		if !f.Sends(req.Sender) || !f.Receives(req.Recipient) {
			continue
		}
		mark, failed := len(x.d.Checks), x.failed
		x.checkFlow(req, f, i)
		n := x.failed - failed
		if n == 0 {
			x.d.Flow, x.d.Handler, x.d.Regime = i, f.Handler, f.RegimeOf()
			return f
		}
		x.d.Checks, x.failed = x.d.Checks[:mark], failed
		if best < 0 || n < bestFailed {
			best, bestFailed = i, n
		}
	}
	f := &ag.Flows[best]
	x.d.Flow, x.d.Handler, x.d.Regime = best, f.Handler, f.RegimeOf()
	x.checkFlow(req, f, best)
	return f
}

// categories says what kinds of data a request declares.
type categories struct {
	special, criminal, unknown bool
}

func classify(cats []string) categories {
	var c categories
	for _, name := range cats {
		switch Categories[name] {
		case CategorySpecial:
			c.special = true
		case CategoryCriminalOffence:
			c.criminal = true
		case CategoryOrdinary:
		default:
			c.unknown = true
		}
	}
	return c
}

// checkFlow runs the checks against flow i.
func (x *decider) checkFlow(req *Request, f *Flow, i int) {
	// Codes are compared as registered; one the gateway does not know
	// permits nothing, whatever a flow lists.
	x.check(CheckPurposePermitted, Purposes[req.Purpose] != "" && slices.Contains(f.Purposes, req.Purpose), "the purpose is permitted on this flow",
		func() string { return fmt.Sprintf("purpose %q is not permitted on flows[%d]", req.Purpose, i) })

	part3 := f.RegimeOf() == RegimePart3
	switch {
	case part3:
		x.checkPart3(req, f, i)
	case req.LawfulBasis == BasisLegitimateInterests:
		x.fail(CheckBasisArticle6, `"A6-1-f" (legitimate interests) is not available to a public authority performing its tasks`)
	case Article6[req.LawfulBasis] == "":
		x.fail(CheckBasisArticle6, fmt.Sprintf("%q is not an Art 6 lawful basis", req.LawfulBasis))
	case !slices.Contains(f.LawfulBases, req.LawfulBasis):
		x.fail(CheckBasisArticle6, fmt.Sprintf("lawful basis %q is not one flows[%d] permits (%s)", req.LawfulBasis, i, strings.Join(f.LawfulBases, ", ")))
	default:
		x.pass(CheckBasisArticle6, "the Art 6 lawful basis is permitted on this flow")
	}

	outside := ""
	for _, c := range req.DataCategories {
		if Categories[c] == "" || !slices.Contains(f.DataCategories, c) {
			outside = c
			break
		}
	}
	switch {
	case len(req.DataCategories) == 0:
		x.fail(CheckCategoriesPermitted, "no data categories are declared")
	case outside != "":
		x.fail(CheckCategoriesPermitted, fmt.Sprintf("data category %q is not permitted on flows[%d]", outside, i))
	default:
		x.pass(CheckCategoriesPermitted, "every data category is permitted on this flow")
	}

	if !part3 {
		cats := classify(req.DataCategories)
		x.checkSpecialCategory(req, f, cats.special)
		x.checkCriminalOffence(req, f, cats.criminal)
	}

	crimeExemption := req.Exemption == ExemptionCrimeAndTaxation
	switch {
	case req.Exemption == "":
		x.pass(CheckBasisExemption, "no exemption is claimed")
	case !slices.Contains(f.Exemptions, req.Exemption):
		x.fail(CheckBasisExemption, fmt.Sprintf("exemption %q is not one flows[%d] permits", req.Exemption, i))
	case !ExemptionServes(req.Exemption, req.Purpose):
		x.fail(CheckBasisExemption, fmt.Sprintf("exemption %s serves only %s, not %q", req.Exemption, strings.Join(ExemptionPurposes[req.Exemption], ", "), req.Purpose))
	case crimeExemption && (req.NamedSubjects == 0 || strings.TrimSpace(req.Justification) == ""):
		x.fail(CheckBasisExemption, "the crime and taxation exemption applies only case by case: it needs named subjects and a statement of why the disclosure is necessary")
	default:
		x.pass(CheckBasisExemption, "the exemption is permitted on this flow and serves the purpose")
	}

	if f.RequiresNamedSubject || crimeExemption {
		x.check(CheckSubjectsNamed, req.NamedSubjects > 0, "the subjects are named",
			func() string {
				return "this flow requires named subjects: requests that name no one (trawling) are refused"
			})
	}
	if f.MaxSubjects > 0 {
		n := max(req.SubjectCount, req.NamedSubjects)
		x.check(CheckSubjectsWithinLimit, n <= f.MaxSubjects, "the number of subjects is within the flow's limit",
			func() string {
				return fmt.Sprintf("%d subjects exceed the limit of flows[%d], %d per exchange", n, i, f.MaxSubjects)
			})
	}
	if len(f.AuthoriserRank) > 0 {
		switch {
		case strings.TrimSpace(req.AuthoriserName) == "":
			x.fail(CheckAuthoriserRank, "this flow needs a named authorising officer of rank "+f.AuthoriserRank.String()+" or above")
		case !f.AuthoriserRank.MeetsAs(x.senderKind, req.AuthoriserRank):
			x.fail(CheckAuthoriserRank, fmt.Sprintf("authoriser rank %q is not a %s rank meeting flows[%d]'s requirement (%s or above): the authorising officer belongs to the sending organisation", req.AuthoriserRank, x.senderKind, i, f.AuthoriserRank))
		default:
			x.pass(CheckAuthoriserRank, "the authoriser's rank meets the flow's requirement")
		}
	}
	if f.DailyVolume > 0 {
		x.check(CheckVolumeWithinLimit, req.SentToday < f.DailyVolume, "today's volume is within the flow's daily limit",
			func() string {
				return fmt.Sprintf("the daily limit of flows[%d], %d exchanges, is reached", i, f.DailyVolume)
			})
	}
}

// checkPart3 judges the basis of law-enforcement processing (DPA 2018
// Part 3): a s.35(2) condition the flow lists, for a s.31 purpose; for
// sensitive processing (the special categories, s.35(8)) consent (s.35(4))
// or a Sch 8 condition (s.35(5)) the flow lists. Criminal-offence data is
// law-enforcement data here: Art 10 does not apply, so no Art 10 or Sch 1
// condition may be cited.
func (x *decider) checkPart3(req *Request, f *Flow, i int) {
	cats := classify(req.DataCategories)
	bad := ""
	switch {
	case Part3Bases[req.LawfulBasis] == "":
		bad = fmt.Sprintf("flows[%d] is law-enforcement processing (DPA 2018 Part 3): its basis is a s.35(2) condition (%s), not %q",
			i, strings.Join(sortedKeys(Part3Bases), ", "), req.LawfulBasis)
	case !slices.Contains(f.LawfulBases, req.LawfulBasis):
		bad = fmt.Sprintf("condition %q is not one flows[%d] permits (%s)", req.LawfulBasis, i, strings.Join(f.LawfulBases, ", "))
	case !slices.Contains(LawEnforcementPurposes, req.Purpose):
		bad = fmt.Sprintf("%q is not a law-enforcement purpose (DPA 2018 s.31)", req.Purpose)
	case len(req.CriminalOffence) > 0:
		bad = "Art 10 and Sch 1 conditions do not apply to law-enforcement processing: cite none"
	case cats.special || len(req.SpecialCategory) > 0:
		n := 0
		for _, c := range req.SpecialCategory {
			if Part3Sensitive[c] == "" || !slices.Contains(f.SpecialCategory, c) {
				bad = fmt.Sprintf("condition %q is not a sensitive-processing condition flows[%d] permits (%s)", c, i, strings.Join(f.SpecialCategory, ", "))
				break
			}
			n++
		}
		if bad == "" && n == 0 {
			bad = "sensitive processing needs consent (DPA-S35-4) or a Sch 8 condition (DPA 2018 s.35(5))"
		}
	}
	if bad != "" {
		x.fail(CheckBasisLawEnforcement, bad)
		return
	}
	x.pass(CheckBasisLawEnforcement, "the s.35 conditions of law-enforcement processing are met on this flow")
}

func (x *decider) checkSpecialCategory(req *Request, f *Flow, special bool) {
	if !special && len(req.SpecialCategory) == 0 {
		x.pass(CheckBasisSpecialCategory, "no special-category data")
		return
	}
	if msg := specialConditions(req.SpecialCategory, f.SpecialCategory); msg != "" {
		x.fail(CheckBasisSpecialCategory, msg)
		return
	}
	x.pass(CheckBasisSpecialCategory, "the special-category conditions are permitted on this flow")
}

// specialConditions says what is wrong with the conditions relied on for
// special-category data ("" if nothing): each is one the flow permits, at
// least one is an Art 9(2) condition, and each that DPA 2018 s.10 requires
// one for comes with its Sch 1 condition.
func specialConditions(conds, permitted []string) string {
	if len(conds) == 0 {
		return "special-category data needs an Art 9(2) condition (and a DPA Sch 1 condition where one is required)"
	}
	art9 := 0
	for _, c := range conds {
		if !slices.Contains(permitted, c) {
			return fmt.Sprintf("condition %q is not one this flow permits for special-category data", c)
		}
		if _, ok := Article9[c]; ok {
			art9++
		} else if s, ok := Schedule1[c]; !ok || s.Article9 == "" {
			return fmt.Sprintf("%q is not an Art 9(2) condition or a DPA Sch 1 condition that completes one", c)
		}
	}
	if art9 == 0 {
		return "special-category data needs an Art 9(2) condition"
	}
	for _, c := range conds {
		if a, ok := Article9[c]; ok && a.NeedsSchedule && !hasScheduleFor(conds, c) {
			return fmt.Sprintf("%s needs its DPA Sch 1 condition (DPA 2018 s.10)", c)
		}
	}
	return ""
}

func hasScheduleFor(conds []string, art9 string) bool {
	for _, c := range conds {
		if s, ok := Schedule1[c]; ok && s.Article9 == art9 {
			return true
		}
	}
	return false
}

func (x *decider) checkCriminalOffence(req *Request, f *Flow, criminal bool) {
	if !criminal && len(req.CriminalOffence) == 0 {
		x.pass(CheckBasisCriminalOffence, "no criminal-offence data")
		return
	}
	if msg := criminalConditions(req.CriminalOffence); msg != "" {
		x.fail(CheckBasisCriminalOffence, msg)
		return
	}
	for _, c := range req.CriminalOffence {
		if !slices.Contains(f.CriminalOffence, c) {
			x.fail(CheckBasisCriminalOffence, fmt.Sprintf("condition %q is not one this flow permits for criminal-offence data", c))
			return
		}
	}
	x.pass(CheckBasisCriminalOffence, "the criminal-offence conditions are permitted on this flow")
}

// criminalConditions says what is wrong with the conditions relied on for
// criminal-offence data ("" if nothing): Art 10 (A10) with a DPA Sch 1
// condition (s.10(5)), and nothing else.
func criminalConditions(conds []string) string {
	a10, sch1 := false, false
	for _, c := range conds {
		switch {
		case c == ConditionArticle10:
			a10 = true
		case Article10Condition(c):
			sch1 = true
		default:
			return fmt.Sprintf("%q is not A10 or a DPA Sch 1 condition", c)
		}
	}
	if !a10 || !sch1 {
		return "criminal-offence data needs Art 10 (A10) with a DPA Sch 1 condition (DPA 2018 s.10(5)), e.g. A10 + DPA-S1-P2-10"
	}
	return ""
}

// checkNotification runs when the sender withholds notification from the
// subjects: only under an exemption, where the agreement withholds by
// default, or in an emergency (until the override review); and never for
// longer than the agreement's review period (policy.notification_review
// where it sets none).
func (x *decider) checkNotification(req *Request, ag *Agreement, policy Policy, now time.Time) {
	if req.Notification != "withhold" {
		return
	}
	bound := policy.NotificationReview
	if bound <= 0 {
		bound = DefaultPolicy.NotificationReview
	}
	byDefault := false
	if ag != nil {
		byDefault = ag.SubjectNotification.Default == "withhold"
		if ag.SubjectNotification.ReviewAfter > 0 {
			bound = ag.SubjectNotification.ReviewAfter.Std()
		}
	}
	switch {
	case req.Exemption == "" && !byDefault && !req.Emergency:
		x.fail(CheckNotification, "notification may be withheld only under a Sch 2 exemption, where the agreement withholds by default, or in an emergency")
	case req.NotificationReviewAt.After(now.Add(bound)):
		x.fail(CheckNotification, fmt.Sprintf("a withheld notification must be reviewed within %s, by %s", Duration(bound), now.Add(bound).UTC().Format(time.RFC3339)))
	default:
		x.pass(CheckNotification, "notification may be withheld; it is reviewed within "+Duration(bound).String())
	}
}

// emergency decides the emergency override once the normal checks have
// failed. An override waives paperwork — the agreement's review, its daily
// volume, the purposes and conditions its flow lists — never the law:
//
//   - only for a child or adult at risk or a serious risk to the public;
//   - with a lawful basis fit for an emergency: A6-1-d, or A6-1-e with a
//     safeguarding power; the Art 9 condition for special-category data
//     (A9-2-c, or A9-2-g with DPA-S1-P2-18); Art 10 with a Sch 1 condition
//     for criminal-offence data;
//   - with a named authoriser and a justification, never past a suspended
//     recipient, a prohibited purpose, a missing consent or a withheld
//     notification that may not be withheld;
//   - under an agreement only where it is active, in force, has a current
//     DPIA, names the version relied on, has the sender as a party, and its
//     flow allows overrides; the flow's categories, subjects, exemption and
//     authoriser rank still hold.
//
// A named agreement that cannot grant it is set aside: the request is judged
// by the rules for an emergency under no agreement (only to the police or a
// council service) and recorded as made under no agreement. The failed
// checks stay in the decision, so the record shows what was overridden; the
// DPO must review it.
func (x *decider) emergency(req *Request, recipient *Party, ag *Agreement, flow *Flow, cats categories, policy Policy, now time.Time) {
	refuse := func(msg string) { x.fail(CheckOverrideEmergency, msg) }
	passed := func(code string) bool { c := x.find(code); return c == nil || c.Passed }

	underAgreement := ag != nil && flow != nil
	for _, code := range []string{CheckAgreementVersion, CheckAgreementActive, CheckAgreementInForce, CheckAgreementDPIA, CheckPartyIsSender} {
		underAgreement = underAgreement && passed(code)
	}
	if underAgreement && !flow.EmergencyOverride {
		refuse("agreement " + ag.Ref() + " does not allow emergency overrides on this flow")
		return
	}
	if !underAgreement {
		// Recorded as made under no agreement.
		x.d.Agreement, x.d.Flow, x.d.Handler, x.d.Regime = "", -1, "", ""
	}

	// What the law needs, whatever the paperwork says; each failure is
	// recorded under its own check.
	law := map[string]string{}
	if req.LawfulBasis != BasisVitalInterests && (req.LawfulBasis != BasisPublicTask || !safeguardingPower(req, flow, underAgreement)) {
		law[CheckBasisArticle6] = fmt.Sprintf("an emergency disclosure needs a lawful basis fit for an emergency: A6-1-d (vital interests), or A6-1-e (public task) with a safeguarding power (%s); not %q",
			strings.Join(sortedKeys(SafeguardingPowers), ", "), req.LawfulBasis)
	}
	if cats.unknown || len(req.DataCategories) == 0 {
		law[CheckCategoriesPermitted] = "an emergency disclosure must declare its data categories, each a known one"
	}
	if cats.special && !slices.Contains(req.SpecialCategory, "A9-2-c") &&
		!(slices.Contains(req.SpecialCategory, "A9-2-g") && slices.Contains(req.SpecialCategory, "DPA-S1-P2-18")) {
		law[CheckBasisSpecialCategory] = "special-category data in an emergency needs A9-2-c (vital interests), or A9-2-g with DPA-S1-P2-18 (safeguarding)"
	}
	if cats.criminal {
		if msg := criminalConditions(req.CriminalOffence); msg != "" {
			law[CheckBasisCriminalOffence] = msg
		}
	}
	for _, code := range []string{CheckBasisArticle6, CheckCategoriesPermitted, CheckBasisSpecialCategory, CheckBasisCriminalOffence} {
		msg, broken := law[code]
		switch c := x.find(code); {
		case c == nil && broken:
			x.fail(code, msg)
		case c == nil:
			x.pass(code, "fit for an emergency disclosure")
		case broken && c.Passed:
			*c = Check{Code: code, Passed: false, Message: msg}
			x.failed++
		}
	}

	// A set-aside agreement's period does not bound a withheld notification:
	// the policy's does.
	if bound := policy.NotificationReview; !underAgreement && req.Notification == "withhold" {
		if bound <= 0 {
			bound = DefaultPolicy.NotificationReview
		}
		if c := x.find(CheckNotification); c != nil && c.Passed && req.NotificationReviewAt.After(now.Add(bound)) {
			*c = Check{Code: CheckNotification, Passed: false, Message: fmt.Sprintf("under no agreement a withheld notification must be reviewed within %s", Duration(bound))}
			x.failed++
		}
	}

	// What no emergency overrides.
	blocking := []string{CheckRecipientActive, CheckPurposeNotProhibited, CheckConsentRecorded, CheckJustificationPresent, CheckNotification}
	if underAgreement {
		blocking = append(blocking, CheckCategoriesPermitted, CheckBasisExemption, CheckSubjectsNamed, CheckSubjectsWithinLimit, CheckAuthoriserRank)
	}
	for _, code := range blocking {
		if !passed(code) {
			refuse("an emergency cannot override " + code)
			return
		}
	}
	for _, code := range []string{CheckBasisArticle6, CheckCategoriesPermitted, CheckBasisSpecialCategory, CheckBasisCriminalOffence} {
		if _, broken := law[code]; broken {
			refuse("an emergency cannot override " + code + ": that is the law, not paperwork")
			return
		}
	}
	if !VitalInterest(req.Purpose) {
		refuse(fmt.Sprintf("purpose %q is not one an emergency may override (safeguarding-child, safeguarding-adult, serious-risk-public)", req.Purpose))
		return
	}
	if !underAgreement && recipient.Kind != KindPolice && recipient.Kind != KindCouncilService {
		refuse("without an agreement that grants it, an emergency disclosure may go only to the police or a council service")
		return
	}
	if strings.TrimSpace(req.AuthoriserName) == "" {
		refuse("an emergency override needs a named authoriser")
		return
	}
	x.d.Outcome = AllowOverride
	x.d.Regime = RegimeUKGDPR // the emergency rules are those of UK GDPR
	x.d.ReviewBy = now.Add(policy.OverrideReview)
	under := "under no agreement"
	if underAgreement {
		under = "under " + ag.Ref()
	}
	x.pass(CheckOverrideEmergency, "emergency override "+under+": the disclosure may go at once; the failed checks above are recorded and the DPO must review it by "+x.d.ReviewBy.UTC().Format(time.RFC3339))
}

// safeguardingPower reports whether the disclosure relies on a safeguarding
// power: the instrument it names, or, under an agreement, one its flow lists.
func safeguardingPower(req *Request, flow *Flow, underAgreement bool) bool {
	if _, ok := SafeguardingPowers[req.Instrument]; ok {
		return true
	}
	if underAgreement && req.Instrument == "" {
		for _, in := range flow.Instruments {
			if _, ok := SafeguardingPowers[in.Code]; ok {
				return true
			}
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
