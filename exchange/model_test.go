package exchange_test

import (
	"testing"

	"github.com/stretchr/testify/require"

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
