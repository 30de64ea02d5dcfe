package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-gw/gatehouse/audit"
)

var _ audit.Appender = (*tx)(nil)

// chainHead is the audit chain's head as a transaction sees it, with the
// entries appended in the transaction and not yet written: their records
// and the tree nodes each completes.
type chainHead struct {
	loaded  bool
	dirty   bool
	seq     int64
	hash    string
	tree    *audit.Frontier
	pending []*audit.Record
	nodes   [][]byte
}

// snapshot is a copy of the head that later appends do not change, for
// rolling a unit back to its savepoint.
func (h chainHead) snapshot() chainHead {
	if h.tree != nil {
		h.tree = h.tree.Clone()
	}
	return h
}

// AppendAudit links e to the head of the chain and adds it to the tree.
// The head row is locked for the whole transaction (on PostgreSQL it is
// the transaction's first lock; SQLite holds the write lock from BEGIN),
// so entries from every node form one chain and one tree with no gaps or
// duplicate sequence numbers. The entries and their tree nodes are written
// together, and the head row once, when the transaction ends (saveHead):
// one statement for a whole group commit's entries instead of a round trip
// each. Once the transaction has committed, e.Seq is the entry's place in
// the record.
func (t *tx) AppendAudit(ctx context.Context, e *audit.Entry) error {
	if err := t.loadHead(ctx); err != nil {
		return err
	}
	e.Time = utc(e.Time)
	rec, err := audit.Chain(e, t.head.seq, t.head.hash)
	if err != nil {
		return err
	}
	t.head.seq, t.head.hash, t.head.dirty = rec.Seq, rec.Hash, true
	t.head.pending = append(t.head.pending, rec)
	t.head.nodes = append(t.head.nodes, t.head.tree.Append(audit.LeafHash(rec.Body)))
	// The events the change causes go to the outbox in its transaction.
	return t.emitFor(ctx, e)
}

func (t *tx) loadHead(ctx context.Context) error {
	if t.head.loaded {
		return nil
	}
	var frontier []byte
	err := t.queryRow(ctx, "SELECT seq, hash, frontier FROM audit_head WHERE id = 1"+t.d.forUpdate).Scan(&t.head.seq, &t.head.hash, &frontier)
	if err != nil {
		return fmt.Errorf("store: audit head: %w", err)
	}
	if t.head.tree, err = audit.DecodeFrontier(uint64(t.head.seq), frontier); err != nil {
		// Not kept with the head (or damaged): read it from the tree.
		if t.head.tree, err = audit.ReadFrontier(ctx, txTree{t}, uint64(t.head.seq)); err != nil {
			return fmt.Errorf("store: the audit tree's frontier at seq %d: %w", t.head.seq, err)
		}
	}
	t.head.loaded = true
	return nil
}

// insertChunk is how many entries one INSERT writes.
const insertChunk = 64

