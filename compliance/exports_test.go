package compliance_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/compliance"
	"github.com/gatehouse-gw/gatehouse/exchange"
	"github.com/gatehouse-gw/gatehouse/exchange/seal"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var (
	now = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	day = 24 * time.Hour
)

const subjectKey = "hmac-sha256:cdaedeaeda4cd1f0a58b82977838717560710729dfce930f57beea29af3a9d1d"

func date(s string) agreements.Date {
	var d agreements.Date
	if err := d.UnmarshalText([]byte(s)); err != nil {
		panic(err)
	}
	return d
}

func fixtureRefs() compliance.Refs {
	police := &agreements.Agreement{
		ID: "police-crime", Version: 1, Status: agreements.StatusActive, Title: "Crime prevention and detection: Northshire Police",
		Flows: []agreements.Flow{{
			From: []string{"council.revenues"}, To: []string{"police.northshire"},
			Instruments: []agreements.Instrument{{Code: "DPA-S2-P1-2", Title: "Data Protection Act 2018 Sch 2 para 2"}, {Title: "Crime and Disorder Act 1998 s115"}},
		}},
		DPIA:          &agreements.DPIA{Reference: "DPIA-2025-014", Completed: date("2025-12-01"), Outcome: "approved-with-mitigations"},
		EffectiveFrom: date("2026-01-01"), ExpiresAt: date("2026-12-15"), ReviewBy: date("2026-11-30"),
		Retention: agreements.Duration(90 * day),
	}
	nfi := &agreements.Agreement{
		ID: "nfi", Version: 2, Status: agreements.StatusActive, Title: "National Fraud Initiative",
		DPIA:     &agreements.DPIA{Reference: "DPIA-2024-003", Completed: date("2024-10-01"), Outcome: "approved"},
		ReviewBy: date("2026-10-01"), Retention: agreements.Duration(365 * day),
	}
	draft := &agreements.Agreement{ID: "youth-justice", Version: 1, Status: agreements.StatusApproved, Title: "Youth justice", ReviewBy: date("2027-06-30")}
	old := &agreements.Agreement{ID: "nfi", Version: 1, Status: agreements.StatusSuperseded, Title: "National Fraud Initiative (2024)", ReviewBy: date("2025-01-01")}
	// Each approved version carries the digest its DPO approved.
	for _, a := range []*agreements.Agreement{police, nfi, draft, old} {
		a.ApprovedSHA256 = agreements.Digest(a)
	}
	return compliance.NewRefs([]*agreements.Agreement{police, nfi, draft, old}, []*agreements.Party{
		{ID: "police.northshire", Kind: "police", Name: "Northshire Police"},
		{ID: "council.revenues", Kind: "council-service", Name: "Council revenues"},
		{ID: "cabinet-office.nfi", Kind: "cabinet-office", Name: "Cabinet Office NFI"},
	})
}

func exchangeFixture(id, recipient, exemption string, state exchange.State, delivered time.Time) *exchange.Exchange {
	return &exchange.Exchange{
		ID: id, State: state, Sender: "council.revenues", Recipient: recipient, AgreementID: "police-crime", AgreementVersion: 1,
		Meta: exchange.Meta{
			Purpose: "crime-prevention-detection", LawfulBasis: "A6-1-e", Exemption: exemption,
			DataCategories: []string{"identity", "financial"}, SubjectKeys: []string{subjectKey}, SubjectCount: 1,
			Justification: "Named suspect in investigation NP-2026-0142", Authoriser: &api.Authoriser{Name: "DI Sam Patel", Rank: "inspector"},
		},
		CreatedAt: delivered.Add(-time.Minute), DeliveredAt: delivered,
	}
}

func table() *compliance.Table {
	return &compliance.Table{GeneratedAt: now, GeneratedBy: "gatehouse-test", RequestedBy: "dana.dpo", Parameters: map[string]string{"example": "yes"}}
}

