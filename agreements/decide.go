package agreements

import (
	"fmt"
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
)

// CheckCodes lists every check code, in the order Decide runs them.
var CheckCodes = []string{
	CheckPartyIdentified, CheckRecipientActive, CheckPurposeNotProhibited, CheckConsentRecorded,
	CheckAgreementExists, CheckAgreementActive, CheckAgreementInForce, CheckAgreementReview, CheckAgreementDPIA,
	CheckPartyIsSender, CheckFlowPermitted, CheckPurposePermitted, CheckBasisArticle6, CheckCategoriesPermitted,
	CheckBasisSpecialCategory, CheckBasisCriminalOffence, CheckBasisExemption, CheckSubjectsNamed,
	CheckSubjectsWithinLimit, CheckAuthoriserRank, CheckJustificationPresent, CheckVolumeWithinLimit,
	CheckOverrideEmergency,
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
	Flow   int     `json:"flow"`
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
	Sender          string
	Recipient       string
	Agreement       string
	Purpose         string
	LawfulBasis     string
	SpecialCategory []string
	CriminalOffence []string
	Exemption       string
	DataCategories  []string
	// NamedSubjects is how many identified subjects the request names.
	NamedSubjects int
	// SubjectCount is how many subjects the payload covers (bulk); at least NamedSubjects.
	SubjectCount   int
	Justification  string
	AuthoriserName string
	AuthoriserRank string
	ConsentRef     string
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
}

// DefaultPolicy is used when a registry is built without one.
var DefaultPolicy = Policy{ReviewGrace: 30 * 24 * time.Hour, OverrideReview: 72 * time.Hour, DPIAReview: 365 * 24 * time.Hour}

// decider accumulates checks. Deny by default: the outcome is allow only if
// every check that ran passed.
type decider struct {
	d      Decision
	failed int
}

func (x *decider) pass(code, msg string) {
	x.d.Checks = append(x.d.Checks, Check{Code: code, Passed: true, Message: msg})
}

func (x *decider) fail(code, msg string) {
	x.d.Checks = append(x.d.Checks, Check{Code: code, Passed: false, Message: msg})
	x.failed++
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

	recipient := reg.Party(req.Recipient)
	if recipient.Active() {
		x.pass(CheckRecipientActive, "the recipient is a registered, active party")
	} else {
		x.fail(CheckRecipientActive, fmt.Sprintf("recipient %q is not a registered, active party", req.Recipient))
	}

	// Marketing and commercial use: never without the person's consent.
	needConsent := Prohibited(req.Purpose) || req.LawfulBasis == BasisConsent || slices.Contains(req.SpecialCategory, ConditionExplicitConsent)
	if Prohibited(req.Purpose) {
		if req.ConsentRef != "" {
			x.pass(CheckPurposeNotProhibited, "purpose "+req.Purpose+" is allowed only with the consent recorded")
		} else {
			x.fail(CheckPurposeNotProhibited, fmt.Sprintf("purpose %q is prohibited without the data subject's recorded consent", req.Purpose))
		}
	} else {
		x.pass(CheckPurposeNotProhibited, "the purpose is not marketing, sale or commercial use")
	}
	if needConsent {
		if req.ConsentRef != "" {
			x.pass(CheckConsentRecorded, "consent record "+req.ConsentRef+" is cited")
		} else {
			x.fail(CheckConsentRecorded, "this disclosure relies on consent but cites no consent record (consent_ref)")
		}
	}

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
	if flow != nil {
		x.checkFlow(req, flow)
	}

	if x.failed == 0 {
		x.d.Outcome = Allow
		return x.d
	}
	if req.Emergency {
		x.emergency(req, recipient, ag, flow, policy, now)
	}
	return x.d
}

