package exchange_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/exchange"
	"github.com/gatehouse-gw/gatehouse/internal/idem"
	"github.com/gatehouse-gw/gatehouse/internal/valid"
)

// requireProblem requires err to be a validation error naming path and rule.
func requireProblem(t *testing.T, err error, path, rule string) {
	t.Helper()
	v, ok := valid.As(err)
	require.True(t, ok, "want a validation error, got %v", err)
	for _, p := range v {
		if p.Path == path && p.Rule == rule {
			return
		}
	}
	require.Failf(t, "problem not found", "want %s (%s) in %v", path, rule, v)
}

func TestValidateDeclaration(t *testing.T) {
	t.Parallel()
	const maxSize = 1000
	long := strings.Repeat("x", 4097)
	tests := []struct {
		name       string
		edit       func(d *api.ExchangeDeclaration)
		path, rule string // "" for no validation error
		err        error  // a sentinel instead
	}{
		{name: "ok/as-declared", edit: func(*api.ExchangeDeclaration) {}},
		{name: "ok/at-the-size-limit", edit: func(d *api.ExchangeDeclaration) { d.Size = maxSize }},
		{name: "ok/empty-payload", edit: func(d *api.ExchangeDeclaration) { d.Size = 0 }},
		{name: "ok/emergency-may-name-no-agreement", edit: func(d *api.ExchangeDeclaration) {
			d.Agreement, d.Urgency = "", exchange.UrgencyEmergency
		}},
		{name: "ok/bulk-subject-count", edit: func(d *api.ExchangeDeclaration) { d.SubjectCount = 500 }},
		{name: "ok/withhold-with-reason", edit: func(d *api.ExchangeDeclaration) {
			d.Notification = &api.Notification{Decision: "withhold", Reason: "tipping off"}
		}},
		{name: "err/too-large", edit: func(d *api.ExchangeDeclaration) { d.Size = maxSize + 1 }, err: exchange.ErrTooLarge},
		{"err/agreement-required", func(d *api.ExchangeDeclaration) { d.Agreement = "" }, "agreement", "required", nil},
		{"err/agreement-format", func(d *api.ExchangeDeclaration) { d.Agreement = "police crime" }, "agreement", "format", nil},
		{"err/recipient-required", func(d *api.ExchangeDeclaration) { d.Recipient = "" }, "recipient", "required", nil},
		{"err/recipient-format", func(d *api.ExchangeDeclaration) { d.Recipient = "Police Northshire" }, "recipient", "format", nil},
		{"err/purpose-required", func(d *api.ExchangeDeclaration) { d.Purpose = "" }, "purpose", "required", nil},
		{"err/purpose-format", func(d *api.ExchangeDeclaration) { d.Purpose = "crime prevention" }, "purpose", "format", nil},
		{"err/purpose-too-long", func(d *api.ExchangeDeclaration) { d.Purpose = strings.Repeat("a", 65) }, "purpose", "format", nil},
		{"err/lawful-basis-required", func(d *api.ExchangeDeclaration) { d.LawfulBasis = "" }, "lawful_basis", "required", nil},
		{"err/categories-required", func(d *api.ExchangeDeclaration) { d.DataCategories = nil }, "data_categories", "required", nil},
		{"err/category-listed-twice", func(d *api.ExchangeDeclaration) { d.DataCategories = []string{"identity", "identity"} }, "data_categories[1]", "unique", nil},
		{"err/too-many-categories", func(d *api.ExchangeDeclaration) {
			d.DataCategories = nil
			for i := range 65 {
				d.DataCategories = append(d.DataCategories, fmt.Sprintf("c%d", i))
			}
		}, "data_categories", "max-items", nil},
		{"err/special-category-format", func(d *api.ExchangeDeclaration) { d.SpecialCategory = []string{"A9 2 b"} }, "special_category[0]", "format", nil},
		{"err/subject-type-format", func(d *api.ExchangeDeclaration) { d.Subjects[0].Type = "NINO" }, "subjects[0].type", "format", nil},
		{"err/subject-value-required", func(d *api.ExchangeDeclaration) { d.Subjects[0].Value = "" }, "subjects[0].value", "required", nil},
		{"err/subject-value-too-long", func(d *api.ExchangeDeclaration) { d.Subjects[0].Value = strings.Repeat("9", 257) }, "subjects[0].value", "max-length", nil},
		{"err/too-many-subjects", func(d *api.ExchangeDeclaration) {
			d.Subjects = make([]api.Subject, 10001)
			for i := range d.Subjects {
				d.Subjects[i] = api.Subject{Type: "council-ref", Value: fmt.Sprint(i)}
			}
		}, "subjects", "max-items", nil},
		{"err/subject-count-negative", func(d *api.ExchangeDeclaration) { d.SubjectCount = -1 }, "subject_count", "minimum", nil},
		{"err/subject-count-below-named", func(d *api.ExchangeDeclaration) {
			d.Subjects = append(d.Subjects, api.Subject{Type: "nino", Value: "QQ000000A"})
			d.SubjectCount = 1
		}, "subject_count", "minimum", nil},
		{"err/justification-too-long", func(d *api.ExchangeDeclaration) { d.Justification = long }, "justification", "max-length", nil},
		{"err/request-ref-too-long", func(d *api.ExchangeDeclaration) { d.RequestRef = long }, "request_ref", "max-length", nil},
		{"err/authoriser-needs-a-name", func(d *api.ExchangeDeclaration) { d.Authoriser = &api.Authoriser{Rank: "inspector"} }, "authoriser.name", "required", nil},
		{"err/urgency", func(d *api.ExchangeDeclaration) { d.Urgency = "asap" }, "urgency", "enum", nil},
		{"err/notification-decision", func(d *api.ExchangeDeclaration) { d.Notification = &api.Notification{Decision: "later"} }, "notification.decision", "enum", nil},
		{"err/withhold-needs-a-reason", func(d *api.ExchangeDeclaration) { d.Notification = &api.Notification{Decision: "withhold"} }, "notification.reason", "required", nil},
		{"err/content-type-required", func(d *api.ExchangeDeclaration) { d.ContentType = "" }, "content_type", "required", nil},
		{"err/content-type-format", func(d *api.ExchangeDeclaration) { d.ContentType = "text plain" }, "content_type", "format", nil},
		{"err/size-negative", func(d *api.ExchangeDeclaration) { d.Size = -1 }, "size", "minimum", nil},
		{"err/sha256-upper-case", func(d *api.ExchangeDeclaration) { d.SHA256 = strings.ToUpper(sha256Hex([]byte("x"))) }, "sha256", "format", nil},
		{"err/sha256-short", func(d *api.ExchangeDeclaration) { d.SHA256 = sha256Hex([]byte("x"))[:62] }, "sha256", "format", nil},
		{"err/sha256-not-hex", func(d *api.ExchangeDeclaration) { d.SHA256 = strings.Repeat("g", 64) }, "sha256", "format", nil},
		// Shape first: an invalid declaration is a 400 even when also too large.
		{"err/invalid-and-too-large", func(d *api.ExchangeDeclaration) { d.Size, d.Purpose = maxSize+1, "" }, "purpose", "required", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := policeDisclosure(10)
			tt.edit(d)
			err := exchange.ValidateDeclaration(d, maxSize)
			switch {
			case tt.err != nil:
				require.ErrorIs(t, err, tt.err)
			case tt.path != "":
				requireProblem(t, err, tt.path, tt.rule)
			default:
				require.NoError(t, err)
			}
		})
	}
}

