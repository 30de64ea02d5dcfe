package exchange_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/exchange"
)

// Only the recipient acknowledges, only what it could read; doing it again
// changes nothing.
func TestAcknowledgeStateRules(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	byState := r.inEveryState(t)
	tests := []struct {
		name   string
		state  exchange.State
		caller string
		err    error
		// entry: whether an acknowledgement is recorded.
		entry bool
	}{
		// The refusals first, while the exchanges they use are in their state.
		{"err/expired", exchange.StateExpired, police, exchange.ErrState, false},
		{"deny/declared-is-unknown-to-the-recipient", exchange.StateDeclared, police, exchange.ErrNotFound, false},
		{"deny/failed-is-unknown-to-the-recipient", exchange.StateFailed, police, exchange.ErrNotFound, false},
		{"deny/the-sender", exchange.StateDelivered, revenues, exchange.ErrNotFound, false},
		{"deny/another-party", exchange.StateFetched, dwp, exchange.ErrNotFound, false},
		{"ok/delivered", exchange.StateDelivered, police, nil, true},
		{"ok/fetched", exchange.StateFetched, police, nil, true},
		{"ok/again-changes-nothing", exchange.StateAcknowledged, police, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := byState[tt.state]
			before := r.entries(t, exchange.TypeAcknowledged)
			got, err := r.svc.Acknowledge(r.ctx, tt.caller, e.ID)
			after := r.entries(t, exchange.TypeAcknowledged)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				require.Nil(t, got)
				require.Equal(t, tt.state, r.exchange(t, e.ID).State)
				require.Len(t, after, len(before))
				return
			}
			require.NoError(t, err)
			require.Equal(t, exchange.StateAcknowledged, got.State)
			stored := r.exchange(t, e.ID)
			require.Equal(t, exchange.StateAcknowledged, stored.State)
			if !tt.entry {
				require.Len(t, after, len(before))
				require.Equal(t, e.AcknowledgedAt, stored.AcknowledgedAt, "the first acknowledgement's time stays")
				return
			}
			require.Len(t, after, len(before)+1)
			require.Equal(t, e.ID, after[len(after)-1].Exchange)
			require.Equal(t, police, after[len(after)-1].Actor)
			require.Equal(t, r.clock.Now(), stored.AcknowledgedAt)
		})
	}
}

func TestAcknowledgeFailsClosedWithoutAudit(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	e := r.deliver(t, []byte("payload"))
	r.store.failAuditOf(exchange.TypeAcknowledged)
	_, err := r.svc.Acknowledge(r.ctx, police, e.ID)
	require.ErrorIs(t, err, exchange.ErrUnavailable)
	stored := r.exchange(t, e.ID)
	require.Equal(t, exchange.StateDelivered, stored.State)
	require.True(t, stored.AcknowledgedAt.IsZero())
}

