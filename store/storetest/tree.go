package storetest

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/exchange"
	"github.com/gatehouse-gw/gatehouse/store"
	"github.com/gatehouse-gw/gatehouse/store/migrations"
)

// verifyTree recomputes the Merkle tree from the entries and checks every
// stored tree row against it, and the head's frontier.
func verifyTree(t *testing.T, db *store.DB, recs []audit.Record) {
	t.Helper()
	ctx := context.Background()
	rows, err := db.AuditTreeRows(ctx, 0, len(recs)+1)
	require.NoError(t, err)
	require.Len(t, rows, len(recs), "one tree row per entry")
	tree, err := audit.NewFrontier(0, nil)
	require.NoError(t, err)
	for i, r := range recs {
		want := tree.Append(audit.LeafHash(r.Body))
		require.Equal(t, r.Seq, rows[i].Seq)
		require.Equal(t, want, rows[i].Nodes, "the tree row of seq %d", r.Seq)
	}
	stored, err := audit.ReadFrontier(ctx, db, tree.Size())
	require.NoError(t, err)
	require.Equal(t, tree.Root(), stored.Root())
}

// The tree the writers keep answers inclusion and consistency proofs that
// verify against the roots recomputed from the entries, at every size.
func testAuditTreeProofs(t *testing.T, db *store.DB) {
	ctx := context.Background()
	s := db.Exchanges()
	// Entries from concurrent writers, some in changes that fail and roll
	// back to their savepoint: the tree rolls back with them.
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Go(func() {
			for i := range 7 {
				_ = s.Update(ctx, func(tx exchange.Tx) error {
					if err := tx.AppendAudit(ctx, entry(fmt.Sprintf("w%d-%d", w, i))); err != nil {
						return err
					}
					if (w+i)%4 == 0 {
						return fmt.Errorf("unit %d/%d fails", w, i)
					}
					return tx.AppendAudit(ctx, entry(fmt.Sprintf("w%d-%d-again", w, i)))
				})
			}
		})
	}
	wg.Wait()
	n := verifyAll(t, db)
	require.Greater(t, n, int64(40))
	recs, err := db.AuditRecords(ctx, 0, int(n))
	require.NoError(t, err)

	roots := make([][]byte, n+1)
	leaves := make([][]byte, n)
	tree, _ := audit.NewFrontier(0, nil)
	roots[0] = tree.Root()
	for i, r := range recs {
		leaves[i] = audit.LeafHash(r.Body)
		tree.Append(leaves[i])
		roots[i+1] = tree.Root()
	}
	for size := uint64(1); size <= uint64(n); size++ {
		for index := uint64(0); index < size; index++ {
			p, err := audit.InclusionProof(ctx, db, index, size)
			require.NoError(t, err)
			require.NoError(t, audit.VerifyInclusion(index, size, leaves[index], p, roots[size]), "inclusion of %d in %d", index, size)
		}
		for size1 := uint64(0); size1 <= size; size1 += 3 {
			p, err := audit.ConsistencyProof(ctx, db, size1, size)
			require.NoError(t, err)
			require.NoError(t, audit.VerifyConsistency(size1, size, p, roots[size1], roots[size]), "consistency of %d with %d", size1, size)
		}
	}
	_, err = audit.InclusionProof(ctx, db, uint64(n), uint64(n))
	require.ErrorIs(t, err, audit.ErrTreeSize)
	_, err = audit.InclusionProof(ctx, db, 0, uint64(n)+5)
	require.ErrorIs(t, err, audit.ErrTreeNode, "a tree larger than the record has no stored nodes")
}