// An allowed declaration creates an exchange awaiting its payload, with
// its decision recorded first; subjects are kept only as keyed HMACs.
func TestDeclareCreatesAnExchangeAwaitingItsPayload(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	d := policeDisclosure(42)
	d.RequestedBy = "Fraud officer 17"
	e, err := r.svc.Declare(r.ctx, revenues, d, "")
	require.NoError(t, err)

	require.Equal(t, exchange.StateDeclared, e.State)
	require.False(t, e.Replayed)
	require.Equal(t, revenues, e.Sender)
	require.Equal(t, police, e.Recipient)
	require.Equal(t, "police-crime@1", e.AgreementRef())
	require.Equal(t, agreements.Allow, e.Decision.Outcome)
	require.Equal(t, 0, e.Decision.Flow)
	require.Equal(t, exchange.UrgencyRoutine, e.Meta.Urgency, "routine unless said")
	require.Equal(t, int64(42), e.Meta.DeclaredSize)
	require.Equal(t, 1, e.Meta.SubjectCount, "the named subjects count")
	require.Len(t, e.Meta.SubjectKeys, 1)
	require.True(t, strings.HasPrefix(e.Meta.SubjectKeys[0], audit.SubjectKeyPrefix))
	require.Equal(t, t0, e.CreatedAt)
	require.True(t, e.ExpiresAt.IsZero(), "nothing to expire before delivery")

	stored := r.exchange(t, e.ID)
	require.Equal(t, e.Meta, stored.Meta)
	require.Equal(t, e.Decision, stored.Decision)

	decided := r.entries(t, audit.TypeExchangeDecided)
	require.Len(t, decided, 1)
	entry := decided[0]
	require.Equal(t, e.ID, entry.Exchange)
	require.Equal(t, revenues, entry.Actor)
	require.Equal(t, police, entry.Recipient)
	require.Equal(t, "allow", entry.Outcome)
	require.Equal(t, "police-crime@1", entry.Agreement)
	require.Equal(t, e.Meta.SubjectKeys, entry.Subjects)
	require.Equal(t, "Fraud officer 17", entry.Detail["requested_by"])
	require.Equal(t, "every check passed", entry.Detail["reasons"])

	// The subject's identifier is nowhere in the record or the exchange.
	recs, err := r.db.AuditRecords(r.ctx, 0, 100)
	require.NoError(t, err)
	for _, rec := range recs {
		require.NotContains(t, string(rec.Body), "QQ123456C")
	}
	require.NotContains(t, fmt.Sprint(stored.Meta), "QQ123456C")
}

