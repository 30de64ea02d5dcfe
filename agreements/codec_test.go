package agreements_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/devenv/demo"
	"github.com/gatehouse-gw/gatehouse/internal/valid"
)

// nfiYAML is a valid agreement document, changed by each case below.
const nfiYAML = `id: nfi
title: National Fraud Initiative data matching
controllers: separate
signatories:
  - party: council.fraud
    name: S. Byrne
    role: Section 151 Officer
dpia:
  reference: NSC-DPIA-2025-037
  completed: 2025-11-10
  outcome: approved
  approver: Data Protection Officer
effective_from: 2026-01-01
review_by: 2027-03-31
retention: 30d
subject_notification:
  default: notify
flows:
  - from: [council.fraud]
    to: [cabinet-office.nfi]
    purposes: [public-funds-audit]
    lawful_bases: [A6-1-c]
    data_categories: [identity, financial]
    max_subjects: 10
`

func problems(t *testing.T, err error) map[string]string {
	t.Helper()
	v, ok := valid.As(err)
	require.True(t, ok, "want valid.Errors, got %v", err)
	got := map[string]string{}
	for _, p := range v {
		got[p.Path+" "+p.Rule] = p.Message
	}
	return got
}

// toJSON re-writes a YAML case as the same JSON document.
func toJSON(t *testing.T, doc string) []byte {
	t.Helper()
	var v any
	require.NoError(t, yamlUnmarshal([]byte(doc), &v))
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

func TestDecodeReportsEveryProblemWithItsPath(t *testing.T) {
	doc := strings.NewReplacer(
		"max_subjects: 10", "max_subjects: five",
		"effective_from: 2026-01-01", "effective_from: 1st of May",
		"title: National Fraud Initiative data matching", "title: [not, text]",
		"controllers: separate", "controllers: shared",
		"outcome: approved", "outcome: approved\n  Outcome: rejected",
		"  default: notify", "  default: notify\n  default: withhold",
	).Replace(nfiYAML)
	want := map[string]string{
		"flows[0].max_subjects type":                 `"five" is not a number`,
		"effective_from format":                      `"1st of May" is not a date (want YYYY-MM-DD)`,
		"title type":                                 "must be a string, not a list",
		"dpia.Outcome case-variant":                  `is not a field of this document: keys are case-sensitive (the field is "outcome")`,
		"subject_notification.default duplicate-key": "appears more than once in its mapping; each key may be given once",
		"controllers enum":                           `"shared" is not one of separate, joint`, // a bad date hides nothing
	}
	for name, decode := range map[string]func() (*agreements.Agreement, error){
		"yaml": func() (*agreements.Agreement, error) { return agreements.DecodeYAML([]byte(doc)) },
		"json": func() (*agreements.Agreement, error) {
			// JSON cannot be derived by a YAML library from a document with
			// duplicate keys; it is written out.
			j := strings.Replace(string(toJSON(t, strings.Replace(strings.Replace(doc, "  default: notify\n  default: withhold", "  default: notify", 1), "\n  Outcome: rejected", "", 1))),
				`"default":"notify"`, `"default":"notify","default":"withhold"`, 1)
			j = strings.Replace(j, `"outcome":"approved"`, `"outcome":"approved","Outcome":"rejected"`, 1)
			return agreements.DecodeJSON([]byte(j))
		},
	} {
		t.Run(name, func(t *testing.T) {
			a, err := decode()
			require.Nil(t, a)
			got := problems(t, err)
			for k, msg := range want {
				require.Equal(t, msg, got[k], "%s in %v", k, got)
			}
			require.NotContains(t, got, "effective_from required", "a field that failed to decode is not also called missing")
			require.NotContains(t, got, "title required")
		})
	}
}

func TestDecodeRefuses(t *testing.T) {
	// Each flow expands to some 110 values through aliases: 98 of them pass
	// the bound on values though the document is small.
	laughs := strings.Replace(nfiYAML, "    max_subjects: 10\n", "", 1) +
		"  - &f {from: [council.revenues], to: [dwp], purposes: &p [a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q, r, s, t, u, v, w, x, y, z, aa, ab, ac, ad, ae, af], lawful_bases: *p, data_categories: *p}\n"
	for range 97 {
		laughs += "  - *f\n"
	}
	long := strings.Repeat("x", 200)
	// Twenty flows of 32 instruments, each titled by one 500-character
	// anchor, stay within the values bound but not within the stored size.
	stored := strings.Replace(nfiYAML, "    max_subjects: 10\n", "    instruments: &i\n", 1)
	for i := range 32 {
		if i == 0 {
			stored += "      - {title: &t " + strings.Repeat("y", 500) + "}\n"
			continue
		}
		stored += "      - {title: *t}\n"
	}
	for range 20 {
		stored += "  - {from: [council.revenues], to: [dwp], purposes: [x], instruments: *i}\n"
	}
	var flows strings.Builder
	flows.WriteString(strings.TrimSuffix(nfiYAML, "\n"))
	for range 100 {
		flows.WriteString("\n  - {from: [a], to: [b], purposes: [x], lawful_bases: [A6-1-c], data_categories: [identity]}")
	}
	for _, tc := range []struct {
		name, doc, path, rule string
	}{
		{"tag/python", strings.Replace(nfiYAML, "title: National", "title: !!python/object:os.system National", 1), "title", agreements.RuleTag},
		{"tag/local", strings.Replace(nfiYAML, "retention: 30d", "retention: !duration 30d", 1), "retention", agreements.RuleTag},
		{"tag/binary", strings.Replace(nfiYAML, "title: National", "title: !!binary aGVsbG8=\nx: National", 1), "title", agreements.RuleTag},
		{"tag/merge", strings.Replace(nfiYAML, "dpia:\n", "base: &b {outcome: approved}\ndpia:\n  <<: *b\n", 1), "dpia", agreements.RuleTag},
		{"aliases/billion-laughs", laughs, "(document)", agreements.RuleTooLarge},
		{"aliases/stored-form", stored, "(document)", agreements.RuleTooLarge},
		{"bound/id", strings.Replace(nfiYAML, "id: nfi", "id: nfi"+long, 1), "id", agreements.RuleMaximum},
		{"bound/title", strings.Replace(nfiYAML, "National", strings.Repeat("National ", 60), 1), "title", agreements.RuleMaximum},
		{"bound/flows", flows.String(), "flows", agreements.RuleMaxItems},
		{"control/esc", strings.Replace(nfiYAML, "name: S. Byrne", "name: \"S. \\e[31mByrne\"", 1), "signatories[0].name", agreements.RuleControl},
		{"control/bell", strings.Replace(nfiYAML, "role: Section 151 Officer", "role: \"\\aSection 151 Officer\"", 1), "signatories[0].role", agreements.RuleControl},
		{"control/bidi", strings.Replace(nfiYAML, "approver: Data Protection Officer", "approver: \"\u202eData Protection Officer\"", 1), "dpia.approver", agreements.RuleControl},
		{"control/newline", strings.Replace(nfiYAML, "role: Section 151 Officer", "role: \"Section\\n151\"", 1), "signatories[0].role", agreements.RuleControl},
		{"syntax", "id: [nfi\n", "(document)", agreements.RuleSyntax},
		{"two-documents", nfiYAML + "---\n" + nfiYAML, "(document)", agreements.RuleSyntax},
		{"duplicate-flow", nfiYAML + "  - {from: [council.fraud], to: [cabinet-office.nfi], purposes: [fraud-prevention-detection, public-funds-audit], lawful_bases: [A6-1-c], data_categories: [identity]}\n", "flows[1]", "duplicate-flow"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := agreements.DecodeYAML([]byte(tc.doc))
			if a != nil {
				err = a.Validate()
			}
			got := problems(t, err)
			require.Contains(t, got, tc.path+" "+tc.rule, "%v", got)
			require.Less(t, len(err.Error()), 16<<10, "the problems stay small")
		})
	}
}

