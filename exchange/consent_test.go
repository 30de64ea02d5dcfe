package exchange_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/compliance"
	"github.com/gatehouse-gw/gatehouse/exchange"
)

// consentRig is a rig with a flow for marketing under consent (A6-1-a) from
// Revenues to the DWP, and a consent register.
func consentRig(t *testing.T) *rig {
	t.Helper()
	r := newRig(t)
	a := fixtureAgreement("consented-offers", 30*24*time.Hour, agreements.Flow{
		From: []string{revenues}, To: []string{dwp}, Purposes: []string{"marketing", "direct-marketing"}, LawfulBases: []string{"A6-1-a"},
		DataCategories: []string{"identity", "contact"}, MaxSubjects: 5,
	})
	a.SubjectNotification = agreements.Notification{Default: "notify"}
	require.NoError(t, a.Validate())
	require.NoError(t, r.db.PutAgreement(r.ctx, a))
	return r
}

// consentKey is the rig's keyed digest of a subject.
func consentKey(typ, value string) string {
	return audit.SubjectKey(bytes.Repeat([]byte{7}, 32), typ, value)
}

func (r *rig) recordConsent(t *testing.T, c *exchange.Consent) {
	t.Helper()
	if c.RecordedBy == "" {
		c.RecordedBy, c.RecordedAt = "dpo-1", t0
	}
	require.NoError(t, r.db.Compliance().Update(r.ctx, func(tx compliance.Tx) error { return tx.CreateConsent(r.ctx, c) }))
}

func marketingDisclosure(subjects ...api.Subject) *api.ExchangeDeclaration {
	return &api.ExchangeDeclaration{
		Agreement: "consented-offers", Recipient: dwp, Purpose: "marketing", LawfulBasis: "A6-1-a",
		DataCategories: []string{"identity", "contact"}, Subjects: subjects, ContentType: "text/plain", Size: 10,
	}
}