// A refused declaration returns the decision and stores nothing but its
// audit entry.
func TestDeclareRefusals(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.setParty(t, hmrc, func(p *agreements.Party) { p.Status = agreements.PartySuspended })
	tests := []struct {
		name   string
		caller string
		edit   func(d *api.ExchangeDeclaration)
		failed string // a check code the refusal names
	}{
		{"deny/unknown-agreement", revenues, func(d *api.ExchangeDeclaration) { d.Agreement = "police-traffic" }, agreements.CheckAgreementExists},
		{"deny/no-flow-to-this-recipient", revenues, func(d *api.ExchangeDeclaration) { d.Recipient = dwp }, agreements.CheckFlowPermitted},
		{"deny/sender-not-in-the-agreement", dwp, func(*api.ExchangeDeclaration) {}, agreements.CheckPartyIsSender},
		{"deny/unregistered-sender", "council.unknown", func(*api.ExchangeDeclaration) {}, agreements.CheckPartyIdentified},
		{"deny/purpose-not-permitted", revenues, func(d *api.ExchangeDeclaration) { d.Purpose = "tax-assessment-collection" }, agreements.CheckPurposePermitted},
		{"deny/category-not-permitted", revenues, func(d *api.ExchangeDeclaration) { d.DataCategories = []string{"health"} }, agreements.CheckCategoriesPermitted},
		{"deny/legitimate-interests", revenues, func(d *api.ExchangeDeclaration) { d.LawfulBasis = "A6-1-f" }, agreements.CheckBasisArticle6},
		{"deny/marketing-without-consent", revenues, func(d *api.ExchangeDeclaration) { d.Purpose = "marketing" }, agreements.CheckPurposeNotProhibited},
		{"deny/suspended-recipient", revenues, func(d *api.ExchangeDeclaration) {
			d.Agreement, d.Recipient, d.Purpose = "hmrc-tax", hmrc, "tax-assessment-collection"
		}, agreements.CheckRecipientActive},
		{"deny/emergency-for-a-purpose-no-emergency-overrides", revenues, func(d *api.ExchangeDeclaration) {
			d.Purpose, d.Urgency = "marketing", exchange.UrgencyEmergency
			d.Authoriser = &api.Authoriser{Name: "DI Patel"}
		}, agreements.CheckOverrideEmergency},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(r.entries(t))
			d := policeDisclosure(10)
			tt.edit(d)
			e, err := r.svc.Declare(r.ctx, tt.caller, d, "key-"+tt.name)
			require.Nil(t, e)
			var refused *exchange.RefusedError
			require.ErrorAs(t, err, &refused)
			require.Equal(t, agreements.Deny, refused.Decision.Outcome)
			require.Contains(t, refused.Decision.FailedCodes(), tt.failed)
			require.Contains(t, err.Error(), tt.failed)

			require.Zero(t, r.countExchanges(t), "a refusal stores no exchange")
			entries := r.entries(t)
			require.Len(t, entries, before+1, "only the decision")
			last := entries[len(entries)-1]
			require.Equal(t, audit.TypeExchangeDecided, last.Type)
			require.Equal(t, "deny", last.Outcome)
			require.Equal(t, tt.caller, last.Actor)
			require.Empty(t, last.Exchange)
			require.Contains(t, last.Failed, tt.failed)
			require.NotEmpty(t, last.Detail["reasons"])
			// Every check the decision ran is in the record: the failed
			// ones by code, the others as passed.
			var ran []string
			for _, c := range refused.Decision.Checks {
				if c.Passed {
					ran = append(ran, c.Code)
				}
			}
			require.Equal(t, strings.Join(ran, " "), last.Detail["passed"])

			// The key was not spent on a refusal: once the declaration is
			// lawful, the same key creates the exchange.
			_, _, err = r.db.KeyResource(r.ctx, tt.caller, "key-"+tt.name)
			require.ErrorIs(t, err, idem.ErrUnknown)
		})
	}
}

