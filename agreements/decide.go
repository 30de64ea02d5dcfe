package agreements

import (
	"fmt"
	"slices"
	"strconv"
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
// agreement. Sender comes from the verified certificate, never the body.
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
	Emergency      bool
}

// decider accumulates checks. Deny by default: the outcome is allow only if
// Decide reaches the end with every check passed.
type decider struct {
	d Decision
}

func (x *decider) pass(code, msg string) {
	x.d.Checks = append(x.d.Checks, Check{Code: code, Passed: true, Message: msg})
}

func (x *decider) fail(code, msg string) {
	x.d.Checks = append(x.d.Checks, Check{Code: code, Passed: false, Message: msg})
}

func (x *decider) check(ok bool, code, passMsg, failMsg string) bool {
	if ok {
		x.pass(code, passMsg)
	} else {
		x.fail(code, failMsg)
	}
	return ok
}

func (x *decider) ok() bool {
	for _, c := range x.d.Checks {
		if !c.Passed {
			return false
		}
	}
	return len(x.d.Checks) > 0
}

// Decide decides whether req is allowed by the registry at time now. It is
// pure and deterministic: the same inputs give the same decision. It denies
// by default and returns every check it ran.
func Decide(req *Request, reg *Registry, now time.Time) Decision {
	x := &decider{d: Decision{Outcome: Deny, Flow: -1}}

	sender := reg.Party(req.Sender)
	if !x.check(sender.Active(), CheckPartyIdentified,
		"sender "+req.Sender+" is a registered, active party",
		"sender "+strconv.Quote(req.Sender)+" is not a registered, active party") {
		return x.d
	}

	recipient := reg.Party(req.Recipient)
	x.check(recipient.Active(), CheckRecipientActive,
		"recipient "+req.Recipient+" is active",
		"recipient "+strconv.Quote(req.Recipient)+" is not a registered, active party")

	ag := reg.Agreement(req.Agreement)
	if !x.check(ag != nil, CheckAgreementExists,
		"agreement "+req.Agreement+" is registered",
		"no agreement "+strconv.Quote(req.Agreement)+" is registered") {
		return x.d
	}
	x.d.Agreement = ag.Ref()
	x.check(ag.Status == StatusActive, CheckAgreementActive,
		"agreement "+ag.Ref()+" is active",
		fmt.Sprintf("agreement %s is %s, not active", ag.Ref(), ag.Status))

	flow := -1
	for i := range ag.Flows {
		if ag.Flows[i].Sends(req.Sender) && ag.Flows[i].Receives(req.Recipient) {
			flow = i
			break
		}
	}
	if !x.check(flow >= 0, CheckFlowPermitted,
		fmt.Sprintf("flows[%d] permits %s → %s", flow, req.Sender, req.Recipient),
		fmt.Sprintf("no flow in %s permits %s → %s", ag.Ref(), req.Sender, req.Recipient)) {
		return x.d
	}
	x.d.Flow = flow
	f := &ag.Flows[flow]
	x.check(slices.Contains(f.Purposes, req.Purpose), CheckPurposePermitted,
		"purpose "+req.Purpose+" is permitted on this flow",
		fmt.Sprintf("purpose %q is not permitted on flows[%d]", req.Purpose, flow))

	if x.ok() {
		x.d.Outcome = Allow
	}
	return x.d
}
