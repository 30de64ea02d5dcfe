package agreements_test

import (
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/devenv/demo"
)

var now = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// testRegistry holds the demo parties and agreements, plus variants that
// exercise each lifecycle and date rule.
func testRegistry(t testing.TB) *agreements.Registry {
	t.Helper()
	parties := demo.Parties()
	parties = append(parties,
		&agreements.Party{ID: "council.suspended", Kind: agreements.KindCouncilService, Name: "Suspended service", Status: agreements.PartySuspended},
		&agreements.Party{ID: "police.suspended", Kind: agreements.KindPolice, Name: "Suspended force", Status: agreements.PartySuspended},
	)
	byID := map[string]*agreements.Agreement{}
	var ags []*agreements.Agreement
	for _, a := range demo.AgreementsAt(now) {
		a.Version, a.Status = 1, agreements.StatusActive
		require.NoError(t, a.Validate(), a.ID)
		byID[a.ID] = a
		ags = append(ags, a)
	}
	variant := func(base, id string, edit func(a *agreements.Agreement)) {
		c := *byID[base]
		c.ID = id
		edit(&c)
		ags = append(ags, &c)
	}
	variant("hmrc-tax", "hmrc-suspended", func(a *agreements.Agreement) { a.Status = agreements.StatusSuspended })
	variant("hmrc-tax", "hmrc-draft", func(a *agreements.Agreement) { a.Status = agreements.StatusDraft })
	variant("hmrc-tax", "hmrc-expired", func(a *agreements.Agreement) { a.ExpiresAt = agreements.MustDate("2026-06-30") })
	variant("hmrc-tax", "hmrc-future", func(a *agreements.Agreement) { a.EffectiveFrom = agreements.MustDate("2027-01-01") })
	variant("hmrc-tax", "hmrc-review-lapsed", func(a *agreements.Agreement) { a.ReviewBy = agreements.MustDate("2026-09-30") })
	variant("hmrc-tax", "hmrc-review-grace", func(a *agreements.Agreement) { a.ReviewBy = agreements.MustDate("2026-11-01") })
	variant("hmrc-tax", "hmrc-no-dpia", func(a *agreements.Agreement) { a.DPIA = nil })
	variant("hmrc-tax", "hmrc-dpia-rejected", func(a *agreements.Agreement) {
		d := *a.DPIA
		d.Outcome = agreements.DPIARejected
		a.DPIA = &d
	})
	variant("nfi", "nfi-capped", func(a *agreements.Agreement) {
		f := a.Flows[0]
		f.DailyVolume = 2
		a.Flows = []agreements.Flow{f}
	})
	variant("police-crime", "police-suspended", func(a *agreements.Agreement) { a.Status = agreements.StatusSuspended })
	variant("police-crime", "police-no-dpia", func(a *agreements.Agreement) { a.DPIA = nil })
	variant("police-crime", "police-expired", func(a *agreements.Agreement) { a.ExpiresAt = agreements.MustDate("2026-06-30") })
	variant("police-crime", "police-review-lapsed", func(a *agreements.Agreement) { a.ReviewBy = agreements.MustDate("2026-09-30") })
	variant("police-crime", "police-capped", func(a *agreements.Agreement) {
		f := a.Flows[0]
		f.DailyVolume = 1
		a.Flows = []agreements.Flow{f}
	})
	variant("hmrc-tax", "hmrc-draft-health", func(a *agreements.Agreement) {
		a.Status = agreements.StatusDraft
		f := a.Flows[0]
		f.Purposes = append(slices.Clone(f.Purposes), "safeguarding-adult")
		f.LawfulBases = []string{"A6-1-c", "A6-1-d", "A6-1-e"}
		f.DataCategories = append(slices.Clone(f.DataCategories), "health")
		f.SpecialCategory = []string{"A9-2-c"}
		f.EmergencyOverride = true
		a.Flows = []agreements.Flow{f}
	})
	// The police ask under DPA 2018 Part 3 (law-enforcement processing).
	variant("police-crime", "police-part3", func(a *agreements.Agreement) {
		f := a.Flows[1]
		f.Regime, f.Purposes, f.LawfulBases = agreements.RegimePart3, []string{"crime-prevention-detection"}, []string{"DPA-S35-2-b"}
		f.CriminalOffence, f.Exemptions = nil, nil
		f.DataCategories = append(slices.Clone(f.DataCategories), "health")
		f.SpecialCategory = []string{"DPA-S8-4"}
		a.Flows = []agreements.Flow{a.Flows[0], f}
		require.NoError(t, a.Validate())
	})
	variant("hmrc-tax", "hmrc-notifies", func(a *agreements.Agreement) {
		a.SubjectNotification = agreements.Notification{Default: "notify"}
	})
	// Two flows from council.revenues to HMRC: tax, and fraud with other data.
	variant("hmrc-tax", "hmrc-two-flows", func(a *agreements.Agreement) {
		f := a.Flows[0]
		f.Purposes, f.DataCategories, f.Exemptions = []string{"fraud-prevention-detection"}, []string{"identity", "financial", "benefits"}, nil
		a.Flows = []agreements.Flow{a.Flows[0], f}
	})
	ags = append(ags, &agreements.Agreement{
		ID: "public-health", Version: 1, Status: agreements.StatusActive, Title: "Outbreak control",
		Controllers: "separate", EffectiveFrom: agreements.MustDate("2026-01-01"), ReviewBy: agreements.MustDate("2027-12-31"),
		DPIA:                &agreements.DPIA{Reference: "D-2", Completed: agreements.MustDate("2025-12-01"), Outcome: agreements.DPIAApproved, Approver: "DPO"},
		SubjectNotification: agreements.Notification{Default: "notify"},
		Flows: []agreements.Flow{{From: []string{"council.social-care"}, To: []string{"council.revenues"}, Purposes: []string{"statutory-duty"},
			LawfulBases: []string{"A6-1-e"}, SpecialCategory: []string{"A9-2-i", "DPA-S1-P1-3"}, DataCategories: []string{"identity", "health"}}},
	})
	ags = append(ags, &agreements.Agreement{
		ID: "council-newsletter", Version: 1, Status: agreements.StatusActive, Title: "Service newsletter",
		Controllers: "joint", EffectiveFrom: agreements.MustDate("2026-01-01"), ReviewBy: agreements.MustDate("2027-12-31"),
		DPIA:  &agreements.DPIA{Reference: "D-1", Completed: agreements.MustDate("2025-12-01"), Outcome: agreements.DPIAApproved, Approver: "DPO"},
		Flows: []agreements.Flow{{From: []string{"council.revenues"}, To: []string{"council.social-care"}, Purposes: []string{"service-delivery", "marketing"}, LawfulBases: []string{"A6-1-a", "A6-1-e"}, DataCategories: []string{"identity", "contact"}}},
	})
	return agreements.NewRegistry(parties, ags)
}

// Base requests, each allowed as it stands.