func TestDeclareEmergencyOverride(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	emergency := func(d *api.ExchangeDeclaration) {
		d.Purpose, d.Urgency = "safeguarding-child", exchange.UrgencyEmergency
		d.Authoriser = &api.Authoriser{Name: "DI Sam Patel", Rank: "inspector"}
		d.Justification = "Child at immediate risk"
	}
	tests := []struct {
		name      string
		edit      func(d *api.ExchangeDeclaration)
		outcome   agreements.Outcome
		agreement string
	}{
		{"ok/under-no-agreement-to-the-police", func(d *api.ExchangeDeclaration) {
			emergency(d)
			d.Agreement, d.Instrument = "", "CA-2004-S11" // a safeguarding power: A6-1-e is then fit for an emergency
		}, agreements.AllowOverride, ""},
		{"ok/overriding-a-failed-check", func(d *api.ExchangeDeclaration) {
			emergency(d)
			d.LawfulBasis = "A6-1-d" // vital interests: not a basis the flow lists
		}, agreements.AllowOverride, "police-crime@1"},
		{"deny/health-outside-the-flow", func(d *api.ExchangeDeclaration) { emergency(d); d.DataCategories = []string{"health"} }, agreements.Deny, ""},
		{"ok/nothing-to-override", emergency, agreements.Allow, "police-crime@1"},
		{"deny/without-an-authoriser", func(d *api.ExchangeDeclaration) { emergency(d); d.Agreement, d.Authoriser = "", nil }, agreements.Deny, ""},
		{"deny/not-a-vital-interest", func(d *api.ExchangeDeclaration) {
			emergency(d)
			d.Agreement, d.Purpose = "", "crime-prevention-detection"
		}, agreements.Deny, ""},
		{"deny/under-no-agreement-to-dwp", func(d *api.ExchangeDeclaration) { emergency(d); d.Agreement, d.Recipient = "", dwp }, agreements.Deny, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := policeDisclosure(10)
			tt.edit(d)
			e, err := r.svc.Declare(r.ctx, revenues, d, "")
			if tt.outcome == agreements.Deny {
				var refused *exchange.RefusedError
				require.ErrorAs(t, err, &refused)
				require.Contains(t, refused.Decision.FailedCodes(), agreements.CheckOverrideEmergency)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.outcome, e.Decision.Outcome)
			require.Equal(t, tt.agreement, e.AgreementRef())
			if tt.outcome == agreements.AllowOverride {
				require.Equal(t, t0.Add(agreements.DefaultPolicy.OverrideReview), e.Decision.ReviewBy)
				if tt.agreement == "" {
					require.Equal(t, exchange.NotifyWithheld, e.Notify.State, "withheld until the override review")
					require.Equal(t, e.Decision.ReviewBy, e.Notify.ReviewAt)
				}
			}
		})
	}
}

