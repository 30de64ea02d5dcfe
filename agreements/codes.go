package agreements

import "strings"

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
// Art 9(2) condition they complete ("" for Part 2 conditions usable for
// criminal-offence data under Art 10 as well as with A9-2-g).
var Schedule1 = map[string]struct {
	Meaning  string
	Article9 string
	// Part2 conditions need the controller's appropriate policy document.
	Part2 bool
}{
	"DPA-S1-P1-1":  {"Sch 1 Pt 1 para 1 employment, social security and social protection", "A9-2-b", false},
	"DPA-S1-P1-2":  {"Sch 1 Pt 1 para 2 health or social care purposes", "A9-2-h", false},
	"DPA-S1-P2-6":  {"Sch 1 Pt 2 para 6 statutory and government purposes", "A9-2-g", true},
	"DPA-S1-P2-7":  {"Sch 1 Pt 2 para 7 administration of justice", "A9-2-g", true},
	"DPA-S1-P2-10": {"Sch 1 Pt 2 para 10 preventing or detecting unlawful acts", "A9-2-g", true},
	"DPA-S1-P2-14": {"Sch 1 Pt 2 para 14 preventing fraud", "A9-2-g", true},
	"DPA-S1-P2-18": {"Sch 1 Pt 2 para 18 safeguarding of children and of individuals at risk", "A9-2-g", true},
}

// Schedule2 maps DPA 2018 Schedule 2 exemptions to their meaning.
var Schedule2 = map[string]string{
	"DPA-S2-P1-2": "Sch 2 Pt 1 para 2 crime and taxation: only to the extent that applying the listed provisions would prejudice those purposes",
	"DPA-S2-P1-5": "Sch 2 Pt 1 para 5 disclosure required by law or in connection with legal proceedings",
}

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
// subject's recorded consent.
func Prohibited(purpose string) bool {
	switch purpose {
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

// Ranks orders the ranks of authorising officers. Police ranks come from the
// Police Act 1996; council officers use the equivalent seniority.
var Ranks = map[string]int{
	"constable":                 1,
	"officer":                   1,
	"sergeant":                  2,
	"team-manager":              2,
	"inspector":                 3,
	"service-manager":           3,
	"chief-inspector":           4,
	"head-of-service":           4,
	"superintendent":            5,
	"director":                  5,
	"chief-superintendent":      6,
	"assistant-chief-constable": 7,
	"deputy-chief-constable":    8,
	"chief-constable":           9,
	"chief-executive":           9,
}

// RankAtLeast reports whether rank meets the required rank. Unknown ranks
// meet nothing.
func RankAtLeast(rank, required string) bool {
	have, ok := Ranks[strings.ToLower(strings.TrimSpace(rank))]
	if !ok {
		return false
	}
	return have >= Ranks[required]
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
