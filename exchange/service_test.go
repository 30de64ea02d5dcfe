package exchange_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/exchange"
)

// A party sees only its own exchanges: the sender always, the recipient
// once something was delivered to it, anyone else never (not even that the
// exchange exists).
func TestGetShowsAnExchangeOnlyToItsParties(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	byState := r.inEveryState(t)
	recipientSees := map[exchange.State]bool{
		exchange.StateDelivered: true, exchange.StateFetched: true, exchange.StateAcknowledged: true, exchange.StateExpired: true,
	}
	for state, e := range byState {
		for _, c := range []struct {
			name, caller string
			visible      bool
		}{
			{"ok/sender", revenues, true},
			{"recipient", police, recipientSees[state]},
			{"deny/another-party", dwp, false},
			{"deny/handler-of-another-flow", legal, false},
			{"deny/unregistered", "council.unknown", false},
		} {
			name := c.name
			if c.caller == police {
				name = map[bool]string{true: "ok/", false: "deny/"}[c.visible] + "recipient"
			}
			t.Run(string(state)+"/"+name, func(t *testing.T) {
				got, err := r.svc.Get(r.ctx, c.caller, e.ID)
				if !c.visible {
					require.ErrorIs(t, err, exchange.ErrNotFound)
					require.Nil(t, got)
					return
				}
				require.NoError(t, err)
				require.Equal(t, e.ID, got.ID)
				require.Equal(t, state, got.State)
			})
		}
	}
	t.Run("err/no-such-exchange", func(t *testing.T) {
		_, err := r.svc.Get(r.ctx, revenues, "0193a0b2-0000-7000-8000-00000000dead")
		require.ErrorIs(t, err, exchange.ErrNotFound)
	})
}

func TestInboxListsWhatWasDeliveredToTheCaller(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	byState := r.inEveryState(t)
	ids := func(list []*exchange.Exchange) []string {
		out := []string{}
		for _, e := range list {
			out = append(out, e.ID)
		}
		return out
	}
	tests := []struct {
		name   string
		caller string
		q      exchange.InboxQuery
		want   []exchange.State
	}{
		{"ok/readable-by-default", police, exchange.InboxQuery{},
			[]exchange.State{exchange.StateDelivered, exchange.StateFetched, exchange.StateAcknowledged}},
		{"ok/only-expired", police, exchange.InboxQuery{States: []exchange.State{exchange.StateExpired}},
			[]exchange.State{exchange.StateExpired}},
		{"ok/two-states", police, exchange.InboxQuery{States: []exchange.State{exchange.StateFetched, exchange.StateAcknowledged}},
			[]exchange.State{exchange.StateFetched, exchange.StateAcknowledged}},
		{"deny/the-sender-has-nothing-delivered-to-it", revenues, exchange.InboxQuery{}, nil},
		{"deny/another-party-sees-nothing", dwp, exchange.InboxQuery{States: []exchange.State{exchange.StateDelivered, exchange.StateExpired}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list, err := r.svc.Inbox(r.ctx, tt.caller, tt.q)
			require.NoError(t, err)
			var want []string
			for _, e := range list {
				require.Equal(t, tt.caller, e.Recipient)
			}
			for _, s := range tt.want {
				want = append(want, byState[s].ID)
			}
			require.ElementsMatch(t, want, ids(list))
		})
	}
	// The recipient may not know of an exchange before its delivery, so it
	// cannot ask for those either.
	for _, state := range []exchange.State{exchange.StateDeclared, exchange.StateFailed, "archived"} {
		t.Run("deny/state-"+string(state), func(t *testing.T) {
			list, err := r.svc.Inbox(r.ctx, police, exchange.InboxQuery{States: []exchange.State{exchange.StateDelivered, state}})
			requireProblem(t, err, "state", "enum")
			require.Empty(t, list)
		})
	}
	t.Run("ok/pages", func(t *testing.T) {
		first, err := r.svc.Inbox(r.ctx, police, exchange.InboxQuery{Limit: 2})
		require.NoError(t, err)
		require.Len(t, first, 2)
		rest, err := r.svc.Inbox(r.ctx, police, exchange.InboxQuery{Limit: 2, After: first[1].ID})
		require.NoError(t, err)
		require.Len(t, rest, 1)
		require.NotContains(t, ids(first), rest[0].ID)
		require.Less(t, first[1].ID, rest[0].ID, "oldest first")
	})
}

// When the database cannot be written, nothing is done and the caller is
// told storage is unavailable, never that it succeeded or was refused.
func TestDatabaseDownFailsClosed(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	delivered := r.deliver(t, []byte("delivered"))
	declared := r.declare(t, revenues, policeDisclosure(4))
	before := len(r.entries(t))
	r.store.failUpdates(errors.New("database is locked"))

	tests := []struct {
		name string
		do   func() error
	}{
		{"err/declare", func() error { _, err := r.svc.Declare(r.ctx, revenues, policeDisclosure(4), "key-1"); return err }},
		{"err/declare-refused", func() error {
			d := policeDisclosure(4)
			d.Purpose = "tax-assessment-collection"
			_, err := r.svc.Declare(r.ctx, revenues, d, "")
			return err
		}},
		{"err/upload", func() error {
			_, err := r.svc.Upload(r.ctx, revenues, declared.ID, strings.NewReader("data"), 4)
			return err
		}},
		{"err/envelope", func() error { _, err := r.svc.Envelope(r.ctx, police, delivered.ID); return err }},
		{"err/payload", func() error { _, _, _, err := r.svc.OpenPayload(r.ctx, police, delivered.ID, nil); return err }},
		{"err/acknowledge", func() error { _, err := r.svc.Acknowledge(r.ctx, police, delivered.ID); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.ErrorIs(t, tt.do(), exchange.ErrUnavailable)
		})
	}
	r.store.failUpdates(nil)
	require.Len(t, r.entries(t), before, "nothing was recorded")
	require.Equal(t, 2, r.countExchanges(t))
	require.Equal(t, exchange.StateDeclared, r.exchange(t, declared.ID).State)
	require.Equal(t, exchange.StateDelivered, r.exchange(t, delivered.ID).State)
	r.noPayloadObjects(t, declared.ID)
}