// How the data subjects are to be told: as declared, else the agreement's
// default; a withholding is pending a DPO's confirmation.
func TestDeclareNotificationPlan(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	later := t0.Add(7 * 24 * time.Hour)
	earlier := t0.Add(-time.Hour)
	// A sender's withholding awaits a DPO's confirmation, within the
	// policy's override review period.
	confirmBy := t0.Add(agreements.DefaultPolicy.OverrideReview)
	tests := []struct {
		name string
		edit func(d *api.ExchangeDeclaration)
		want exchange.NotifyPlan
	}{
		{"ok/agreement-default-withhold", func(*api.ExchangeDeclaration) {},
			exchange.NotifyPlan{State: exchange.NotifyWithheld, Reason: "would prejudice the detection of crime", ReviewAt: t0.Add(180 * 24 * time.Hour), ConfirmBy: confirmBy}},
		{"ok/agreement-default-notify", func(d *api.ExchangeDeclaration) {
			d.Agreement, d.Recipient, d.Purpose = "hmrc-tax", hmrc, "tax-assessment-collection"
		}, exchange.NotifyPlan{State: exchange.NotifyDue}},
		{"ok/declared-notify", func(d *api.ExchangeDeclaration) { d.Notification = &api.Notification{Decision: "notify"} },
			exchange.NotifyPlan{State: exchange.NotifyDue}},
		{"ok/declared-withhold-reviewed-after-the-agreements-period", func(d *api.ExchangeDeclaration) {
			d.Notification = &api.Notification{Decision: "withhold", Reason: "live investigation"}
		}, exchange.NotifyPlan{State: exchange.NotifyWithheld, Reason: "live investigation", ReviewAt: t0.Add(180 * 24 * time.Hour), ConfirmBy: confirmBy}},
		{"ok/declared-withhold-until-a-date", func(d *api.ExchangeDeclaration) {
			d.Notification = &api.Notification{Decision: "withhold", Reason: "live investigation", ReviewAt: &later}
		}, exchange.NotifyPlan{State: exchange.NotifyWithheld, Reason: "live investigation", ReviewAt: later, ConfirmBy: confirmBy}},
		{"ok/declared-review-in-the-past-is-ignored", func(d *api.ExchangeDeclaration) {
			d.Notification = &api.Notification{Decision: "withhold", Reason: "live investigation", ReviewAt: &earlier}
		}, exchange.NotifyPlan{State: exchange.NotifyWithheld, Reason: "live investigation", ReviewAt: t0.Add(180 * 24 * time.Hour), ConfirmBy: confirmBy}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := policeDisclosure(10)
			tt.edit(d)
			e := r.declare(t, revenues, d)
			require.Equal(t, tt.want, e.Notify)
		})
	}
}

func TestDeclareIdempotencyKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		firstKey string
		// The second call: its caller, key and declaration.
		caller, key string
		edit        func(d *api.ExchangeDeclaration)
		replayed    bool
		err         error
		exchanges   int
	}{
		{"ok/same-key-same-declaration-replays", "k-1", revenues, "k-1", nil, true, nil, 1},
		{"err/same-key-other-declaration", "k-1", revenues, "k-1", func(d *api.ExchangeDeclaration) { d.Size = 11 }, false, idem.ErrReused, 1},
		{"ok/same-key-of-another-party", "k-1", legal, "k-1", nil, false, nil, 2},
		{"ok/another-key", "k-1", revenues, "k-2", nil, false, nil, 2},
		{"ok/no-key-no-replay", "", revenues, "", nil, false, nil, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t)
			first, err := r.svc.Declare(r.ctx, revenues, policeDisclosure(10), tt.firstKey)
			require.NoError(t, err)
			d := policeDisclosure(10)
			if tt.edit != nil {
				tt.edit(d)
			}
			second, err := r.svc.Declare(r.ctx, tt.caller, d, tt.key)
			require.Equal(t, tt.exchanges, r.countExchanges(t))
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				require.Nil(t, second)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.replayed, second.Replayed)
			if tt.replayed {
				require.Equal(t, first.ID, second.ID)
				require.Equal(t, first.Decision, second.Decision)
				require.Len(t, r.entries(t, audit.TypeExchangeDecided), 1, "a replay is not decided again")
			} else {
				require.NotEqual(t, first.ID, second.ID)
			}
		})
	}
}

