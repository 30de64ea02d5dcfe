package agreements

import (
	"slices"
	"strings"
	"unicode"
)

// Legal codes are the stable identifiers agreements and requests use for the
// provisions of UK GDPR and the Data Protection Act 2018 (DPA) they rely on.
// Wording follows legislation.gov.uk.

// Article6 maps UK GDPR Art 6(1) lawful bases to their meaning.
var Article6 = map[string]string{
	"A6-1-a": "Art 6(1)(a) consent",
	"A6-1-b": "Art 6(1)(b) performance of a contract",
	"A6-1-c": "Art 6(1)(c) legal obligation",
	"A6-1-d": "Art 6(1)(d) vital interests",
	"A6-1-e": "Art 6(1)(e) public task",
	"A6-1-f": "Art 6(1)(f) legitimate interests",
}

// BasisConsent and BasisLegitimateInterests are the Art 6 bases with rules of
// their own.
const (
	BasisConsent              = "A6-1-a"
	BasisVitalInterests       = "A6-1-d"
	BasisPublicTask           = "A6-1-e"
	ConditionSchedule1Consent = "DPA-S1-P3-29"
	BasisPart3Consent         = "DPA-S35-2-a"
	ConditionPart3Consent     = "DPA-S35-4"
	BasisLegitimateInterests  = "A6-1-f"
	ConditionExplicitConsent  = "A9-2-a"
	ConditionArticle10        = "A10"
	ExemptionCrimeAndTaxation = "DPA-S2-P1-2"
	ExemptionRequiredByLaw    = "DPA-S2-P1-5"
)

// Article9 maps UK GDPR Art 9(2) conditions to their meaning, and says
// whether DPA 2018 s.10 requires a Schedule 1 condition with it.
var Article9 = map[string]struct {
	Meaning       string
	NeedsSchedule bool
}{
	"A9-2-a": {"Art 9(2)(a) explicit consent", false},
	"A9-2-b": {"Art 9(2)(b) employment, social security and social protection law", true},
	"A9-2-c": {"Art 9(2)(c) vital interests of a person unable to consent", false},
	"A9-2-d": {"Art 9(2)(d) not-for-profit bodies", false},
	"A9-2-e": {"Art 9(2)(e) made manifestly public by the data subject", false},
	"A9-2-f": {"Art 9(2)(f) legal claims or courts acting in their judicial capacity", false},
	"A9-2-g": {"Art 9(2)(g) reasons of substantial public interest", true},
	"A9-2-h": {"Art 9(2)(h) health or social care", true},
	"A9-2-i": {"Art 9(2)(i) public health", true},
	"A9-2-j": {"Art 9(2)(j) archiving, research and statistics", true},
}

// Schedule1 maps DPA 2018 Schedule 1 conditions to their meaning and the
// Art 9(2) condition they complete. Every condition of Parts 1, 2 and 3 can
// also meet Art 10 for criminal-offence data (DPA 2018 s.10(5)); Part 3
// conditions serve only Art 10 (their Article9 is "").
var Schedule1 = map[string]struct {
	Meaning  string
	Article9 string
	// Part2 conditions need the controller's appropriate policy document.
	Part2 bool
}{
	"DPA-S1-P1-1":  {"Sch 1 Pt 1 para 1 employment, social security and social protection", "A9-2-b", false},
	"DPA-S1-P1-2":  {"Sch 1 Pt 1 para 2 health or social care purposes", "A9-2-h", false},
	"DPA-S1-P1-3":  {"Sch 1 Pt 1 para 3 public health", "A9-2-i", false},
	"DPA-S1-P1-4":  {"Sch 1 Pt 1 para 4 research etc", "A9-2-j", false},
	"DPA-S1-P2-6":  {"Sch 1 Pt 2 para 6 statutory and government purposes", "A9-2-g", true},
	"DPA-S1-P2-7":  {"Sch 1 Pt 2 para 7 administration of justice and parliamentary purposes", "A9-2-g", true},
	"DPA-S1-P2-8":  {"Sch 1 Pt 2 para 8 equality of opportunity or treatment", "A9-2-g", true},
	"DPA-S1-P2-10": {"Sch 1 Pt 2 para 10 preventing or detecting unlawful acts", "A9-2-g", true},
	"DPA-S1-P2-11": {"Sch 1 Pt 2 para 11 protecting the public", "A9-2-g", true},
	"DPA-S1-P2-12": {"Sch 1 Pt 2 para 12 regulatory requirements", "A9-2-g", true},
	"DPA-S1-P2-14": {"Sch 1 Pt 2 para 14 preventing fraud", "A9-2-g", true},
	"DPA-S1-P2-15": {"Sch 1 Pt 2 para 15 suspicion of terrorist financing or money laundering", "A9-2-g", true},
	"DPA-S1-P2-16": {"Sch 1 Pt 2 para 16 support for individuals with a particular disability or medical condition", "A9-2-g", true},
	"DPA-S1-P2-17": {"Sch 1 Pt 2 para 17 counselling", "A9-2-g", true},
	"DPA-S1-P2-18": {"Sch 1 Pt 2 para 18 safeguarding of children and of individuals at risk", "A9-2-g", true},
	"DPA-S1-P2-19": {"Sch 1 Pt 2 para 19 safeguarding of economic well-being of certain individuals", "A9-2-g", true},
	"DPA-S1-P2-24": {"Sch 1 Pt 2 para 24 disclosure to elected representatives", "A9-2-g", true},
	"DPA-S1-P3-29": {"Sch 1 Pt 3 para 29 consent", "", false},
	"DPA-S1-P3-30": {"Sch 1 Pt 3 para 30 protecting individual's vital interests", "", false},
	"DPA-S1-P3-31": {"Sch 1 Pt 3 para 31 processing by not-for-profit bodies", "", false},
	"DPA-S1-P3-32": {"Sch 1 Pt 3 para 32 personal data in the public domain", "", false},
	"DPA-S1-P3-33": {"Sch 1 Pt 3 para 33 legal claims", "", false},
	"DPA-S1-P3-34": {"Sch 1 Pt 3 para 34 judicial acts", "", false},
	"DPA-S1-P3-36": {"Sch 1 Pt 3 para 36 extension of Part 2 conditions referring to substantial public interest", "", true},
}

