package agreements_test

import (
	"encoding/json"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/devenv/demo"
	"github.com/gatehouse-gw/gatehouse/internal/valid"
)

func TestDemoAgreementsAreValid(t *testing.T) {
	reg := agreements.NewRegistry(demo.Parties(), nil)
	for _, a := range demo.AgreementsAt(now) {
		require.NoError(t, a.Validate(), a.ID)
		require.NoError(t, a.CheckActivation(reg, now), a.ID)
	}
}

const badAgreement = `
id: Bad Agreement
title: ""
controllers: shared
signatories: []
flows:
  - from: [council.revenues]
    to: [council.revenues, police.northshire]
    purposes: [crime-prevention-detection, marketing, gossip]
    lawful_bases: [A6-1-f, A6-1-z]
    data_categories: [identity, criminal-offence]
    exemptions: [DPA-S2-P9-9]
    authoriser_rank: {police: captain, court: judge, council-service: Head of Service}
    handler: council.legal
  - from: [council.revenues]
    to: [dwp]
    purposes: [benefit-administration]
    lawful_bases: [A6-1-c]
    special_category: [DPA-S1-P2-10, A9-2-h, DPA-S1-P3-30]
    exemptions: [DPA-S2-P1-5]
    data_categories: [health]
    fields:
      allow: [name]
      pseudonymise: [nino]
      on_extra: ignore
effective_from: 2026-01-01
expires_at: 2025-01-01
retention: 0d
subject_notification:
  default: withhold
`

func TestValidateReportsEveryProblemWithItsPath(t *testing.T) {
	a, err := agreements.DecodeYAML([]byte(badAgreement))
	require.NoError(t, err)
	err = a.Validate()
	v, ok := valid.As(err)
	require.True(t, ok, "%v", err)
	got := map[string]string{}
	for _, p := range v {
		got[p.Path+" "+p.Rule] = p.String()
	}
	want := map[string]string{
		"id format":                                     `id: "Bad Agreement" is not an agreement id (lower-case words joined by '.' or '-')`,
		"title required":                                "title: is required",
		"controllers enum":                              `controllers: "shared" is not one of separate, joint`,
		"signatories required":                          "signatories: needs at least one signatory for each side",
		"flows[0].to[0] distinct":                       `flows[0].to[0]: "council.revenues" cannot send to itself`,
		"flows[0].purposes[1] consent":                  `flows[0].purposes[1]: "marketing" needs a consent record: the flow must rely on consent (A6-1-a)`,
		"flows[0].purposes[2] code":                     `flows[0].purposes[2]: "gossip" is not a known purpose (` + keys(agreements.Purposes) + `)`,
		"flows[0].lawful_bases[0] public-authority":     `flows[0].lawful_bases[0]: "A6-1-f" is not available to a public authority performing its tasks`,
		"flows[0].lawful_bases[1] code":                 `flows[0].lawful_bases[1]: "A6-1-z" is not an Art 6 lawful basis (A6-1-a, A6-1-b, A6-1-c, A6-1-d, A6-1-e, A6-1-f)`,
		"flows[0].data_categories criminal-offence":     `flows[0].data_categories: "criminal-offence" needs a criminal_offence condition (A10 with a DPA Sch 1 condition)`,
		"flows[0].exemptions[0] code":                   `flows[0].exemptions[0]: "DPA-S2-P9-9" is not a DPA Sch 2 exemption (DPA-S2-P1-2, DPA-S2-P1-5)`,
		"flows[0].authoriser_rank.police code":          `flows[0].authoriser_rank.police: "captain" is not one of the police ranks (` + strings.Join(agreements.PoliceRanks.Codes(), ", ") + `)`,
		"flows[0].authoriser_rank.court kind":           `flows[0].authoriser_rank.court: "court" is not a kind of party with ranks (police, council-service, local-authority, dwp, hmrc, cabinet-office)`,
		"flows[0].authoriser_rank.council-service code": `flows[0].authoriser_rank.council-service: write the rank as its code: "Head of Service" is head-of-service`,
		"flows[1].special_category[2] article-10-only":  `flows[1].special_category[2]: "DPA-S1-P3-30" is a Sch 1 Part 3 condition: it serves criminal-offence data (Art 10) only`,
		"flows[1].exemptions[0] purpose":                `flows[1].exemptions[0]: DPA-S2-P1-5 serves only legal-proceedings, statutory-duty; the flow has none of those purposes`,
		"flows[0].handler recipient":                    `flows[0].handler: "council.legal" must be one of the flow's recipients (to)`,
		"flows[1].special_category[0] pairing":          `flows[1].special_category[0]: "DPA-S1-P2-10" completes "A9-2-g", which the flow does not list`,
		"flows[1].special_category[1] schedule-1":       `flows[1].special_category[1]: "A9-2-h" needs a DPA Sch 1 condition as well (DPA 2018 s.10)`,
		"flows[1].fields.on_extra enum":                 `flows[1].fields.on_extra: "ignore" is not one of strip, refuse`,
		"flows[1].fields.pseudonymise[0] allowlist":     `flows[1].fields.pseudonymise[0]: "nino" is pseudonymised but not in fields.allow`,
		"appropriate_policy_document required":          "appropriate_policy_document: a DPA Sch 1 Part 2 condition is relied on, so the controller's appropriate policy document (Sch 1 Pt 4) must be referenced",
		"expires_at after":                              "expires_at: must be after effective_from (2026-01-01)",
		"review_by required":                            "review_by: is required: every agreement is reviewed",
		"retention required":                            "retention: is required: delivered payloads are kept only as long as needed (e.g. 90d)",
		"subject_notification.reason required":          "subject_notification.reason: is required",
		"subject_notification.review_after required":    "subject_notification.review_after: is required when notification is withheld by default: withholding is reviewed",
	}
	require.Equal(t, want, got)
}