// Retries racing each other with one key make one exchange, and every one
// of them is answered with it.
func TestDeclareConcurrentRetriesMakeOneExchange(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	const n = 8
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			e, err := r.svc.Declare(r.ctx, revenues, policeDisclosure(10), "retry-key")
			errs[i] = err
			if err == nil {
				ids[i] = e.ID
			}
		})
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		require.Equal(t, ids[0], ids[i])
	}
	require.Equal(t, 1, r.countExchanges(t))
	decided := r.entries(t, audit.TypeExchangeDecided)
	require.Len(t, decided, 1, "the losers' decisions rolled back with their claims")
	require.Equal(t, ids[0], decided[0].Exchange)
}

// A dry run decides like a declaration and stores nothing at all.
func TestCheckDecidesWithoutStoring(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	tests := []struct {
		name    string
		edit    func(d *api.ExchangeDeclaration)
		outcome agreements.Outcome
		err     error
	}{
		{"ok/allowed", func(*api.ExchangeDeclaration) {}, agreements.Allow, nil},
		{"deny/refused", func(d *api.ExchangeDeclaration) { d.Recipient = dwp }, agreements.Deny, nil},
		{"err/invalid", func(d *api.ExchangeDeclaration) { d.Purpose = "" }, "", valid.Errors{}},
		{"err/too-large", func(d *api.ExchangeDeclaration) { d.Size = defaultMaxPayload + 1 }, "", exchange.ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := policeDisclosure(10)
			tt.edit(d)
			decision, err := r.svc.Check(r.ctx, revenues, d)
			switch tt.err.(type) {
			case nil:
				require.NoError(t, err)
				require.Equal(t, tt.outcome, decision.Outcome)
			case valid.Errors:
				_, ok := valid.As(err)
				require.True(t, ok, "%v", err)
			default:
				require.ErrorIs(t, err, tt.err)
			}
			require.Zero(t, r.countExchanges(t))
			require.Empty(t, r.entries(t))
		})
	}
}

// A flow that keeps only listed fields needs a payload it can read field
// by field.
func TestDeclareMinimisedFlowNeedsStructuredContent(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	tests := []struct {
		name, contentType string
		ok                bool
	}{
		// Refusals first: the flow allows two exchanges a day.
		{"err/plain-text", "text/plain", false},
		{"err/pdf", "application/pdf", false},
		{"ok/json", "application/json", true},
		{"ok/csv", "text/csv; charset=utf-8", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := r.countExchanges(t)
			e, err := r.svc.Declare(r.ctx, revenues, benefitsDisclosure(tt.contentType, 10), "")
			if tt.ok {
				require.NoError(t, err)
				require.Equal(t, exchange.StateDeclared, e.State)
				return
			}
			requireProblem(t, err, "content_type", "structured")
			require.Equal(t, before, r.countExchanges(t))
		})
	}
}

// benefitsDisclosure is an allowed declaration from the council to DWP,
// whose flow keeps only the fields name and nino and allows two a day.
func benefitsDisclosure(contentType string, size int64) *api.ExchangeDeclaration {
	return &api.ExchangeDeclaration{
		Agreement: "dwp-benefits", Recipient: dwp, Purpose: "benefit-administration", LawfulBasis: "A6-1-e",
		DataCategories: []string{"identity"}, SubjectCount: 3, ContentType: contentType, Size: size,
	}
}

// The daily volume counts what the sender declared today on the flow.
func TestDeclareDailyVolume(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	steps := []struct {
		name    string
		advance time.Duration
		edit    func(d *api.ExchangeDeclaration)
		allowed bool
	}{
		{"ok/first", 0, nil, true},
		{"ok/second", 0, nil, true},
		{"deny/third-today", time.Hour, nil, false},
		{"ok/other-flows-do-not-count", 0, func(d *api.ExchangeDeclaration) { *d = *policeDisclosure(10) }, true},
		{"ok/next-day", 14 * time.Hour, nil, true},
	}
	for _, s := range steps {
		r.clock.Advance(s.advance)
		d := benefitsDisclosure("application/json", 10)
		if s.edit != nil {
			s.edit(d)
		}
		_, err := r.svc.Declare(r.ctx, revenues, d, "")
		if s.allowed {
			require.NoError(t, err, s.name)
			continue
		}
		var refused *exchange.RefusedError
		require.ErrorAs(t, err, &refused, s.name)
		require.Equal(t, []string{agreements.CheckVolumeWithinLimit}, refused.Decision.FailedCodes(), s.name)
	}
}