// checkAgreement runs the checks on the agreement itself and returns the
// flow that matches sender and recipient, or nil.
func (x *decider) checkAgreement(req *Request, ag *Agreement, policy Policy, now time.Time) *Flow {
	if ag.Status == StatusActive {
		x.pass(CheckAgreementActive, "the agreement is active")
	} else {
		x.fail(CheckAgreementActive, fmt.Sprintf("agreement %s is %s, not active", ag.Ref(), ag.Status))
	}
	switch {
	case now.Before(ag.EffectiveFrom.Start()):
		x.fail(CheckAgreementInForce, "agreement "+ag.Ref()+" takes effect on "+ag.EffectiveFrom.String())
	case !ag.ExpiresAt.IsZero() && !now.Before(ag.ExpiresAt.End()):
		x.fail(CheckAgreementInForce, "agreement "+ag.Ref()+" expired on "+ag.ExpiresAt.String())
	default:
		x.pass(CheckAgreementInForce, "the agreement is in force")
	}
	if ag.ReviewBy.IsZero() || now.Before(ag.ReviewBy.End().Add(policy.ReviewGrace)) {
		x.pass(CheckAgreementReview, "the agreement's review is not overdue")
	} else {
		x.fail(CheckAgreementReview, fmt.Sprintf("agreement %s was due for review on %s; sharing pauses until it is reviewed", ag.Ref(), ag.ReviewBy))
	}
	switch {
	case !ag.DPIA.Complete(now):
		x.fail(CheckAgreementDPIA, "agreement "+ag.Ref()+" has no completed, approved privacy impact assessment")
	case ag.DPIA.Lapsed(now, policy.DPIAReview):
		x.fail(CheckAgreementDPIA, fmt.Sprintf("the privacy impact assessment of %s (%s, completed %s) lapsed on %s; sharing pauses until it is revisited",
			ag.Ref(), ag.DPIA.Reference, ag.DPIA.Completed, ag.DPIA.LapsesAt(policy.DPIAReview).Format(time.DateOnly)))
	default:
		x.pass(CheckAgreementDPIA, "a privacy impact assessment was completed before sharing and is current")
	}

	sends := false
	var match *Flow
	for i := range ag.Flows {
		f := &ag.Flows[i]
		if f.Sends(req.Sender) {
			sends = true
			if f.Receives(req.Recipient) {
				match = f
				x.d.Flow = i
				break
			}
		}
	}
	if sends {
		x.pass(CheckPartyIsSender, "the sender may send under this agreement")
	} else {
		x.fail(CheckPartyIsSender, fmt.Sprintf("%s is not a sender in any flow of %s", req.Sender, ag.Ref()))
	}
	if match == nil {
		x.fail(CheckFlowPermitted, fmt.Sprintf("no flow in %s permits %s → %s", ag.Ref(), req.Sender, req.Recipient))
		return nil
	}
	x.pass(CheckFlowPermitted, "a flow permits sender → recipient")
	x.d.Handler = match.Handler
	return match
}

// checkFlow runs the checks against the matching flow.
func (x *decider) checkFlow(req *Request, f *Flow) {
	if slices.Contains(f.Purposes, req.Purpose) {
		x.pass(CheckPurposePermitted, "the purpose is permitted on this flow")
	} else {
		x.fail(CheckPurposePermitted, fmt.Sprintf("purpose %q is not permitted on flows[%d]", req.Purpose, x.d.Flow))
	}

	switch {
	case req.LawfulBasis == BasisLegitimateInterests:
		x.fail(CheckBasisArticle6, `"A6-1-f" (legitimate interests) is not available to a public authority performing its tasks`)
	case !slices.Contains(f.LawfulBases, req.LawfulBasis):
		x.fail(CheckBasisArticle6, fmt.Sprintf("lawful basis %q is not one this flow permits (%s)", req.LawfulBasis, strings.Join(f.LawfulBases, ", ")))
	default:
		x.pass(CheckBasisArticle6, "the Art 6 lawful basis is permitted on this flow")
	}

	special, criminal, outside := false, false, ""
	for _, c := range req.DataCategories {
		switch Categories[c] {
		case CategorySpecial:
			special = true
		case CategoryCriminalOffence:
			criminal = true
		}
		if outside == "" && !slices.Contains(f.DataCategories, c) {
			outside = c
		}
	}
	switch {
	case len(req.DataCategories) == 0:
		x.fail(CheckCategoriesPermitted, "no data categories are declared")
	case outside != "":
		x.fail(CheckCategoriesPermitted, fmt.Sprintf("data category %q is not permitted on this flow", outside))
	default:
		x.pass(CheckCategoriesPermitted, "every data category is permitted on this flow")
	}

	x.checkSpecialCategory(req, f, special)
	x.checkCriminalOffence(req, f, criminal)

	crimeExemption := req.Exemption == ExemptionCrimeAndTaxation
	switch {
	case req.Exemption == "":
		x.pass(CheckBasisExemption, "no exemption is claimed")
	case !slices.Contains(f.Exemptions, req.Exemption):
		x.fail(CheckBasisExemption, fmt.Sprintf("exemption %q is not one this flow permits", req.Exemption))
	case crimeExemption && (req.NamedSubjects == 0 || strings.TrimSpace(req.Justification) == ""):
		x.fail(CheckBasisExemption, "the crime and taxation exemption applies only case by case: it needs named subjects and a statement of why the disclosure is necessary")
	default:
		x.pass(CheckBasisExemption, "the exemption is permitted on this flow")
	}

	if f.RequiresNamedSubject || crimeExemption {
		if req.NamedSubjects > 0 {
			x.pass(CheckSubjectsNamed, "the subjects are named")
		} else {
			x.fail(CheckSubjectsNamed, "this flow requires named subjects: requests that name no one (trawling) are refused")
		}
	}
	if f.MaxSubjects > 0 {
		n := max(req.SubjectCount, req.NamedSubjects)
		if n <= f.MaxSubjects {
			x.pass(CheckSubjectsWithinLimit, "the number of subjects is within the flow's limit")
		} else {
			x.fail(CheckSubjectsWithinLimit, fmt.Sprintf("%d subjects exceed this flow's limit of %d per exchange", n, f.MaxSubjects))
		}
	}
	if f.AuthoriserRank != "" {
		switch {
		case strings.TrimSpace(req.AuthoriserName) == "":
			x.fail(CheckAuthoriserRank, "this flow needs a named authorising officer of rank "+f.AuthoriserRank+" or above")
		case !RankAtLeast(req.AuthoriserRank, f.AuthoriserRank):
			x.fail(CheckAuthoriserRank, fmt.Sprintf("authoriser rank %q is below the required %s", req.AuthoriserRank, f.AuthoriserRank))
		default:
			x.pass(CheckAuthoriserRank, "the authoriser's rank meets the flow's requirement")
		}
	}
	if req.Exemption != "" || special || criminal {
		if strings.TrimSpace(req.Justification) != "" {
			x.pass(CheckJustificationPresent, "a justification is recorded")
		} else {
			x.fail(CheckJustificationPresent, "a justification is required for exempt, special-category or criminal-offence disclosures")
		}
	}
	if f.DailyVolume > 0 {
		if req.SentToday < f.DailyVolume {
			x.pass(CheckVolumeWithinLimit, "today's volume is within the flow's daily limit")
		} else {
			x.fail(CheckVolumeWithinLimit, fmt.Sprintf("the flow's daily limit of %d exchanges is reached", f.DailyVolume))
		}
	}
}