// golden renders t in both formats and compares them with testdata.
func golden(t *testing.T, tb *compliance.Table) {
	t.Helper()
	for _, format := range []string{compliance.FormatCSV, compliance.FormatJSON} {
		got, err := tb.Bytes(format)
		require.NoError(t, err)
		path := filepath.Join("testdata", tb.Kind+"."+format+".golden")
		if *update {
			require.NoError(t, os.WriteFile(path, got, 0o644))
		}
		want, err := os.ReadFile(path)
		require.NoError(t, err, "run go test ./compliance -update to create it")
		require.Equal(t, string(want), string(got), "%s differs from its golden file (go test ./compliance -update, then review the diff)", path)
	}
}

func TestDisclosureRegisterGolden(t *testing.T) {
	allow := audit.Entry{
		Seq: 41, Time: now.Add(-48 * time.Hour), Type: audit.TypeExchangeDecided, Actor: "council.revenues",
		Exchange: "01a202e1-6ad7-72c5-942e-418aac07183a", Agreement: "police-crime@1", Recipient: "police.northshire",
		Outcome: "allow", Purpose: "crime-prevention-detection", LawfulBasis: "A6-1-e", Exemption: "DPA-S2-P1-2",
		Conditions: []string{"A10", "DPA-S1-P2-10"}, Categories: []string{"identity", "financial"}, Subjects: []string{subjectKey},
		Detail: map[string]string{
			"justification": "Named suspect in investigation NP-2026-0142", "instrument": "Crime and Disorder Act 1998 s115", "authoriser": "DI Sam Patel", "authoriser_rank": "inspector",
			"content_type": "text/csv", "subject_count": "1", "flow": "0", "reasons": "every check passed", "urgency": "routine",
			"criminal_offence": "A10 DPA-S1-P2-10", "request_ref": "NP-REQ-7", "regime": "uk-gdpr",
		},
	}
	// The police disclose to the council under DPA 2018 Part 3.
	part3 := audit.Entry{
		Seq: 46, Time: now.Add(-45 * time.Hour), Type: audit.TypeExchangeDecided, Actor: "police.northshire",
		Exchange: "01a202e1-8000-72c5-942e-418aac07183a", Agreement: "police-crime@1", Recipient: "council.legal",
		Outcome: "allow", Purpose: "crime-prevention-detection", LawfulBasis: "DPA-S35-2-b", Categories: []string{"identity", "criminal-offence"},
		Detail: map[string]string{
			"justification": "Suspect's known associates, to locate", "authoriser": "DI R. Shaw", "authoriser_rank": "inspector",
			"flow": "1", "regime": "dpa-part-3", "reasons": "every check passed", "urgency": "urgent",
		},
	}
	answer := allow
	answer.Seq, answer.Exchange, answer.Request = 44, "01a202e1-7000-72c5-942e-418aac07183a", "01a202e0-0000-72c5-942e-418aac07183a"
	deny := audit.Entry{
		Seq: 42, Time: now.Add(-47 * time.Hour), Type: audit.TypeExchangeDecided, Actor: "council.revenues",
		Agreement: "police-crime@1", Recipient: "police.northshire", Outcome: "deny", Failed: []string{"purpose.permitted", "purpose.not-prohibited"},
		Purpose: "marketing", LawfulBasis: "A6-1-e", Categories: []string{"identity"},
		Detail: map[string]string{"reasons": `=HYPERLINK("x"); marketing is never a permitted purpose`, "urgency": "routine"},
	}
	override := audit.Entry{
		Seq: 43, Time: now.Add(-46 * time.Hour), Type: audit.TypeExchangeDecided, Actor: "council.social-care",
		Exchange: "01a202e1-6ad7-72c5-942e-418aac0718ff", Recipient: "police.northshire", Outcome: "allow-override",
		Purpose: "safeguarding-child", LawfulBasis: "A6-1-d", Categories: []string{"identity", "address-history"},
		Detail: map[string]string{
			"justification": "Child at immediate risk; officers attending now", "authoriser": "M. Ade", "authoriser_rank": "head-of-service",
			"urgency": "emergency", "override_review_by": "2026-11-23T08:00:00Z", "reasons": "emergency disclosure to protect life", "regime": "uk-gdpr",
		},
	}
	// Text a partner wrote, with what hides a formula or rewrites a line.
	hostile := deny
	hostile.Seq, hostile.Failed = 45, []string{"agreement.exists"}
	hostile.Detail = map[string]string{
		"justification": "\u200b=HYPERLINK(\"http://x\")", "authoriser": "DI \x1b[31mSmith\x07", "authoriser_rank": "\u00a0+inspector",
		"reasons": "\t@SUM(A1)", "urgency": "＝1+1", "requested_by": "invoice\u202egnp.exe",
	}
	requests := map[string]*exchange.Request{answer.Request: {
		ID: answer.Request, Requester: "police.northshire",
		Meta: exchange.RequestMeta{Meta: exchange.Meta{RequestedBy: "DC Jo Hale", Authoriser: &api.Authoriser{Name: "DI Sam Patel", Rank: "inspector"}},
			StatutoryPower: "DPA 2018 Sch 2 para 2 request, form DP2"},
	}}
	tb := table()
	compliance.DisclosureRegister(tb, []audit.Entry{allow, deny, override, answer, hostile, part3}, requests, fixtureRefs())
	golden(t, tb)
}

