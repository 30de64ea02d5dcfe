package e2e

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/api"
)

const sam = "sam.okoro@northshire.gov.uk" // gateway administrator

// An auditor searches the decisions of the record by outcome, party and
// period, pages through them and opens one with every check it ran; a bad
// period is shown at its field; no subject identifier is ever on a page;
// an administrator is refused.
func TestConsoleDecisions(t *testing.T) {
	gw := consoleGateway(t)
	ctx := context.Background()
	revenues := gw.Client(t, "council.revenues")
	allowed, err := revenues.Send(ctx, policeDisclosure(4), strings.NewReader("data"))
	require.NoError(t, err)
	for i := range 10 {
		d := policeDisclosure(4)
		d.Purpose, d.Justification = "marketing", "Offer "+string(rune('A'+i))
		_, err := revenues.Declare(ctx, d)
		require.Error(t, err, "marketing without consent is refused")
	}
	care := gw.Client(t, "council.social-care")
	_, err = care.Send(ctx, &api.ExchangeDeclaration{
		Recipient: "police.northshire", Purpose: "safeguarding-child", LawfulBasis: "A6-1-d",
		DataCategories: []string{"identity"}, Subjects: []api.Subject{{Type: "council-ref", Value: "CS-2209"}},
		Justification: "Child at immediate risk; officers attending now", Urgency: "emergency",
		Authoriser: &api.Authoriser{Name: "M. Ade", Rank: "head-of-service"}, ContentType: "text/plain", Size: 5,
	}, strings.NewReader("alert"))
	require.NoError(t, err)

	b := newBrowser(t, gw)
	b.signIn(t, aziz)
	noSubjects := func(what string) {
		t.Helper()
		html := eval[string](t, b, `document.documentElement.outerHTML`)
		for _, raw := range []string{"QQ123456C", "QQ 12 34 56 C", "CS-2209"} {
			require.NotContains(t, html, raw, "no subject identifier on %s", what)
		}
		require.NotContains(t, html, "hmac-sha256:", "no subject digest on %s either", what)
	}
	rows := func() int { return eval[int](t, b, `document.querySelectorAll('#decisions tbody tr').length`) }

	b.run(t, chromedp.Click(css(`a[href$="/console/decisions"]`)), chromedp.WaitVisible(css("#decisions")))
	require.Equal(t, "Decisions – Gatehouse console", b.pageTitle(t))
	require.Equal(t, 12, rows(), "the last 30 days by default: every decision made")
	require.Contains(t, b.text(t, "#decisions tbody tr:first-child"), "Allowed by emergency override", "newest first")
	b.checkA11y(t, "decisions")
	noSubjects("decisions")

	// Ten a page: the next page has the other two.
	b.run(t, chromedp.SetValue(css("#size"), "10"), chromedp.Click(css("#search")), chromedp.WaitVisible(css("#next-page")))
	require.Equal(t, 10, rows())
	require.Zero(t, eval[int](t, b, `document.querySelectorAll('#previous-page').length`))
	b.checkA11y(t, "decisions, first page")
	b.run(t, chromedp.Click(css("#next-page")), chromedp.WaitVisible(css("#previous-page")))
	require.Equal(t, 2, rows())
	require.Contains(t, b.text(t, "#results-caption"), "Decisions 11 to 12")
	require.Zero(t, eval[int](t, b, `document.querySelectorAll('#next-page').length`))

	// Refused ones only, then the allowed disclosure by its party.
	b.run(t, chromedp.Navigate(gw.ConsoleURL+"/decisions"), chromedp.WaitVisible(css("#search")),
		chromedp.SetValue(css("#outcome"), "deny"), chromedp.Click(css("#search")),
		// the page of results: its option is selected by the server, not by the test
		chromedp.WaitReady(css(`#outcome option[value="deny"][selected]`)))
	require.Equal(t, 10, rows())
	require.Contains(t, b.text(t, "#decisions"), "purpose.not-prohibited")
	require.NotContains(t, b.text(t, "#decisions"), "Allowed")
	b.run(t, chromedp.Click(css("#decisions tbody tr:first-child a")), chromedp.WaitVisible(css("#checks")))
	require.Equal(t, "Refused", b.text(t, "#outcome"))
	require.Contains(t, b.text(t, "#check-purpose\\.not-prohibited"), "Failed")
	require.Contains(t, b.text(t, "#check-purpose\\.not-prohibited"), "marketing")
	require.Contains(t, b.text(t, "#check-party\\.identified"), "Passed", "a refusal's record shows the checks that passed too")
	require.Equal(t, "1 person (identifiers are kept only as keyed digests)", b.text(t, "#subjects"))
	b.checkA11y(t, "a refused decision")
	noSubjects("a refused decision")
	b.run(t, chromedp.Click(css("#back")), chromedp.WaitVisible(css("#decisions")))
	require.Equal(t, 10, rows(), "back to the same search")

	q := url.Values{"party": {"council.revenues"}, "outcome": {"allow"}, "from": {time.Now().AddDate(0, 0, -1).Format(time.DateOnly)}, "to": {time.Now().AddDate(0, 0, 1).Format(time.DateOnly)}}
	b.run(t, chromedp.Navigate(gw.ConsoleURL+"/decisions?"+q.Encode()), chromedp.WaitVisible(css("#decisions")))
	require.Equal(t, 1, rows())
	b.run(t, chromedp.Click(css("#decisions tbody tr:first-child a")), chromedp.WaitVisible(css("#checks")))
	require.Equal(t, "Allowed", b.text(t, "#outcome"))
	require.Contains(t, b.text(t, "#decision-facts"), allowed.ID)
	require.Contains(t, b.text(t, "#decision-facts"), "Priya Shah (service-manager)")
	require.Contains(t, b.text(t, "#check-basis\\.article6"), "Passed")
	require.Greater(t, eval[int](t, b, `document.querySelectorAll('#checks tbody tr').length`), 10, "every check, each with its reason")
	require.Zero(t, eval[int](t, b, `[...document.querySelectorAll('#checks tbody tr td:nth-child(3)')].filter(td => td.innerText.trim() === '' || td.innerText.includes('Not recorded')).length`))
	b.checkA11y(t, "an allowed decision")
	noSubjects("an allowed decision")

	q.Set("party", "hmrc")
	b.run(t, chromedp.Navigate(gw.ConsoleURL+"/decisions?"+q.Encode()), chromedp.WaitVisible(css("#no-decisions")))

	// A period the wrong way round, or too long, is shown at its field.
	for _, tc := range []struct{ from, to, field, message string }{
		{"2026-05-01", "2026-04-01", "to", "The last day must be the same as or after the first day"},
		{"2024-01-01", "2026-01-01", "to", "Search at most 366 days at a time"},
		{"1 May", "2026-04-01", "from", "Enter the first day as a date"},
	} {
		v := url.Values{"from": {tc.from}, "to": {tc.to}}
		b.run(t, chromedp.Navigate(gw.ConsoleURL+"/decisions?"+v.Encode()), chromedp.WaitVisible(css(".govuk-error-summary")))
		require.Contains(t, b.text(t, "#"+tc.field+"-error"), tc.message)
		require.Contains(t, b.text(t, ".govuk-error-summary"), tc.message)
		require.Zero(t, eval[int](t, b, `document.querySelectorAll('#decisions').length`), "no results for a bad search")
		require.True(t, strings.HasPrefix(b.pageTitle(t), "Error: "))
	}
	b.checkA11y(t, "decisions with a field error")
	b.run(t, chromedp.Navigate(gw.ConsoleURL+"/decisions?size=5000"), chromedp.WaitVisible(css("#size-error")))
	b.run(t, chromedp.Navigate(gw.ConsoleURL+"/decisions?party=nobody"), chromedp.WaitVisible(css("#party-error")))
	b.run(t, chromedp.Navigate(gw.ConsoleURL+"/decisions/999999"), chromedp.WaitVisible(css("#main-content")))
	require.Equal(t, "Page not found – Gatehouse console", b.pageTitle(t))

	// An administrator has no link and is refused.
	a := newBrowser(t, gw)
	a.signIn(t, sam)
	require.Zero(t, eval[int](t, a, `document.querySelectorAll('a[href$="/console/decisions"]').length`))
	a.run(t, chromedp.Navigate(gw.ConsoleURL+"/decisions"), chromedp.WaitVisible(css("#main-content")))
	require.Equal(t, "You cannot do this – Gatehouse console", a.pageTitle(t))
}
