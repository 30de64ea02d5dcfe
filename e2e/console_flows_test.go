package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// The draft form holds several flows, added and removed with its own
// buttons (plain form posts: it works with the page's scripts off); a
// flow's error is shown at that flow's field; what was typed is kept.
func TestConsoleDraftSeveralFlows(t *testing.T) {
	gw := consoleGateway(t)
	b := newBrowser(t, gw)
	b.signIn(t, ivy)
	scripts := func(on bool) {
		t.Helper()
		b.run(t, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: !on})
			return err
		}))
	}
	// axe-core needs scripts; the form does not.
	a11y := func(what string) { t.Helper(); scripts(true); b.checkA11y(t, what); scripts(false) }
	scripts(false)
	today := time.Now().In(london(t))
	day := func(d int) string { return today.AddDate(0, 0, d).Format(time.DateOnly) }
	set := func(pairs ...string) {
		t.Helper()
		for i := 0; i+1 < len(pairs); i += 2 {
			b.run(t, chromedp.SetValue(css(pairs[i]), pairs[i+1]))
		}
	}
	flows := func() int { return eval[int](t, b, `document.querySelectorAll('fieldset.app-flow').length`) }
	value := func(sel string) string { return eval[string](t, b, `document.querySelector('`+sel+`').value`) }

	b.run(t, chromedp.Navigate(gw.ConsoleURL+"/agreements/new"), chromedp.WaitVisible(css("#draft-form")))
	require.Equal(t, 1, flows())
	set("#id", "youth-justice", "#title", "Youth offending team referrals and answers",
		"#from", "council.social-care", "#to", "police.northshire", "#purpose", "safeguarding-child", "#basis", "A6-1-e",
		"#from-signatory", "A. Grey", "#from-role", "Director of Children's Services",
		"#to-signatory", "Supt. K. Moss", "#to-role", "Head of Public Protection",
		"#dpia-ref", "NSC-DPIA-2026-007", "#dpia-completed", day(-30), "#dpia-by", "DPO",
		"#effective-from", day(-1), "#review-by", day(300), "#retention", "60d")
	b.run(t, chromedp.Click(css("#category-identity")), chromedp.Click(css("#add-flow")), chromedp.WaitVisible(css("#flow-2-from")))
	require.Equal(t, "Flow 2 added: fill it in below.", b.text(t, "#done"))
	require.Equal(t, 2, flows())
	require.Equal(t, "council.social-care", value("#from"), "the first flow is kept")
	require.Equal(t, "Supt. K. Moss", value("#to-signatory"))
	require.True(t, eval[bool](t, b, `document.querySelector('#category-identity').checked`))
	a11y("draft form with two flows")

	// The second flow, its lawful basis left out: the error is at its field.
	set("#flow-2-from", "police.northshire", "#flow-2-to", "council.social-care", "#flow-2-purpose", "safeguarding-child")
	b.run(t, chromedp.Click(css("#flow-2-category-family")), chromedp.Click(css("#save-draft")), chromedp.WaitVisible(css(".govuk-error-summary")))
	require.Contains(t, b.text(t, "#flow-2-basis-error"), "flows[1]")
	require.Contains(t, b.text(t, ".govuk-error-summary"), "flows[1]")
	require.Equal(t, "#flow-2-basis", eval[string](t, b, `document.querySelector('.govuk-error-summary a[href="#flow-2-basis"]').getAttribute('href')`))
	require.Zero(t, eval[int](t, b, `document.querySelectorAll('#basis-error').length`), "the first flow has no error")
	require.Equal(t, "police.northshire", value("#flow-2-from"))
	a11y("draft form with an error in the second flow")

	// A third flow added and removed again.
	b.run(t, chromedp.Click(css("#add-flow")), chromedp.WaitVisible(css("#flow-3-from")))
	require.Equal(t, 3, flows())
	b.run(t, chromedp.Click(css("#remove-flow-3")), chromedp.WaitNotPresent(css("#flow-3-from")))
	require.Equal(t, "Flow 3 removed.", b.text(t, "#done"))
	require.Equal(t, 2, flows())
	require.Zero(t, eval[int](t, b, `document.querySelectorAll('#remove-flow-1').length`), "the first flow stays")

	set("#flow-2-basis", "A6-1-e")
	b.run(t, chromedp.Click(css("#save-draft")), chromedp.WaitVisible(css("#version-1")))
	require.Equal(t, "Draft version 1 saved. A DPO who is not you must approve it.", b.text(t, "#done"))
	doc := eval[string](t, b, `fetch(location.pathname + '/versions/1').then(r => r.text())`)
	require.Equal(t, 2, strings.Count(doc, "lawful_bases:"), "both flows are in the draft:\n%s", doc)
	require.Contains(t, doc, "family")
}
