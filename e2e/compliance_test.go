package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/client"
	"github.com/gatehouse-gw/gatehouse/compliance"
	"github.com/gatehouse-gw/gatehouse/devenv/testenv"
	"github.com/gatehouse-gw/gatehouse/server"
)

type exportDoc struct {
	Export string           `json:"export"`
	Count  int              `json:"count"`
	Rows   []map[string]any `json:"rows"`
}

// download reads an export, checks its signature against the gateway's
// published keys and decodes it.
func download(t *testing.T, gw *testenv.Gateway, ex *client.Export, err error) exportDoc {
	t.Helper()
	require.NoError(t, err)
	defer ex.Body.Close()
	body, err := io.ReadAll(ex.Body)
	require.NoError(t, err)
	keys, err := client.AdminKeys(context.Background(), client.AdminConfig{URL: gw.AdminURL, CAFile: gw.Env.CAFile()})
	require.NoError(t, err)
	meta, err := compliance.Verify([]byte(ex.Signature), bytes.NewReader(body), keys)
	require.NoError(t, err, "every export is signed by the audit key")
	var doc exportDoc
	require.NoError(t, json.Unmarshal(body, &doc))
	require.Equal(t, meta.Kind, doc.Export)
	require.Equal(t, meta.Rows, doc.Count)
	require.Equal(t, ex.Rows, doc.Count)
	return doc
}

func rowWhere(t *testing.T, doc exportDoc, col, val string) map[string]any {
	t.Helper()
	for _, r := range doc.Rows {
		if r[col] == val {
			return r
		}
	}
	t.Fatalf("no row of %s with %s = %q in %v", doc.Export, col, val, doc.Rows)
	return nil
}

