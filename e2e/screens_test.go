package e2e

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/api"
)

// TestConsoleScreens walks the console's journeys and takes a full-page
// screenshot of each, for reviewers: `make screens` writes them to
// var/screens/ (GATEHOUSE_SCREENS names the folder); otherwise they go to a
// temporary folder and are only checked to be pictures.
func TestConsoleScreens(t *testing.T) {
	dir := os.Getenv("GATEHOUSE_SCREENS")
	if dir == "" {
		dir = t.TempDir()
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	gw := consoleGateway(t)
	care := gw.Client(t, "council.social-care")
	_, err := care.Send(context.Background(), &api.ExchangeDeclaration{
		Recipient: "police.northshire", Purpose: "safeguarding-child", LawfulBasis: "A6-1-d",
		DataCategories: []string{"identity"}, Subjects: []api.Subject{{Type: "council-ref", Value: "CS-2209"}},
		Justification: "Child at immediate risk; officers attending now", Urgency: "emergency",
		Authoriser: &api.Authoriser{Name: "M. Ade", Rank: "head-of-service"}, ContentType: "text/plain", Size: 5,
	}, strings.NewReader("alert"))
	require.NoError(t, err)
	_, err = gw.Admin(t, "ivy", "admin").Register(context.Background(), []byte(youthJusticeYAML), "application/yaml")
	require.NoError(t, err)
	hosts := []string{"crl.northshire-police.example"}
	_, err = gw.Admin(t, "ivy", "admin").ProposePartyChange(context.Background(), "police.northshire",
		&api.PartyChangeProposal{RevocationHosts: &hosts, Reason: "Their CRLs move to a host of their own"})
	require.NoError(t, err)

	b := newBrowser(t, gw)
	n := 0
	shot := func(name string) {
		t.Helper()
		n++
		img, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100)) // 100: PNG
		require.NoError(t, err)
		_, err = png.Decode(bytes.NewReader(img))
		require.NoError(t, err, "%s is a PNG", name)
		require.NoError(t, os.WriteFile(filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".png"), img, 0o644))
	}
	visit := func(path, name string) {
		t.Helper()
		b.run(t, chromedp.Navigate(gw.ConsoleURL+path), chromedp.WaitVisible(css("#main-content")))
		b.text(t, "#main-content") // once loaded
		shot(name)
	}
	b.run(t, chromedp.Navigate(gw.ConsoleURL+"/"), chromedp.WaitVisible(css("#sign-in")))
	shot("01 sign in")
	b.run(t, chromedp.Click(css("#sign-in")), chromedp.WaitVisible(css(`input[value="`+dana+`"]`)))
	shot("02 identity provider")
	b.run(t, chromedp.Click(css(`input[value="`+dana+`"]`)), chromedp.Click(css("#sign-in")), chromedp.WaitVisible(css("#signed-in-as")))
	b.text(t, "#main-content")
	shot("03 home dpo")
	visit("/agreements", "04 agreements")
	visit("/agreements/youth-justice", "05 agreement draft to approve")
	visit("/agreements/youth-justice/diff?to=1", "06 diff")
	visit("/overrides", "07 overrides")
	visit("/exports", "08 exports")
	visit("/exports/disclosures?format=csv&from=2026-01-01&to=2026-12-31", "09 export ready")
	b.run(t, chromedp.Click(css("#export-print")))
	b.run(t, chromedp.WaitVisible(css(".govuk-table")))
	shot("10 printable register")
	visit("/parties", "11 parties")
	visit("/parties/police.northshire", "11a party with a change to approve")
	visit("/decisions", "11b decisions")
	b.run(t, chromedp.Click(css("#decisions tbody tr:first-child a")), chromedp.WaitVisible(css("#checks")))
	shot("11c decision and its checks")
	b.run(t, chromedp.Navigate(gw.ConsoleURL+"/exports"), chromedp.WaitVisible(css("#make-subject-access")),
		chromedp.SetValue(css("#subject-type"), "council-ref"), chromedp.SetValue(css("#subject-value"), "CS-2209"),
		chromedp.Click(css("#make-subject-access")), chromedp.WaitVisible(css("#export-print")),
		chromedp.Click(css("#export-print")), chromedp.WaitVisible(css("#subject-access-report")))
	shot("11d subject access report")
	b.run(t, media("print"))
	shot("11e subject access report printed")
	b.run(t, media(""))
	b.run(t, chromedp.Navigate(gw.ConsoleURL+"/rectifications"), chromedp.WaitVisible(css("#rectification-form")),
		chromedp.SetValue(css("#subject-type"), "council-ref"), chromedp.SetValue(css("#subject-value"), "CS-2209"),
		chromedp.Click(css("#action-corrected")), chromedp.SetValue(css("#description"), "The child's surname was misspelt: Adeyemi, not Adeyemmi."),
		chromedp.Click(css("#send-rectification")), chromedp.WaitVisible(css("#done")))
	shot("11f rectification sent, notices awaiting")

	i := newBrowser(t, gw)
	b = i
	b.signIn(t, ivy)
	visit("/agreements/new", "12 draft form")
	b.run(t, chromedp.Click(css("#save-draft")))
	b.run(t, chromedp.WaitVisible(css(".govuk-error-summary")))
	shot("13 draft form errors")
	b.run(t, chromedp.Click(css("#add-flow")), chromedp.WaitVisible(css("#flow-2-from")))
	shot("14 draft form two flows")
	visit("/parties/new", "15 register a party")
	require.Equal(t, 21, n)
}