// The sweep deletes each payload whose retention ended, recording the
// deletion first; the exchange keeps its metadata and becomes expired.
func TestSweepDeletesExpiredPayloads(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	toPolice := r.deliver(t, []byte("kept 90 days")) // police-crime: 90 days
	body := []byte(`{"name":"A"}`)
	toDWP := r.declare(t, revenues, benefitsDisclosure("application/json", int64(len(body))))
	toDWP = r.upload(t, revenues, toDWP.ID, body) // dwp-benefits: 30 days
	declared := r.declare(t, revenues, policeDisclosure(3))
	require.Equal(t, t0.Add(30*24*time.Hour), toDWP.ExpiresAt)

	steps := []struct {
		name    string
		at      time.Time
		deleted int
		expired []string
	}{
		{"ok/nothing-before-its-time", t0.Add(30*24*time.Hour - time.Second), 0, nil},
		{"ok/at-the-end-of-retention", t0.Add(30 * 24 * time.Hour), 1, []string{toDWP.ID}},
		{"ok/again-finds-nothing", t0.Add(31 * 24 * time.Hour), 0, []string{toDWP.ID}},
		{"ok/the-longer-retention", t0.Add(90 * 24 * time.Hour), 1, []string{toDWP.ID, toPolice.ID}},
	}
	for _, s := range steps {
		r.clock.Advance(s.at.Sub(r.clock.Now()))
		n, err := r.svc.Sweep(r.ctx, 100)
		require.NoError(t, err, s.name)
		require.Equal(t, s.deleted, n, s.name)
		var deleted []string
		for _, e := range r.entries(t, exchange.TypePayloadDeleted) {
			deleted = append(deleted, e.Exchange)
		}
		require.Equal(t, s.expired, deleted, "%s: one record per deletion", s.name)
	}

	for _, e := range []*exchange.Exchange{toPolice, toDWP} {
		stored := r.exchange(t, e.ID)
		require.Equal(t, exchange.StateExpired, stored.State)
		require.Empty(t, stored.Envelope, "the data key goes with the payload")
		require.Empty(t, stored.Payload.ObjectKey)
		require.Equal(t, e.Payload.Digest, stored.Payload.Digest, "the metadata stays")
		require.Equal(t, e.Meta, stored.Meta)
		_, _, ok := r.objects.Object(e.Payload.ObjectKey, e.Payload.ObjectVersion)
		require.False(t, ok, "the payload is gone")

		got, err := r.svc.Get(r.ctx, e.Recipient, e.ID)
		require.NoError(t, err, "the recipient still sees that it existed")
		require.Equal(t, exchange.StateExpired, got.State)
		_, err = r.svc.Envelope(r.ctx, e.Recipient, e.ID)
		require.ErrorIs(t, err, exchange.ErrExpired)
	}
	require.Equal(t, exchange.StateDeclared, r.exchange(t, declared.ID).State, "nothing delivered, nothing to delete")
	require.Empty(t, r.objects.Keys())

	entry := r.entries(t, exchange.TypePayloadDeleted)[1]
	require.Equal(t, "gatehouse", entry.Actor)
	require.Equal(t, toPolice.Payload.Digest, entry.PayloadDigest)
	require.Equal(t, toPolice.Meta.SubjectKeys, entry.Subjects)
	require.Equal(t, "retention ended", entry.Detail["reason"])
	require.Equal(t, toPolice.Payload.ObjectKey, entry.Detail["object"])
	require.Equal(t, toPolice.ExpiresAt.Format(time.RFC3339), entry.Detail["retention_ended"])
}

// No record, no deletion: if the deletion cannot be recorded, the payload
// stays and the exchange is unchanged.
func TestSweepRecordsBeforeDeleting(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	e := r.deliver(t, []byte("payload"))
	r.clock.Advance(91 * 24 * time.Hour)
	r.store.failAuditOf(exchange.TypePayloadDeleted)
	n, err := r.svc.Sweep(r.ctx, 10)
	require.ErrorIs(t, err, exchange.ErrUnavailable)
	require.Zero(t, n)
	require.Equal(t, exchange.StateDelivered, r.exchange(t, e.ID).State)
	_, _, ok := r.objects.Object(e.Payload.ObjectKey, e.Payload.ObjectVersion)
	require.True(t, ok, "the payload stays until its deletion is recorded")

	r.store.failAuditOf()
	n, err = r.svc.Sweep(r.ctx, 10)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Empty(t, r.objects.Keys())
}

// An object the store will not remove yet (a compliance-mode lock whose
// clock runs behind, a refusal) is recorded as deleted once and tried again
// on each sweep until it goes.
func TestSweepRetriesWhatTheStoreKeeps(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(r *rig)
		clear func(r *rig)
	}{
		{"ok/compliance-lock-with-a-slow-clock", func(r *rig) {
			r.objects.setLock(lockCompliance)
			r.objects.now = func() time.Time { return r.clock.Now().Add(-time.Hour) }
		}, func(r *rig) { r.clock.Advance(time.Hour) }},
		{"ok/store-refuses-deletes", func(r *rig) { r.objects.fail(nil, 0, nil, errors.New("access denied")) },
			func(r *rig) { r.objects.fail(nil, 0, nil, nil) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t)
			tt.setup(r)
			e := r.deliver(t, []byte("payload"))
			r.clock.Advance(90 * 24 * time.Hour)

			n, err := r.svc.Sweep(r.ctx, 10)
			require.NoError(t, err, "one object that stays does not stop the sweep")
			require.Zero(t, n)
			stored := r.exchange(t, e.ID)
			require.Equal(t, exchange.StateExpired, stored.State, "the deletion is recorded and the payload no longer served")
			require.Equal(t, e.Payload.ObjectKey, stored.Payload.ObjectKey, "kept, to try again")
			_, _, ok := r.objects.Object(e.Payload.ObjectKey, e.Payload.ObjectVersion)
			require.True(t, ok)
			_, _, _, err = r.svc.OpenPayload(r.ctx, police, e.ID, nil)
			require.ErrorIs(t, err, exchange.ErrExpired)

			tt.clear(r)
			n, err = r.svc.Sweep(r.ctx, 10)
			require.NoError(t, err)
			require.Equal(t, 1, n)
			require.Empty(t, r.objects.Keys())
			require.Empty(t, r.exchange(t, e.ID).Payload.ObjectKey)
			require.Len(t, r.entries(t, exchange.TypePayloadDeleted), 1, "recorded once")
		})
	}
}