func TestComplianceRecord(t *testing.T) {
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	council := gw.Client(t, "council.revenues")
	police := gw.Client(t, "police.northshire")
	care := gw.Client(t, "council.social-care")
	dpo := gw.Admin(t, "dana.dpo", "dpo")
	auditor := gw.Admin(t, "ali.auditor", "auditor")
	admin := gw.Admin(t, "ann.admin", "admin")

	// A lawful disclosure (telling the subject withheld: the agreement's
	// default), one where the subject is to be told, a refusal and an
	// emergency override.
	withheld, err := council.Send(ctx, policeDisclosure(16), bytes.NewReader(randomBytes(t, 16)))
	require.NoError(t, err)
	notify := policeDisclosure(16)
	notify.Subjects = []api.Subject{{Type: "nino", Value: "QQ654321A"}}
	notify.Notification = &api.Notification{Decision: "notify"}
	told, err := council.Send(ctx, notify, bytes.NewReader(randomBytes(t, 16)))
	require.NoError(t, err)
	refused := policeDisclosure(16)
	refused.Purpose = "marketing"
	_, err = council.Declare(ctx, refused)
	requireProblem(t, err, 403, "refused")
	emergency, err := care.Send(ctx, &api.ExchangeDeclaration{
		Recipient: "police.northshire", Purpose: "safeguarding-child", LawfulBasis: "A6-1-d",
		DataCategories: []string{"identity"}, Subjects: []api.Subject{{Type: "council-ref", Value: "CS-2209"}},
		Justification: "Child at immediate risk; officers attending now", Urgency: "emergency",
		Authoriser: &api.Authoriser{Name: "M. Ade", Rank: "head-of-service"}, ContentType: "text/plain", Size: 5,
	}, strings.NewReader("alert"))
	require.NoError(t, err)
	today := time.Now().UTC().Format(time.DateOnly)

	t.Run("disclosure register", func(t *testing.T) {
		ex, err := auditor.Export(ctx, compliance.KindDisclosures, url.Values{"from": {today}, "to": {today}})
		doc := download(t, gw, ex, err)
		require.Equal(t, 4, doc.Count)
		allow := rowWhere(t, doc, "exchange", withheld.ID)
		require.Equal(t, "allow", allow["decision"])
		require.Equal(t, "Named suspect in fraud investigation NP-2026-0142", allow["necessity"])
		require.Equal(t, "Priya Shah (service-manager)", allow["decision_maker"])
		require.Equal(t, []any{"A10", "DPA-S1-P2-10"}, allow["criminal_offence_conditions"])
		require.NotEmpty(t, allow["legal_power"])
		require.NotEmpty(t, allow["dpia"])
		require.Equal(t, "every check passed", allow["reasons"])
		deny := rowWhere(t, doc, "decision", "deny")
		require.Contains(t, deny["failed_checks"], "purpose.permitted")
		require.NotEmpty(t, deny["reasons"])
		override := rowWhere(t, doc, "exchange", emergency.ID)
		require.Equal(t, "allow-override", override["decision"])
		require.Contains(t, override["decision_maker"], "DPO review by")

		// A period with nothing in it, and one that is no period at all.
		ex, err = auditor.Export(ctx, compliance.KindDisclosures, url.Values{"from": {"2020-01-01"}, "to": {"2020-12-31"}, "format": {"csv"}})
		require.NoError(t, err)
		csv, _ := io.ReadAll(ex.Body)
		ex.Body.Close()
		require.Equal(t, 1, strings.Count(string(csv), "\r\n"), "the header alone")
		_, err = auditor.Export(ctx, compliance.KindDisclosures, url.Values{"from": {today}})
		p := requireProblem(t, err, 400, "invalid-request")
		require.Equal(t, "to", p.Errors[0].Field)
		_, err = admin.Export(ctx, compliance.KindDisclosures, url.Values{"from": {today}, "to": {today}})
		requireProblem(t, err, 403, "role-forbidden")
	})

	t.Run("subject access", func(t *testing.T) {
		_, err := auditor.SubjectAccess(ctx, api.SubjectAccessRequest{Subject: &api.Subject{Type: "nino", Value: "QQ123456C"}})
		requireProblem(t, err, 403, "role-forbidden")
		ex, err := dpo.SubjectAccess(ctx, api.SubjectAccessRequest{Subject: &api.Subject{Type: "NINO", Value: "qq 12 34 56 c"}})
		doc := download(t, gw, ex, err)
		require.Equal(t, 1, doc.Count)
		row := doc.Rows[0]
		require.Equal(t, withheld.ID, row["exchange"])
		require.Equal(t, "police.northshire", row["recipient"])
		require.Equal(t, true, row["withheld"], "a disclosure under a live exemption is withheld")
		_, err = dpo.SubjectAccess(ctx, api.SubjectAccessRequest{SubjectKey: "QQ123456C"})
		p := requireProblem(t, err, 400, "invalid-request")
		require.Equal(t, "subject_key", p.Errors[0].Field)
	})

	t.Run("overrides and their review", func(t *testing.T) {
		ex, err := auditor.Export(ctx, compliance.KindOverrides, nil)
		doc := download(t, gw, ex, err)
		require.Equal(t, 1, doc.Count)
		require.Equal(t, "awaiting", rowWhere(t, doc, "exchange", emergency.ID)["status"])

		review := api.OverrideReview{Outcome: "justified", Notes: "Immediate risk to a child; proportionate"}
		_, err = auditor.ReviewOverride(ctx, emergency.ID, review)
		requireProblem(t, err, 403, "role-forbidden")
		_, err = dpo.ReviewOverride(ctx, withheld.ID, review)
		requireProblem(t, err, 404, "record-not-found")
		_, err = auditor.ReviewOverride(ctx, emergency.ID, api.OverrideReview{Outcome: "fine"})
		requireProblem(t, err, 403, "role-forbidden") // the role first, then the fields
		_, err = dpo.ReviewOverride(ctx, emergency.ID, api.OverrideReview{Outcome: "fine"})
		p := requireProblem(t, err, 400, "invalid-request")
		require.Len(t, p.Errors, 2, "outcome and notes")
		o, err := dpo.ReviewOverride(ctx, emergency.ID, review)
		require.NoError(t, err)
		require.Equal(t, "reviewed", o.State)
		require.Equal(t, "dana.dpo", o.Reviewer)
		_, err = dpo.ReviewOverride(ctx, emergency.ID, review)
		require.NoError(t, err, "the same review again is a retry")
		_, err = dpo.ReviewOverride(ctx, emergency.ID, api.OverrideReview{Outcome: "not-justified", Notes: "changed my mind"})
		requireProblem(t, err, 409, "record-state")

		ex, err = auditor.Export(ctx, compliance.KindOverrides, url.Values{"state": {"open"}})
		require.Zero(t, download(t, gw, ex, err).Count)
		ex, err = auditor.Export(ctx, compliance.KindOverrides, url.Values{"state": {"reviewed"}})
		doc = download(t, gw, ex, err)
		require.Equal(t, "justified", rowWhere(t, doc, "exchange", emergency.ID)["outcome"])
	})

	t.Run("notifications", func(t *testing.T) {
		ex, err := auditor.Export(ctx, compliance.KindNotifications, nil)
		doc := download(t, gw, ex, err)
		require.Equal(t, "notify", rowWhere(t, doc, "exchange", told.ID)["due_because"])
		// The sender withheld it (the agreement's default): pending until a
		// DPO confirms it.
		row := rowWhere(t, doc, "exchange", withheld.ID)
		require.Equal(t, "confirmation-pending", row["due_because"])
		require.Equal(t, "pending", row["confirmation"])
		require.NotEmpty(t, row["confirm_by"])
		_, err = auditor.RecordNotification(ctx, withheld.ID, api.NotificationUpdate{Action: "confirm"})
		requireProblem(t, err, 403, "role-forbidden")
		_, err = dpo.RecordNotification(ctx, told.ID, api.NotificationUpdate{Action: "confirm"})
		requireProblem(t, err, 409, "record-state")
		n, err := dpo.RecordNotification(ctx, withheld.ID, api.NotificationUpdate{Action: "confirm", Reason: "Investigation NP-2026-0142 is live"})
		require.NoError(t, err)
		require.Equal(t, "withheld", n.State)
		require.Equal(t, "dana.dpo", n.ConfirmedBy)
		require.False(t, n.ConfirmedAt.IsZero())
		again, err := dpo.RecordNotification(ctx, withheld.ID, api.NotificationUpdate{Action: "confirm"})
		require.NoError(t, err)
		require.Equal(t, n.ConfirmedAt, again.ConfirmedAt, "confirming twice changes nothing")
		confirmed := adminEntries(t, gw)[compliance.AuditNotificationConfirmed]
		require.Len(t, confirmed, 1)
		require.Equal(t, withheld.ID, confirmed[0].Exchange)
		require.Equal(t, "dana.dpo", confirmed[0].Actor)
		require.Equal(t, "Investigation NP-2026-0142 is live", confirmed[0].Detail["note"])
		ex, err = auditor.Export(ctx, compliance.KindNotifications, nil)
		for _, r := range download(t, gw, ex, err).Rows {
			require.NotEqual(t, withheld.ID, r["exchange"], "confirmed: withheld until its review date")
		}
		// Seven months on (the agreement says review after 180 days), the
		// withheld ones are due for review.
		later := time.Now().Add(210 * 24 * time.Hour)
		gw.App.Compliance.SetClock(func() time.Time { return later })
		defer gw.App.Compliance.SetClock(time.Now)
		ex, err = auditor.Export(ctx, compliance.KindNotifications, nil)
		doc = download(t, gw, ex, err)
		row = rowWhere(t, doc, "exchange", withheld.ID)
		require.Equal(t, "review-date-passed", row["due_because"])
		require.Equal(t, "confirmed", row["confirmation"])
		require.NotEmpty(t, row["reason"])

		_, err = dpo.RecordNotification(ctx, withheld.ID, api.NotificationUpdate{Action: "withhold", Reason: "investigation continues"})
		p := requireProblem(t, err, 400, "invalid-request")
		require.Equal(t, "review_at", p.Errors[0].Field)
		next := later.Add(30 * 24 * time.Hour)
		n, err = dpo.RecordNotification(ctx, withheld.ID, api.NotificationUpdate{Action: "withhold", Reason: "investigation continues", ReviewAt: &next})
		require.NoError(t, err)
		require.Equal(t, "withheld", n.State)
		n, err = dpo.RecordNotification(ctx, told.ID, api.NotificationUpdate{Action: "told", Reason: "letter sent"})
		require.NoError(t, err)
		require.Equal(t, "told", n.State)
		ex, err = auditor.Export(ctx, compliance.KindNotifications, nil)
		for _, r := range download(t, gw, ex, err).Rows {
			require.NotContains(t, []any{told.ID, withheld.ID}, r["exchange"])
		}
	})

	t.Run("agreements due", func(t *testing.T) {
		// The demo's dates are relative to today: police-crime's DPIA was
		// completed 45 days ago, so it is due to be revisited within the
		// year, before the agreement's own review.
		ex, err := auditor.Export(ctx, compliance.KindAgreements, url.Values{"within": {"366"}})
		doc := download(t, gw, ex, err)
		require.Equal(t, "dpia-review-due", rowWhere(t, doc, "agreement", "police-crime@1")["issue"])
		ex, err = auditor.Export(ctx, compliance.KindAgreements, url.Values{"within": {"90"}})
		require.Zero(t, download(t, gw, ex, err).Count, "nothing of the demo is due within 90 days")
		_, err = auditor.Export(ctx, compliance.KindAgreements, url.Values{"within": {"9999"}})
		requireProblem(t, err, 400, "invalid-request")
	})

	t.Run("rectification notices", func(t *testing.T) {
		rect, err := dpo.Rectify(ctx, api.RectificationRequest{
			Subject: &api.Subject{Type: "nino", Value: "QQ123456C"}, Action: "corrected", Description: "Date of birth corrected",
		})
		require.NoError(t, err)
		require.Len(t, rect.Notices, 1)
		require.Equal(t, "police.northshire", rect.Notices[0].Recipient)
		require.Equal(t, []string{withheld.ID}, rect.Notices[0].Exchanges)

		inbox, err := police.Inbox(ctx, "", 0)
		require.NoError(t, err)
		require.Len(t, inbox.Notices, 1)
		notice := inbox.Notices[0]
		require.Equal(t, "Date of birth corrected", notice.Description)
		_, err = council.AcknowledgeNotice(ctx, notice.ID)
		requireProblem(t, err, 404, "record-not-found")
		acked, err := police.AcknowledgeNotice(ctx, notice.ID)
		require.NoError(t, err)
		require.False(t, acked.AcknowledgedAt.IsZero())
		pending, err := police.Notices(ctx, true)
		require.NoError(t, err)
		require.Empty(t, pending)

		_, err = auditor.Export(ctx, compliance.KindRectifications, nil)
		requireProblem(t, err, 403, "role-forbidden")
		ex, err := dpo.Export(ctx, compliance.KindRectifications, nil)
		doc := download(t, gw, ex, err)
		require.Equal(t, "acknowledged", rowWhere(t, doc, "notice", notice.ID)["status"])
		ex, err = dpo.SubjectAccess(ctx, api.SubjectAccessRequest{Subject: &api.Subject{Type: "nino", Value: "QQ123456C"}})
		doc = download(t, gw, ex, err)
		require.NotEmpty(t, doc.Rows[0]["rectifications"])
	})

	t.Run("command line and signature checks", func(t *testing.T) {
		dir := t.TempDir()
		t.Setenv("GATEHOUSE_ADMIN_URL", gw.AdminURL)
		t.Setenv("GATEHOUSE_ADMIN_CA", gw.Env.CAFile())
		t.Setenv("GATEHOUSE_ADMIN_TOKEN", gw.Token(t, "ali.auditor", "auditor"))
		file := filepath.Join(dir, "register.csv")
		out, _, err := gatehouse(t, "export", "disclosures", "--from", today, "--to", today, "-o", file)
		require.NoError(t, err)
		require.Contains(t, out, "4 rows")
		out, _, err = gatehouse(t, "export", "verify", file)
		require.NoError(t, err, out)
		require.Contains(t, out, "verified")

		// Offline, with the key set saved beforehand.
		keys, err := client.AdminKeys(ctx, client.AdminConfig{URL: gw.AdminURL, CAFile: gw.Env.CAFile()})
		require.NoError(t, err)
		jwks, err := json.Marshal(keys)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "jwks.json"), jwks, 0o600))
		t.Setenv("GATEHOUSE_ADMIN_URL", "")
		_, _, err = gatehouse(t, "export", "verify", file, "--jwks", filepath.Join(dir, "jwks.json"))
		require.NoError(t, err)

		b, err := os.ReadFile(file)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(file, bytes.Replace(b, []byte(",deny,"), []byte(",allow,"), 1), 0o600))
		_, _, err = gatehouse(t, "export", "verify", file, "--jwks", filepath.Join(dir, "jwks.json"))
		require.ErrorIs(t, err, compliance.ErrSignature, "an edited export fails")
	})

	t.Run("everything is audited", func(t *testing.T) {
		key := audit.SubjectKey(mustSubjectKey(t, gw), "nino", "QQ123456C")
		counts := map[string]int{}
		for _, r := range records(t, gw.App.DB) {
			require.NotContains(t, string(r.Body), "QQ123456C", "subject identifiers never reach the audit record")
			var e audit.Entry
			require.NoError(t, json.Unmarshal(r.Body, &e))
			counts[e.Type]++
			if e.Type == compliance.AuditExportGenerated && e.Detail["export"] == compliance.KindSubjectAccess {
				require.Equal(t, []string{key}, e.Subjects, "a subject access export is audited by the subject's key")
			}
		}
		require.GreaterOrEqual(t, counts[compliance.AuditExportGenerated], 10)
		require.Equal(t, 1, counts[compliance.AuditOverrideReviewed])
		require.Equal(t, 2, counts[compliance.AuditNotificationUpdated])
		require.Equal(t, 1, counts[compliance.AuditNotificationConfirmed])
		require.Equal(t, 1, counts[compliance.AuditRectification])
		require.Equal(t, 1, counts[compliance.AuditNoticeAcknowledged])
		rep, err := audit.Check(ctx, gw.App.DB, gw.App.AuditArchive, audit.CheckOptions{Keys: gw.App.AuditKeys, Issuer: gw.Env.Config.Issuer})
		require.NoError(t, err)
		require.True(t, rep.OK(), "%v", rep.Problems)
	})
}