func TestSubjectAccessGolden(t *testing.T) {
	withheld := exchangeFixture("01a202e1-0001-72c5-942e-418aac07183a", "police.northshire", "DPA-S2-P1-2", exchange.StateAcknowledged, now.Add(-30*day))
	open := exchangeFixture("01a202e1-0002-72c5-942e-418aac07183a", "cabinet-office.nfi", "", exchange.StateDelivered, now.Add(-10*day))
	lapsed := exchangeFixture("01a202e1-0003-72c5-942e-418aac07183a", "police.northshire", "DPA-S2-P1-2", exchange.StateExpired, now.Add(-200*day))
	never := exchangeFixture("01a202e1-0004-72c5-942e-418aac07183a", "police.northshire", "", exchange.StateDeclared, time.Time{})
	notes := map[string]*compliance.Notification{
		withheld.ID: {ExchangeID: withheld.ID, State: exchange.NotifyWithheld, Reason: "would prejudice an investigation", ReviewAt: now.Add(60 * day)},
		open.ID:     {ExchangeID: open.ID, State: exchange.NotifyTold},
		lapsed.ID:   {ExchangeID: lapsed.ID, State: exchange.NotifyWithheld, Reason: "would prejudice an investigation", ReviewAt: now.Add(-20 * day)},
	}
	rects := []*compliance.Rectification{{
		ID: "01a202e1-9999-72c5-942e-418aac07183a", Action: compliance.ActionCorrected, CreatedAt: now.Add(-5 * day),
		Notices: []*compliance.Notice{{Recipient: "police.northshire", Exchanges: []string{withheld.ID}}},
	}}
	tb := table()
	compliance.SubjectAccess(tb, []*exchange.Exchange{never, open, withheld, lapsed}, notes, rects, fixtureRefs(), now)
	require.Len(t, tb.Rows, 3, "an exchange never delivered disclosed nothing")
	golden(t, tb)
}

func TestOverridesGolden(t *testing.T) {
	a := exchangeFixture("01a202e1-0001-72c5-942e-418aac07183a", "police.northshire", "", exchange.StateDelivered, now.Add(-day))
	b := exchangeFixture("01a202e1-0002-72c5-942e-418aac07183a", "police.northshire", "", exchange.StateFetched, now.Add(-5*day))
	c := exchangeFixture("01a202e1-0003-72c5-942e-418aac07183a", "police.northshire", "", exchange.StateAcknowledged, now.Add(-9*day))
	os := []*compliance.Override{
		{ExchangeID: a.ID, ReviewBy: now.Add(2 * day), State: compliance.OverrideAwaiting, CreatedAt: a.CreatedAt},
		{ExchangeID: b.ID, ReviewBy: now.Add(-2 * day), State: compliance.OverrideAwaiting, CreatedAt: b.CreatedAt},
		{ExchangeID: c.ID, ReviewBy: now.Add(-6 * day), State: compliance.OverrideReviewed, Outcome: compliance.OutcomeJustified,
			Notes: "Risk to life was clear; proportionate", Reviewer: "dana.dpo", ReviewedAt: now.Add(-7 * day), CreatedAt: c.CreatedAt},
	}
	exs := map[string]*exchange.Exchange{a.ID: a, b.ID: b, c.ID: c}
	for filter, want := range map[string]int{compliance.FilterOpen: 2, compliance.FilterOverdue: 1, compliance.FilterReviewed: 1} {
		tb := table()
		compliance.Overrides(tb, os, exs, filter, now)
		require.Len(t, tb.Rows, want, filter)
	}
	tb := table()
	compliance.Overrides(tb, os, exs, compliance.FilterAll, now)
	golden(t, tb)
}