// saveHead writes the entries the transaction appended, their tree nodes,
// and the head.
func (t *tx) saveHead(ctx context.Context) error {
	if !t.head.dirty {
		return nil
	}
	for recs := range slices.Chunk(t.head.pending, insertChunk) {
		var (
			q    strings.Builder
			args = make([]any, 0, 5*len(recs))
		)
		q.WriteString("INSERT INTO audit_log (seq, time, type, body, hash) VALUES ")
		for i, r := range recs {
			if i > 0 {
				q.WriteString(", ")
			}
			n := len(args)
			fmt.Fprintf(&q, "($%d, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4, n+5)
			args = append(args, r.Seq, r.Time, r.Type, string(r.Body), r.Hash)
		}
		if _, err := t.exec(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("store: audit append: %w", err)
		}
	}
	if err := insertTree(ctx, t.exec, t.head.pending[0].Seq, t.head.nodes); err != nil {
		return err
	}
	if _, err := t.exec(ctx, "UPDATE audit_head SET seq = $1, hash = $2, frontier = $3 WHERE id = 1",
		t.head.seq, t.head.hash, t.head.tree.Encode()); err != nil {
		return fmt.Errorf("store: audit head: %w", err)
	}
	return nil
}

// treeChunk is how many tree rows one INSERT writes.
const treeChunk = 128

type execer func(ctx context.Context, query string, args ...any) (sql.Result, error)

// insertTree writes the tree rows of consecutive entries from seq first.
func insertTree(ctx context.Context, exec execer, first int64, rows [][]byte) error {
	for i, chunk := 0, [][]byte(nil); i < len(rows); i += len(chunk) {
		chunk = rows[i:min(i+treeChunk, len(rows))]
		var q strings.Builder
		args := make([]any, 0, 2*len(chunk))
		q.WriteString("INSERT INTO audit_tree (seq, nodes) VALUES ")
		for k, nodes := range chunk {
			if k > 0 {
				q.WriteString(", ")
			}
			fmt.Fprintf(&q, "($%d, $%d)", 2*k+1, 2*k+2)
			args = append(args, first+int64(i+k), nodes)
		}
		if _, err := exec(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("store: audit tree: %w", err)
		}
	}
	return nil
}

// AuditRecords returns up to limit records with seq > after, in order.
func (d *DB) AuditRecords(ctx context.Context, after int64, limit int) ([]audit.Record, error) {
	rows, err := d.query(ctx,
		"SELECT seq, time, type, body, hash FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2", after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []audit.Record
	for rows.Next() {
		var r audit.Record
		if err := rows.Scan(&r.Seq, &r.Time, &r.Type, &r.Body, &r.Hash); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// AuditLinks is AuditRecords without the time and type columns: what a
// verifier needs, read faster.
func (d *DB) AuditLinks(ctx context.Context, after int64, limit int) ([]audit.Record, error) {
	rows, err := d.query(ctx, "SELECT seq, body, hash FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2", after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]audit.Record, 0, min(limit, 10000))
	for rows.Next() {
		var r audit.Record
		if err := rows.Scan(&r.Seq, &r.Body, &r.Hash); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// AuditHead returns the sequence number and hash of the last entry, as
// the head row says.
func (d *DB) AuditHead(ctx context.Context) (int64, string, error) {
	var (
		seq  int64
		hash string
	)
	err := d.queryRow(ctx, "SELECT seq, hash FROM audit_head WHERE id = 1").Scan(&seq, &hash)
	return seq, hash, err
}

// AuditExtent returns the head row and the highest seq in the chain, read
// in one statement (one snapshot): a verifier compares them.
func (d *DB) AuditExtent(ctx context.Context) (headSeq int64, headHash string, maxSeq int64, err error) {
	err = d.queryRow(ctx, "SELECT seq, hash, (SELECT COALESCE(MAX(seq), 0) FROM audit_log) FROM audit_head WHERE id = 1").
		Scan(&headSeq, &headHash, &maxSeq)
	return headSeq, headHash, maxSeq, err
}

var (
	_ audit.CheckpointLog = (*DB)(nil)
	_ audit.Extent        = (*DB)(nil)
)

const checkpointColumns = "seq, hash, time, jws, root, note"

func scanCheckpoint(row scanner) (cp audit.StoredCheckpoint, err error) {
	err = row.Scan(&cp.Seq, &cp.Hash, &cp.Time, &cp.JWS, &cp.Root, &cp.Note)
	cp.Time = cp.Time.UTC()
	if len(cp.Root) == 0 {
		cp.Root = nil
	}
	return cp, err
}

// AuditCheckpoints returns up to limit checkpoints with seq > after, in order.
func (d *DB) AuditCheckpoints(ctx context.Context, after int64, limit int) ([]audit.StoredCheckpoint, error) {
	return queryAll(ctx, d, scanCheckpoint, "SELECT "+checkpointColumns+" FROM audit_checkpoints WHERE seq > $1 ORDER BY seq LIMIT $2", after, limit)
}

const segmentColumns = "first_seq, last_seq, object, version, sha256, archived_at"

func scanSegment(row scanner) (s audit.ArchivedSegment, err error) {
	err = row.Scan(&s.First, &s.Last, &s.Key, &s.Version, &s.SHA256, &s.ArchivedAt)
	s.ArchivedAt = s.ArchivedAt.UTC()
	return s, err
}

// AuditSegments returns the archived segments recorded, in order.
func (d *DB) AuditSegments(ctx context.Context) ([]audit.ArchivedSegment, error) {
	return queryAll(ctx, d, scanSegment, "SELECT "+segmentColumns+" FROM audit_segments ORDER BY first_seq")
}

// LastAuditSegment returns the recorded segment with the highest seqs.
func (d *DB) LastAuditSegment(ctx context.Context) (audit.ArchivedSegment, bool, error) {
	s, err := scanSegment(d.queryRow(ctx, "SELECT "+segmentColumns+" FROM audit_segments ORDER BY first_seq DESC LIMIT 1"))
	if errors.Is(err, sql.ErrNoRows) {
		return audit.ArchivedSegment{}, false, nil
	}
	return s, err == nil, err
}

// LastAuditCheckpoint returns the latest checkpoint, if there is one.
func (d *DB) LastAuditCheckpoint(ctx context.Context) (audit.StoredCheckpoint, bool, error) {
	cp, err := scanCheckpoint(d.queryRow(ctx, "SELECT "+checkpointColumns+" FROM audit_checkpoints ORDER BY seq DESC LIMIT 1"))
	if errors.Is(err, sql.ErrNoRows) {
		return audit.StoredCheckpoint{}, false, nil
	}
	return cp, err == nil, err
}

// ClaimArchiver takes the archiver's lease for holder until the given time,
// if it is free (or holder's own, or run out by now).
func (d *DB) ClaimArchiver(ctx context.Context, holder string, now, until time.Time) (bool, error) {
	got := false
	err := d.update(ctx, func(t *tx) error {
		got = false
		cur, runsTo, err := t.archiver(ctx)
		if err != nil || (cur != holder && cur != "" && runsTo.After(now)) {
			return err
		}
		if _, err := t.exec(ctx, "UPDATE audit_archiver SET holder = $1, until = $2 WHERE id = 1", holder, utc(until)); err != nil {
			return fmt.Errorf("store: archiver lease: %w", err)
		}
		got = true
		return nil
	})
	return got, err
}

// archiver reads the archiver's lease, locked for the transaction.
func (t *tx) archiver(ctx context.Context) (holder string, until time.Time, err error) {
	if err := t.queryRow(ctx, "SELECT holder, until FROM audit_archiver WHERE id = 1"+t.d.forUpdate).Scan(&holder, &until); err != nil {
		return "", time.Time{}, fmt.Errorf("store: archiver lease: %w", err)
	}
	return holder, until, nil
}

// ReleaseArchiver gives up holder's lease.
func (d *DB) ReleaseArchiver(ctx context.Context, holder string) error {
	return d.update(ctx, func(t *tx) error {
		_, err := t.exec(ctx, "UPDATE audit_archiver SET holder = '', until = $1 WHERE id = 1 AND holder = $2", utc(time.Unix(0, 0)), holder)
		return err
	})
}

// AddAuditCheckpoint claims a checkpoint: it records it if the latest is
// still prevSeq (else audit.ErrCheckpointExists) and holder holds the
// archiver's lease (else audit.ErrArchiverBusy).
func (d *DB) AddAuditCheckpoint(ctx context.Context, holder string, prevSeq int64, cp audit.StoredCheckpoint) error {
	return d.update(ctx, func(t *tx) error {
		// Every writer holds the chain's head first (PostgreSQL) or the
		// database's write lock (SQLite): this read cannot go stale.
		var latest int64
		if err := t.queryRow(ctx, "SELECT COALESCE(MAX(seq), 0) FROM audit_checkpoints").Scan(&latest); err != nil {
			return err
		}
		if latest != prevSeq {
			return audit.ErrCheckpointExists
		}
		cur, until, err := t.archiver(ctx)
		if err != nil {
			return err
		}
		if cur != holder || !until.After(time.Now()) {
			return audit.ErrArchiverBusy
		}
		root := cp.Root
		if root == nil {
			root = []byte{}
		}
		if _, err := t.exec(ctx, "INSERT INTO audit_checkpoints ("+checkpointColumns+") VALUES ($1, $2, $3, $4, $5, $6)",
			cp.Seq, cp.Hash, utc(cp.Time), cp.JWS, root, cp.Note); err != nil {
			return fmt.Errorf("store: audit checkpoint: %w", err)
		}
		return nil
	})
}

// RecordAuditSegment records the archived segment of a claimed checkpoint.
func (d *DB) RecordAuditSegment(ctx context.Context, seg audit.ArchivedSegment) error {
	return d.update(ctx, func(t *tx) error {
		var cps int
		if err := t.queryRow(ctx, "SELECT COUNT(*) FROM audit_checkpoints WHERE seq = $1", seg.Last).Scan(&cps); err != nil {
			return err
		}
		if cps != 1 {
			return fmt.Errorf("store: no checkpoint at seq %d claims segment %s", seg.Last, seg.Key)
		}
		if _, err := t.exec(ctx, "INSERT INTO audit_segments ("+segmentColumns+") VALUES ($1, $2, $3, $4, $5, $6)",
			seg.First, seg.Last, seg.Key, seg.Version, seg.SHA256, utc(seg.ArchivedAt)); err != nil {
			return fmt.Errorf("store: audit segment: %w", err)
		}
		return nil
	})
}
