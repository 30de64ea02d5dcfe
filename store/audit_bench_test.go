package store_test

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/devenv/testenv"
	"github.com/gatehouse-gw/gatehouse/exchange"
	"github.com/gatehouse-gw/gatehouse/exchange/seal"
	"github.com/gatehouse-gw/gatehouse/store"
)

// P5: durable audit appends per second and verification entries per
// second. Every append is its own change, committed durably (SQLite
// synchronous=FULL; PostgreSQL's default fsync) before its caller hears of
// it; group commit shares one commit among the changes that arrive while
// the previous one is being written.

func benchDB(b *testing.B, driver string) *store.DB {
	b.Helper()
	dsn := filepath.Join(b.TempDir(), "bench.db")
	if driver == store.Postgres {
		dsn = testenv.Postgres(b)
	}
	db, err := store.Open(context.Background(), driver, dsn, nil)
	require.NoError(b, err)
	b.Cleanup(func() { db.Close() })
	return db
}

// benchEntry is a typical decision entry: one named subject, a few codes.
func benchEntry() *audit.Entry {
	return &audit.Entry{
		Time: time.Now(), Type: audit.TypeExchangeDecided, Actor: "council.revenues",
		Exchange: "01a202e1-6ad7-72c5-942e-418aac07183a", Agreement: "police-crime@1", Recipient: "police.northshire",
		Outcome: "allow", Purpose: "crime-prevention-detection", LawfulBasis: "A6-1-e", Exemption: "DPA-S2-P1-2",
		Conditions: []string{"A10", "DPA-S1-P2-10"}, Categories: []string{"identity", "financial"},
		Subjects: []string{"hmac-sha256:cdaedeaeda4cd1f0a58b82977838717560710729dfce930f57beea29af3a9d1d"},
	}
}

func BenchmarkAuditAppend(b *testing.B) {
	for _, driver := range []string{store.SQLite, store.Postgres} {
		for _, writers := range []int{1, 64} {
			b.Run(fmt.Sprintf("%s/writers=%d", driver, writers), func(b *testing.B) {
				db := benchDB(b, driver)
				xs := db.Exchanges()
				ctx := context.Background()
				b.SetParallelism(max(1, writers/2)) // 2 cores: GOMAXPROCS × this many goroutines
				if writers == 1 {
					b.SetParallelism(1)
				}
				start := time.Now()
				run := func() {
					err := xs.Update(ctx, func(tx exchange.Tx) error { return tx.AppendAudit(ctx, benchEntry()) })
					if err != nil {
						b.Error(err)
					}
				}
				if writers == 1 {
					for b.Loop() {
						run()
					}
				} else {
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							run()
						}
					})
				}
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "entries/s")
			})
		}
	}
}

// BenchmarkAuditVerify reads and checks a chain of 200,000 entries: from
// memory (the verifier alone) and from the database (what audit verify does).
func BenchmarkAuditVerify(b *testing.B) {
	const n = 200_000
	db := benchDB(b, store.SQLite)
	ctx := context.Background()
	xs := db.Exchanges()
	for i := 0; i < n; i += 5000 {
		require.NoError(b, xs.Update(ctx, func(tx exchange.Tx) error {
			for range 5000 {
				if err := tx.AppendAudit(ctx, benchEntry()); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	recs, err := db.AuditRecords(ctx, 0, n)
	require.NoError(b, err)
	require.Len(b, recs, n)

	b.Run("memory", func(b *testing.B) {
		start := time.Now()
		for b.Loop() {
			v := audit.NewVerifier()
			for _, r := range recs {
				if err := v.Next(r); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.N*n)/time.Since(start).Seconds(), "entries/s")
	})
	b.Run("database", func(b *testing.B) {
		key, err := seal.GenerateKey(seal.UseSignature)
		require.NoError(b, err)
		s, err := seal.NewSigner(key)
		require.NoError(b, err)
		keys, err := s.PublicSet()
		require.NoError(b, err)
		start := time.Now()
		for b.Loop() {
			rep, err := audit.Check(ctx, db, emptyArchive{}, audit.CheckOptions{Keys: keys})
			if err != nil || !rep.OK() || rep.Entries != n {
				b.Fatal(err, rep)
			}
		}
		b.ReportMetric(float64(b.N*n)/time.Since(start).Seconds(), "entries/s")
	})
}

// emptyArchive has no segments: the benchmark measures the database chain.
type emptyArchive struct{}

func (emptyArchive) PutSegment(context.Context, string, []byte, time.Time) (string, error) {
	return "", nil
}
func (emptyArchive) SegmentVersions(context.Context) ([]audit.ArchivedSegment, error) {
	return nil, nil
}
func (emptyArchive) SegmentKeyVersions(context.Context, string) ([]audit.ArchivedSegment, error) {
	return nil, nil
}
func (emptyArchive) OpenSegment(context.Context, string, string) (io.ReadCloser, error) {
	return nil, io.EOF
}
