package agreements_test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/devenv/demo"
)

// The worked example of docs/agreements.md is a valid agreement that the
// demo parties can activate, and decides as the text says.
func TestDocsWorkedExample(t *testing.T) {
	md, err := os.ReadFile("../docs/agreements.md")
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(md), "## A worked example")
	require.True(t, ok, "docs/agreements.md has no worked example")
	_, rest, ok = strings.Cut(rest, "```yaml\n")
	require.True(t, ok)
	doc, _, ok := strings.Cut(rest, "```")
	require.True(t, ok)

	a, err := agreements.DecodeYAML([]byte(doc))
	require.NoError(t, err)
	require.NoError(t, a.Validate())
	reg := agreements.NewRegistry(demo.Parties(), nil)
	at := a.EffectiveFrom.Start().AddDate(0, 1, 0)
	require.NoError(t, a.CheckActivation(reg, at))

	a.Version, a.Status = 1, agreements.StatusActive
	reg = agreements.NewRegistry(demo.Parties(), []*agreements.Agreement{a})
	disclose := agreements.Request{
		Sender: "council.social-care", Recipient: "police.northshire", Agreement: a.ID, Purpose: "safeguarding-child",
		LawfulBasis: "A6-1-e", DataCategories: []string{"identity", "health"}, SpecialCategory: []string{"A9-2-g", "DPA-S1-P2-18"},
		NamedSubjects: 1, SubjectCount: 1, Justification: "Child at risk", AuthoriserName: "M. Ade", AuthoriserRank: "Head of Service",
	}
	d := agreements.Decide(&disclose, reg, at)
	require.Equal(t, agreements.Allow, d.Outcome, "%+v", d.Failed())
	require.Equal(t, agreements.RegimeUKGDPR, d.Regime)
	ask := agreements.Request{
		Sender: "police.northshire", Recipient: "council.legal", Agreement: a.ID, Purpose: "crime-prevention-detection",
		LawfulBasis: "DPA-S35-2-b", DataCategories: []string{"identity", "criminal-offence"}, NamedSubjects: 1, SubjectCount: 1,
		Justification: "Suspect in burglary", AuthoriserName: "DI R. Shaw", AuthoriserRank: "Detective Inspector",
	}
	d = agreements.Decide(&ask, reg, at)
	require.Equal(t, agreements.Allow, d.Outcome, "%+v", d.Failed())
	require.Equal(t, agreements.RegimePart3, d.Regime)
	require.Equal(t, "council.legal", d.Handler)
}

// Every code the decision knows is in the table of docs/agreements.md.
func TestDocsListEveryCode(t *testing.T) {
	md, err := os.ReadFile("../docs/agreements.md")
	require.NoError(t, err)
	text := string(md)
	for _, table := range []map[string]string{agreements.Article6, agreements.Part3Bases, agreements.Schedule2, agreements.SafeguardingPowers, agreements.Purposes} {
		for code := range table {
			require.True(t, strings.Contains(text, "`"+code+"`"), code)
		}
	}
	for code := range agreements.Article9 {
		require.True(t, strings.Contains(text, "`"+code+"`"), code)
	}
	for code, s := range agreements.Schedule1 {
		if strings.HasPrefix(code, "DPA-S1-P1-") {
			continue // listed as a range
		}
		require.True(t, strings.Contains(text, "`"+code+"`"), "%s (%s)", code, s.Meaning)
	}
	for _, c := range agreements.CheckCodes {
		require.True(t, strings.Contains(text, "`"+c+"`"), c)
	}
}