// The head only moves forward: a head moved back would hide the entries
// after it from every writer and from a verifier that trusted it.
func testAuditHeadForwardOnly(t *testing.T, db *store.DB) {
	ctx := context.Background()
	require.NoError(t, appendAll(ctx, db.Exchanges(), entry("a"), entry("b"), entry("c")))
	recs, err := db.AuditRecords(ctx, 0, 10)
	require.NoError(t, err)
	for name, stmt := range map[string]string{
		"deny/back":          fmt.Sprintf("UPDATE audit_head SET seq = 2, hash = '%s' WHERE id = 1", recs[1].Hash),
		"deny/other-hash":    "UPDATE audit_head SET hash = 'x' WHERE id = 1",
		"deny/delete":        "DELETE FROM audit_head",
		"deny/back-to-start": "UPDATE audit_head SET seq = 0 WHERE id = 1",
	} {
		_, err := db.SQL().ExecContext(ctx, stmt)
		require.ErrorContains(t, err, "only moves forward", name)
	}
	require.Equal(t, int64(3), verifyAll(t, db))
	require.NoError(t, appendAll(ctx, db.Exchanges(), entry("d")), "and it still moves forward")
	require.Equal(t, int64(4), verifyAll(t, db))
}

// One process at a time holds the lease on signing and archiving
// checkpoints; a lease that runs out can be taken over.
func testArchiverLease(t *testing.T, db *store.DB) {
	ctx := context.Background()
	now := time.Now()
	ok, err := db.ClaimArchiver(ctx, "node-a", now, now.Add(time.Minute))
	require.NoError(t, err)
	require.True(t, ok, "ok/free")
	ok, err = db.ClaimArchiver(ctx, "node-b", now, now.Add(time.Minute))
	require.NoError(t, err)
	require.False(t, ok, "deny/held by another")
	ok, err = db.ClaimArchiver(ctx, "node-a", now.Add(time.Second), now.Add(2*time.Minute))
	require.NoError(t, err)
	require.True(t, ok, "ok/renewed by its holder")
	ok, err = db.ClaimArchiver(ctx, "node-b", now.Add(3*time.Minute), now.Add(4*time.Minute))
	require.NoError(t, err)
	require.True(t, ok, "ok/taken over once it ran out")
	require.NoError(t, db.ReleaseArchiver(ctx, "node-a"), "releasing a lease one no longer holds changes nothing")
	ok, err = db.ClaimArchiver(ctx, "node-a", now.Add(3*time.Minute), now.Add(4*time.Minute))
	require.NoError(t, err)
	require.False(t, ok, "deny/node-b still holds it")
	require.NoError(t, db.ReleaseArchiver(ctx, "node-b"))
	ok, err = db.ClaimArchiver(ctx, "node-a", now.Add(3*time.Minute), now.Add(4*time.Minute))
	require.NoError(t, err)
	require.True(t, ok, "ok/released")
}

// A checkpoint is claimed (recorded) before its segment is archived, and
// only by the lease's holder; a segment is recorded only for a claimed
// checkpoint.
func testCheckpointClaim(t *testing.T, db *store.DB) {
	ctx := context.Background()
	require.NoError(t, appendAll(ctx, db.Exchanges(), entry("a"), entry("b")))
	recs, err := db.AuditRecords(ctx, 0, 10)
	require.NoError(t, err)
	now := time.Now()
	cp := audit.StoredCheckpoint{Seq: 2, Hash: recs[1].Hash, Time: now, JWS: "jws", Root: bytes.Repeat([]byte{7}, 32), Note: "note"}
	seg := audit.ArchivedSegment{Key: audit.SegmentKey(1, 2), Version: "v1", First: 1, Last: 2, SHA256: "ab", ArchivedAt: now}
	require.Error(t, db.RecordAuditSegment(ctx, seg), "deny/segment before its checkpoint is claimed")

	require.ErrorIs(t, db.AddAuditCheckpoint(ctx, "node-a", 0, cp), audit.ErrArchiverBusy, "deny/no lease")
	ok, err := db.ClaimArchiver(ctx, "node-a", now, now.Add(time.Minute))
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, db.AddAuditCheckpoint(ctx, "node-a", 0, cp))
	require.ErrorIs(t, db.AddAuditCheckpoint(ctx, "node-a", 0, cp), audit.ErrCheckpointExists, "deny/claimed twice")
	last, ok, err := db.LastAuditCheckpoint(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, cp.Root, last.Root)
	require.Equal(t, "note", last.Note)

	_, ok, err = db.LastAuditSegment(ctx)
	require.NoError(t, err)
	require.False(t, ok, "claimed, not yet archived")
	require.NoError(t, db.RecordAuditSegment(ctx, seg))
	got, ok, err := db.LastAuditSegment(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, seg.Key, got.Key)
	require.Equal(t, "v1", got.Version)
}

