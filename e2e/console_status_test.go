package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/config"
	"github.com/gatehouse-gw/gatehouse/devenv/testenv"
)

// The home page shows each role the gateway's health it needs: the
// administrator and the DPO the party certificates expiring within the
// warning window, with days left; the DPO and the auditor the audit
// record's last verification and checkpoint. An auditor sees no
// certificates, an administrator no audit status.
func TestConsoleHomeStatus(t *testing.T) {
	gw := testenv.StartGateway(t, testenv.GatewayOptions{Console: true, Configure: func(c *config.Config) {
		// The demo's party certificates last 90 days: a window past that
		// shows them.
		c.TLS.ExpiryWarningDays = []int{100, 30, 7}
	}})
	_, err := gw.Client(t, "council.revenues").WhoAmI(context.Background())
	require.NoError(t, err)

	home := func(b *browser, want string) string {
		t.Helper()
		var text string
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
			b.run(t, chromedp.Navigate(gw.ConsoleURL+"/"), chromedp.WaitVisible(css("#main-content")))
			if text = b.text(t, "#main-content"); strings.Contains(text, want) {
				return text
			}
		}
		t.Fatalf("home never showed %q:\n%s", want, text)
		return ""
	}

	d := newBrowser(t, gw)
	d.signIn(t, dana)
	home(d, "Verified")
	row := d.text(t, "#expiring tr[id^='expiring-council.revenues-']")
	require.Contains(t, row, "council.revenues")
	require.Regexp(t, `(89|90) days left`, row)
	require.Equal(t, 1, eval[int](t, d, `document.querySelectorAll("#expiring tr[id^='expiring-council.revenues-'] .govuk-tag--yellow").length`), "amber: outside the last week")
	require.Contains(t, d.text(t, "#audit-verify"), "Last verified")
	require.Equal(t, 1, eval[int](t, d, `document.querySelectorAll('#audit-verify .govuk-tag--green').length`))
	require.Contains(t, d.text(t, "#audit-checkpoint"), "Up to date")
	d.checkA11y(t, "home with status, DPO")

	a := newBrowser(t, gw)
	a.signIn(t, aziz)
	home(a, "Verified")
	require.Zero(t, eval[int](t, a, `document.querySelectorAll('#certificates-expiring').length`), "an auditor has no certificates to renew")
	a.checkA11y(t, "home with status, auditor")

	s := newBrowser(t, gw)
	s.signIn(t, sam)
	home(s, "council.revenues")
	require.Zero(t, eval[int](t, s, `document.querySelectorAll('#audit-status').length`), "the administrator is not shown the audit status")
	s.checkA11y(t, "home with status, administrator")
}