func TestReleasesGolden(t *testing.T) {
	a := exchangeFixture("01a202e1-0004-72c5-942e-418aac07183a", "police.northshire", "", exchange.StateFetched, now.Add(-3*day))
	entries := []audit.Entry{
		{Seq: 41, Time: now.Add(-day), Type: exchange.TypeReleased, Actor: "dana.dpo", Exchange: a.ID, Agreement: "police-crime@1",
			Recipient: "police.northshire", Detail: map[string]string{"actor_name": "Dana Okoye", "reason": "Suspension is for an unrelated breach; this answer was owed", "sender": "council.revenues", "roles": "[dpo]"}},
		{Seq: 57, Time: now.Add(-2 * time.Hour), Type: exchange.TypeReleased, Actor: "dana.dpo", Exchange: "01a202e1-0005-72c5-942e-418aac07183a",
			Agreement: "police-crime@1", Recipient: "police.northshire", Detail: map[string]string{"reason": "Exchange since deleted", "sender": "council.legal"}},
	}
	tb := table()
	compliance.Releases(tb, entries, map[string]*exchange.Exchange{a.ID: a})
	require.Len(t, tb.Rows, 2, "a release is listed even when its exchange is gone")
	golden(t, tb)
}

func TestNotificationsGolden(t *testing.T) {
	due := exchangeFixture("01a202e1-0001-72c5-942e-418aac07183a", "cabinet-office.nfi", "", exchange.StateDelivered, now.Add(-day))
	lapsed := exchangeFixture("01a202e1-0002-72c5-942e-418aac07183a", "police.northshire", "DPA-S2-P1-2", exchange.StateAcknowledged, now.Add(-100*day))
	notYet := exchangeFixture("01a202e1-0003-72c5-942e-418aac07183a", "police.northshire", "DPA-S2-P1-2", exchange.StateDelivered, now.Add(-day))
	undelivered := exchangeFixture("01a202e1-0004-72c5-942e-418aac07183a", "police.northshire", "", exchange.StateFailed, time.Time{})
	pending := exchangeFixture("01a202e1-0005-72c5-942e-418aac07183a", "police.northshire", "", exchange.StateDelivered, now.Add(-day))
	unconfirmed := exchangeFixture("01a202e1-0006-72c5-942e-418aac07183a", "police.northshire", "DPA-S2-P1-2", exchange.StateFetched, now.Add(-4*day))
	notes := []*compliance.Notification{
		{ExchangeID: due.ID, State: exchange.NotifyDue, UpdatedBy: "council.revenues"},
		{ExchangeID: lapsed.ID, State: exchange.NotifyWithheld, Reason: "would prejudice an investigation", ReviewAt: now.Add(-10 * day), UpdatedBy: "council.revenues",
			ConfirmBy: now.Add(-97 * day), ConfirmedBy: "dana.dpo", ConfirmedAt: now.Add(-99 * day)},
		{ExchangeID: notYet.ID, State: exchange.NotifyWithheld, Reason: "would prejudice an investigation", ReviewAt: now.Add(80 * day), UpdatedBy: "council.revenues",
			ConfirmBy: now.Add(2 * day), ConfirmedBy: "dana.dpo", ConfirmedAt: now.Add(-time.Hour)},
		{ExchangeID: pending.ID, State: exchange.NotifyWithheld, Reason: "the agreement withholds by default", ReviewAt: now.Add(80 * day), UpdatedBy: "council.revenues",
			ConfirmBy: now.Add(2 * day)},
		{ExchangeID: unconfirmed.ID, State: exchange.NotifyWithheld, Reason: "would prejudice an investigation", ReviewAt: now.Add(80 * day), UpdatedBy: "council.revenues",
			ConfirmBy: now.Add(-day)},
		{ExchangeID: undelivered.ID, State: exchange.NotifyDue, UpdatedBy: "council.revenues"},
	}
	exs := map[string]*exchange.Exchange{due.ID: due, lapsed.ID: lapsed, notYet.ID: notYet, pending.ID: pending, unconfirmed.ID: unconfirmed, undelivered.ID: undelivered}
	tb := table()
	compliance.NotificationsDue(tb, notes, exs, now)
	require.Len(t, tb.Rows, 4, "due, review date passed, confirmation pending, confirmation overdue; not the confirmed one under review")
	golden(t, tb)
}