func councilToPolice() agreements.Request {
	return agreements.Request{
		Sender: "council.revenues", Recipient: "police.northshire", Agreement: "police-crime",
		Purpose: "crime-prevention-detection", LawfulBasis: "A6-1-e", Exemption: "DPA-S2-P1-2",
		DataCategories: []string{"identity", "financial"}, NamedSubjects: 1, SubjectCount: 1,
		Justification: "Named suspect in fraud investigation NP-2026-0142", AuthoriserName: "Priya Shah, Revenues Service Manager", AuthoriserRank: "service-manager",
	}
}

// policeRequest is a police request for crime: law-enforcement processing
// (DPA 2018 Part 3) on the demo agreement, with a s.35(2)(b) condition and
// no Sch 2 exemption (Sch 2 does not apply under Part 3).
func policeRequest() agreements.Request {
	r := councilToPolice()
	r.Sender, r.Recipient = "police.northshire", "council.legal"
	r.LawfulBasis, r.Exemption = "DPA-S35-2-b", ""
	r.AuthoriserName, r.AuthoriserRank = "DI Sam Patel", "inspector"
	return r
}

// policeSafeguardingRequest asks about a child at risk: not a s.31 purpose,
// so UK GDPR governs it, on the demo agreement's second police flow.
func policeSafeguardingRequest() agreements.Request {
	r := councilToPolice()
	r.Sender, r.Recipient, r.Purpose, r.Exemption = "police.northshire", "council.legal", "safeguarding-child", ""
	r.AuthoriserName, r.AuthoriserRank = "DI Sam Patel", "inspector"
	return r
}

// councilAnswer is Legal Services' answer to a police request: the
// council's own disclosure, under the council → police flow (UK GDPR).
func councilAnswer() agreements.Request {
	r := councilToPolice()
	r.Sender = "council.legal"
	return r
}

func nfiBulk() agreements.Request {
	return agreements.Request{
		Sender: "council.fraud", Recipient: "cabinet-office.nfi", Agreement: "nfi", Purpose: "public-funds-audit",
		LawfulBasis: "A6-1-c", DataCategories: []string{"identity", "financial", "benefits", "housing"}, SubjectCount: 48210,
	}
}

func dwpHealth() agreements.Request {
	return agreements.Request{
		Sender: "council.revenues", Recipient: "dwp", Agreement: "dwp-benefits", Purpose: "benefit-administration",
		LawfulBasis: "A6-1-c", DataCategories: []string{"identity", "benefits", "health"}, SpecialCategory: []string{"A9-2-b", "DPA-S1-P1-1"},
		NamedSubjects: 1, SubjectCount: 1, Justification: "Disability premium assessment",
	}
}

func hmrc(agreement string) agreements.Request {
	return agreements.Request{
		Sender: "council.revenues", Recipient: "hmrc", Agreement: agreement, Purpose: "tax-assessment-collection",
		LawfulBasis: "A6-1-c", DataCategories: []string{"identity", "tax"}, NamedSubjects: 1, SubjectCount: 1,
	}
}

func courtOrder() agreements.Request {
	return agreements.Request{
		Sender: "council.legal", Recipient: "court.northshire-crown", Agreement: "court-orders", Purpose: "legal-proceedings",
		LawfulBasis: "A6-1-c", Exemption: "DPA-S2-P1-5", DataCategories: []string{"identity", "family", "health"},
		SpecialCategory: []string{"A9-2-f"}, NamedSubjects: 2, SubjectCount: 2, Justification: "Order of HHJ Mills, case T20267731",
	}
}

func part3Request() agreements.Request {
	return agreements.Request{
		Sender: "police.northshire", Recipient: "council.legal", Agreement: "police-part3", Purpose: "crime-prevention-detection",
		LawfulBasis: "DPA-S35-2-b", DataCategories: []string{"identity", "criminal-offence"}, NamedSubjects: 1, SubjectCount: 1,
		Justification: "Suspect in burglary NP/26/88812", AuthoriserName: "DI R. Shaw", AuthoriserRank: "inspector",
	}
}

func publicHealth() agreements.Request {
	return agreements.Request{
		Sender: "council.social-care", Recipient: "council.revenues", Agreement: "public-health", Purpose: "statutory-duty",
		LawfulBasis: "A6-1-e", DataCategories: []string{"identity", "health"}, SpecialCategory: []string{"A9-2-i", "DPA-S1-P1-3"},
		NamedSubjects: 1, SubjectCount: 1, Justification: "Notifiable disease; contact tracing",
	}
}

func newsletter() agreements.Request {
	return agreements.Request{
		Sender: "council.revenues", Recipient: "council.social-care", Agreement: "council-newsletter", Purpose: "service-delivery",
		LawfulBasis: "A6-1-e", DataCategories: []string{"identity", "contact"}, NamedSubjects: 1,
	}
}

func emergencyNoAgreement() agreements.Request {
	return agreements.Request{
		Sender: "council.social-care", Recipient: "police.northshire", Purpose: "safeguarding-child",
		LawfulBasis: "A6-1-d", DataCategories: []string{"identity", "contact", "address-history"}, NamedSubjects: 1, SubjectCount: 1,
		Justification: "Child at immediate risk; police attending", AuthoriserName: "M. Ade, Head of Children's Services", AuthoriserRank: "head-of-service",
		Emergency: true,
	}
}

type decideCase struct {
	name    string
	req     agreements.Request
	outcome agreements.Outcome
	failed  []string // exactly these checks fail
}

func with(r agreements.Request, edit func(*agreements.Request)) agreements.Request {
	edit(&r)
	return r
}

