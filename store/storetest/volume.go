package storetest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/exchange"
	"github.com/gatehouse-gw/gatehouse/store"
)

// errRollback makes a transaction roll back.
var errRollback = errors.New("roll back")

// testVolume: a daily limit holds however many transactions reserve at
// once; days, pairs and agreements are counted apart; limit 0 always counts.
func testVolume(t *testing.T, db *store.DB) {
	ctx := context.Background()
	s := db.Exchanges()
	reserve := func(agreement, sender, recipient string, day int, limit int) (ok bool) {
		t.Helper()
		require.NoError(t, s.Update(ctx, func(tx exchange.Tx) error {
			var err error
			ok, err = tx.ReserveVolume(ctx, agreement, sender, recipient, t0.AddDate(0, 0, day), limit)
			return err
		}))
		return ok
	}

	const n = 32
	var won atomic.Int32
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if reserve("a", "s", "r", 0, 3) {
				won.Add(1)
			}
		})
	}
	wg.Wait()
	require.EqualValues(t, 3, won.Load(), "a limit of 3 lets 3 of %d through", n)
	require.False(t, reserve("a", "s", "r", 0, 3))
	require.True(t, reserve("a", "s", "r", 0, 4), "a higher limit makes room")
	require.True(t, reserve("a", "s", "r", 0, 0), "limit 0 counts without a limit")
	require.False(t, reserve("a", "s", "r", 0, 5), "the unlimited reservation was counted")
	require.True(t, reserve("a", "s", "r", 1, 1), "a new day")
	require.True(t, reserve("a", "s", "r2", 0, 1), "another recipient")
	require.True(t, reserve("a", "s2", "r", 0, 1), "another sender")
	require.True(t, reserve("b", "s", "r", 0, 1), "another agreement")

	// A reservation whose transaction rolls back never happened.
	require.Error(t, s.Update(ctx, func(tx exchange.Tx) error {
		ok, err := tx.ReserveVolume(ctx, "c", "s", "r", t0, 1)
		require.NoError(t, err)
		require.True(t, ok)
		return errRollback
	}))
	require.True(t, reserve("c", "s", "r", 0, 1))
}
