package exchange_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/exchange"
)

// The in-memory store as the reconciler's inventory.
var _ exchange.Inventory = (*memObjects)(nil)

func (m *memObjects) PayloadVersions(ctx context.Context, after string, limit int) ([]exchange.StoredObject, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []exchange.StoredObject
	for _, key := range slices.Sorted(maps.Keys(m.objects)) {
		if key <= after || !strings.HasPrefix(key, exchange.PayloadPrefix) {
			continue
		}
		if len(out) >= limit {
			return out, out[len(out)-1].Key, nil
		}
		for _, v := range m.objects[key] {
			out = append(out, exchange.StoredObject{Key: key, Version: v.id, Size: int64(len(v.data)), Modified: v.stored})
		}
	}
	return out, "", nil
}

func (m *memObjects) Retention(ctx context.Context, key, version string) (string, time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := m.find(key, version)
	if i < 0 || m.objects[key][i].retainUntil.IsZero() {
		return "", time.Time{}, nil
	}
	mode := map[lockMode]string{lockGovernance: "GOVERNANCE", lockCompliance: "COMPLIANCE"}[m.objects[key][i].lock]
	return mode, m.objects[key][i].retainUntil, nil
}

func (m *memObjects) RemoveVersion(ctx context.Context, key, version string) error {
	m.mu.Lock()
	i := m.find(key, version)
	locked := i >= 0 && m.now().Before(m.objects[key][i].retainUntil)
	m.mu.Unlock()
	if locked {
		return errLocked // never bypassed
	}
	return m.Remove(ctx, key, version)
}

// orphanEntries counts the audited orphan deletions, by object.
func (r *rig) orphanEntries(t *testing.T) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, e := range r.entries(t, exchange.TypePayloadDeleted) {
		if strings.HasPrefix(e.Detail["reason"], "orphaned") {
			out[e.Detail["object"]]++
		}
	}
	return out
}

func (r *rig) putOrphan(t *testing.T, key string, lock lockMode, retainUntil time.Time) {
	t.Helper()
	r.objects.setLock(lock)
	defer r.objects.setLock(lockGovernance)
	_, err := r.objects.Put(r.ctx, key, bytes.NewReader([]byte("ciphertext")), 10, retainUntil)
	require.NoError(t, err)
}

// What the reconciler does with each kind of stored object, over two runs
// three hours apart: an orphan is deleted (audited once) when no lock holds
// it and it is older than the grace, kept and recorded while a lock holds
// it, and a recorded payload is never touched.
func TestReconcilerDeletesOrReportsOrphans(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	delivered := r.deliver(t, []byte("payload"))
	declared := r.declare(t, revenues, policeDisclosure(7))
	key := func(id, name string) string { return exchange.PayloadPrefix + id + "/" + name }
	cases := map[string]string{
		"keep/recorded":                delivered.Payload.ObjectKey,
		"delete/no-row":                key("00000000-0000-0000-0000-000000000001", "a"),
		"delete/row-declared":          key(declared.ID, "lost-commit"),
		"delete/beside-recorded":       key(delivered.ID, "second"),
		"delete/governance-lock-ended": key("00000000-0000-0000-0000-000000000002", "b"),
		"keep/governance-locked":       key("00000000-0000-0000-0000-000000000003", "c"),
		"keep/compliance-locked":       key("00000000-0000-0000-0000-000000000004", "d"),
		"keep/outside-payloads":        "elsewhere/object",
	}
	for name, k := range cases {
		switch name {
		case "keep/recorded":
		case "delete/governance-lock-ended":
			r.putOrphan(t, k, lockGovernance, t0.Add(2*time.Hour))
		case "keep/governance-locked":
			r.putOrphan(t, k, lockGovernance, t0.Add(30*24*time.Hour))
		case "keep/compliance-locked":
			r.putOrphan(t, k, lockCompliance, t0.Add(30*24*time.Hour))
		default:
			r.putOrphan(t, k, lockNone, time.Time{})
		}
	}
	rec := &exchange.Reconciler{Store: r.db, Inventory: r.objects, Grace: time.Hour, Delete: true, Log: slog.New(slog.DiscardHandler), Now: r.clock.Now}

	// Younger than the grace: untouched.
	rep, err := rec.Reconcile(r.ctx, 100)
	require.NoError(t, err)
	require.Zero(t, rep.Orphans)
	require.True(t, rep.PassDone)

	r.clock.Advance(3 * time.Hour)
	for range 2 {
		_, err := rec.Reconcile(r.ctx, 100)
		require.NoError(t, err)
	}
	audited := r.orphanEntries(t)
	recorded, err := r.db.Orphans(r.ctx)
	require.NoError(t, err)
	byKey := map[string]exchange.Orphan{}
	for _, o := range recorded {
		byKey[o.Object.Key] = o
	}
	for name, k := range cases {
		t.Run(name, func(t *testing.T) {
			_, _, exists := r.objects.Object(k, "")
			o, listed := byKey[k]
			switch {
			case strings.HasPrefix(name, "delete/"):
				require.False(t, exists)
				require.True(t, listed)
				require.Equal(t, "deleted", o.Action(r.clock.Now(), true))
				require.Equal(t, 1, audited[k], "audited once over two runs")
			case strings.HasSuffix(name, "-locked"):
				require.True(t, exists)
				require.True(t, listed)
				require.Equal(t, "kept-locked", o.Action(r.clock.Now(), true))
				require.Equal(t, strings.ToUpper(strings.TrimSuffix(strings.TrimPrefix(name, "keep/"), "-locked")), o.LockMode)
				require.Zero(t, audited[k])
			default:
				require.True(t, exists)
				require.False(t, listed)
			}
		})
	}
	// The recorded payload still opens.
	_, body := r.open(t, police, delivered.ID)
	require.Equal(t, []byte("payload"), body)
}