// A prohibited purpose goes only where the consent register bears out every
// subject's cited consent: the sender's record under that reference, for
// that subject, covering the purpose, given and not withdrawn. Each failure
// is named consent.recorded with its reason, never the identifier; the dry
// run decides the same.
func TestConsentRegisterDecides(t *testing.T) {
	t.Parallel()
	r := consentRig(t)
	alice := api.Subject{Type: "nino", Value: "QQ123456C"}
	bob := api.Subject{Type: "nino", Value: "QQ654321A"}
	aliceKey, bobKey := consentKey(alice.Type, alice.Value), consentKey(bob.Type, bob.Value)
	given := t0.Add(-24 * time.Hour)
	r.recordConsent(t, &exchange.Consent{ID: "c-ok", Party: revenues, ConsentRef: "C-OK", SubjectKey: aliceKey, Purposes: []string{"marketing"}, GivenAt: given})
	r.recordConsent(t, &exchange.Consent{ID: "c-bob", Party: revenues, ConsentRef: "C-BOB", SubjectKey: bobKey, Purposes: []string{"marketing", "sale"}, GivenAt: given})
	r.recordConsent(t, &exchange.Consent{ID: "c-gone", Party: revenues, ConsentRef: "C-GONE", SubjectKey: aliceKey, Purposes: []string{"marketing"},
		GivenAt: given, WithdrawnAt: t0.Add(-time.Hour), WithdrawnBy: "dpo-1"})
	r.recordConsent(t, &exchange.Consent{ID: "c-sale", Party: revenues, ConsentRef: "C-SALE", SubjectKey: aliceKey, Purposes: []string{"sale"}, GivenAt: given})
	r.recordConsent(t, &exchange.Consent{ID: "c-later", Party: revenues, ConsentRef: "C-LATER", SubjectKey: aliceKey, Purposes: []string{"marketing"}, GivenAt: t0.Add(time.Hour)})
	r.recordConsent(t, &exchange.Consent{ID: "c-legal", Party: legal, ConsentRef: "C-LEGAL", SubjectKey: aliceKey, Purposes: []string{"marketing"}, GivenAt: given})

	with := func(s api.Subject, ref string) api.Subject { s.ConsentRef = ref; return s }
	tests := []struct {
		name   string
		decl   *api.ExchangeDeclaration
		reason string // in the consent.recorded check's message; "" allows
	}{
		{"ok/recorded", marketingDisclosure(with(alice, "C-OK")), ""},
		{"ok/declaration-consent-ref-for-its-one-subject", func() *api.ExchangeDeclaration {
			d := marketingDisclosure(alice)
			d.ConsentRef = "C-OK"
			return d
		}(), ""},
		{"ok/two-subjects-each-recorded", marketingDisclosure(with(alice, "C-OK"), with(bob, "C-BOB")), ""},
		{"deny/no-record", marketingDisclosure(with(alice, "C-NONE")), `subjects[0]: council.revenues has no consent record "C-NONE"`},
		{"deny/no-ref-cited", marketingDisclosure(with(alice, "C-OK"), bob), "subjects[1]: no consent record is cited"},
		{"deny/withdrawn", marketingDisclosure(with(alice, "C-GONE")), `subjects[0]: consent "C-GONE" was withdrawn`},
		{"deny/another-subject", marketingDisclosure(with(bob, "C-OK")), `subjects[0]: consent "C-OK" was given by another subject`},
		{"deny/another-purpose", marketingDisclosure(with(alice, "C-SALE")), `subjects[0]: consent "C-SALE" does not cover the purpose "marketing"`},
		{"deny/another-marketing-purpose", func() *api.ExchangeDeclaration {
			d := marketingDisclosure(with(alice, "C-OK"))
			d.Purpose = "direct-marketing"
			return d
		}(), `does not cover the purpose "direct-marketing"`},
		{"deny/given-later", marketingDisclosure(with(alice, "C-LATER")), `subjects[0]: consent "C-LATER" is recorded as given later than now`},
		{"deny/another-partys-consent", marketingDisclosure(with(alice, "C-LEGAL")), `council.revenues has no consent record "C-LEGAL"`},
		{"deny/second-subject-with-first-subjects-consent", marketingDisclosure(with(alice, "C-OK"), with(bob, "C-OK")), `subjects[1]: consent "C-OK" was given by another subject`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dry, err := r.svc.Check(r.ctx, revenues, tt.decl)
			require.NoError(t, err)
			e, err := r.svc.Declare(r.ctx, revenues, tt.decl, "")
			if tt.reason == "" {
				require.NoError(t, err)
				require.Equal(t, agreements.Allow, e.Decision.Outcome)
				require.Equal(t, agreements.Allow, dry.Outcome, "the dry run decides as the declaration")
				return
			}
			var refused *exchange.RefusedError
			require.ErrorAs(t, err, &refused)
			require.Equal(t, []string{agreements.CheckConsentRecorded}, refused.Decision.FailedCodes())
			require.Equal(t, refused.Decision.FailedCodes(), dry.FailedCodes(), "the dry run decides as the declaration")
			msg := failedMessage(refused.Decision, agreements.CheckConsentRecorded)
			require.Contains(t, msg, tt.reason)
			for _, s := range tt.decl.Subjects {
				require.NotContains(t, msg, s.Value, "the subject is named by position, never identifier")
			}
		})
	}
}

// A consent withdrawn between declaration and upload stops the upload: the
// upload's re-decision consults the register again.
func TestConsentWithdrawnBeforeUpload(t *testing.T) {
	t.Parallel()
	r := consentRig(t)
	alice := api.Subject{Type: "nino", Value: "QQ123456C", ConsentRef: "C-1"}
	r.recordConsent(t, &exchange.Consent{ID: "c-1", Party: revenues, ConsentRef: "C-1", SubjectKey: consentKey(alice.Type, alice.Value),
		Purposes: []string{"marketing"}, GivenAt: t0.Add(-time.Hour)})
	e := r.declare(t, revenues, marketingDisclosure(alice))
	require.NoError(t, r.db.Compliance().Update(r.ctx, func(tx compliance.Tx) error {
		c, err := tx.LockConsent(r.ctx, "c-1")
		require.NoError(t, err)
		c.WithdrawnAt, c.WithdrawnBy = t0, "dpo-1"
		return tx.WithdrawConsent(r.ctx, c)
	}))
	r.clock.Advance(time.Minute)
	_, err := r.svc.Upload(r.ctx, revenues, e.ID, strings.NewReader("0123456789"), 10)
	var refused *exchange.RefusedError
	require.ErrorAs(t, err, &refused)
	require.Contains(t, refused.Decision.FailedCodes(), agreements.CheckConsentRecorded)
	require.Contains(t, failedMessage(refused.Decision, agreements.CheckConsentRecorded), "was withdrawn")
}

func failedMessage(d agreements.Decision, code string) string {
	for _, c := range d.Checks {
		if c.Code == code && !c.Passed {
			return c.Message
		}
	}
	return ""
}