func TestAgreementsDueGolden(t *testing.T) {
	refs := fixtureRefs()
	var versions []*agreements.Agreement
	for _, ref := range []string{"police-crime@1", "nfi@2", "youth-justice@1", "nfi@1"} {
		versions = append(versions, refs.Agreements[ref])
	}
	tb := table()
	compliance.AgreementsDue(tb, versions, 30*day, 365*day, now)
	golden(t, tb)
}

func TestRectificationsGolden(t *testing.T) {
	rects := []*compliance.Rectification{{
		ID: "01a202e1-9999-72c5-942e-418aac07183a", SubjectKey: subjectKey, Action: compliance.ActionCorrected,
		Description: "Date of birth corrected", RecordedBy: "dana.dpo", CreatedAt: now.Add(-5 * day),
		Notices: []*compliance.Notice{
			{ID: "n-1", Recipient: "cabinet-office.nfi", Exchanges: []string{"01a202e1-0002-72c5-942e-418aac07183a"}, SentAt: now.Add(-5 * day), AcknowledgedAt: now.Add(-4 * day)},
			{ID: "n-2", Recipient: "police.northshire", Exchanges: []string{"01a202e1-0001-72c5-942e-418aac07183a", "01a202e1-0003-72c5-942e-418aac07183a"}, SentAt: now.Add(-5 * day)},
		},
	}}
	tb := table()
	compliance.Rectifications(tb, rects, now)
	golden(t, tb)
}

func TestCSVDefusesFormulas(t *testing.T) {
	tb := &compliance.Table{Kind: "x", Columns: []compliance.Column{{Name: "a"}, {Name: "b"}, {Name: "c"}}, Rows: [][]any{{"=1+1", "-3.5", "@SUM(A1)"}}}
	got, err := tb.Bytes(compliance.FormatCSV)
	require.NoError(t, err)
	require.Equal(t, "a,b,c\r\n'=1+1,-3.5,'@SUM(A1)\r\n", string(got))
}