// RunTreeMigration checks that a record written before the tree was kept
// gets its tree when the schema is migrated: it migrates a fresh database
// (at dsn) to the version before the tree, writes entries as the gateway
// did then, and opens it with store.Open.
func RunTreeMigration(t *testing.T, driver, dsn string) {
	ctx := context.Background()
	sqlDriver, dialect, fsys := "sqlite", goose.DialectSQLite3, fs.FS(migrations.SQLite)
	conn := "file:" + dsn + "?_pragma=busy_timeout(10000)&_time_format=sqlite"
	if driver == store.Postgres {
		sqlDriver, dialect, fsys, conn = "pgx", goose.DialectPostgres, migrations.Postgres, dsn
	}
	sub, err := fs.Sub(fsys, driver)
	require.NoError(t, err)
	before := treeVersion(t, sub) - 1
	raw, err := sql.Open(sqlDriver, conn)
	require.NoError(t, err)
	defer raw.Close()
	provider, err := goose.NewProvider(dialect, raw, sub, goose.WithDisableGlobalRegistry(true))
	require.NoError(t, err)
	_, err = provider.UpTo(ctx, before)
	require.NoError(t, err)

	// 25 entries and a checkpoint, as the gateway wrote them before.
	prevSeq, prevHash := int64(0), audit.GenesisHash
	for i := range 25 {
		rec, err := audit.Chain(entry(fmt.Sprintf("legacy-%d", i)), prevSeq, prevHash)
		require.NoError(t, err)
		_, err = raw.ExecContext(ctx, "INSERT INTO audit_log (seq, time, type, body, hash) VALUES ($1, $2, $3, $4, $5)",
			rec.Seq, rec.Time, rec.Type, string(rec.Body), rec.Hash)
		require.NoError(t, err)
		prevSeq, prevHash = rec.Seq, rec.Hash
	}
	_, err = raw.ExecContext(ctx, "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1", prevSeq, prevHash)
	require.NoError(t, err)
	_, err = raw.ExecContext(ctx, "INSERT INTO audit_checkpoints (seq, hash, time, jws) VALUES ($1, $2, $3, $4)", int64(20), "legacy", t0, "legacy-jws")
	require.NoError(t, err)
	require.NoError(t, raw.Close())

	db, err := store.Open(ctx, driver, dsn, nil)
	require.NoError(t, err)
	defer db.Close()
	_, pending, err := db.SchemaStatus(ctx)
	require.NoError(t, err)
	require.Zero(t, pending)
	require.Equal(t, int64(25), verifyAll(t, db), "the tree of the entries written before is built")
	cp, ok, err := db.LastAuditCheckpoint(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	require.Empty(t, cp.Root, "a checkpoint from before signs no root")

	// New entries extend the backfilled tree.
	require.NoError(t, appendAll(ctx, db.Exchanges(), entry("after-1"), entry("after-2")))
	require.Equal(t, int64(27), verifyAll(t, db))
}

// treeVersion is the version of the migration that creates audit_tree.
func treeVersion(t *testing.T, fsys fs.FS) int64 {
	t.Helper()
	files, err := fs.Glob(fsys, "*_audit_tree.sql")
	require.NoError(t, err)
	require.Len(t, files, 1)
	var v int64
	_, err = fmt.Sscanf(strings.SplitN(files[0], "_", 2)[0], "%d", &v)
	require.NoError(t, err)
	return v
}