func (x *decider) checkSpecialCategory(req *Request, f *Flow, special bool) {
	if !special {
		if len(req.SpecialCategory) == 0 {
			x.pass(CheckBasisSpecialCategory, "no special-category data")
			return
		}
	}
	if len(req.SpecialCategory) == 0 {
		x.fail(CheckBasisSpecialCategory, "special-category data needs an Art 9(2) condition (and a DPA Sch 1 condition where one is required)")
		return
	}
	var art9 []string
	for _, c := range req.SpecialCategory {
		if !slices.Contains(f.SpecialCategory, c) {
			x.fail(CheckBasisSpecialCategory, fmt.Sprintf("condition %q is not one this flow permits for special-category data", c))
			return
		}
		if _, ok := Article9[c]; ok {
			art9 = append(art9, c)
		}
	}
	if len(art9) == 0 {
		x.fail(CheckBasisSpecialCategory, "special-category data needs an Art 9(2) condition")
		return
	}
	for _, c := range art9 {
		if Article9[c].NeedsSchedule && !hasScheduleFor(req.SpecialCategory, c) {
			x.fail(CheckBasisSpecialCategory, fmt.Sprintf("%s needs a DPA Sch 1 condition (DPA 2018 s.10)", c))
			return
		}
	}
	x.pass(CheckBasisSpecialCategory, "the special-category conditions are permitted on this flow")
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
	if !slices.Contains(req.CriminalOffence, ConditionArticle10) {
		x.fail(CheckBasisCriminalOffence, "criminal-offence data needs an Art 10 condition (A10) with its DPA Sch 1 condition")
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

// emergency decides the emergency override once the normal checks have
// failed: only for a child or adult at risk or a serious risk to the public,
// only where the agreement allows it (or, with no agreement for this pair,
// only to the police or a council service), with a named authoriser and a
// justification. The failed checks stay in the decision, so the record
// shows what was overridden; the DPO must review it.
func (x *decider) emergency(req *Request, recipient *Party, ag *Agreement, flow *Flow, policy Policy, now time.Time) {
	refuse := func(msg string) { x.fail(CheckOverrideEmergency, msg) }
	for _, c := range x.d.Checks {
		if !c.Passed && (c.Code == CheckRecipientActive || c.Code == CheckPurposeNotProhibited || c.Code == CheckConsentRecorded) {
			refuse("an emergency cannot override " + c.Code)
			return
		}
	}
	if !VitalInterest(req.Purpose) {
		refuse(fmt.Sprintf("purpose %q is not one an emergency may override (safeguarding-child, safeguarding-adult, serious-risk-public)", req.Purpose))
		return
	}
	switch {
	case flow != nil && !flow.EmergencyOverride:
		refuse("agreement " + ag.Ref() + " does not allow emergency overrides on this flow")
		return
	case flow == nil && recipient.Kind != KindPolice && recipient.Kind != KindCouncilService:
		refuse("without an agreement that covers it, an emergency disclosure may go only to the police or a council service")
		return
	}
	if strings.TrimSpace(req.AuthoriserName) == "" || strings.TrimSpace(req.Justification) == "" {
		refuse("an emergency override needs a named authoriser and a justification")
		return
	}
	x.d.Outcome = AllowOverride
	x.d.ReviewBy = now.Add(policy.OverrideReview)
	x.pass(CheckOverrideEmergency, "emergency override: the disclosure may go at once; the failed checks above are recorded and the DPO must review it by "+x.d.ReviewBy.UTC().Format(time.RFC3339))
}