func TestSpecialCategoryNeedsCondition(t *testing.T) {
	a := demo.AgreementsAt(now)[1] // dwp-benefits
	require.Equal(t, "dwp-benefits", a.ID)
	a.Flows[1].SpecialCategory = nil
	err := a.Validate()
	require.ErrorContains(t, err, `flows[1].data_categories: "health" needs a special_category condition`)
}

func TestCheckActivation(t *testing.T) {
	reg := agreements.NewRegistry(demo.Parties(), nil)
	a := demo.AgreementsAt(now)[0] // court-orders
	a.DPIA = nil
	require.ErrorContains(t, a.CheckActivation(reg, now), "dpia: required before activation")

	a = demo.AgreementsAt(now)[0]
	a.DPIA.Completed = agreements.MustDate("2027-01-01")
	require.ErrorContains(t, a.CheckActivation(reg, now), "dpia.completed: the privacy impact assessment must be completed before activation")

	a = demo.AgreementsAt(now)[0]
	a.Flows[0].To = []string{"court.elsewhere"}
	require.ErrorContains(t, a.CheckActivation(reg, now), `flows[0].to[0]: party "court.elsewhere" is not registered`)

	for _, p := range []string{"police-crime"} {
		for _, ag := range demo.AgreementsAt(now) {
			if ag.ID == p {
				ag.Flows[1].Handler = "police.northshire"
				ag.Flows[1].To = []string{"police.northshire", "council.legal"}
				ag.Flows[1].From = []string{"council.revenues"}
				require.ErrorContains(t, ag.CheckActivation(reg, now), `flows[1].handler: handler "police.northshire" must be a council service, not police`)
			}
		}
	}
}

func TestDecodeIsStrict(t *testing.T) {
	_, err := agreements.DecodeYAML([]byte("id: x\nflows:\n  - from: [a]\n    too: [b]\n"))
	require.ErrorContains(t, err, "flows[0].too: is not a field of this document")
	_, err = agreements.DecodeJSON([]byte(`{"id":"x","flow":[]}`))
	require.ErrorContains(t, err, "flow: is not a field of this document")
	_, err = agreements.DecodeJSON([]byte(`{"id":"x"} {}`))
	require.Error(t, err)
	_, err = agreements.DecodeYAML([]byte("id: x\n---\nid: y\n"))
	require.ErrorContains(t, err, "holds more than one YAML document")
	_, err = agreements.DecodeYAML([]byte("id: x\nretention: 90\n"))
	require.ErrorContains(t, err, "is not a duration")
	_, err = agreements.DecodeYAML([]byte("id: x\neffective_from: 1st May\n"))
	require.ErrorContains(t, err, "is not a date")
}

func TestCodecRoundTrip(t *testing.T) {
	for _, a := range demo.AgreementsAt(now) {
		b, err := json.Marshal(a)
		require.NoError(t, err)
		back, err := agreements.DecodeJSON(b)
		require.NoError(t, err, a.ID)
		require.Equal(t, a, back, a.ID)
		require.False(t, strings.Contains(string(b), `"author"`), "unset registry fields are omitted")
	}
}

