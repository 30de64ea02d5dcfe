package exchange_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/exchange"
)

func TestStatePredicates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                          string
		state                         exchange.State
		readable, visible, uploadable bool
	}{
		{"ok/declared-awaits-its-payload", exchange.StateDeclared, false, false, true},
		{"ok/failed-may-be-uploaded-again", exchange.StateFailed, false, false, true},
		{"ok/delivered-is-readable", exchange.StateDelivered, true, true, false},
		{"ok/fetched-is-readable", exchange.StateFetched, true, true, false},
		{"ok/acknowledged-is-readable", exchange.StateAcknowledged, true, true, false},
		{"ok/expired-is-known-not-readable", exchange.StateExpired, false, true, false},
		{"deny/unknown-state", exchange.State("archived"), false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.readable, tt.state.Readable(), "Readable")
			require.Equal(t, tt.visible, tt.state.VisibleToRecipient(), "VisibleToRecipient")
			require.Equal(t, tt.uploadable, tt.state.Uploadable(), "Uploadable")
		})
	}
}

func TestExchangeView(t *testing.T) {
	t.Parallel()
	review := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	e := &exchange.Exchange{
		ID: "0193a0b2-0000-7000-8000-000000000001", State: exchange.StateDelivered,
		Sender: revenues, Recipient: police, AgreementID: "police-crime", AgreementVersion: 3,
		Meta: exchange.Meta{Purpose: "crime-prevention-detection", LawfulBasis: "A6-1-e", DataCategories: []string{"identity"},
			SubjectCount: 2, Urgency: exchange.UrgencyRoutine, RequestRef: "NP-1", ContentType: "text/csv", DeclaredSize: 10},
		Decision: agreements.Decision{Outcome: agreements.AllowOverride, Agreement: "police-crime@3", ReviewBy: review,
			Checks: []agreements.Check{{Code: agreements.CheckFlowPermitted, Passed: true, Message: "ok"}}},
		Payload: exchange.Payload{Size: 10, SHA256: "ab", CiphertextSize: 66},
	}
	tests := []struct {
		name      string
		edit      func(e *exchange.Exchange)
		forSender bool
		agreement string
		decision  bool
	}{
		{"ok/sender-sees-the-decision", nil, true, "police-crime@3", true},
		{"deny/recipient-does-not-see-the-decision", nil, false, "police-crime@3", false},
		{"ok/emergency-under-no-agreement-names-none", func(e *exchange.Exchange) { e.AgreementID, e.AgreementVersion = "", 0 }, true, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := *e
			if tt.edit != nil {
				tt.edit(&c)
			}
			v := c.View(tt.forSender)
			require.Equal(t, tt.agreement, v.Agreement)
			require.Equal(t, "delivered", v.State)
			require.Equal(t, int64(10), v.Payload.Size, "the declared size")
			require.Equal(t, int64(66), v.Payload.CiphertextSize)
			require.Equal(t, "NP-1", v.RequestRef)
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