func decideCases() []decideCase {
	const (
		allow    = agreements.Allow
		deny     = agreements.Deny
		override = agreements.AllowOverride
	)
	return []decideCase{
		// Allowed.
		{"ok/police-crime-request-named-subject", policeRequest(), allow, nil},
		{"ok/council-discloses-to-police", councilToPolice(), allow, nil},
		{"ok/social-care-discloses-to-police", with(councilToPolice(), func(r *agreements.Request) { r.Sender = "council.social-care" }), allow, nil},
		{"ok/safeguarding-child-to-police", with(councilToPolice(), func(r *agreements.Request) {
			r.Sender, r.Purpose, r.Exemption = "council.social-care", "safeguarding-child", ""
		}), allow, nil},
		{"ok/criminal-offence-with-a10", with(councilToPolice(), func(r *agreements.Request) {
			r.DataCategories = []string{"identity", "criminal-offence"}
			r.CriminalOffence = []string{"A10", "DPA-S1-P2-10"}
		}), allow, nil},
		{"ok/five-subjects-at-limit", with(policeRequest(), func(r *agreements.Request) { r.NamedSubjects, r.SubjectCount = 5, 5 }), allow, nil},
		{"ok/authoriser-above-inspector", with(policeRequest(), func(r *agreements.Request) { r.AuthoriserRank = "superintendent" }), allow, nil},
		{"ok/authoriser-rank-case-insensitive", with(policeRequest(), func(r *agreements.Request) { r.AuthoriserRank = "Chief-Inspector" }), allow, nil},
		{"ok/nfi-bulk-upload", nfiBulk(), allow, nil},
		{"ok/nfi-fraud-purpose", with(nfiBulk(), func(r *agreements.Request) { r.Purpose = "fraud-prevention-detection" }), allow, nil},
		{"ok/dwp-health-a9-2-b", dwpHealth(), allow, nil},
		{"ok/dwp-to-council-reverse-flow", with(dwpHealth(), func(r *agreements.Request) { r.Sender, r.Recipient = "dwp", "council.revenues" }), allow, nil},
		{"ok/hmrc-tax", hmrc("hmrc-tax"), allow, nil},
		{"ok/hmrc-crime-exemption-named", with(hmrc("hmrc-tax"), func(r *agreements.Request) {
			r.Exemption, r.Justification = "DPA-S2-P1-2", "Suspected evasion, case 77"
		}), allow, nil},
		{"ok/court-order-a9-2-f-health", courtOrder(), allow, nil},
		{"ok/marketing-with-consent", with(newsletter(), func(r *agreements.Request) {
			r.Purpose, r.LawfulBasis, r.ConsentRef, r.ConsentRecords = "marketing", "A6-1-a", "CONSENT-2026-0091", 1
		}), allow, nil},
		{"ok/review-within-grace", hmrc("hmrc-review-grace"), allow, nil},
		{"ok/volume-under-daily-limit", with(nfiBulk(), func(r *agreements.Request) { r.Agreement, r.SentToday = "nfi-capped", 1 }), allow, nil},

		// Emergency overrides.
		{"override/emergency-safeguarding-to-police-without-agreement", emergencyNoAgreement(), override, []string{agreements.CheckAgreementExists}},
		{"override/emergency-to-council-service-without-agreement", with(emergencyNoAgreement(), func(r *agreements.Request) {
			r.Sender, r.Recipient, r.Purpose = "police.northshire", "council.social-care", "serious-risk-public"
		}), override, []string{agreements.CheckAgreementExists}},
		{"deny/emergency-over-subject-limit-where-agreement-allows", with(councilToPolice(), func(r *agreements.Request) {
			r.Purpose, r.Exemption, r.NamedSubjects, r.SubjectCount, r.Emergency = "safeguarding-adult", "", 7, 7, true
		}), deny, []string{agreements.CheckSubjectsWithinLimit, agreements.CheckOverrideEmergency}},
		{"override/emergency-unknown-agreement-to-police", with(emergencyNoAgreement(), func(r *agreements.Request) { r.Agreement = "no-such" }), override, []string{agreements.CheckAgreementExists}},

		// Refused: who.
		{"deny/unknown-sender", with(councilToPolice(), func(r *agreements.Request) { r.Sender = "council.unknown" }), deny, []string{agreements.CheckPartyIdentified}},
		{"deny/empty-sender", with(councilToPolice(), func(r *agreements.Request) { r.Sender = "" }), deny, []string{agreements.CheckPartyIdentified}},
		{"deny/suspended-sender", with(councilToPolice(), func(r *agreements.Request) { r.Sender = "council.suspended" }), deny, []string{agreements.CheckPartyIdentified}},
		{"deny/unknown-recipient", with(councilToPolice(), func(r *agreements.Request) { r.Recipient = "police.elsewhere" }), deny, []string{agreements.CheckRecipientActive, agreements.CheckFlowPermitted}},
		{"deny/suspended-recipient", with(councilToPolice(), func(r *agreements.Request) { r.Recipient = "police.suspended" }), deny, []string{agreements.CheckRecipientActive, agreements.CheckFlowPermitted}},
		{"deny/flow-wrong-direction", with(councilToPolice(), func(r *agreements.Request) { r.Sender, r.Recipient = "police.northshire", "council.revenues" }), deny, []string{agreements.CheckFlowPermitted}},
		{"deny/sender-not-in-agreement", with(councilToPolice(), func(r *agreements.Request) { r.Sender = "hmrc" }), deny, []string{agreements.CheckPartyIsSender, agreements.CheckFlowPermitted}},

		// Refused: the agreement.
		{"deny/no-agreement", with(councilToPolice(), func(r *agreements.Request) { r.Agreement = "" }), deny, []string{agreements.CheckAgreementExists}},
		{"deny/unknown-agreement", with(councilToPolice(), func(r *agreements.Request) { r.Agreement = "police-crime-2019" }), deny, []string{agreements.CheckAgreementExists}},
		{"deny/agreement-suspended", hmrc("hmrc-suspended"), deny, []string{agreements.CheckAgreementActive}},
		{"deny/agreement-draft", hmrc("hmrc-draft"), deny, []string{agreements.CheckAgreementActive}},
		{"deny/agreement-expired", hmrc("hmrc-expired"), deny, []string{agreements.CheckAgreementInForce}},
		{"deny/agreement-not-yet-effective", hmrc("hmrc-future"), deny, []string{agreements.CheckAgreementInForce}},
		{"deny/agreement-review-lapsed", hmrc("hmrc-review-lapsed"), deny, []string{agreements.CheckAgreementReview}},
		{"deny/agreement-no-dpia", hmrc("hmrc-no-dpia"), deny, []string{agreements.CheckAgreementDPIA}},
		{"deny/agreement-dpia-rejected", hmrc("hmrc-dpia-rejected"), deny, []string{agreements.CheckAgreementDPIA}},

		// Refused: purpose and basis.
		{"deny/marketing-no-consent", with(newsletter(), func(r *agreements.Request) { r.Purpose, r.LawfulBasis = "marketing", "A6-1-a" }), deny,
			[]string{agreements.CheckConsentRecorded}},
		{"deny/marketing-with-consent-outside-flow", with(councilToPolice(), func(r *agreements.Request) {
			r.Purpose, r.LawfulBasis, r.Exemption, r.ConsentRef, r.ConsentRecords = "marketing", "A6-1-a", "", "CONSENT-1", 1
		}), deny, []string{agreements.CheckPurposePermitted, agreements.CheckBasisArticle6}},
		{"deny/sale-no-consent", with(newsletter(), func(r *agreements.Request) { r.Purpose = "sale" }), deny,
			[]string{agreements.CheckPurposeNotProhibited, agreements.CheckConsentRecorded, agreements.CheckPurposePermitted}},
		{"deny/consent-basis-without-consent-record", with(newsletter(), func(r *agreements.Request) { r.LawfulBasis = "A6-1-a" }), deny,
			[]string{agreements.CheckConsentRecorded}},
		{"deny/purpose-outside-flow", with(councilToPolice(), func(r *agreements.Request) { r.Purpose = "tax-assessment-collection" }), deny, []string{agreements.CheckPurposePermitted}},
		{"deny/a6-1-f-claimed-by-council", with(hmrc("hmrc-tax"), func(r *agreements.Request) { r.LawfulBasis = "A6-1-f" }), deny, []string{agreements.CheckBasisArticle6}},
		{"deny/basis-outside-flow", with(hmrc("hmrc-tax"), func(r *agreements.Request) { r.LawfulBasis = "A6-1-e" }), deny, []string{agreements.CheckBasisArticle6}},

		// Refused: categories and their conditions.
		{"deny/category-outside-flow", with(councilToPolice(), func(r *agreements.Request) { r.DataCategories = []string{"identity", "tax"} }), deny, []string{agreements.CheckCategoriesPermitted}},
		{"deny/unknown-category", with(hmrc("hmrc-tax"), func(r *agreements.Request) { r.DataCategories = []string{"identity", "shoe-size"} }), deny, []string{agreements.CheckCategoriesPermitted}},
		{"deny/no-categories", with(hmrc("hmrc-tax"), func(r *agreements.Request) { r.DataCategories = nil }), deny, []string{agreements.CheckCategoriesPermitted}},
		{"deny/health-without-art9-condition", with(dwpHealth(), func(r *agreements.Request) { r.SpecialCategory = nil }), deny, []string{agreements.CheckBasisSpecialCategory}},
		{"deny/health-a9-2-b-without-schedule-1", with(dwpHealth(), func(r *agreements.Request) { r.SpecialCategory = []string{"A9-2-b"} }), deny, []string{agreements.CheckBasisSpecialCategory}},
		{"deny/health-condition-outside-flow", with(dwpHealth(), func(r *agreements.Request) { r.SpecialCategory = []string{"A9-2-h", "DPA-S1-P1-2"} }), deny, []string{agreements.CheckBasisSpecialCategory}},
		{"deny/health-to-police-outside-flow", with(councilToPolice(), func(r *agreements.Request) { r.DataCategories = []string{"identity", "health"} }), deny,
			[]string{agreements.CheckCategoriesPermitted, agreements.CheckBasisSpecialCategory}},
		{"deny/special-condition-outside-flow-without-special-data", with(hmrc("hmrc-tax"), func(r *agreements.Request) { r.SpecialCategory = []string{"A9-2-b", "DPA-S1-P1-1"} }), deny,
			[]string{agreements.CheckBasisSpecialCategory}},
		{"deny/criminal-offence-without-a10", with(councilToPolice(), func(r *agreements.Request) { r.DataCategories = []string{"identity", "criminal-offence"} }), deny,
			[]string{agreements.CheckBasisCriminalOffence}},
		{"deny/criminal-offence-condition-outside-flow", with(councilToPolice(), func(r *agreements.Request) {
			r.DataCategories = []string{"criminal-offence"}
			r.CriminalOffence = []string{"A10", "DPA-S1-P2-14"}
		}), deny, []string{agreements.CheckBasisCriminalOffence}},
		{"deny/criminal-offence-to-hmrc", with(hmrc("hmrc-tax"), func(r *agreements.Request) {
			r.DataCategories = []string{"criminal-offence"}
			r.CriminalOffence = []string{"A10", "DPA-S1-P2-10"}
			r.Justification = "x"
		}), deny, []string{agreements.CheckCategoriesPermitted, agreements.CheckBasisCriminalOffence}},

		// Refused: exemptions, subjects, authorisers, justification, volume.
		{"deny/police-request-without-named-subject-trawling", with(policeRequest(), func(r *agreements.Request) { r.NamedSubjects, r.SubjectCount = 0, 400 }), deny,
			[]string{agreements.CheckSubjectsNamed, agreements.CheckSubjectsWithinLimit}},
		{"deny/council-disclosure-without-named-subject-trawling", with(councilToPolice(), func(r *agreements.Request) { r.NamedSubjects, r.SubjectCount = 0, 400 }), deny,
			[]string{agreements.CheckBasisExemption, agreements.CheckSubjectsNamed, agreements.CheckSubjectsWithinLimit}},
		{"deny/named-subject-flow-without-exemption", with(policeRequest(), func(r *agreements.Request) { r.Exemption, r.NamedSubjects, r.SubjectCount = "", 0, 0 }), deny,
			[]string{agreements.CheckSubjectsNamed}},
		{"deny/crime-exemption-bulk-to-hmrc", with(hmrc("hmrc-tax"), func(r *agreements.Request) {
			r.Exemption, r.Justification, r.NamedSubjects, r.SubjectCount = "DPA-S2-P1-2", "all arrears", 0, 3000
		}), deny, []string{agreements.CheckBasisExemption, agreements.CheckSubjectsNamed}},
		{"deny/exemption-outside-flow", with(councilToPolice(), func(r *agreements.Request) { r.Exemption = "DPA-S2-P1-5" }), deny, []string{agreements.CheckBasisExemption}},
		{"deny/too-many-subjects", with(policeRequest(), func(r *agreements.Request) { r.NamedSubjects, r.SubjectCount = 6, 6 }), deny, []string{agreements.CheckSubjectsWithinLimit}},
		{"deny/bulk-count-over-limit", with(policeRequest(), func(r *agreements.Request) { r.SubjectCount = 50 }), deny, []string{agreements.CheckSubjectsWithinLimit}},
		{"deny/authoriser-below-inspector", with(policeRequest(), func(r *agreements.Request) { r.AuthoriserRank = "sergeant" }), deny, []string{agreements.CheckAuthoriserRank}},
		{"deny/authoriser-missing", with(policeRequest(), func(r *agreements.Request) { r.AuthoriserName, r.AuthoriserRank = "", "" }), deny, []string{agreements.CheckAuthoriserRank}},
		{"deny/authoriser-unknown-rank", with(policeRequest(), func(r *agreements.Request) { r.AuthoriserRank = "captain" }), deny, []string{agreements.CheckAuthoriserRank}},
		{"deny/justification-missing-for-exemption", with(councilToPolice(), func(r *agreements.Request) { r.Justification = " " }), deny,
			[]string{agreements.CheckBasisExemption, agreements.CheckJustificationPresent}},
		{"deny/justification-missing-for-health", with(dwpHealth(), func(r *agreements.Request) { r.Justification = "" }), deny, []string{agreements.CheckJustificationPresent}},
		{"deny/daily-volume-reached", with(nfiBulk(), func(r *agreements.Request) { r.Agreement, r.SentToday = "nfi-capped", 2 }), deny, []string{agreements.CheckVolumeWithinLimit}},

		// Refused emergencies.
		{"deny/emergency-marketing", with(newsletter(), func(r *agreements.Request) {
			r.Purpose, r.Emergency, r.AuthoriserName, r.Justification = "marketing", true, "X", "urgent offer"
		}), deny, []string{agreements.CheckPurposeNotProhibited, agreements.CheckConsentRecorded, agreements.CheckOverrideEmergency}},
		{"deny/emergency-marketing-without-agreement", with(emergencyNoAgreement(), func(r *agreements.Request) { r.Purpose = "marketing" }), deny,
			[]string{agreements.CheckPurposeNotProhibited, agreements.CheckConsentRecorded, agreements.CheckAgreementExists, agreements.CheckOverrideEmergency}},
		{"deny/emergency-without-agreement-to-dwp", with(emergencyNoAgreement(), func(r *agreements.Request) { r.Recipient = "dwp" }), deny,
			[]string{agreements.CheckAgreementExists, agreements.CheckOverrideEmergency}},
		{"deny/emergency-without-justification", with(emergencyNoAgreement(), func(r *agreements.Request) { r.Justification = "" }), deny,
			[]string{agreements.CheckAgreementExists, agreements.CheckJustificationPresent, agreements.CheckOverrideEmergency}},
		{"deny/emergency-without-authoriser", with(emergencyNoAgreement(), func(r *agreements.Request) { r.AuthoriserName = "" }), deny,
			[]string{agreements.CheckAgreementExists, agreements.CheckOverrideEmergency}},
		{"deny/emergency-crime-purpose-is-not-vital", with(emergencyNoAgreement(), func(r *agreements.Request) { r.Purpose = "crime-prevention-detection" }), deny,
			[]string{agreements.CheckAgreementExists, agreements.CheckOverrideEmergency}},
		{"deny/emergency-where-flow-disallows-override", with(nfiBulk(), func(r *agreements.Request) {
			r.Purpose, r.Emergency, r.AuthoriserName, r.Justification = "safeguarding-adult", true, "S. Byrne", "risk"
		}), deny, []string{agreements.CheckPurposePermitted, agreements.CheckOverrideEmergency}},
		{"deny/emergency-to-suspended-recipient", with(emergencyNoAgreement(), func(r *agreements.Request) { r.Recipient = "police.suspended" }), deny,
			[]string{agreements.CheckRecipientActive, agreements.CheckAgreementExists, agreements.CheckOverrideEmergency}},

		// Art 10 needs a Sch 1 condition; Sch 1 Part 1 paras 3 and 4 complete A9-2-i and A9-2-j.
		{"deny/criminal-offence-a10-alone", with(councilToPolice(), func(r *agreements.Request) {
			r.DataCategories, r.CriminalOffence = []string{"identity", "criminal-offence"}, []string{"A10"}
		}), deny, []string{agreements.CheckBasisCriminalOffence}},
		{"deny/criminal-offence-sch1-without-a10", with(councilToPolice(), func(r *agreements.Request) {
			r.DataCategories, r.CriminalOffence = []string{"identity", "criminal-offence"}, []string{"DPA-S1-P2-10"}
		}), deny, []string{agreements.CheckBasisCriminalOffence}},
		{"deny/criminal-offence-art9-code-as-condition", with(councilToPolice(), func(r *agreements.Request) {
			r.DataCategories, r.CriminalOffence = []string{"identity", "criminal-offence"}, []string{"A10", "A9-2-g"}
		}), deny, []string{agreements.CheckBasisCriminalOffence}},
		{"ok/public-health-a9-2-i-with-sch1-p1-3", publicHealth(), allow, nil},
		{"deny/public-health-a9-2-i-alone", with(publicHealth(), func(r *agreements.Request) { r.SpecialCategory = []string{"A9-2-i"} }), deny,
			[]string{agreements.CheckBasisSpecialCategory}},
		{"deny/special-category-part-3-code", with(publicHealth(), func(r *agreements.Request) { r.SpecialCategory = []string{"A9-2-i", "DPA-S1-P3-30"} }), deny,
			[]string{agreements.CheckBasisSpecialCategory}},

		// Sch 2 Pt 1 para 2 serves crime, offenders and tax only.
		{"deny/crime-exemption-for-safeguarding", with(councilToPolice(), func(r *agreements.Request) { r.Purpose = "safeguarding-child" }), deny,
			[]string{agreements.CheckBasisExemption}},
		{"ok/crime-exemption-for-fraud", with(hmrc("hmrc-two-flows"), func(r *agreements.Request) {
			r.Purpose, r.DataCategories = "fraud-prevention-detection", []string{"identity", "benefits"}
		}), allow, nil},

		// Every flow from sender to recipient is considered.
		{"ok/second-flow-permits", with(hmrc("hmrc-two-flows"), func(r *agreements.Request) {
			r.Purpose, r.DataCategories = "fraud-prevention-detection", []string{"identity", "benefits"}
		}), allow, nil},
		{"deny/no-flow-permits-reports-the-nearest", with(hmrc("hmrc-two-flows"), func(r *agreements.Request) {
			r.Purpose, r.DataCategories = "fraud-prevention-detection", []string{"identity", "benefits", "tax"}
		}), deny, []string{agreements.CheckCategoriesPermitted}},

		// Prohibited purposes: consent (A6-1-a) and a record for every subject, however written.
		{"deny/marketing-under-public-task-with-consent-ref", with(newsletter(), func(r *agreements.Request) {
			r.Purpose, r.ConsentRef, r.ConsentRecords = "marketing", "CONSENT-1", 1
		}), deny, []string{agreements.CheckPurposeNotProhibited}},
		{"deny/marketing-in-capitals", with(newsletter(), func(r *agreements.Request) {
			r.Purpose, r.LawfulBasis, r.ConsentRef = "MARKETING", "A6-1-e", "CONSENT-1"
		}), deny, []string{agreements.CheckPurposeNotProhibited, agreements.CheckConsentRecorded, agreements.CheckPurposePermitted}},
		{"deny/direct-marketing-spelt-with-a-space", with(newsletter(), func(r *agreements.Request) { r.Purpose = " Direct Marketing" }), deny,
			[]string{agreements.CheckPurposeNotProhibited, agreements.CheckConsentRecorded, agreements.CheckPurposePermitted}},
		{"deny/marketing-to-unnamed-bulk", with(newsletter(), func(r *agreements.Request) {
			r.Purpose, r.LawfulBasis, r.ConsentRef, r.ConsentRecords, r.SubjectCount = "marketing", "A6-1-a", "CONSENT-1", 1, 900
		}), deny, []string{agreements.CheckConsentRecorded}},
		{"deny/marketing-one-consent-for-three-subjects", with(newsletter(), func(r *agreements.Request) {
			r.Purpose, r.LawfulBasis, r.ConsentRef, r.ConsentRecords, r.NamedSubjects, r.SubjectCount = "marketing", "A6-1-a", "CONSENT-1", 1, 3, 3
		}), deny, []string{agreements.CheckConsentRecorded}},
		{"ok/marketing-a-consent-per-subject", with(newsletter(), func(r *agreements.Request) {
			r.Purpose, r.LawfulBasis, r.ConsentRecords, r.NamedSubjects, r.SubjectCount = "marketing", "A6-1-a", 3, 3, 3
		}), allow, nil},

		// Withholding notification: only under an exemption or the agreement's default, for a bounded time.
		{"ok/withhold-under-agreement-default", with(councilToPolice(), func(r *agreements.Request) { r.Notification = "withhold" }), allow, nil},
		{"ok/withhold-under-exemption", with(hmrc("hmrc-notifies"), func(r *agreements.Request) {
			r.Notification, r.Exemption, r.Justification = "withhold", "DPA-S2-P1-2", "Suspected evasion, case 77"
			r.NotificationReviewAt = now.Add(30 * 24 * time.Hour)
		}), allow, nil},
		{"deny/withhold-without-exemption-where-agreement-notifies", with(hmrc("hmrc-notifies"), func(r *agreements.Request) { r.Notification = "withhold" }), deny,
			[]string{agreements.CheckNotification}},
		{"deny/withhold-where-agreement-notifies", with(dwpHealth(), func(r *agreements.Request) { r.Notification = "withhold" }), deny,
			[]string{agreements.CheckNotification}},
		{"deny/withhold-for-ever", with(councilToPolice(), func(r *agreements.Request) {
			r.Notification, r.NotificationReviewAt = "withhold", now.AddDate(10, 0, 0)
		}), deny, []string{agreements.CheckNotification}},
		{"ok/withhold-reviewed-within-the-agreements-period", with(councilToPolice(), func(r *agreements.Request) {
			r.Notification, r.NotificationReviewAt = "withhold", now.Add(180*24*time.Hour)
		}), allow, nil},
		{"ok/notify-where-agreement-withholds", with(councilToPolice(), func(r *agreements.Request) { r.Notification = "notify" }), allow, nil},

		// Ranks: each kind of organisation has its own ladder; written forms are accepted.
		{"ok/rank-written-as-people-write-it", with(policeRequest(), func(r *agreements.Request) { r.AuthoriserRank = "Chief Superintendent" }), allow, nil},
		{"ok/rank-abbreviated", with(policeRequest(), func(r *agreements.Request) { r.AuthoriserRank = "Det. Supt." }), allow, nil},
		{"ok/rank-detective-inspector", with(policeRequest(), func(r *agreements.Request) { r.AuthoriserRank = "Detective Inspector" }), allow, nil},
		{"ok/rank-met-commander", with(policeRequest(), func(r *agreements.Request) { r.AuthoriserRank = "Commander" }), allow, nil},
		{"deny/rank-council-chief-executive-is-not-a-police-rank", with(policeRequest(), func(r *agreements.Request) { r.AuthoriserRank = "chief-executive" }), deny,
			[]string{agreements.CheckAuthoriserRank}},
		{"deny/rank-detective-sergeant", with(policeRequest(), func(r *agreements.Request) { r.AuthoriserRank = "DS" }), deny,
			[]string{agreements.CheckAuthoriserRank}},
		{"ok/council-disclosure-by-head-of-service", with(councilToPolice(), func(r *agreements.Request) { r.AuthoriserName, r.AuthoriserRank = "M. Ade", "Head of Service" }), allow, nil},
		{"deny/council-disclosure-authorised-with-a-police-rank", with(councilToPolice(), func(r *agreements.Request) { r.AuthoriserName, r.AuthoriserRank = "DI Sam Patel", "inspector" }), deny,
			[]string{agreements.CheckAuthoriserRank}},
		{"deny/police-request-authorised-with-a-council-grade", with(policeRequest(), func(r *agreements.Request) { r.AuthoriserName, r.AuthoriserRank = "M. Ade", "head-of-service" }), deny,
			[]string{agreements.CheckAuthoriserRank}},
		{"ok/council-disclosure-by-service-manager", with(councilToPolice(), func(r *agreements.Request) { r.AuthoriserRank = "service-manager" }), allow, nil},
		{"deny/council-disclosure-by-team-manager", with(councilToPolice(), func(r *agreements.Request) { r.AuthoriserRank = "team-manager" }), deny,
			[]string{agreements.CheckAuthoriserRank}},
		{"deny/council-disclosure-by-civil-servant", with(councilToPolice(), func(r *agreements.Request) { r.AuthoriserRank = "grade-7" }), deny,
			[]string{agreements.CheckAuthoriserRank}},

		// Law-enforcement processing (DPA 2018 Part 3): s.31 purposes, s.35 conditions, Sch 8.
		{"ok/part3-police-request", part3Request(), allow, nil},
		// The demo agreement: police requests for crime are law-enforcement
		// processing; those for safeguarding are not; the council's answer
		// is its own disclosure, judged under its own flow's regime.
		{"ok/demo-police-request-under-part3", policeRequest(), allow, nil},
		{"deny/demo-police-request-citing-an-article6-basis", with(policeRequest(), func(r *agreements.Request) { r.LawfulBasis = "A6-1-e" }), deny,
			[]string{agreements.CheckBasisLawEnforcement}},
		{"deny/demo-police-request-citing-the-crime-exemption", with(policeRequest(), func(r *agreements.Request) { r.Exemption = "DPA-S2-P1-2" }), deny,
			[]string{agreements.CheckBasisExemption}},
		{"ok/demo-police-safeguarding-request-under-uk-gdpr", policeSafeguardingRequest(), allow, nil},
		{"deny/demo-police-safeguarding-request-citing-a-part3-condition", with(policeSafeguardingRequest(), func(r *agreements.Request) { r.LawfulBasis = "DPA-S35-2-b" }), deny,
			[]string{agreements.CheckBasisArticle6}},
		{"ok/answer-to-a-part3-request-under-its-own-flow", councilAnswer(), allow, nil},
		{"deny/answer-citing-the-requests-part3-condition", with(councilAnswer(), func(r *agreements.Request) { r.LawfulBasis, r.Exemption = "DPA-S35-2-b", "" }), deny,
			[]string{agreements.CheckBasisArticle6}},
		{"ok/part3-sensitive-with-sch8", with(part3Request(), func(r *agreements.Request) {
			r.DataCategories, r.SpecialCategory = []string{"identity", "health"}, []string{"DPA-S8-4"}
		}), allow, nil},
		{"deny/part3-sensitive-without-condition", with(part3Request(), func(r *agreements.Request) { r.DataCategories = []string{"identity", "health"} }), deny,
			[]string{agreements.CheckBasisLawEnforcement}},
		{"deny/part3-sensitive-with-art9-condition", with(part3Request(), func(r *agreements.Request) {
			r.DataCategories, r.SpecialCategory = []string{"identity", "health"}, []string{"A9-2-g", "DPA-S1-P2-10"}
		}), deny, []string{agreements.CheckBasisLawEnforcement}},
		{"deny/part3-with-an-article6-basis", with(part3Request(), func(r *agreements.Request) { r.LawfulBasis = "A6-1-e" }), deny,
			[]string{agreements.CheckBasisLawEnforcement}},
		{"deny/part3-citing-article10", with(part3Request(), func(r *agreements.Request) { r.CriminalOffence = []string{"A10", "DPA-S1-P2-10"} }), deny,
			[]string{agreements.CheckBasisLawEnforcement}},
		{"deny/part3-for-safeguarding", with(part3Request(), func(r *agreements.Request) { r.Purpose = "safeguarding-child" }), deny,
			[]string{agreements.CheckPurposePermitted, agreements.CheckBasisLawEnforcement}},
		{"deny/part3-with-a-sch2-exemption", with(part3Request(), func(r *agreements.Request) { r.Exemption = "DPA-S2-P1-2" }), deny,
			[]string{agreements.CheckBasisExemption}},
		{"ok/part3-agreement-council-disclosure-stays-uk-gdpr", with(councilToPolice(), func(r *agreements.Request) { r.Agreement = "police-part3" }), allow, nil},

		// The version relied on must be the one in force.
		{"ok/version-in-force-named", with(councilToPolice(), func(r *agreements.Request) { r.AgreementVersion = 1 }), allow, nil},
		{"deny/version-not-in-force-named", with(councilToPolice(), func(r *agreements.Request) { r.AgreementVersion = 2 }), deny,
			[]string{agreements.CheckAgreementVersion}},
		{"deny/version-of-a-draft-named", with(hmrc("hmrc-draft"), func(r *agreements.Request) { r.AgreementVersion = 1 }), deny,
			[]string{agreements.CheckAgreementVersion, agreements.CheckAgreementActive}},

		// An emergency waives paperwork, never the law.
		{"override/emergency-past-daily-volume", with(councilToPolice(), func(r *agreements.Request) {
			r.Agreement, r.Purpose, r.Exemption, r.Emergency, r.SentToday = "police-capped", "safeguarding-adult", "", true, 1
		}), override, []string{agreements.CheckVolumeWithinLimit}},
		{"override/emergency-past-review-date", with(councilToPolice(), func(r *agreements.Request) {
			r.Agreement, r.Purpose, r.Exemption, r.Emergency = "police-review-lapsed", "safeguarding-adult", "", true
		}), override, []string{agreements.CheckAgreementReview}},
		{"override/emergency-vital-interests-basis-not-on-flow", with(councilToPolice(), func(r *agreements.Request) {
			r.Purpose, r.Exemption, r.Emergency, r.LawfulBasis = "safeguarding-child", "", true, "A6-1-d"
			r.SentToday = 0
			r.Agreement = "police-capped"
			r.SentToday = 1
		}), override, []string{agreements.CheckVolumeWithinLimit, agreements.CheckBasisArticle6}},
		{"deny/emergency-a6-1-c-is-not-fit", with(councilToPolice(), func(r *agreements.Request) {
			r.Agreement, r.Purpose, r.Exemption, r.Emergency, r.SentToday, r.LawfulBasis = "police-capped", "safeguarding-adult", "", true, 1, "A6-1-c"
		}), deny, []string{agreements.CheckVolumeWithinLimit, agreements.CheckBasisArticle6, agreements.CheckOverrideEmergency}},
		{"deny/emergency-a6-1-f", with(emergencyNoAgreement(), func(r *agreements.Request) { r.LawfulBasis = "A6-1-f" }), deny,
			[]string{agreements.CheckAgreementExists, agreements.CheckBasisArticle6, agreements.CheckOverrideEmergency}},
		{"deny/emergency-public-task-without-a-power", with(emergencyNoAgreement(), func(r *agreements.Request) { r.LawfulBasis = "A6-1-e" }), deny,
			[]string{agreements.CheckAgreementExists, agreements.CheckBasisArticle6, agreements.CheckOverrideEmergency}},
		{"override/emergency-public-task-with-a-safeguarding-power", with(emergencyNoAgreement(), func(r *agreements.Request) {
			r.LawfulBasis, r.Instrument = "A6-1-e", "CA-2004-S11"
		}), override, []string{agreements.CheckAgreementExists}},
		{"override/emergency-public-task-with-the-flows-power", with(councilToPolice(), func(r *agreements.Request) {
			r.Agreement, r.Purpose, r.Exemption, r.Emergency, r.SentToday = "police-capped", "safeguarding-adult", "", true, 1
		}), override, []string{agreements.CheckVolumeWithinLimit}},
		{"deny/emergency-health-without-vital-interests-condition", with(emergencyNoAgreement(), func(r *agreements.Request) {
			r.DataCategories, r.SpecialCategory = []string{"identity", "health"}, []string{"A9-2-h", "DPA-S1-P1-2"}
		}), deny, []string{agreements.CheckAgreementExists, agreements.CheckBasisSpecialCategory, agreements.CheckOverrideEmergency}},
		{"override/emergency-health-a9-2-c", with(emergencyNoAgreement(), func(r *agreements.Request) {
			r.DataCategories, r.SpecialCategory = []string{"identity", "health"}, []string{"A9-2-c"}
		}), override, []string{agreements.CheckAgreementExists}},
		{"override/emergency-health-a9-2-g-safeguarding", with(emergencyNoAgreement(), func(r *agreements.Request) {
			r.DataCategories, r.SpecialCategory = []string{"identity", "health"}, []string{"A9-2-g", "DPA-S1-P2-18"}
		}), override, []string{agreements.CheckAgreementExists}},
		{"deny/emergency-criminal-offence-a10-alone", with(emergencyNoAgreement(), func(r *agreements.Request) {
			r.DataCategories, r.CriminalOffence = []string{"identity", "criminal-offence"}, []string{"A10"}
		}), deny, []string{agreements.CheckAgreementExists, agreements.CheckBasisCriminalOffence, agreements.CheckOverrideEmergency}},
		{"override/emergency-criminal-offence-a10-vital-interests", with(emergencyNoAgreement(), func(r *agreements.Request) {
			r.DataCategories, r.CriminalOffence = []string{"identity", "criminal-offence"}, []string{"A10", "DPA-S1-P3-30"}
		}), override, []string{agreements.CheckAgreementExists}},
		{"deny/emergency-unknown-category", with(emergencyNoAgreement(), func(r *agreements.Request) { r.DataCategories = []string{"identity", "shoe-size"} }), deny,
			[]string{agreements.CheckAgreementExists, agreements.CheckCategoriesPermitted, agreements.CheckOverrideEmergency}},
		{"deny/emergency-health-to-hmrc-under-a-draft", with(hmrc("hmrc-draft-health"), func(r *agreements.Request) {
			r.Purpose, r.LawfulBasis, r.Emergency = "safeguarding-adult", "A6-1-d", true
			r.DataCategories, r.SpecialCategory = []string{"identity", "health"}, []string{"A9-2-c"}
			r.AuthoriserName, r.Justification = "S. Byrne", "risk to life"
		}), deny, []string{agreements.CheckAgreementActive, agreements.CheckOverrideEmergency}},
		{"override/emergency-under-a-suspended-agreement-is-under-none", with(councilToPolice(), func(r *agreements.Request) {
			r.Agreement, r.Purpose, r.Exemption, r.Emergency, r.LawfulBasis = "police-suspended", "safeguarding-child", "", true, "A6-1-d"
		}), override, []string{agreements.CheckAgreementActive, agreements.CheckBasisArticle6}},
		{"override/emergency-under-an-agreement-without-dpia-is-under-none", with(councilToPolice(), func(r *agreements.Request) {
			r.Agreement, r.Purpose, r.Exemption, r.Emergency, r.LawfulBasis = "police-no-dpia", "safeguarding-child", "", true, "A6-1-d"
		}), override, []string{agreements.CheckAgreementDPIA, agreements.CheckBasisArticle6}},
		{"override/emergency-under-an-expired-agreement-is-under-none", with(councilToPolice(), func(r *agreements.Request) {
			r.Agreement, r.Purpose, r.Exemption, r.Emergency, r.LawfulBasis = "police-expired", "safeguarding-child", "", true, "A6-1-d"
		}), override, []string{agreements.CheckAgreementInForce, agreements.CheckBasisArticle6}},
		{"override/emergency-by-a-non-party-is-under-none", with(emergencyNoAgreement(), func(r *agreements.Request) {
			r.Sender, r.Recipient, r.Agreement = "council.fraud", "police.northshire", "police-crime"
		}), override, []string{agreements.CheckPartyIsSender, agreements.CheckFlowPermitted}},
		{"deny/emergency-authoriser-rank-too-low-under-agreement", with(councilToPolice(), func(r *agreements.Request) {
			r.Agreement, r.Purpose, r.Exemption, r.Emergency, r.SentToday, r.AuthoriserRank = "police-capped", "safeguarding-adult", "", true, 1, "officer"
		}), deny, []string{agreements.CheckVolumeWithinLimit, agreements.CheckAuthoriserRank, agreements.CheckOverrideEmergency}},
		{"deny/emergency-category-outside-flow-under-agreement", with(councilToPolice(), func(r *agreements.Request) {
			r.Agreement, r.Purpose, r.Exemption, r.Emergency, r.SentToday = "police-capped", "safeguarding-adult", "", true, 1
			r.DataCategories = []string{"identity", "education"}
		}), deny, []string{agreements.CheckVolumeWithinLimit, agreements.CheckCategoriesPermitted, agreements.CheckOverrideEmergency}},
		{"deny/emergency-withholding-notification-for-ever", with(emergencyNoAgreement(), func(r *agreements.Request) {
			r.Notification, r.NotificationReviewAt = "withhold", now.AddDate(5, 0, 0)
		}), deny, []string{agreements.CheckAgreementExists, agreements.CheckNotification, agreements.CheckOverrideEmergency}},
	}
}

