package e2e

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/alerts"
	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/certs"
	"github.com/gatehouse-gw/gatehouse/compliance"
	"github.com/gatehouse-gw/gatehouse/devenv/idp"
	"github.com/gatehouse-gw/gatehouse/devenv/testenv"
	"github.com/gatehouse-gw/gatehouse/exchange/seal"
)

// Each demo person signs in through the development identity provider and
// sees their name, their roles and the pages their roles open; every page
// passes axe-core's WCAG 2.2 A/AA rules; signing out ends the session.
func TestConsoleSignInAsEachRole(t *testing.T) {
	gw := testenv.StartGateway(t, testenv.GatewayOptions{Console: true})
	for _, p := range idp.People {
		t.Run(p.Username, func(t *testing.T) {
			b := newBrowser(t, gw)
			b.signIn(t, p.Username)
			require.Equal(t, p.Name, b.text(t, "#signed-in-as"))
			require.Equal(t, "What needs you – Gatehouse console", b.pageTitle(t))
			b.checkA11y(t, "home as "+p.Username)
			pages := []string{"/agreements", "/agreements/police-crime", "/agreements/police-crime/diff?from=0", "/parties", "/parties/police.northshire"}
			if has(p.Roles, "dpo") || has(p.Roles, "auditor") {
				pages = append(pages, "/overrides", "/notifications", "/exports", "/exports/agreements?format=json")
			}
			if has(p.Roles, "admin") {
				pages = append(pages, "/agreements/new", "/parties/new")
			}
			for _, path := range pages {
				b.run(t, chromedp.Navigate(gw.ConsoleURL+path), chromedp.WaitVisible(css("#main-content")))
				require.NotContains(t, b.pageTitle(t), "cannot", path)
				b.checkA11y(t, path+" as "+p.Username)
			}
			b.run(t, chromedp.Click(css("#sign-out")), chromedp.WaitVisible(css("#signed-out")))
			require.Equal(t, "You have signed out", b.text(t, "#main-content h1"))
			b.checkA11y(t, "signed out")
			b.run(t, chromedp.Navigate(gw.ConsoleURL+"/agreements"), chromedp.WaitVisible(css("#sign-in")))
			require.Contains(t, b.location(t), "/console/sign-in", "after signing out the console asks for sign-in again")
			b.checkA11y(t, "sign-in")
		})
	}
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// consoleGateway is a gateway with the console and its identity provider.
func consoleGateway(t *testing.T) *testenv.Gateway {
	return testenv.StartGateway(t, testenv.GatewayOptions{Console: true})
}

func person(t *testing.T, username string) idp.Person {
	t.Helper()
	p, ok := idp.PersonByUsername(username)
	require.True(t, ok)
	return p
}

const (
	ivy  = "ivy.chen@northshire.gov.uk"    // IG officer, also a DPO
	dana = "dana.okafor@northshire.gov.uk" // DPO
	aziz = "aziz.rahman@northshire.gov.uk" // auditor
)

// An IG officer writes a draft in the form: a missing field is shown at
// the field, then fixed. She cannot approve her own draft, although she is
// a DPO too; another DPO reads the changes and approves the version bound
// to the digest shown, and the audit names her.
func TestConsoleDraftFieldErrorThenApprovedByAnotherDPO(t *testing.T) {
	gw := consoleGateway(t)
	b := newBrowser(t, gw)
	b.signIn(t, ivy)
	today := time.Now().In(london(t))
	day := func(d int) string { return today.AddDate(0, 0, d).Format(time.DateOnly) }
	b.run(t, chromedp.Navigate(gw.ConsoleURL+"/agreements/new"), chromedp.WaitVisible(css("#draft-form")))
	fill := []struct{ sel, value string }{
		{"#id", "youth-justice"}, {"#from", "council.social-care"}, {"#to", "police.northshire"},
		{"#from-signatory", "A. Grey"}, {"#from-role", "Director of Children's Services"},
		{"#to-signatory", "Supt. K. Moss"}, {"#to-role", "Head of Public Protection"},
		{"#purpose", "safeguarding-child"}, {"#basis", "A6-1-e"},
		{"#dpia-ref", "NSC-DPIA-2026-007"}, {"#dpia-completed", day(-30)}, {"#dpia-by", "DPO"},
		{"#effective-from", day(-1)}, {"#review-by", day(300)}, {"#retention", "60d"},
	}
	for _, f := range fill {
		b.run(t, chromedp.SetValue(css(f.sel), f.value))
	}
	b.run(t, chromedp.Click(css("#category-identity")), chromedp.Click(css("#category-family")),
		chromedp.Click(css("#save-draft")), chromedp.WaitVisible(css(".govuk-error-summary")))
	require.Contains(t, b.text(t, ".govuk-error-summary"), "title: is required")
	require.Contains(t, b.text(t, "#title-error"), "title: is required", "the error is shown at its field")
	require.Equal(t, "Error: Write a draft agreement – Gatehouse console", b.pageTitle(t))
	require.Equal(t, "youth-justice", eval[string](t, b, `document.querySelector('#id').value`), "what was typed is kept")
	b.checkA11y(t, "draft form with an error")

	b.run(t, chromedp.SetValue(css("#title"), "Youth offending team referrals"), chromedp.Click(css("#save-draft")),
		chromedp.WaitVisible(css("#done")))
	require.Equal(t, "Draft version 1 saved. A DPO who is not you must approve it.", b.text(t, "#done"))
	b.checkA11y(t, "agreement page")

	// Her own draft: refused, at the button, although she holds the DPO role.
	b.run(t, chromedp.Click(css("#approve-1")), chromedp.WaitVisible(css("#approve-1-error")))
	require.Contains(t, b.text(t, "#approve-1-error"), "must be approved by a DPO who is not its author")
	b.checkA11y(t, "approval refused")

	d := newBrowser(t, gw)
	d.signIn(t, dana)
	require.Contains(t, d.text(t, "#main-content"), "Youth offending team referrals (youth-justice version 1), written by "+person(t, ivy).ID)
	d.run(t, chromedp.Navigate(gw.ConsoleURL+"/agreements/youth-justice"), chromedp.Click(css("#diff-1")), chromedp.WaitVisible(css("#diff")))
	diff := eval[string](t, d, `document.querySelector('#diff').textContent`)
	require.Contains(t, diff, "added: id: youth-justice")
	require.Contains(t, diff, "added: title: Youth offending team referrals")
	d.checkA11y(t, "diff")
	require.Contains(t, eval[string](t, d, `document.querySelector('#back-to-agreement').href`), "/console/agreements/youth-justice#version-1")
	d.run(t, chromedp.Navigate(gw.ConsoleURL+"/agreements/youth-justice"), chromedp.WaitVisible(css("#approve-1")))
	shown := d.text(t, "#digest-1")
	// A form bound to another document (as if the page were stale) is
	// refused at the field, and nothing is approved.
	d.run(t, void(chromedp.Evaluate[bool](`(() => { document.querySelector('form[action$="/approve"] input[name=digest]').value = '`+strings.Repeat("0", 64)+`'; return true; })()`)))
	d.run(t, chromedp.Click(css("#approve-1")), chromedp.WaitVisible(css("#approve-1-error")))
	require.Contains(t, d.text(t, "#approve-1-error"), "This version is not the one you were shown")
	require.Contains(t, d.text(t, "#version-1"), "draft")
	d.checkA11y(t, "approval refused: another document")
	d.run(t, chromedp.Click(css("#approve-1")))
	d.run(t, chromedp.WaitVisible(css("#done")))
	require.Equal(t, "Version 1 approved. An administrator can now put it in force.", d.text(t, "#done"))
	require.Contains(t, d.text(t, "#version-1"), "approved")

	var approved []audit.Entry
	for _, e := range adminEntries(t, gw)["admin.agreement.approved"] {
		if e.Agreement == "youth-justice@1" {
			approved = append(approved, e)
		}
	}
	require.Len(t, approved, 1)
	require.Equal(t, person(t, dana).ID, approved[0].Actor)
	require.Equal(t, "Dana Okafor", approved[0].Detail["actor_name"])
	require.Len(t, shown, 64)
	require.Equal(t, shown, approved[0].Detail["sha256"], "the audit entry names the digest the DPO was shown")
}

// An emergency override is reviewed: the form says what is missing, then
// records the outcome and notes.
func TestConsoleOverrideReview(t *testing.T) {
	gw := consoleGateway(t)
	ctx := context.Background()
	care := gw.Client(t, "council.social-care")
	emergency, err := care.Send(ctx, &api.ExchangeDeclaration{
		Recipient: "police.northshire", Purpose: "safeguarding-child", LawfulBasis: "A6-1-d",
		DataCategories: []string{"identity"}, Subjects: []api.Subject{{Type: "council-ref", Value: "CS-2209"}},
		Justification: "Child at immediate risk; officers attending now", Urgency: "emergency",
		Authoriser: &api.Authoriser{Name: "M. Ade", Rank: "head-of-service"}, ContentType: "text/plain", Size: 5,
	}, strings.NewReader("alert"))
	require.NoError(t, err)

	b := newBrowser(t, gw)
	b.signIn(t, dana)
	require.Contains(t, b.text(t, "#main-content"), "Exchange "+emergency.ID+": review by")
	b.run(t, chromedp.Navigate(gw.ConsoleURL+"/overrides"), chromedp.Click(css("#review-"+emergency.ID)),
		chromedp.WaitVisible(css(".govuk-error-summary")))
	require.Contains(t, b.text(t, ".govuk-error-summary"), "Select whether the override was justified")
	require.Contains(t, b.text(t, "#notes-"+emergency.ID+"-error"), "Enter your notes")
	b.checkA11y(t, "override review with errors")
	b.run(t, chromedp.Click(css("#outcome-"+emergency.ID+"-yes")),
		chromedp.SetValue(css("#notes-"+emergency.ID), "Officers confirmed the risk; the disclosure was the minimum needed."),
		chromedp.Click(css("#review-"+emergency.ID)), chromedp.WaitVisible(css("#done")))
	require.Equal(t, "Review recorded.", b.text(t, "#done"))
	require.Contains(t, b.text(t, "#state-"+emergency.ID), "reviewed: justified ("+person(t, dana).ID)
	b.checkA11y(t, "overrides after review")
}

// An export downloaded from the console verifies against the gateway's
// published keys, and names the person who made it; its printable page
// shows the same rows.
func TestConsoleExportDownloadVerifies(t *testing.T) {
	gw := consoleGateway(t)
	b := newBrowser(t, gw)
	b.signIn(t, dana)
	b.run(t, chromedp.Navigate(gw.ConsoleURL+"/exports"), chromedp.WaitVisible(css("#agreements-json")))
	b.checkA11y(t, "exports")
	b.run(t, chromedp.Click(css("#agreements-json")))
	b.run(t, chromedp.WaitVisible(css("#export-file")))
	b.checkA11y(t, "export ready")
	body := eval[string](t, b, `fetch(document.querySelector('#export-file').href).then(r => r.text())`)
	sig := eval[string](t, b, `fetch(document.querySelector('#export-sig').href).then(r => r.text())`)
	keys, err := gw.Admin(t, "aziz", "auditor").JWKS(context.Background())
	require.NoError(t, err)
	meta, err := compliance.Verify([]byte(sig), strings.NewReader(body), keys)
	require.NoError(t, err)
	require.Equal(t, compliance.KindAgreements, meta.Kind)
	require.Equal(t, person(t, dana).ID, meta.RequestedBy)
	require.Equal(t, "Dana Okafor", meta.RequestedByName)
	_, err = compliance.Verify([]byte(sig), strings.NewReader(body+" "), keys)
	require.Error(t, err, "a changed export does not verify")

	b.run(t, chromedp.Click(css("#export-print")))
	b.run(t, chromedp.WaitVisible(css(".govuk-table")))
	require.Contains(t, b.text(t, "#main-content"), "for Dana Okafor")
	b.checkA11y(t, "printable export")
}

// An auditor reads but is refused a DPO's action even when the form is
// posted by hand with a valid CSRF token: the service decides, not the page.
func TestConsoleAuditorRefusedDPOAction(t *testing.T) {
	gw := consoleGateway(t)
	_, err := gw.Admin(t, "ann.admin", "admin").Register(context.Background(), []byte(youthJusticeYAML), "application/yaml")
	require.NoError(t, err)
	b := newBrowser(t, gw)
	b.signIn(t, aziz)
	b.run(t, chromedp.Navigate(gw.ConsoleURL+"/agreements/youth-justice"), chromedp.WaitVisible(css("#digest-1")))
	require.Zero(t, eval[int](t, b, `document.querySelectorAll('#approve-1').length`), "no approve button for an auditor")
	b.run(t, void(chromedp.Evaluate[bool](`(() => {
		const f = document.createElement('form'); f.method = 'post'; f.action = location.pathname + '/approve';
		for (const [k, v] of [['csrf', document.querySelector('input[name=csrf]').value], ['version', '1'], ['digest', document.querySelector('#digest-1').textContent.trim()]]) {
			const i = document.createElement('input'); i.type = 'hidden'; i.name = k; i.value = v; f.appendChild(i);
		}
		document.body.appendChild(f); f.submit(); return true; })()`)), chromedp.WaitVisible(css(".govuk-error-summary")))
	require.Contains(t, b.text(t, ".govuk-error-summary"), "Your role does not allow this")
	require.Contains(t, b.text(t, "#version-1"), "draft", "nothing changed")
	for _, e := range adminEntries(t, gw)["admin.agreement.approved"] {
		require.NotEqual(t, "youth-justice@1", e.Agreement)
	}
}

// A form posted without its CSRF token is refused and changes nothing; the
// same form with its token is done.
func TestConsoleFormWithoutCSRFRefused(t *testing.T) {
	gw := consoleGateway(t)
	b := newBrowser(t, gw)
	b.signIn(t, ivy)
	b.run(t, chromedp.Navigate(gw.ConsoleURL+"/agreements/nfi"), chromedp.WaitVisible(css("#suspend-reason")),
		chromedp.SetValue(css("#suspend-reason"), "annual review overdue"),
		void(chromedp.Evaluate[bool](`document.querySelector('#suspend').form.querySelector('input[name=csrf]').remove(), true`)),
		chromedp.Click(css("#suspend")), chromedp.WaitVisible(css("#error-message")))
	require.Equal(t, "This form could not be accepted – Gatehouse console", b.pageTitle(t))
	require.Empty(t, adminEntries(t, gw)["admin.agreement.suspended"], "nothing was done")
	b.checkA11y(t, "CSRF refusal")

	b.run(t, chromedp.Navigate(gw.ConsoleURL+"/agreements/nfi"), chromedp.WaitVisible(css("#suspend-reason")),
		chromedp.SetValue(css("#suspend-reason"), "annual review overdue"), chromedp.Click(css("#suspend")), chromedp.WaitVisible(css("#done")))
	require.Len(t, adminEntries(t, gw)["admin.agreement.suspended"], 1)
}

// A session unused for longer than the idle timeout has ended: a page asks
// for sign-in (and returns there after it), a form is refused.
func TestConsoleExpiredSessionReturnsToSignIn(t *testing.T) {
	gw := consoleGateway(t)
	b := newBrowser(t, gw)
	b.signIn(t, dana)
	b.run(t, chromedp.Navigate(gw.ConsoleURL+"/overrides"), chromedp.WaitVisible(css("#main-content")))
	later := time.Now().Add(gw.Env.Config.Console.IdleTimeout + time.Minute)
	gw.App.Console.SetClock(func() time.Time { return later })
	b.run(t, void(chromedp.Evaluate[bool](`document.querySelector('#sign-out').form.submit(), true`)), chromedp.WaitVisible(css("#error-message")))
	require.Equal(t, "Your session has ended – Gatehouse console", b.pageTitle(t))
	b.run(t, chromedp.Navigate(gw.ConsoleURL+"/agreements"), chromedp.WaitVisible(css("#sign-in")))
	require.Contains(t, b.location(t), "/console/sign-in?return=%2Fconsole%2Fagreements")
	b.checkA11y(t, "sign-in after expiry")
	gw.App.Console.SetClock(time.Now)
	b.run(t, chromedp.Click(css("#sign-in")), chromedp.WaitVisible(css(`input[value="`+dana+`"]`)),
		chromedp.Click(css("#sign-in")), chromedp.WaitVisible(css("#signed-in-as")))
	require.Contains(t, b.location(t), "/console/agreements", "back where the person was going")
}

func london(t *testing.T) *time.Location {
	loc, err := time.LoadLocation("Europe/London")
	require.NoError(t, err)
	return loc
}

// A DPO records that a disclosure's subjects were told; withholding without
// a reason or review date is refused at the fields.
func TestConsoleNotificationTold(t *testing.T) {
	gw := consoleGateway(t)
	d := policeDisclosure(16)
	d.Notification = &api.Notification{Decision: "notify"}
	ex, err := gw.Client(t, "council.revenues").Send(context.Background(), d, strings.NewReader(strings.Repeat("x", 16)))
	require.NoError(t, err)
	b := newBrowser(t, gw)
	b.signIn(t, dana)
	b.run(t, chromedp.Navigate(gw.ConsoleURL+"/notifications"), chromedp.WaitVisible(css("#record-"+ex.ID)))
	b.checkA11y(t, "notifications")
	b.run(t, chromedp.Click(css("#action-"+ex.ID+"-withhold")), chromedp.Click(css("#record-"+ex.ID)))
	b.run(t, chromedp.WaitVisible(css(".govuk-error-summary")))
	require.Contains(t, b.text(t, "#review-at-"+ex.ID+"-error"), "needs a date to review it again")
	b.checkA11y(t, "notifications with errors")
	b.run(t, chromedp.Click(css("#action-"+ex.ID+"-told")), chromedp.Click(css("#record-"+ex.ID)))
	b.run(t, chromedp.WaitVisible(css("#done")))
	require.Equal(t, "Recorded.", b.text(t, "#done"))
	require.Len(t, adminEntries(t, gw)["compliance.notification-updated"], 1)
}

// A DPO confirms, from the console, the withholding a sender made at
// declaration (the agreement's default): until then the page says it is not
// confirmed; afterwards who confirmed it, and the choice is gone.
func TestConsoleNotificationConfirmed(t *testing.T) {
	gw := consoleGateway(t)
	ex, err := gw.Client(t, "council.revenues").Send(context.Background(), policeDisclosure(16), strings.NewReader(strings.Repeat("x", 16)))
	require.NoError(t, err)
	b := newBrowser(t, gw)
	b.signIn(t, dana)
	b.run(t, chromedp.Navigate(gw.ConsoleURL+"/notifications"), chromedp.WaitVisible(css("#action-"+ex.ID+"-confirm")))
	require.Contains(t, b.text(t, "#notification-confirmation-"+ex.ID), "Not confirmed")
	b.checkA11y(t, "notifications awaiting confirmation")
	b.run(t, chromedp.Click(css("#action-"+ex.ID+"-confirm")), chromedp.Click(css("#record-"+ex.ID)))
	b.run(t, chromedp.WaitVisible(css("#done")))
	require.Contains(t, b.text(t, "#notification-confirmation-"+ex.ID), "Confirmed")
	require.Zero(t, eval[int](t, b, `document.querySelectorAll("#action-`+ex.ID+`-confirm").length`), "nothing left to confirm")
	confirmed := adminEntries(t, gw)["compliance.notification-confirmed"]
	require.Len(t, confirmed, 1)
	require.Equal(t, ex.ID, confirmed[0].Exchange)
}

// An alert that cannot be delivered shows in the console with its last
// error, and a DPO retries it from there (audited): nobody has to read the
// metrics to learn that the DPO was never told.
func TestConsoleAlertsNotDelivered(t *testing.T) {
	gw := testenv.StartGateway(t, testenv.GatewayOptions{Console: true, Mail: true})
	require.NoError(t, gw.Mailpit.Stop())
	ctx := context.Background()
	_, err := gw.Client(t, "council.social-care").Send(ctx, overrideDisclosure(), strings.NewReader(overridePayload))
	require.NoError(t, err)
	admin := gw.Admin(t, "dana", "dpo")
	var failing api.AlertDelivery
	require.Eventually(t, func() bool {
		ds, err := admin.AlertDeliveries(ctx, alerts.StatePending)
		if err != nil {
			return false
		}
		for _, d := range ds {
			if d.EventType == alerts.OverrideMade && d.Target == "dpo@council.example" && d.Attempts >= 1 && d.LastError != "" {
				failing = d
				return true
			}
		}
		return false
	}, 60*time.Second, 100*time.Millisecond)
	id := strconv.FormatInt(failing.ID, 10)

	b := newBrowser(t, gw)
	b.signIn(t, dana)
	b.run(t, chromedp.Navigate(gw.ConsoleURL+"/alerts"), chromedp.WaitVisible(css("#delivery-"+id)))
	require.Contains(t, b.text(t, "#delivery-"+id), alerts.OverrideMade)
	require.Contains(t, b.text(t, "#delivery-"+id), "dpo@council.example")
	require.Contains(t, b.text(t, "#error-"+id), "smtp")
	b.checkA11y(t, "alerts not delivered")
	b.run(t, chromedp.Click(css("#retry-"+id)), chromedp.WaitVisible(css("#done")))
	require.Equal(t, "The delivery will be tried again now.", b.text(t, "#done"))
	retried := adminEntries(t, gw)[alerts.AuditRetried]
	require.Len(t, retried, 1)
	require.Equal(t, id, retried[0].Detail["delivery"])
}

// The party journeys: an administrator registers a party (a missing name
// shown at its field, then fixed), reads a party's page with the
// certificates it has used, suspends and resumes it with a reason, and
// proposes a new encryption key, which she cannot approve herself; a DPO
// approves it bound to the digest shown (a form carrying another digest is
// refused), and the gateway seals to the new key; another proposal is
// rejected. Every page passes axe-core.
func TestConsoleParties(t *testing.T) {
	ctx := context.Background()
	gw := consoleGateway(t)
	// The police have connected, so their certificate has been seen.
	_, err := gw.Client(t, "police.northshire").WhoAmI(ctx)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		list, err := gw.Admin(t, "aziz", "auditor").Certificates(ctx)
		if err != nil {
			return false
		}
		for _, c := range list {
			if c.Party == "police.northshire" {
				return true
			}
		}
		return false
	}, 30*time.Second, 100*time.Millisecond)

	b := newBrowser(t, gw)
	b.signIn(t, sam)
	b.run(t, chromedp.Navigate(gw.ConsoleURL+"/parties"), chromedp.WaitVisible(css("#register-party")))
	b.checkA11y(t, "parties")

	// Register a party: the missing name is shown at its field, what was typed kept.
	key, err := seal.GenerateKey(seal.UseEncryption)
	require.NoError(t, err)
	pub, err := seal.PublicJSON(key)
	require.NoError(t, err)
	b.run(t, chromedp.Click(css("#register-party")), chromedp.WaitVisible(css("#party-form")))
	b.checkA11y(t, "register a party")
	b.run(t, chromedp.SetValue(css("#id"), "police.testshire"), chromedp.SetValue(css("#kind"), "police"),
		chromedp.SetValue(css("#encryption-key"), string(pub)), chromedp.Click(css("#register")), chromedp.WaitVisible(css(".govuk-error-summary")))
	require.Contains(t, b.text(t, "#name-error"), "is required")
	require.Equal(t, "police.testshire", eval[string](t, b, `document.querySelector('#id').value`))
	b.checkA11y(t, "register a party with an error")
	b.run(t, chromedp.SetValue(css("#name"), "Testshire Police"), chromedp.Click(css("#register")), chromedp.WaitVisible(css("#done")))
	require.Contains(t, b.text(t, "#done"), "Party registered")
	require.Contains(t, b.text(t, "#party-key"), agreements.KeyFingerprint(pub))
	require.Equal(t, "pending", b.text(t, "#party-status"))
	require.Contains(t, b.text(t, "#own-registration"), "someone else must approve it")
	require.Zero(t, eval[int](t, b, `document.querySelectorAll('#approve-registration, #propose, #suspend').length`), "its registrant is offered no approval")
	b.checkA11y(t, "a registered party")

	// A party's page: certificates seen with their expiry, key fingerprint.
	police, err := gw.Admin(t, "aziz", "auditor").Party(ctx, "police.northshire")
	require.NoError(t, err)
	b.run(t, chromedp.Navigate(gw.ConsoleURL+"/parties/police.northshire"), chromedp.WaitVisible(css("#certificates")))
	require.Contains(t, b.text(t, "#certificates"), "days left")
	require.Contains(t, b.text(t, "#party-key"), agreements.KeyFingerprint(police.EncryptionKey))
	require.Equal(t, "police", b.text(t, "#party-kind"))
	b.checkA11y(t, "party page")

	// Suspend (a reason is required) and resume.
	b.run(t, chromedp.Click(css("#suspend")), chromedp.WaitVisible(css("#suspend-reason-error")))
	b.checkA11y(t, "suspend without a reason")
	b.run(t, chromedp.SetValue(css("#suspend-reason"), "Certificate compromise reported"), chromedp.Click(css("#suspend")), chromedp.WaitVisible(css("#resume")))
	require.Equal(t, "suspended", b.text(t, "#party-status"))
	b.run(t, chromedp.SetValue(css("#resume-reason"), "New certificate issued"), chromedp.Click(css("#resume")), chromedp.WaitVisible(css("#suspend")))
	require.Equal(t, "active", b.text(t, "#party-status"))

	// Propose a new key: nothing changes, and the proposer cannot approve it.
	newKey, err := seal.GenerateKey(seal.UseEncryption)
	require.NoError(t, err)
	newPub, err := seal.PublicJSON(newKey)
	require.NoError(t, err)
	b.run(t, chromedp.SetValue(css("#encryption-key"), string(newPub)), chromedp.SetValue(css("#propose-reason"), "Annual key rotation"),
		chromedp.Click(css("#propose")), chromedp.WaitVisible(css("[id^=change-digest-]")))
	require.Contains(t, b.text(t, "#done"), "Nothing has changed yet")
	changeID := strings.TrimPrefix(eval[string](t, b, `document.querySelector('[id^=change-digest-]').id`), "change-digest-")
	require.Contains(t, b.text(t, "#new-key-"+changeID), agreements.KeyFingerprint(newPub))
	require.Contains(t, b.text(t, "#party-key"), agreements.KeyFingerprint(police.EncryptionKey), "the key in force is the old one")
	b.checkA11y(t, "party with a proposed change")
	b.run(t, chromedp.Click(css("#approve-"+changeID)), chromedp.WaitVisible(css("#approve-"+changeID+"-error")))
	require.Contains(t, b.text(t, "#approve-"+changeID+"-error"), "someone other than its proposer")
	b.checkA11y(t, "approval by the proposer refused")

	// A DPO: a form carrying a digest other than the one shown is refused;
	// the one shown is approved, and the gateway seals to the new key.
	d := newBrowser(t, gw)
	d.signIn(t, dana)
	require.Contains(t, d.text(t, "#main-content"), "police.northshire: encryption_key", "the home page lists the change awaiting her")
	require.Contains(t, d.text(t, "#main-content"), "police.testshire (police), registered by", "and the new party awaiting her")
	d.checkA11y(t, "home with a party change awaiting approval")
	d.run(t, chromedp.Navigate(gw.ConsoleURL+"/parties/police.northshire"), chromedp.WaitVisible(css("#approve-"+changeID)))
	shown := d.text(t, "#change-digest-"+changeID)
	require.Len(t, shown, 64)
	d.run(t, void(chromedp.Evaluate[bool](`document.querySelector('#approve-`+changeID+`').form.querySelector('input[name=sha256]').value = '`+strings.Repeat("0", 64)+`', true`)),
		chromedp.Click(css("#approve-"+changeID)), chromedp.WaitVisible(css("#approve-"+changeID+"-error")))
	require.Contains(t, d.text(t, "#approve-"+changeID+"-error"), "not that of the proposed change")
	d.run(t, chromedp.Click(css("#approve-"+changeID)), chromedp.WaitVisible(css("#done")))
	require.Contains(t, d.text(t, "#done"), "Change approved")
	require.Contains(t, d.text(t, "#party-key"), agreements.KeyFingerprint(newPub))
	require.Contains(t, d.text(t, "#decided-"+changeID), "approved")
	d.checkA11y(t, "party after approval")
	e, err := gw.Client(t, "council.revenues").Send(ctx, policeDisclosure(4), strings.NewReader("data"))
	require.NoError(t, err)
	_, err = gw.Client(t, "police.northshire").OpenEnvelope(ctx, e.ID, newKey)
	require.NoError(t, err, "sealed to the approved key")
	approved := adminEntries(t, gw)[agreements.AuditPartyChangeApproved]
	require.Len(t, approved, 1)
	require.Equal(t, person(t, dana).ID, approved[0].Actor)
	require.Equal(t, shown, approved[0].Detail["sha256"])

	// Another proposal, rejected by the DPO with a reason.
	other := newCA(t, "Northshire Police CA 2027")
	b.run(t, chromedp.Navigate(gw.ConsoleURL+"/parties/police.northshire"), chromedp.WaitVisible(css("#propose")),
		chromedp.SetValue(css("#trust-anchors"), other.pem()), chromedp.SetValue(css("#propose-reason"), "Their new CA"),
		chromedp.Click(css("#propose")), chromedp.WaitVisible(css("#done")))
	second := strings.TrimPrefix(eval[string](t, b, `document.querySelector('[id^=change-digest-]').id`), "change-digest-")
	require.Contains(t, b.text(t, "#new-anchors-"+second), certs.Fingerprint(other.cert))
	d.run(t, chromedp.Navigate(gw.ConsoleURL+"/parties/police.northshire"), chromedp.WaitVisible(css("#reject-"+second)),
		chromedp.SetValue(css("#reject-reason-"+second), "Fingerprint does not match their letter"),
		chromedp.Click(css("#reject-"+second)), chromedp.WaitVisible(css("#done")))
	require.Contains(t, d.text(t, "#done"), "Change rejected")
	require.Contains(t, d.text(t, "#party-anchors"), "the council's own CA", "nothing changed")
	require.Len(t, adminEntries(t, gw)[agreements.AuditPartyChangeRejected], 1)

	// The DPO approves the new party's registration, bound to the digest shown.
	d.run(t, chromedp.Navigate(gw.ConsoleURL+"/parties/police.testshire"), chromedp.WaitVisible(css("#approve-registration")))
	d.checkA11y(t, "a registration awaiting approval")
	regDigest := d.text(t, "#registration-digest")
	d.run(t, chromedp.Click(css("#approve-registration")), chromedp.WaitVisible(css("#done")))
	require.Contains(t, d.text(t, "#done"), "Registration approved")
	require.Equal(t, "active", d.text(t, "#party-status"))
	regApproved := adminEntries(t, gw)[agreements.AuditPartyRegistrationApproved]
	require.Equal(t, regDigest, regApproved[len(regApproved)-1].Detail["sha256"])

	// An auditor reads the page but is offered no action.
	a := newBrowser(t, gw)
	a.signIn(t, aziz)
	a.run(t, chromedp.Navigate(gw.ConsoleURL+"/parties/police.northshire"), chromedp.WaitVisible(css("#party-summary")))
	require.Zero(t, eval[int](t, a, `document.querySelectorAll('#propose, #suspend, [id^=approve-]').length`))
	a.checkA11y(t, "party page as an auditor")
}
