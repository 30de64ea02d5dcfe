package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/exchange"
	"github.com/gatehouse-gw/gatehouse/store"
)

// Orphaned payload objects: the objects exchanges record, kept orphans
// refreshed in place, and a deletion claimed (and audited) once however many
// nodes try at the same time.
func testOrphans(t *testing.T, db *store.DB) {
	ctx := context.Background()
	s := db.Exchanges()
	e := newExchange("ex-orphan-1", "police.northshire", exchange.StateDelivered)
	e.Payload.ObjectKey, e.Payload.ObjectVersion = exchange.PayloadPrefix+e.ID+"/a", "v1"
	require.NoError(t, s.Update(ctx, func(tx exchange.Tx) error { return tx.CreateExchange(ctx, e) }))
	refs, err := db.RecordedObjects(ctx, []string{e.ID, "ex-none", e.ID})
	require.NoError(t, err)
	require.Equal(t, map[string]exchange.ObjectRef{e.ID: {Key: e.Payload.ObjectKey, Version: "v1"}}, refs)

	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	kept := &exchange.Orphan{
		Object:   exchange.StoredObject{Key: exchange.PayloadPrefix + "ex-none/b", Version: "v2", Size: 10, Modified: now.Add(-2 * time.Hour)},
		Exchange: "ex-none", FoundAt: now, SeenAt: now, LockMode: "GOVERNANCE", LockedUntil: now.Add(time.Hour),
	}
	require.NoError(t, db.NoteOrphan(ctx, kept))
	later := *kept
	later.SeenAt, later.FoundAt = now.Add(time.Minute), now.Add(time.Minute)
	require.NoError(t, db.NoteOrphan(ctx, &later))

	gone := &exchange.Orphan{
		Object:   exchange.StoredObject{Key: exchange.PayloadPrefix + e.ID + "/c", Version: "v3", Size: 20, Modified: now.Add(-2 * time.Hour)},
		Exchange: e.ID, FoundAt: now, SeenAt: now,
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		claimed int
	)
	for range 4 {
		wg.Go(func() {
			first, err := db.ClaimOrphan(ctx, gone, &audit.Entry{Time: now, Type: exchange.TypePayloadDeleted, Actor: "gatehouse", Exchange: e.ID,
				Detail: map[string]string{"reason": "orphaned", "object": gone.Object.Key}})
			require.NoError(t, err)
			if first {
				mu.Lock()
				claimed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Equal(t, 1, claimed, "one node records the deletion")
	entries := 0
	recs, err := db.AuditRecords(ctx, 0, 1000)
	require.NoError(t, err)
	for _, r := range recs {
		if r.Type == exchange.TypePayloadDeleted {
			entries++
		}
	}
	require.Equal(t, 1, entries)

	list, err := db.Orphans(ctx)
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, kept.Object, list[0].Object)
	require.Equal(t, now, list[0].FoundAt, "found when first seen")
	require.Equal(t, now.Add(time.Minute), list[0].SeenAt)
	require.Equal(t, "kept-locked", list[0].Action(now, true))
	require.Equal(t, "deleted", list[1].Action(now, true))
	require.Equal(t, now, list[1].DeletedAt)
	require.Equal(t, now.Add(time.Hour), list[0].LockedUntil)
}
