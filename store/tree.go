package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/pressly/goose/v3"

	"github.com/gatehouse-gw/gatehouse/audit"
)

// The audit record's Merkle tree (audit/merkle.go): one audit_tree row per
// entry, holding the nodes that entry completes.

var _ audit.NodeReader = (*DB)(nil)

// AuditTree returns the tree rows of the given seqs, by seq.
func (d *DB) AuditTree(ctx context.Context, seqs []int64) (map[int64][]byte, error) {
	return readTree(ctx, d.db, seqs)
}

// txTree reads the tree inside a transaction.
type txTree struct{ t *tx }

func (r txTree) AuditTree(ctx context.Context, seqs []int64) (map[int64][]byte, error) {
	return readTree(ctx, r.t.tx, seqs)
}

// maxTreeRows bounds one read: a proof needs two rows per level at most.
const maxTreeRows = 512

func readTree(ctx context.Context, q querier, seqs []int64) (map[int64][]byte, error) {
	seqs = slices.Compact(slices.Sorted(slices.Values(seqs)))
	out := make(map[int64][]byte, len(seqs))
	for chunk := range slices.Chunk(seqs, maxTreeRows) {
		// Numbers only: written into the statement, not bound.
		in := make([]string, len(chunk))
		for i, seq := range chunk {
			in[i] = strconv.FormatInt(seq, 10)
		}
		rows, err := q.QueryContext(ctx, "SELECT seq, nodes FROM audit_tree WHERE seq IN ("+strings.Join(in, ", ")+")")
		if err != nil {
			return nil, fmt.Errorf("store: audit tree: %w", err)
		}
		for rows.Next() {
			var (
				seq   int64
				nodes []byte
			)
			if err := rows.Scan(&seq, &nodes); err != nil {
				rows.Close()
				return nil, err
			}
			out[seq] = nodes
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// AuditTreeRows returns up to limit tree rows with seq > after, in order:
// what a verifier compares with the tree it recomputes from the entries.
func (d *DB) AuditTreeRows(ctx context.Context, after int64, limit int) ([]audit.TreeRow, error) {
	rows, err := d.query(ctx, "SELECT seq, nodes FROM audit_tree WHERE seq > $1 ORDER BY seq LIMIT $2", after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]audit.TreeRow, 0, min(limit, 10000))
	for rows.Next() {
		var r audit.TreeRow
		if err := rows.Scan(&r.Seq, &r.Nodes); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// AuditMaxSeq returns the highest seq in the chain, whatever the head says.
func (d *DB) AuditMaxSeq(ctx context.Context) (int64, error) {
	var seq int64
	err := d.queryRow(ctx, "SELECT COALESCE(MAX(seq), 0) FROM audit_log").Scan(&seq)
	return seq, err
}

// treeMigration is the version of the Go migration that builds the tree of
// the entries written before the tree was kept (00007_audit_tree.sql
// created its table).
const treeMigration = 8

// goMigrations are the schema changes written in Go, for both backends.
func goMigrations() []*goose.Migration {
	return []*goose.Migration{
		goose.NewGoMigration(treeMigration, &goose.GoFunc{RunTx: backfillTree}, &goose.GoFunc{RunTx: func(context.Context, *sql.Tx) error { return nil }}),
	}
}

// backfillTree adds the tree rows of the entries that have none, up to the
// chain's head, and sets the head's frontier. The entries must run from
// seq 1 with no gap: a tree cannot be built over a broken chain, so a gap
// stops the migration (audit verify says what is wrong).
func backfillTree(ctx context.Context, sqlTx *sql.Tx) error {
	var head int64
	if err := sqlTx.QueryRowContext(ctx, "SELECT seq FROM audit_head WHERE id = 1").Scan(&head); err != nil {
		return fmt.Errorf("audit head: %w", err)
	}
	var done int64
	if err := sqlTx.QueryRowContext(ctx, "SELECT COALESCE(MAX(seq), 0) FROM audit_tree").Scan(&done); err != nil {
		return err
	}
	var tree *audit.Frontier
	var err error
	if done == 0 {
		tree, _ = audit.NewFrontier(0, nil)
	} else if tree, err = audit.ReadFrontier(ctx, sqlTree{sqlTx}, uint64(done)); err != nil {
		return err
	}
	exec := func(ctx context.Context, q string, args ...any) (sql.Result, error) {
		return sqlTx.ExecContext(ctx, q, args...)
	}
	for after := done; after < head; {
		rows, err := sqlTx.QueryContext(ctx, "SELECT seq, body FROM audit_log WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3", after, head, pageSize)
		if err != nil {
			return err
		}
		var nodes [][]byte
		first := after + 1
		for rows.Next() {
			var (
				seq  int64
				body []byte
			)
			if err := rows.Scan(&seq, &body); err != nil {
				rows.Close()
				return err
			}
			if seq != after+1 {
				rows.Close()
				return fmt.Errorf("the audit chain has no entry seq %d (the next is %d): run gatehouse audit verify", after+1, seq)
			}
			nodes = append(nodes, tree.Append(audit.LeafHash(body)))
			after = seq
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(nodes) == 0 {
			return fmt.Errorf("the audit chain ends at seq %d but its head says %d: run gatehouse audit verify", after, head)
		}
		if err := insertTree(ctx, exec, first, nodes); err != nil {
			return err
		}
	}
	_, err = sqlTx.ExecContext(ctx, "UPDATE audit_head SET frontier = $1 WHERE id = 1", tree.Encode())
	return err
}

// pageSize is how many rows a long read takes at a time.
const pageSize = 10000

type sqlTree struct{ tx *sql.Tx }

func (r sqlTree) AuditTree(ctx context.Context, seqs []int64) (map[int64][]byte, error) {
	return readTree(ctx, r.tx, seqs)
}