// No record, no exchange: if the decision cannot be recorded nothing is
// created and the key stays unclaimed.
func TestDeclareFailsClosedWithoutAudit(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.store.failAuditOf(audit.TypeExchangeDecided)
	tests := []struct {
		name string
		edit func(d *api.ExchangeDeclaration)
	}{
		{"err/allowed", func(*api.ExchangeDeclaration) {}},
		{"err/refused", func(d *api.ExchangeDeclaration) { d.Recipient = dwp }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := policeDisclosure(10)
			tt.edit(d)
			e, err := r.svc.Declare(r.ctx, revenues, d, "k-"+tt.name)
			require.ErrorIs(t, err, exchange.ErrUnavailable)
			require.Nil(t, e)
			var refused *exchange.RefusedError
			require.NotErrorAs(t, err, &refused, "an unrecorded refusal is not reported as a decision")
			_, _, err = r.db.KeyResource(r.ctx, revenues, "k-"+tt.name)
			require.ErrorIs(t, err, idem.ErrUnknown)
		})
	}
	require.Zero(t, r.countExchanges(t))
	require.Empty(t, r.entries(t))

	r.store.failAuditOf()
	e, err := r.svc.Declare(r.ctx, revenues, policeDisclosure(10), "k-err/allowed")
	require.NoError(t, err)
	require.False(t, e.Replayed, "the failed attempt left nothing to replay")
}

// The one instrument a disclosure relies on is declared, and must be the
// flow's; a flow with one implies it; an answer may rely on its request's.
func TestDeclareInstrumentRelied(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	two := fixtureAgreement("instruments", 30*24*time.Hour, agreements.Flow{
		From: []string{revenues}, To: []string{police}, Purposes: []string{"crime-prevention-detection"}, LawfulBases: []string{"A6-1-e"},
		DataCategories: []string{"identity"},
		Instruments:    []agreements.Instrument{{Code: "CDA-1998-S115", Title: "Crime and Disorder Act 1998 s.115"}, {Title: "A court order"}},
	})
	one := fixtureAgreement("one-instrument", 30*24*time.Hour, agreements.Flow{
		From: []string{revenues}, To: []string{police}, Purposes: []string{"crime-prevention-detection"}, LawfulBases: []string{"A6-1-e"},
		DataCategories: []string{"identity"},
		Instruments:    []agreements.Instrument{{Code: "CA-2004-S11", Title: "Children Act 2004 s.11"}},
	})
	for _, a := range []*agreements.Agreement{two, one} {
		a.SubjectNotification = agreements.Notification{Default: "notify"}
		require.NoError(t, a.Validate())
		require.NoError(t, r.db.PutAgreement(r.ctx, a))
	}
	decl := func(agreement, instrument string) *api.ExchangeDeclaration {
		d := policeDisclosure(5)
		d.Agreement, d.Instrument, d.DataCategories = agreement, instrument, []string{"identity"}
		return d
	}
	tests := []struct {
		name       string
		d          *api.ExchangeDeclaration
		rule       string
		instrument string
	}{
		{name: "ok/declared-by-code", d: decl("instruments", "CDA-1998-S115"), instrument: "CDA-1998-S115"},
		{name: "ok/declared-by-title", d: decl("instruments", "A court order"), instrument: "A court order"},
		{name: "ok/implied-by-a-flow-with-one", d: decl("one-instrument", ""), instrument: "CA-2004-S11"},
		{name: "ok/flow-without-instruments", d: decl("police-crime", "")},
		{name: "deny/not-one-of-the-flows", d: decl("instruments", "CA-2014-S45"), rule: "flow"},
		{name: "deny/flow-names-none", d: decl("police-crime", "CA-2014-S45"), rule: "flow"},
		{name: "deny/several-and-none-named", d: decl("instruments", ""), rule: "required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := r.svc.Declare(r.ctx, revenues, tc.d, "")
			if tc.rule != "" {
				requireProblem(t, err, "instrument", tc.rule)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.instrument, e.Meta.Instrument)
			var recorded string
			for _, en := range r.entries(t, audit.TypeExchangeDecided) {
				if en.Exchange == e.ID {
					recorded = en.Detail["instrument"]
				}
			}
			require.Equal(t, tc.instrument, recorded, "the register's legal power")
		})
	}
}

