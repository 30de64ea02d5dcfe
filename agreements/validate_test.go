package agreements_test

import (
	"encoding/json"
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
    authoriser_rank: captain
    handler: council.legal
  - from: [council.revenues]
    to: [dwp]
    purposes: [benefit-administration]
    lawful_bases: [A6-1-c]
    special_category: [DPA-S1-P2-10, A9-2-h]
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
		"id format":                                  `id: "Bad Agreement" is not an agreement id (lower-case words joined by '.' or '-')`,
		"title required":                             "title: is required",
		"controllers enum":                           `controllers: "shared" is not one of separate, joint`,
		"signatories required":                       "signatories: needs at least one signatory for each side",
		"flows[0].to[0] distinct":                    `flows[0].to[0]: "council.revenues" cannot send to itself`,
		"flows[0].purposes[1] consent":               `flows[0].purposes[1]: "marketing" needs a consent record: the flow must rely on consent (A6-1-a)`,
		"flows[0].purposes[2] code":                  `flows[0].purposes[2]: "gossip" is not a known purpose`,
		"flows[0].lawful_bases[0] public-authority":  `flows[0].lawful_bases[0]: "A6-1-f" is not available to a public authority performing its tasks`,
		"flows[0].lawful_bases[1] code":              `flows[0].lawful_bases[1]: "A6-1-z" is not an Art 6 lawful basis (A6-1-a … A6-1-f)`,
		"flows[0].data_categories criminal-offence":  `flows[0].data_categories: "criminal-offence" needs a criminal_offence condition (A10 with a DPA Sch 1 condition)`,
		"flows[0].exemptions[0] code":                `flows[0].exemptions[0]: "DPA-S2-P9-9" is not a DPA Sch 2 exemption`,
		"flows[0].authoriser_rank code":              `flows[0].authoriser_rank: "captain" is not a known rank`,
		"flows[0].handler recipient":                 `flows[0].handler: "council.legal" must be one of the flow's recipients (to)`,
		"flows[1].special_category[0] pairing":       `flows[1].special_category[0]: "DPA-S1-P2-10" completes "A9-2-g", which the flow does not list`,
		"flows[1].special_category[1] schedule-1":    `flows[1].special_category[1]: "A9-2-h" needs a DPA Sch 1 condition as well (DPA 2018 s.10)`,
		"flows[1].fields.on_extra enum":              `flows[1].fields.on_extra: "ignore" is not one of strip, refuse`,
		"flows[1].fields.pseudonymise[0] allowlist":  `flows[1].fields.pseudonymise[0]: "nino" is pseudonymised but not in fields.allow`,
		"appropriate_policy_document required":       "appropriate_policy_document: a DPA Sch 1 Part 2 condition is relied on, so the controller's appropriate policy document (Sch 1 Pt 4) must be referenced",
		"expires_at after":                           "expires_at: must be after effective_from (2026-01-01)",
		"review_by required":                         "review_by: is required: every agreement is reviewed",
		"retention required":                         "retention: is required: delivered payloads are kept only as long as needed (e.g. 90d)",
		"subject_notification.reason required":       "subject_notification.reason: is required",
		"subject_notification.review_after required": "subject_notification.review_after: is required when notification is withheld by default: withholding is reviewed",
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