func TestDecide(t *testing.T) {
	reg := testRegistry(t)
	cases := decideCases()
	require.GreaterOrEqual(t, len(cases), 60)
	passed, failed := map[string]bool{}, map[string]bool{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req
			d := agreements.Decide(&req, reg, now)
			got := d.FailedCodes()
			sort.Strings(got)
			want := slices.Clone(tc.failed)
			sort.Strings(want)
			require.Equal(t, tc.outcome, d.Outcome, "checks: %+v", d.Checks)
			require.Equal(t, want, emptyNil(got), "checks: %+v", d.Checks)
			for _, c := range d.Checks {
				require.NotEmpty(t, c.Message, c.Code)
				require.Contains(t, agreements.CheckCodes, c.Code)
				if c.Passed {
					passed[c.Code] = true
				} else {
					failed[c.Code] = true
				}
			}
			if d.Outcome == agreements.AllowOverride {
				require.Equal(t, now.Add(72*time.Hour), d.ReviewBy, "an override is flagged for DPO review")
			} else {
				require.True(t, d.ReviewBy.IsZero())
			}
			// Deterministic: the same inputs give the same decision.
			again := agreements.Decide(&req, reg, now)
			require.Equal(t, d, again)
		})
	}
	for _, code := range agreements.CheckCodes {
		require.True(t, passed[code], "no case passes %s", code)
		require.True(t, failed[code], "no case fails %s", code)
	}
}