// Declarations that race for the last places of a day each reserve one in
// their own transaction: however many run at once, no more than the limit
// are created, and the rest are refused by name and recorded.
func TestDeclareDailyVolumeReservedAtomically(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	const n = 16
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			_, errs[i] = r.svc.Declare(r.ctx, revenues, benefitsDisclosure("application/json", 10), "")
		})
	}
	close(start)
	wg.Wait()
	allowed := 0
	for _, err := range errs {
		if err == nil {
			allowed++
			continue
		}
		var refused *exchange.RefusedError
		require.ErrorAs(t, err, &refused)
		require.Equal(t, []string{agreements.CheckVolumeWithinLimit}, refused.Decision.FailedCodes())
	}
	require.Equal(t, 2, allowed, "the flow allows two a day")
	outcomes := map[string]int{}
	for _, e := range r.entries(t, audit.TypeExchangeDecided) {
		outcomes[e.Outcome]++
	}
	require.Equal(t, map[string]int{"allow": 2, "deny": n - 2}, outcomes)
}

// A dry run is the real decision: it runs every check a declaration runs,
// after the decision too (the payload can be minimised, the answer is
// within its request), and a request's dry run decides as the request
// would be decided; neither stores anything.
func TestDryRunIsTheRealDecision(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	before := len(r.entries(t))

	d := benefitsDisclosure("text/plain", 10)
	_, declErr := r.svc.Declare(r.ctx, revenues, d, "")
	_, dryErr := r.svc.Check(r.ctx, revenues, d)
	for _, err := range []error{declErr, dryErr} {
		var v valid.Errors
		require.ErrorAs(t, err, &v)
		require.Equal(t, "content_type", v[0].Path)
		require.Equal(t, "structured", v[0].Rule)
	}
	dec, err := r.svc.Check(r.ctx, revenues, benefitsDisclosure("application/json", 10))
	require.NoError(t, err)
	require.Equal(t, agreements.Allow, dec.Outcome)

	q := policeRequest()
	dec, err = r.svc.CheckRequest(r.ctx, police, q)
	require.NoError(t, err)
	require.Equal(t, agreements.Allow, dec.Outcome)
	require.Equal(t, legal, dec.Handler)
	q.Purpose = "marketing"
	dec, err = r.svc.CheckRequest(r.ctx, police, q)
	require.NoError(t, err)
	require.False(t, dec.Outcome.Allowed())
	_, err = r.svc.SubmitRequest(r.ctx, police, q, "")
	var refused *exchange.RefusedError
	require.ErrorAs(t, err, &refused)
	require.Equal(t, refused.Decision.FailedCodes(), dec.FailedCodes(), "the dry run names what the request is refused for")

	require.Len(t, r.entries(t), before+1, "only the real, refused request was recorded")
	require.Zero(t, r.countExchanges(t))
}

// A prohibited purpose needs a consent record for every subject: each
// subject's consent_ref counts, and the declaration's own consent_ref
// stands for its subject only when it names one.
func TestMetaRequestCountsConsentPerSubject(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		meta exchange.Meta
		want int
	}{
		{"one-subject-declaration-consent", exchange.Meta{ConsentRef: "C-1", SubjectKeys: []string{"k1"}}, 1},
		{"three-subjects-one-declaration-consent", exchange.Meta{ConsentRef: "C-1", SubjectKeys: []string{"k1", "k2", "k3"}}, 0},
		{"three-subjects-three-consents", exchange.Meta{SubjectKeys: []string{"k1", "k2", "k3"}, SubjectConsentRefs: []string{"C-1", "C-2", "C-3"}}, 3},
		{"three-subjects-two-consents", exchange.Meta{SubjectKeys: []string{"k1", "k2", "k3"}, SubjectConsentRefs: []string{"C-1", "C-2"}}, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, tt.meta.Request("a", "b", "c").ConsentRecords)
		})
	}
	d := policeDisclosure(1)
	d.Subjects[0].ConsentRef = strings.Repeat("x", 4097)
	v, ok := valid.As(exchange.ValidateDeclaration(d, 1<<20))
	require.True(t, ok)
	require.Equal(t, "subjects[0].consent_ref", v[0].Path)
}
