package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/alerts"
	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/exchange"
	"github.com/gatehouse-gw/gatehouse/store"
)

// BenchmarkOutboxRoute routes a poll's worth of events (100, one
// exchange.delivered each, as a busy gateway writes them) on SQLite: all in
// one transaction, as the dispatcher does, and, in the same run, one
// transaction each, as it did before: the difference is 99 durable commits
// competing with the exchanges' for the one writer.
func BenchmarkOutboxRoute(b *testing.B) {
	const events = 100
	for _, each := range []bool{false, true} {
		name := "one-transaction"
		if each {
			name = "transaction-each"
		}
		b.Run(name, func(b *testing.B) {
			db := benchDB(b, store.SQLite)
			ob := db.Outbox()
			ctx := context.Background()
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				evs := make([]alerts.Event, events)
				rs := make([]alerts.Routing, events)
				for j := range evs {
					evs[j] = alerts.Event{ID: fmt.Sprintf("evt-%d-%d", i, j), Type: alerts.ExchangeDelivered, Time: time.Now(), Party: "police.northshire"}
					rs[j] = alerts.Routing{Event: evs[j].ID, Targets: []alerts.Target{{Channel: alerts.ChannelWebhook, Target: "police"}}}
				}
				require.NoError(b, ob.Emit(ctx, evs))
				b.StartTimer()
				if each {
					for _, r := range rs {
						require.NoError(b, ob.Route(ctx, []alerts.Routing{r}, time.Now()))
					}
				} else {
					require.NoError(b, ob.Route(ctx, rs, time.Now()))
				}
			}
			b.ReportMetric(float64(b.Elapsed())/float64(b.N)/events/float64(time.Microsecond), "µs/event")
		})
	}
}

// BenchmarkAppendSealed appends exchange.sealed entries on SQLite from 8
// writers, as P2's deliveries do: each writes its alert event into the
// outbox in the entry's transaction.
func BenchmarkAppendSealed(b *testing.B) {
	db := benchDB(b, store.SQLite)
	xs := db.Exchanges()
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			e := benchEntry()
			e.Type, e.Exchange = audit.TypeExchangeSealed, uuid.NewString()
			if err := xs.Update(ctx, func(tx exchange.Tx) error { return tx.AppendAudit(ctx, e) }); err != nil {
				b.Error(err)
			}
		}
	})
}
