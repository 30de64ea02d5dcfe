package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/compliance"
)

// A DPO sends a rectification (UK GDPR Art 19) from the console: the form
// says what is missing at each field, then every party that received the
// person's data gets a notice, listed with its state; once the recipient
// acknowledges it the page says who and when. An auditor cannot open it.
func TestConsoleRectifications(t *testing.T) {
	gw := consoleGateway(t)
	ctx := context.Background()
	ex, err := gw.Client(t, "council.revenues").Send(ctx, policeDisclosure(16), strings.NewReader(strings.Repeat("x", 16)))
	require.NoError(t, err)

	b := newBrowser(t, gw)
	b.signIn(t, dana)
	b.run(t, chromedp.Navigate(gw.ConsoleURL+"/rectifications"), chromedp.WaitVisible(css("#rectification-form")))
	require.Equal(t, "No rectifications have been sent.", b.text(t, "#no-rectifications"))
	b.checkA11y(t, "rectifications, none sent")
	b.run(t, chromedp.Click(css("#send-rectification")), chromedp.WaitVisible(css(".govuk-error-summary")))
	require.Contains(t, b.text(t, "#subject-type-error"), "Select the kind of identifier")
	require.Contains(t, b.text(t, "#subject-value-error"), "Enter the person's identifier")
	require.Contains(t, b.text(t, "#action-error"), "Select what was done to the data")
	require.Contains(t, b.text(t, "#description-error"), "Describe what was changed")
	require.Equal(t, "Error: Rectifications – Gatehouse console", b.pageTitle(t))
	b.checkA11y(t, "rectification form with errors")
	require.Empty(t, adminEntries(t, gw)[compliance.AuditRectification], "nothing was recorded")

	b.run(t, chromedp.SetValue(css("#subject-type"), "nino"), chromedp.SetValue(css("#subject-value"), "QQ123456C"),
		chromedp.Click(css("#action-corrected")), chromedp.SetValue(css("#description"), "Date of birth was 1 March 1980, is 3 January 1980."),
		chromedp.Click(css("#send-rectification")), chromedp.WaitVisible(css("#done")))
	require.Contains(t, b.text(t, "#done"), "Rectification recorded.")
	require.Len(t, adminEntries(t, gw)[compliance.AuditRectification], 1)

	police := gw.Client(t, "police.northshire")
	notices, err := police.Notices(ctx, true)
	require.NoError(t, err)
	require.Len(t, notices, 1)
	n := notices[0]
	require.Equal(t, []string{ex.ID}, n.Exchanges)
	row := b.text(t, "#notice-"+n.ID)
	require.Contains(t, row, "police.northshire")
	require.Contains(t, row, ex.ID)
	require.Contains(t, b.text(t, "#notice-"+n.ID+"-state"), "Awaiting")
	require.NotContains(t, b.text(t, "#main-content"), "QQ123456C", "the identifier is not shown")
	b.checkA11y(t, "rectification sent")

	_, err = police.AcknowledgeNotice(ctx, n.ID)
	require.NoError(t, err)
	b.run(t, chromedp.Navigate(gw.ConsoleURL+"/rectifications"), chromedp.WaitVisible(css("#notice-"+n.ID)))
	state := b.text(t, "#notice-"+n.ID+"-state")
	require.Contains(t, state, "Acknowledged")
	require.Contains(t, state, "by police.northshire")

	a := newBrowser(t, gw)
	a.signIn(t, aziz)
	require.Zero(t, eval[int](t, a, `document.querySelectorAll('a[href$="/rectifications"]').length`), "no link for an auditor")
	a.run(t, chromedp.Navigate(gw.ConsoleURL+"/rectifications"), chromedp.WaitVisible(css("#main-content")))
	require.Equal(t, "You cannot do this – Gatehouse console", a.pageTitle(t))
}