// FuzzDecodeAgreement: any document either fails to decode or decodes into
// an agreement that validation judges without panicking, and a valid one
// survives a JSON round trip unchanged.
func FuzzDecodeAgreement(f *testing.F) {
	f.Add([]byte(badAgreement))
	f.Add([]byte("id: x\nretention: 2w\neffective_from: 2026-01-01\nflows: [{from: [a], to: [b]}]\n"))
	f.Add([]byte(`{"id":"nfi","flows":[{"from":["a"],"to":["b"],"fields":{"allow":["x"]}}],"dpia":{"completed":"2026-01-01"}}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		for _, decode := range []func([]byte) (*agreements.Agreement, error){agreements.DecodeYAML, agreements.DecodeJSON} {
			a, err := decode(doc)
			if err != nil {
				continue
			}
			if a.Validate() != nil {
				continue
			}
			_ = a.CheckActivation(agreements.NewRegistry(nil, nil), now)
			b, err := json.Marshal(a)
			require.NoError(t, err)
			back, err := agreements.DecodeJSON(b)
			require.NoError(t, err)
			require.Equal(t, a, back)
		}
	})
}

func keys[V any](m map[string]V) string { return strings.Join(slices.Sorted(maps.Keys(m)), ", ") }

// An unknown code in a request is a mistake to correct: each is named by its
// field, with the valid codes listed.
func TestRequestValidateNamesFieldAndListsCodes(t *testing.T) {
	req := agreements.Request{
		Purpose: "Marketing", LawfulBasis: "A6-1-g", SpecialCategory: []string{"A9-2-b", "A9-2-z", "DPA-S1-P3-30"},
		CriminalOffence: []string{"A10", "A11"}, Exemption: "DPA-S2-P1-9", DataCategories: []string{"identity", "shoe-size"},
		AuthoriserRank: "captain",
	}
	v, ok := valid.As(req.Validate())
	require.True(t, ok)
	got := map[string]string{}
	for _, p := range v {
		require.Equal(t, "code", p.Rule, p.Path)
		got[p.Path] = p.Message
	}
	require.Len(t, got, 8, "%v", got)
	require.Contains(t, got["purpose"], `"Marketing" is not a known code; use one of: benefit-administration, commercial,`)
	require.Contains(t, got["lawful_basis"], "A6-1-a, A6-1-b, A6-1-c, A6-1-d, A6-1-e, A6-1-f")
	require.Contains(t, got["special_category[1]"], "A9-2-a")
	require.Contains(t, got["special_category[2]"], "DPA-S1-P1-3", "Part 3 conditions are not for special-category data")
	require.NotContains(t, strings.SplitN(got["special_category[2]"], "use one of", 2)[1], "DPA-S1-P3")
	require.Contains(t, got["criminal_offence[1]"], "A10, DPA-S1-P1-1")
	require.Contains(t, got["criminal_offence[1]"], "DPA-S1-P3-30")
	require.Contains(t, got["exemption"], "DPA-S2-P1-2, DPA-S2-P1-5")
	require.Contains(t, got["data_categories[1]"], "social-care")
	require.Contains(t, got["authoriser.rank"], "police ranks: constable, sergeant, inspector")
	require.Contains(t, got["authoriser.rank"], "council grades: officer")

	ok2 := agreements.Request{Purpose: "crime-prevention-detection", LawfulBasis: "A6-1-e", CriminalOffence: []string{"A10", "DPA-S1-P3-33"},
		DataCategories: []string{"criminal-offence"}, AuthoriserRank: "Ch. Supt."}
	require.NoError(t, ok2.Validate())
}

// Each kind of organisation has its own ladder: a title of one never
// satisfies the rank of another, and the forms people write are accepted.
func TestRankLadders(t *testing.T) {
	police := agreements.RankRequirements{agreements.KindPolice: "chief-constable"}
	require.False(t, police.MeetsAs(agreements.KindPolice, "chief-executive"))
	require.False(t, police.MeetsAs(agreements.KindPolice, "permanent-secretary"))
	require.True(t, police.MeetsAs(agreements.KindPolice, "Chief Constable"))
	require.True(t, police.MeetsAs(agreements.KindPolice, "Assistant Commissioner"), "a Met assistant commissioner stands with a chief constable")
	require.False(t, police.MeetsAs(agreements.KindPolice, "City Assistant Commissioner"))
	require.False(t, police.MeetsAs(agreements.KindPolice, ""))
	for written, code := range map[string]string{
		"Chief Superintendent": "chief-superintendent", "chief_superintendent": "chief-superintendent", "Ch. Supt.": "chief-superintendent",
		"DCI": "chief-inspector", "Detective Sergeant": "sergeant", "PC": "constable", "ACC": "assistant-chief-constable",
		"  INSPECTOR ": "inspector", "T/Inspector": "",
	} {
		want := 0
		if code != "" {
			want = agreements.PoliceRanks.Level(code)
		}
		require.Equal(t, want, agreements.PoliceRanks.Level(written), written)
	}
	council := agreements.RankRequirements{agreements.KindCouncilService: "service-manager", agreements.KindHMRC: "higher-officer"}
	require.True(t, council.MeetsAs(agreements.KindCouncilService, "Head of Service"))
	require.True(t, council.MeetsAs(agreements.KindLocalAuthority, "Head of Service"), "a local authority shares the council grades")
	require.False(t, council.MeetsAs(agreements.KindCouncilService, "inspector"), "a council officer cannot authorise with a police rank")
	require.False(t, council.MeetsAs(agreements.KindPolice, "chief constable"), "the flow names no rank for police officers")
	require.False(t, council.MeetsAs(agreements.KindCourt, "head-of-service"), "courts hold no ranks the gateway knows")
	require.False(t, council.MeetsAs(agreements.KindCouncilService, "team leader"))
	require.True(t, agreements.HMRCGrades.Level("Higher Officer") == agreements.HMRCGrades.Level("HEO"))
	// "senior officer" is a council grade and an HMRC grade: judged on the
	// sender's own ladder.
	require.False(t, council.MeetsAs(agreements.KindCouncilService, "senior officer"))
	require.True(t, council.MeetsAs(agreements.KindHMRC, "senior officer"))
	require.False(t, agreements.RankRequirements{}.MeetsAs(agreements.KindPolice, "inspector"))
}

// authoriser_rank names a rank for each kind of authoriser; the single rank
// of earlier documents is refused with a message that says what to write.
func TestAuthoriserRankNeedsAKind(t *testing.T) {
	doc := strings.Replace(demoPoliceCrime(t), "authoriser_rank: {police: inspector}", "authoriser_rank: inspector", 1)
	_, err := agreements.DecodeYAML([]byte(doc))
	v, ok := valid.As(err)
	require.True(t, ok, "%v", err)
	require.Len(t, v, 1)
	require.Equal(t, "flows[1].authoriser_rank", v[0].Path)
	require.Contains(t, v[0].Message, "{police: inspector, council-service: service-manager}")

	doc = strings.Replace(demoPoliceCrime(t), "authoriser_rank: {police: inspector}", "authoriser_rank: {police: inspector, police: constable}", 1)
	_, err = agreements.DecodeYAML([]byte(doc))
	require.ErrorContains(t, err, "flows[1].authoriser_rank.police: appears more than once")

	var f agreements.Flow
	require.ErrorContains(t, json.Unmarshal([]byte(`{"authoriser_rank":"inspector"}`), &f), "for each kind of authoriser")
	require.NoError(t, json.Unmarshal([]byte(`{"authoriser_rank":{"police":"inspector"}}`), &f))
	require.Equal(t, agreements.RankRequirements{agreements.KindPolice: "inspector"}, f.AuthoriserRank)
}

func demoPoliceCrime(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../devenv/demo/agreements/police-crime.yaml")
	require.NoError(t, err)
	return string(b)
}

// A law-enforcement flow (DPA 2018 Part 3) takes s.31 purposes, s.35(2)
// conditions and, for sensitive processing, consent or a Sch 8 condition;
// Art 10, Sch 1 and Sch 2 do not apply to it.
func TestValidatePart3Flow(t *testing.T) {
	a := demo.AgreementsAt(now)[4] // police-crime
	require.Equal(t, "police-crime", a.ID)
	require.NoError(t, a.Validate(), "the demo's police requests for crime are a Part 3 flow")
	require.Equal(t, agreements.RegimePart3, a.Flows[1].Regime)
	f := a.Flows[1]
	f.Purposes, f.LawfulBases = []string{"crime-prevention-detection", "safeguarding-child"}, []string{"DPA-S35-2-b", "A6-1-e"}
	f.CriminalOffence, f.Exemptions = []string{"A10", "DPA-S1-P2-10"}, []string{"DPA-S2-P1-2"}
	f.DataCategories = append(slices.Clone(f.DataCategories), "health")
	f.SpecialCategory = []string{"A9-2-g"}
	a.Flows = []agreements.Flow{a.Flows[0], f}
	v, ok := valid.As(a.Validate())
	require.True(t, ok)
	got := map[string]string{}
	for _, p := range v {
		got[p.Path] = p.Rule
	}
	require.Equal(t, map[string]string{
		"flows[1].purposes[1]":         "law-enforcement",
		"flows[1].lawful_bases[1]":     "code",
		"flows[1].special_category[0]": "code",
		"flows[1].criminal_offence":    "part-3",
		"flows[1].exemptions":          "part-3",
	}, got)

	f.Purposes, f.LawfulBases, f.SpecialCategory, f.CriminalOffence, f.Exemptions = []string{"crime-prevention-detection"}, []string{"DPA-S35-2-b"}, []string{"DPA-S8-4"}, nil, nil
	a.Flows[1] = f
	require.NoError(t, a.Validate())
	f.Regime = "part-3"
	a.Flows[1] = f
	require.ErrorContains(t, a.Validate(), `flows[1].regime: "part-3" is not one of uk-gdpr, dpa-part-3`)
}
