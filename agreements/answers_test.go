package agreements_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/agreements"
)

// An answer is judged under its own flow's regime: across regimes the
// request's basis is mapped onto what the answer's flow permits, never
// carried over as it stands.
func TestAnswerBasis(t *testing.T) {
	council := &agreements.Flow{
		LawfulBases: []string{"A6-1-c", "A6-1-e"}, Exemptions: []string{"DPA-S2-P1-2"},
		CriminalOffence: []string{"A10", "DPA-S1-P2-10"}, SpecialCategory: []string{"A9-2-g", "DPA-S1-P2-18"},
	}
	police := &agreements.Flow{Regime: agreements.RegimePart3, LawfulBases: []string{"DPA-S35-2-b"}, SpecialCategory: []string{"DPA-S8-4"}}
	crime := []string{"identity", "criminal-offence"}
	tests := []struct {
		name    string
		flow    *agreements.Flow
		regime  string
		asked   agreements.Basis
		purpose string
		cats    []string
		want    agreements.Basis
	}{
		{"ok/same-regime-carries-over", council, agreements.RegimeUKGDPR,
			agreements.Basis{LawfulBasis: "A6-1-c", Exemption: "DPA-S2-P1-2", CriminalOffence: []string{"A10", "DPA-S1-P2-10"}},
			"crime-prevention-detection", crime,
			agreements.Basis{LawfulBasis: "A6-1-c", Exemption: "DPA-S2-P1-2", CriminalOffence: []string{"A10", "DPA-S1-P2-10"}}},
		{"ok/part3-request-answered-under-uk-gdpr", council, agreements.RegimePart3,
			agreements.Basis{LawfulBasis: "DPA-S35-2-b"}, "crime-prevention-detection", crime,
			agreements.Basis{LawfulBasis: "A6-1-e", Exemption: "DPA-S2-P1-2", CriminalOffence: []string{"A10", "DPA-S1-P2-10"}}},
		{"ok/part3-sensitive-maps-to-art9-and-sch1", council, agreements.RegimePart3,
			agreements.Basis{LawfulBasis: "DPA-S35-2-b", SpecialCategory: []string{"DPA-S8-4"}}, "crime-prevention-detection", []string{"identity", "health"},
			agreements.Basis{LawfulBasis: "A6-1-e", Exemption: "DPA-S2-P1-2", SpecialCategory: []string{"A9-2-g", "DPA-S1-P2-18"}}},
		{"ok/uk-gdpr-request-answered-under-part3", police, agreements.RegimeUKGDPR,
			agreements.Basis{LawfulBasis: "A6-1-e", Exemption: "DPA-S2-P1-2", SpecialCategory: []string{"A9-2-g", "DPA-S1-P2-18"}, CriminalOffence: []string{"A10", "DPA-S1-P2-10"}},
			"crime-prevention-detection", []string{"identity", "health", "criminal-offence"},
			agreements.Basis{LawfulBasis: "DPA-S35-2-b", SpecialCategory: []string{"DPA-S8-4"}}},
		{"deny/consent-never-carries-over", council, agreements.RegimePart3,
			agreements.Basis{LawfulBasis: "DPA-S35-2-a", SpecialCategory: []string{"DPA-S35-4"}}, "crime-prevention-detection", []string{"identity"},
			agreements.Basis{Exemption: "DPA-S2-P1-2"}},
		{"deny/no-basis-the-flow-permits", &agreements.Flow{LawfulBases: []string{"A6-1-d"}}, agreements.RegimePart3,
			agreements.Basis{LawfulBasis: "DPA-S35-2-b"}, "crime-prevention-detection", []string{"identity"},
			agreements.Basis{}},
		{"deny/exemption-only-where-it-serves-the-purpose", council, agreements.RegimePart3,
			agreements.Basis{LawfulBasis: "DPA-S35-2-b"}, "legal-proceedings", []string{"identity"},
			agreements.Basis{LawfulBasis: "A6-1-e"}},
		{"deny/criminal-offence-condition-not-on-the-flow", council, agreements.RegimePart3,
			agreements.Basis{LawfulBasis: "DPA-S35-2-b"}, "fraud-prevention-detection", crime,
			agreements.Basis{LawfulBasis: "A6-1-e", Exemption: "DPA-S2-P1-2"}},
		{"ok/no-answer-flow-carries-over", nil, agreements.RegimePart3,
			agreements.Basis{LawfulBasis: "DPA-S35-2-b"}, "crime-prevention-detection", crime,
			agreements.Basis{LawfulBasis: "DPA-S35-2-b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, agreements.AnswerBasis(tt.flow, tt.regime, tt.asked, tt.purpose, tt.cats))
		})
	}
}