// Schedule2 maps DPA 2018 Schedule 2 exemptions to their meaning.
var Schedule2 = map[string]string{
	"DPA-S2-P1-2": "Sch 2 Pt 1 para 2 crime and taxation: only to the extent that applying the listed provisions would prejudice those purposes",
	"DPA-S2-P1-5": "Sch 2 Pt 1 para 5 disclosure required by law or in connection with legal proceedings",
}

// ExemptionPurposes binds each Sch 2 exemption to the purposes it serves: an
// exemption claimed for any other purpose does not apply. Para 2 serves the
// prevention or detection of crime, the apprehension or prosecution of
// offenders and the assessment or collection of tax (para 2(1)(a)–(c));
// para 5 disclosure required by an enactment, rule of law or court order, or
// for legal proceedings (para 5(1)–(3)).
var ExemptionPurposes = map[string][]string{
	"DPA-S2-P1-2": {"crime-prevention-detection", "fraud-prevention-detection", "tax-assessment-collection"},
	"DPA-S2-P1-5": {"legal-proceedings", "statutory-duty"},
}

// ExemptionServes reports whether exemption serves purpose.
func ExemptionServes(exemption, purpose string) bool {
	return slices.Contains(ExemptionPurposes[exemption], purpose)
}

// Article10Condition reports whether code is a DPA Sch 1 condition that can
// meet Art 10 for criminal-offence data (Parts 1, 2 and 3, s.10(5)).
func Article10Condition(code string) bool {
	_, ok := Schedule1[code]
	return ok
}

// Part3Bases are the conditions of DPA 2018 s.35(2) for law-enforcement
// processing: a flow under dpa-part-3 lists them as its lawful bases.
var Part3Bases = map[string]string{
	"DPA-S35-2-a": "DPA 2018 s.35(2)(a) the data subject has consented to the processing for the law-enforcement purpose",
	"DPA-S35-2-b": "DPA 2018 s.35(2)(b) necessary for a task carried out for that purpose by a competent authority",
}

// Part3Sensitive are the conditions for sensitive processing under DPA 2018
// Part 3: consent (s.35(4)), or strict necessity with a Sch 8 condition
// (s.35(5)); both need an appropriate policy document (s.42).
var Part3Sensitive = map[string]string{
	"DPA-S35-4": "DPA 2018 s.35(4) sensitive processing with the data subject's consent",
	"DPA-S8-1":  "DPA 2018 Sch 8 para 1 statutory etc purposes (s.35(5), strictly necessary)",
	"DPA-S8-2":  "DPA 2018 Sch 8 para 2 administration of justice",
	"DPA-S8-3":  "DPA 2018 Sch 8 para 3 protecting individual's vital interests",
	"DPA-S8-4":  "DPA 2018 Sch 8 para 4 safeguarding of children and of individuals at risk",
	"DPA-S8-5":  "DPA 2018 Sch 8 para 5 personal data already in the public domain",
	"DPA-S8-6":  "DPA 2018 Sch 8 para 6 legal claims",
	"DPA-S8-7":  "DPA 2018 Sch 8 para 7 judicial acts",
	"DPA-S8-8":  "DPA 2018 Sch 8 para 8 preventing fraud",
	"DPA-S8-9":  "DPA 2018 Sch 8 para 9 archiving etc",
}

// LawEnforcementPurposes are the purposes of DPA 2018 s.31 among the
// gateway's: the prevention, investigation, detection or prosecution of
// criminal offences (fraud among them). Only these may go on a dpa-part-3
// flow.
var LawEnforcementPurposes = []string{"crime-prevention-detection", "fraud-prevention-detection"}