// With retention.delete_orphans: false orphans are recorded and reported,
// never deleted; small batches cover the bucket over several runs; and a
// deletion that fails is tried again without a second audit entry.
func TestReconcilerReportOnlyBatchesAndRetries(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	keys := make([]string, 5)
	for i := range keys {
		keys[i] = exchange.PayloadPrefix + "0000000" + string(rune('a'+i)) + "/x"
		r.putOrphan(t, keys[i], lockNone, time.Time{})
	}
	r.clock.Advance(2 * time.Hour)
	log := slog.New(slog.DiscardHandler)

	t.Run("ok/report-only", func(t *testing.T) {
		rec := &exchange.Reconciler{Store: r.db, Inventory: r.objects, Grace: time.Hour, Log: log, Now: r.clock.Now}
		rep, err := rec.Reconcile(r.ctx, 100)
		require.NoError(t, err)
		require.Equal(t, 5, rep.Kept)
		require.Len(t, r.objects.Keys(), 5)
		require.Empty(t, r.orphanEntries(t))
	})
	t.Run("ok/batches", func(t *testing.T) {
		rec := &exchange.Reconciler{Store: r.db, Inventory: r.objects, Grace: time.Hour, Delete: true, Log: log, Now: r.clock.Now}
		r.objects.fail(nil, 0, nil, errors.New("store went away"))
		rep, err := rec.Reconcile(r.ctx, 2)
		require.NoError(t, err)
		require.Equal(t, 2, rep.Failed, "removal failed: tried again next pass")
		require.False(t, rep.PassDone)
		r.objects.fail(nil, 0, nil, nil)
		runs := 1
		for !rep.PassDone {
			rep, err = rec.Reconcile(r.ctx, 2)
			require.NoError(t, err)
			runs++
		}
		require.Equal(t, 3, runs)
		require.Len(t, r.objects.Keys(), 2, "the two whose removal failed wait for the next pass")
		rep, err = rec.Reconcile(r.ctx, 100)
		require.NoError(t, err)
		require.Equal(t, 2, rep.Deleted)
		require.Empty(t, r.objects.Keys())
		audited := r.orphanEntries(t)
		require.Len(t, audited, 5)
		for _, k := range keys {
			require.Equal(t, 1, audited[k], k)
		}
	})
}