func TestDecodeAcceptsAnchorsWithinBounds(t *testing.T) {
	doc := strings.Replace(nfiYAML, "purposes: [public-funds-audit]", "purposes: &p [public-funds-audit]", 1) +
		"  - {from: [council.revenues], to: [cabinet-office.nfi], purposes: *p, lawful_bases: [A6-1-c], data_categories: [identity]}\n"
	a, err := agreements.DecodeYAML([]byte(doc))
	require.NoError(t, err)
	require.NoError(t, a.Validate())
	require.Equal(t, []string{"public-funds-audit"}, a.Flows[1].Purposes)
}

func TestDecodeJSONRefusesWhatStrictJSONRefuses(t *testing.T) {
	for name, doc := range map[string]string{
		"trailing":     `{"id":"x"} {}`,
		"invalid-utf8": "{\"id\":\"\xff\"}",
		"deep":         strings.Repeat(`{"flows":[`, 20) + strings.Repeat("]}", 20),
		"not-object":   `[1,2]`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := agreements.DecodeJSON([]byte(doc))
			_, ok := valid.As(err)
			require.True(t, ok, "%v", err)
		})
	}
}

func TestDemoDocumentsRoundTripThroughTheCodec(t *testing.T) {
	for _, a := range demo.AgreementsAt(now) {
		b, err := json.Marshal(a)
		require.NoError(t, err)
		require.Less(t, len(b), agreements.MaxEncoded)
		back, err := agreements.DecodeJSON(b)
		require.NoError(t, err, a.ID)
		require.Equal(t, a, back)
	}
}

func yamlUnmarshal(b []byte, v any) error { return yaml.Unmarshal(b, v) }