func TestCSVCell(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"ok/plain", "Named suspect", "Named suspect"},
		{"ok/negative-number", "-3.5", "-3.5"},
		{"ok/inner-equals", "a=b", "a=b"},
		{"ok/multi-line", "line one\nline two", "line one\nline two"},
		{"ok/unicode-text", "Zoë Ó Briain", "Zoë Ó Briain"},
		{"defuse/equals", "=1+1", "'=1+1"},
		{"defuse/plus", "+44 cmd", "'+44 cmd"},
		{"defuse/minus-formula", "-2+3", "'-2+3"},
		{"defuse/at", "@SUM(A1)", "'@SUM(A1)"},
		{"defuse/pipe", "|calc", "'|calc"},
		{"defuse/leading-space", " =1+1", "' =1+1"},
		{"defuse/leading-tab", "\t=1+1", "'\t=1+1"},
		{"defuse/leading-cr", "\r=1+1", "'\\x0d=1+1"},
		{"defuse/leading-lf", "\n=1+1", "'\n=1+1"},
		{"defuse/leading-nbsp", "\u00a0=1+1", "'\u00a0=1+1"},
		{"defuse/leading-zero-width-space", "\u200b=1+1", "'\\u200b=1+1"},
		{"defuse/leading-bom", "\ufeff=1+1", "'\\ufeff=1+1"},
		{"defuse/leading-ideographic-space", "\u3000@x", "'\u3000@x"},
		{"defuse/full-width-equals", "＝1+1", "'＝1+1"},
		{"defuse/full-width-plus", "＋1", "'＋1"},
		{"defuse/full-width-minus", "－1", "'－1"},
		{"defuse/full-width-at", "＠x", "'＠x"},
		{"defuse/minus-sign", "\u22121+1", "'\u22121+1"},
		{"defuse/spaced-number", " -3", "' -3"},
		{"escape/esc-bel", "DI \x1b[31mSmith\x07", "DI \\x1b[31mSmith\\x07"},
		{"escape/c1", "a\u0085b", "a\\x85b"},
		{"escape/bidi-override", "invoice\u202egnp.exe", "invoice\\u202egnp.exe"},
		{"escape/nul", "a\x00b", "a\\x00b"},
		{"escape/invalid-utf8", "a\xffb", "a\\ufffdb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, compliance.Cell(tt.in))
		})
	}
}

// FuzzCSVCell: no cell comes out with a hidden character, or with a
// formula trigger as its first visible character.
func FuzzCSVCell(f *testing.F) {
	for _, s := range []string{"=1", " \u200b=1", "-3.5", "\x1b=", "＝"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := compliance.Cell(s)
		for _, r := range out {
			require.False(t, r < 0x20 && r != '\t' && r != '\n', "control character %U in %q", r, out)
			require.False(t, r >= 0x7f && r < 0xa0, "C1 control %U in %q", r, out)
			require.False(t, unicode.Is(unicode.Cf, r), "format character %U in %q", r, out)
		}
		first := strings.TrimLeftFunc(out, unicode.IsSpace)
		if _, err := strconv.ParseFloat(out, 64); err == nil {
			return // a number is data
		}
		if first != "" && strings.ContainsRune("=+-@|＝＋－＠", []rune(first)[0]) {
			t.Fatalf("%q starts with a formula trigger", out)
		}
	})
}

func keys(t *testing.T) (*seal.Signer, jwk.Set) {
	t.Helper()
	k, err := seal.GenerateKey(seal.UseSignature)
	require.NoError(t, err)
	s, err := seal.NewSigner(k)
	require.NoError(t, err)
	set, err := s.PublicSet()
	require.NoError(t, err)
	return s, set
}

func TestDetachedSignature(t *testing.T) {
	signer, set := keys(t)
	body := []byte("decided_at,decision\r\n2026-11-20T10:00:00Z,allow\r\n")
	sig, err := compliance.Sign(signer, body, compliance.Signed{Kind: compliance.KindDisclosures, Format: "csv", GeneratedAt: now, Rows: 1})
	require.NoError(t, err)
	parts := strings.Split(sig, ".")
	require.Len(t, parts, 3)
	require.Empty(t, parts[1], "the payload is detached")

	meta, err := compliance.Verify([]byte(sig), bytes.NewReader(body), set)
	require.NoError(t, err)
	require.Equal(t, compliance.KindDisclosures, meta.Kind)
	require.Equal(t, 1, meta.Rows)
	require.Equal(t, signer.KeyID(), meta.KeyID)

	tampered := bytes.Replace(body, []byte("allow"), []byte("deny!"), 1)
	_, err = compliance.Verify([]byte(sig), bytes.NewReader(tampered), set)
	require.ErrorIs(t, err, compliance.ErrSignature)

	_, other := keys(t)
	_, err = compliance.Verify([]byte(sig), bytes.NewReader(body), other)
	require.ErrorIs(t, err, compliance.ErrSignature, "another gateway's keys")

	manifest, err := signer.Sign(body, seal.ManifestType)
	require.NoError(t, err)
	_, err = compliance.Verify(manifest, bytes.NewReader(body), set)
	require.ErrorIs(t, err, compliance.ErrSignature, "a manifest signature is not an export signature")
}
