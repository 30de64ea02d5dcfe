package gateway

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/exchange"
)

func TestExchangeView(t *testing.T) {
	t.Parallel()
	const sender, recipient = "council.revenues", "police.northshire"
	review := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	e := &exchange.Exchange{
		ID: "0193a0b2-0000-7000-8000-000000000001", State: exchange.StateDelivered,
		Sender: sender, Recipient: recipient, AgreementID: "police-crime", AgreementVersion: 3,
		Meta: exchange.Meta{Purpose: "crime-prevention-detection", LawfulBasis: "A6-1-e", DataCategories: []string{"identity"},
			SubjectCount: 2, Urgency: exchange.UrgencyRoutine, RequestRef: "NP-1", ContentType: "text/csv", DeclaredSize: 10},
		Decision: agreements.Decision{Outcome: agreements.AllowOverride, Agreement: "police-crime@3", ReviewBy: review,
			Checks: []agreements.Check{{Code: agreements.CheckFlowPermitted, Passed: true, Message: "ok"}}},
		Payload: exchange.Payload{Size: 10, SHA256: "ab", CiphertextSize: 66},
	}
	base := "/v1/exchanges/" + e.ID
	tests := []struct {
		name      string
		edit      func(e *exchange.Exchange)
		caller    string
		agreement string
		decision  bool
		links     map[string]string
	}{
		{"ok/sender-sees-the-decision", nil, sender, "police-crime@3", true, map[string]string{"self": base}},
		{"deny/recipient-does-not-see-the-decision", nil, recipient, "police-crime@3", false,
			map[string]string{"self": base, "envelope": base + "/envelope", "payload": base + "/payload", "ack": base + "/ack"}},
		{"ok/emergency-under-no-agreement-names-none", func(e *exchange.Exchange) { e.AgreementID, e.AgreementVersion = "", 0 }, sender, "", true,
			map[string]string{"self": base}},
		{"ok/declared-offers-its-sender-the-upload", func(e *exchange.Exchange) { e.State = exchange.StateDeclared }, sender, "police-crime@3", true,
			map[string]string{"self": base, "upload": base + "/payload"}},
		{"ok/acknowledged-offers-no-ack", func(e *exchange.Exchange) { e.State = exchange.StateAcknowledged }, recipient, "police-crime@3", false,
			map[string]string{"self": base, "envelope": base + "/envelope", "payload": base + "/payload"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := *e
			if tt.edit != nil {
				tt.edit(&c)
			}
			v := exchangeView(&c, tt.caller)
			require.Equal(t, tt.agreement, v.Agreement)
			require.Equal(t, string(c.State), v.State)
			require.Equal(t, int64(10), v.Payload.Size, "the declared size")
			require.Equal(t, int64(66), v.Payload.CiphertextSize)
			require.Equal(t, "NP-1", v.RequestRef)
			require.Equal(t, tt.links, v.Links)
			if !tt.decision {
				require.Nil(t, v.Decision)
				return
			}
			require.NotNil(t, v.Decision)
			require.Equal(t, "allow-override", v.Decision.Outcome)
			require.Equal(t, review, *v.Decision.ReviewBy)
			require.Len(t, v.Decision.Checks, 1)
		})
	}
}

func TestRequestView(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	deadline := t0.Add(24 * time.Hour)
	t.Run("ok/emergency-under-no-agreement-names-none", func(t *testing.T) {
		q := &exchange.Request{ID: "r0", State: exchange.RequestOpen, Requester: "police.northshire", Handler: "council.legal"}
		require.Empty(t, requestView(q, t0).Agreement)
	})
	tests := []struct {
		name     string
		deadline time.Time
		now      time.Time
		overdue  bool
	}{
		{"ok/before-its-deadline", deadline, t0, false},
		{"ok/past-its-deadline-is-overdue", deadline, deadline.Add(time.Second), true},
		{"ok/no-deadline", time.Time{}, deadline.Add(time.Hour), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := &exchange.Request{ID: "r1", State: exchange.RequestOpen, Requester: "police.northshire", Handler: "council.legal",
				AgreementID: "police-crime", AgreementVersion: 2, Deadline: tt.deadline}
			v := requestView(q, tt.now)
			require.Equal(t, tt.overdue, v.Overdue)
			require.Equal(t, "police-crime@2", v.Agreement)
			require.Equal(t, "open", v.State)
			if tt.deadline.IsZero() {
				require.Nil(t, v.Deadline)
			} else {
				require.Equal(t, tt.deadline, *v.Deadline)
			}
		})
	}
}
