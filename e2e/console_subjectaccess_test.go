package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/compliance"
)

// media makes the page render for the media type given ("print"), or for
// the screen again ("").
func media(kind string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: kind})
		return err
	})
}

// The DPO makes a subject access export for one person from the exports
// page: a missing identifier is shown at its field; the signed file
// verifies; its printable page reads as a report, one section a
// disclosure, and prints without the console's menus. An auditor has no
// such form and is refused if one is posted.
func TestConsoleSubjectAccess(t *testing.T) {
	gw := consoleGateway(t)
	ctx := context.Background()
	sent, err := gw.Client(t, "council.revenues").Send(ctx, policeDisclosure(4), strings.NewReader("data"))
	require.NoError(t, err)

	b := newBrowser(t, gw)
	b.signIn(t, dana)
	b.run(t, chromedp.Navigate(gw.ConsoleURL+"/exports"), chromedp.WaitVisible(css("#make-subject-access")),
		chromedp.Click(css("#make-subject-access")), chromedp.WaitVisible(css(".govuk-error-summary")))
	require.Contains(t, b.text(t, "#subject-value-error"), "Enter the person's identifier")
	require.Contains(t, b.location(t), "/console/exports/subject-access")
	b.checkA11y(t, "subject access form with an error")

	// Written another way than it was declared: the same person.
	b.run(t, chromedp.SetValue(css("#subject-type"), "nino"), chromedp.SetValue(css("#subject-value"), "qq 12 34 56 c"),
		chromedp.Click(css("#make-subject-access")), chromedp.WaitVisible(css("#export-file")))
	require.True(t, strings.HasSuffix(b.location(t), "/console/exports/subject-access"), "the identifier is in no address")
	b.checkA11y(t, "subject access export ready")
	body := eval[string](t, b, `fetch(document.querySelector('#export-file').href).then(r => r.text())`)
	sig := eval[string](t, b, `fetch(document.querySelector('#export-sig').href).then(r => r.text())`)
	keys, err := gw.Admin(t, "aziz", "auditor").JWKS(ctx)
	require.NoError(t, err)
	meta, err := compliance.Verify([]byte(sig), strings.NewReader(body), keys)
	require.NoError(t, err)
	require.Equal(t, compliance.KindSubjectAccess, meta.Kind)
	require.Contains(t, body, sent.ID)

	b.run(t, chromedp.Click(css("#export-print")), chromedp.WaitVisible(css("#subject-access-report")))
	require.Equal(t, "Subject access report – Gatehouse console", b.pageTitle(t))
	require.Equal(t, "National Insurance number: qq 12 34 56 c", b.text(t, "#report-about"))
	require.Contains(t, b.text(t, "#report-summary"), "1 time, to")
	section := b.text(t, "#disclosure-"+sent.ID)
	require.Contains(t, section, "For prevention or detection of crime")
	require.Contains(t, section, "council.revenues")
	require.Contains(t, section, "police.northshire")
	require.Contains(t, section, "A6-1-e")
	require.Contains(t, section, "identity, financial")
	b.checkA11y(t, "subject access report")

	// Printed: the report without the console's menus, banner or footer.
	shown := func(sel string) bool {
		return eval[bool](t, b, `(() => { const e = document.querySelector('`+sel+`'); return !!e && getComputedStyle(e).display !== 'none'; })()`)
	}
	require.True(t, shown(".govuk-service-navigation"), "on screen the menu is there")
	b.run(t, media("print"))
	for _, sel := range []string{".govuk-header", ".govuk-service-navigation", ".govuk-footer", ".govuk-phase-banner", ".app-no-print"} {
		require.False(t, shown(sel), "%s is not printed", sel)
	}
	require.True(t, shown("#subject-access-report"))
	require.True(t, shown("#disclosure-"+sent.ID))
	b.run(t, media(""))

	// An auditor reads exports but not this one.
	a := newBrowser(t, gw)
	a.signIn(t, aziz)
	a.run(t, chromedp.Navigate(gw.ConsoleURL+"/exports"), chromedp.WaitVisible(css("#main-content")))
	require.Zero(t, eval[int](t, a, `document.querySelectorAll('#make-subject-access').length`))
	a.run(t, void(chromedp.Evaluate[bool](`(() => {
		const f = document.createElement('form'); f.method = 'post'; f.action = location.pathname + '/subject-access';
		for (const [k, v] of [['csrf', document.querySelector('input[name=csrf]').value], ['subject-type', 'nino'], ['subject-value', 'QQ123456C'], ['format', 'csv']]) {
			const i = document.createElement('input'); i.type = 'hidden'; i.name = k; i.value = v; f.appendChild(i);
		}
		document.body.appendChild(f); f.submit(); return true; })()`)), chromedp.WaitVisible(css("#main-content h1")))
	require.Equal(t, "You cannot do this – Gatehouse console", a.pageTitle(t))
}