func emptyNil(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// An emergency that an agreement cannot grant is recorded as made under no
// agreement, never under that one; one it grants is recorded under it.
func TestDecideEmergencyRecordsTheAgreementReliedOn(t *testing.T) {
	reg := testRegistry(t)
	for _, tc := range decideCases() {
		if tc.outcome != agreements.AllowOverride {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req
			d := agreements.Decide(&req, reg, now)
			a := reg.Agreement(req.Agreement)
			grants := a != nil && a.Status == agreements.StatusActive && a.DPIA.Complete(now) &&
				!slices.Contains(d.FailedCodes(), agreements.CheckAgreementInForce) && !slices.Contains(d.FailedCodes(), agreements.CheckPartyIsSender)
			if grants {
				require.Equal(t, a.Ref(), d.Agreement)
				require.GreaterOrEqual(t, d.Flow, 0)
			} else {
				require.Empty(t, d.Agreement, "recorded as made under no agreement")
				require.Equal(t, -1, d.Flow)
				require.Empty(t, d.Handler)
			}
		})
	}
}

// The decision says which law it applied: the flow's regime.
func TestDecideRecordsRegime(t *testing.T) {
	reg := testRegistry(t)
	for _, tc := range []struct {
		req  agreements.Request
		want string
	}{
		{part3Request(), agreements.RegimePart3},
		{with(councilToPolice(), func(r *agreements.Request) { r.Agreement = "police-part3" }), agreements.RegimeUKGDPR},
		{policeRequest(), agreements.RegimePart3},
		{policeSafeguardingRequest(), agreements.RegimeUKGDPR},
		{councilAnswer(), agreements.RegimeUKGDPR},
		{emergencyNoAgreement(), agreements.RegimeUKGDPR},
		{with(councilToPolice(), func(r *agreements.Request) { r.Agreement = "" }), ""},
	} {
		d := agreements.Decide(&tc.req, reg, now)
		require.Equal(t, tc.want, d.Regime, "%s → %s", tc.req.Sender, tc.req.Recipient)
	}
}