// Purposes a flow may permit.
var Purposes = map[string]string{
	"crime-prevention-detection": "prevention or detection of crime, apprehension or prosecution of offenders",
	"fraud-prevention-detection": "prevention or detection of fraud",
	"tax-assessment-collection":  "assessment or collection of tax",
	"safeguarding-child":         "protecting a child at risk",
	"safeguarding-adult":         "protecting an adult at risk",
	"serious-risk-public":        "serious risk of harm to the public, staff or professionals",
	"legal-proceedings":          "a legal duty or legal proceedings",
	"statutory-duty":             "a statutory duty",
	"public-funds-audit":         "audit of public funds",
	"benefit-administration":     "administration of benefits",
	"service-delivery":           "delivery of council services",
	// Prohibited without a consent record.
	"marketing":        "marketing",
	"direct-marketing": "direct marketing",
	"commercial":       "commercial use",
	"sale":             "sale of data",
}

// Prohibited reports whether a purpose is never allowed without the data
// subject's recorded consent. It does not depend on how the purpose is
// written: "Marketing", "DIRECT_MARKETING" and " sale " are prohibited too.
func Prohibited(purpose string) bool {
	switch normalise(purpose) {
	case "marketing", "direct-marketing", "commercial", "sale":
		return true
	}
	return false
}

// VitalInterest reports whether a purpose may justify an emergency override.
func VitalInterest(purpose string) bool {
	switch purpose {
	case "safeguarding-child", "safeguarding-adult", "serious-risk-public":
		return true
	}
	return false
}

// SafeguardingPowers are the statutory powers under which a public task
// (A6-1-e) is fit for an emergency disclosure: the codes an instrument may
// carry.
var SafeguardingPowers = map[string]string{
	"CA-1989-S47":   "Children Act 1989 s.47 (duty to investigate where a child is at risk)",
	"CA-2004-S11":   "Children Act 2004 s.11 (safeguarding and promoting the welfare of children)",
	"CA-2014-S42":   "Care Act 2014 s.42 (enquiry by a local authority into an adult at risk)",
	"CA-2014-S45":   "Care Act 2014 s.45 (supply of information to a Safeguarding Adults Board)",
	"CDA-1998-S115": "Crime and Disorder Act 1998 s.115 (disclosure to a relevant authority)",
}

// normalise folds a code or rank as people write it into the form the
// tables use: lower case, trimmed, with runs of spaces, underscores, slashes
// and dots turned into single hyphens ("Chief  Superintendent" →
// "chief-superintendent", "Det. Supt." → "det-supt").
func normalise(s string) string {
	if normal(s) {
		return s // the common case: no copy
	}
	var b strings.Builder
	b.Grow(len(s))
	dash := false
	for _, r := range strings.TrimSpace(s) {
		switch {
		case r == ' ' || r == '\t' || r == '_' || r == '-' || r == '.' || r == '/' || r == '\u00a0':
			dash = true
		default:
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// Category kinds.
const (
	CategoryOrdinary        = "ordinary"
	CategorySpecial         = "special"
	CategoryCriminalOffence = "criminal-offence"
)

// Categories maps data categories to their kind: ordinary, special
// (Art 9) or criminal-offence (Art 10).
var Categories = map[string]string{
	"identity":               CategoryOrdinary,
	"contact":                CategoryOrdinary,
	"address-history":        CategoryOrdinary,
	"financial":              CategoryOrdinary,
	"benefits":               CategoryOrdinary,
	"tax":                    CategoryOrdinary,
	"housing":                CategoryOrdinary,
	"employment":             CategoryOrdinary,
	"education":              CategoryOrdinary,
	"family":                 CategoryOrdinary,
	"social-care":            CategoryOrdinary,
	"health":                 CategorySpecial,
	"racial-ethnic-origin":   CategorySpecial,
	"religious-beliefs":      CategorySpecial,
	"trade-union-membership": CategorySpecial,
	"political-opinions":     CategorySpecial,
	"genetic":                CategorySpecial,
	"biometric":              CategorySpecial,
	"sex-life-orientation":   CategorySpecial,
	"criminal-offence":       CategoryCriminalOffence,
}

// PartyKinds are the kinds of party.
var PartyKinds = map[PartyKind]bool{
	KindPolice: true, KindDWP: true, KindCabinetOffice: true, KindHMRC: true,
	KindCourt: true, KindLocalAuthority: true, KindCouncilService: true,
}

// PublicAuthority reports whether a party kind is a public authority, for
// which Art 6(1)(f) is not available when it performs its tasks. Every kind
// the gateway knows is one.
func PublicAuthority(k PartyKind) bool { return PartyKinds[k] }

// normal reports whether s is already in the form normalise returns.
func normal(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
		case c == '-' && i > 0 && i < len(s)-1 && s[i-1] != '-':
		default:
			return false
		}
	}
	return true
}