// Under governance-mode lock the gateway's store bypasses the retention it
// set, so payloads go on time.
func TestSweepRemovesGovernanceLockedPayloads(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.objects.setLock(lockGovernance)
	r.objects.now = func() time.Time { return r.clock.Now().Add(-time.Hour) }
	e := r.deliver(t, []byte("payload"))
	_, until, ok := r.objects.Object(e.Payload.ObjectKey, e.Payload.ObjectVersion)
	require.True(t, ok)
	require.Equal(t, e.ExpiresAt, until)
	r.clock.Advance(90 * 24 * time.Hour)
	n, err := r.svc.Sweep(r.ctx, 10)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Empty(t, r.objects.Keys())
}

// A payload already gone from the store (removed by hand, or by another
// node between its record and its delete) still completes the sweep.
func TestSweepToleratesAnObjectAlreadyGone(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	e := r.deliver(t, []byte("payload"))
	require.NoError(t, r.objects.Remove(context.Background(), e.Payload.ObjectKey, e.Payload.ObjectVersion))
	r.clock.Advance(90 * 24 * time.Hour)
	n, err := r.svc.Sweep(r.ctx, 10)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	stored := r.exchange(t, e.ID)
	require.Equal(t, exchange.StateExpired, stored.State)
	require.Empty(t, stored.Payload.ObjectKey)
	require.Len(t, r.entries(t, exchange.TypePayloadDeleted), 1)
}

// Each sweep deletes at most its limit, oldest retention first.
func TestSweepLimit(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	var ids []string
	for range 3 {
		ids = append(ids, r.deliver(t, []byte("payload")).ID)
		r.clock.Advance(time.Minute)
	}
	r.clock.Advance(90 * 24 * time.Hour)
	for _, want := range []struct {
		name    string
		deleted int
		expired []string
	}{
		{"ok/first-two", 2, ids[:2]},
		{"ok/the-last", 1, ids},
		{"ok/none-left", 0, ids},
	} {
		n, err := r.svc.Sweep(r.ctx, 2)
		require.NoError(t, err, want.name)
		require.Equal(t, want.deleted, n, want.name)
		var expired []string
		for _, e := range r.entries(t, exchange.TypePayloadDeleted) {
			expired = append(expired, e.Exchange)
		}
		require.Equal(t, want.expired, expired, want.name)
	}
	require.Len(t, r.entries(t, audit.TypeExchangeSealed), 3)
}

// Several nodes may sweep at once: each payload is deleted once and
// recorded once.
func TestConcurrentSweepsDeleteOnce(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	const n = 6
	for range n {
		r.deliver(t, []byte("payload"))
	}
	r.clock.Advance(90 * 24 * time.Hour)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() { _, errs[i] = r.svc.Sweep(r.ctx, 100) })
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	require.Empty(t, r.objects.Keys())
	deleted := r.entries(t, exchange.TypePayloadDeleted)
	require.Len(t, deleted, n)
	seen := map[string]bool{}
	for _, e := range deleted {
		require.False(t, seen[e.Exchange], "recorded twice: %s", e.Exchange)
		seen[e.Exchange] = true
		stored := r.exchange(t, e.Exchange)
		require.Equal(t, exchange.StateExpired, stored.State)
		require.Empty(t, stored.Payload.ObjectKey)
	}
}