func TestDecideRecordsAgreementAndHandler(t *testing.T) {
	reg := testRegistry(t)
	req := policeRequest()
	d := agreements.Decide(&req, reg, now)
	require.Equal(t, "police-crime@1", d.Agreement)
	require.Equal(t, 1, d.Flow)
	require.Equal(t, "council.legal", d.Handler)
}

// FuzzDecide: whatever a request says, Decide never panics, allows only when
// no check failed (or under an emergency override with its check passed),
// and never allows a prohibited purpose without consent.
func FuzzDecide(f *testing.F) {
	f.Add("council.revenues", "police.northshire", "police-crime", "crime-prevention-detection", "A6-1-e", "DPA-S2-P1-2", "identity", 1, 1, true, "")
	f.Add("council.social-care", "police.northshire", "", "safeguarding-child", "A6-1-d", "", "health", 0, 9, true, "")
	f.Add("council.revenues", "council.social-care", "council-newsletter", "marketing", "A6-1-a", "", "contact", 1, 1, false, "C-1")
	reg := testRegistry(f)
	f.Fuzz(func(t *testing.T, sender, recipient, agreement, purpose, basis, exemption, category string, named, count int, emergency bool, consent string) {
		req := agreements.Request{
			Sender: sender, Recipient: recipient, Agreement: agreement, Purpose: purpose, LawfulBasis: basis,
			Exemption: exemption, DataCategories: []string{category}, NamedSubjects: named, SubjectCount: count,
			Emergency: emergency, ConsentRef: consent, Justification: "j", AuthoriserName: "a", AuthoriserRank: "inspector",
		}
		d := agreements.Decide(&req, reg, now)
		failed := d.FailedCodes()
		switch d.Outcome {
		case agreements.Allow:
			require.Empty(t, failed)
		case agreements.AllowOverride:
			require.True(t, emergency)
			require.True(t, agreements.VitalInterest(purpose))
			require.NotContains(t, failed, agreements.CheckOverrideEmergency)
		}
		if agreements.Prohibited(purpose) && consent == "" {
			require.False(t, d.Outcome.Allowed())
		}
	})
}