func mustSubjectKey(t *testing.T, gw *testenv.Gateway) []byte {
	t.Helper()
	key, err := server.ReadHexKey(gw.Env.Config.Keys.SubjectKeyFile)
	require.NoError(t, err)
	return key
}

// A DPO searches a NINO and a name with date of birth at once, each written
// as the council happens to hold it: the export is the union of what was
// shared under either, and nothing of anyone else.
func TestSubjectAccessUnionOfIdentifiers(t *testing.T) {
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	council := gw.Client(t, "council.revenues")
	send := func(subjects ...api.Subject) string {
		d := policeDisclosure(4)
		d.Subjects = subjects
		e, err := council.Send(ctx, d, strings.NewReader("data"))
		require.NoError(t, err)
		return e.ID
	}
	byNINO := send(api.Subject{Type: "nino", Value: "qq 12 34 56 c"})
	byName := send(api.Subject{Type: "name-dob", Value: "JOSE\u0301  NÚÑEZ 1990-04-01"})
	_ = send(api.Subject{Type: "nino", Value: "AB123456D"})

	dpo := gw.Admin(t, "dana", "dpo")
	ex, err := dpo.SubjectAccess(ctx, api.SubjectAccessRequest{Subjects: []api.Subject{
		{Type: "nino", Value: "QQ123456C"}, {Type: "name-dob", Value: "José Núñez 1990-04-01"},
	}})
	doc := download(t, gw, ex, err)
	require.Equal(t, 2, doc.Count)
	got := []any{doc.Rows[0]["exchange"], doc.Rows[1]["exchange"]}
	require.ElementsMatch(t, []any{byNINO, byName}, got)

	ex, err = dpo.SubjectAccess(ctx, api.SubjectAccessRequest{Subject: &api.Subject{Type: "name-dob", Value: "jose\u0301 núñez 1990-04-01"}})
	doc = download(t, gw, ex, err)
	require.Equal(t, 1, doc.Count, "names match NFC and case-folded")

	_, err = dpo.SubjectAccess(ctx, api.SubjectAccessRequest{SubjectKeys: []string{"nope"}})
	p := requireProblem(t, err, 400, "invalid-request")
	require.Equal(t, "subject_keys[0]", p.Errors[0].Field)
}
