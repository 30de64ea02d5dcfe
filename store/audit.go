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
// entries appended in the transaction and not yet written.
type chainHead struct {
	loaded  bool
	dirty   bool
	seq     int64
	hash    string
	pending []*audit.Record
}

// AppendAudit links e to the head of the chain. The head row is locked for
// the whole transaction (on PostgreSQL it is the transaction's first lock;
// SQLite holds the write lock from BEGIN), so entries from every node form
// one chain with no gaps or duplicate sequence numbers. The entries are
// written together, and the head row once, when the transaction ends
// (saveHead): one statement for a whole group commit's entries instead of
// a round trip each.
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
	return nil
}

func (t *tx) loadHead(ctx context.Context) error {
	if t.head.loaded {
		return nil
	}
	err := t.queryRow(ctx, "SELECT seq, hash FROM audit_head WHERE id = 1"+t.d.forUpdate).Scan(&t.head.seq, &t.head.hash)
	if err != nil {
		return fmt.Errorf("store: audit head: %w", err)
	}
	t.head.loaded = true
	return nil
}

// insertChunk is how many entries one INSERT writes.
const insertChunk = 64

// saveHead writes the entries the transaction appended, and the head.
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
	if _, err := t.exec(ctx, "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1", t.head.seq, t.head.hash); err != nil {
		return fmt.Errorf("store: audit head: %w", err)
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

// AuditHead returns the sequence number and hash of the last entry.
func (d *DB) AuditHead(ctx context.Context) (int64, string, error) {
	var (
		seq  int64
		hash string
	)
	err := d.queryRow(ctx, "SELECT seq, hash FROM audit_head WHERE id = 1").Scan(&seq, &hash)
	return seq, hash, err
}

var _ audit.Log = (*DB)(nil)

// AuditCheckpoints returns up to limit checkpoints with seq > after, in order.
func (d *DB) AuditCheckpoints(ctx context.Context, after int64, limit int) ([]audit.StoredCheckpoint, error) {
	return queryAll(ctx, d, func(row scanner) (cp audit.StoredCheckpoint, err error) {
		err = row.Scan(&cp.Seq, &cp.Hash, &cp.Time, &cp.JWS)
		cp.Time = cp.Time.UTC()
		return cp, err
	}, "SELECT seq, hash, time, jws FROM audit_checkpoints WHERE seq > $1 ORDER BY seq LIMIT $2", after, limit)
}

// AuditSegments returns the archived segments recorded, in order.
func (d *DB) AuditSegments(ctx context.Context) ([]audit.ArchivedSegment, error) {
	return queryAll(ctx, d, func(row scanner) (s audit.ArchivedSegment, err error) {
		err = row.Scan(&s.First, &s.Last, &s.Key, &s.Version, &s.SHA256, &s.ArchivedAt)
		s.ArchivedAt = s.ArchivedAt.UTC()
		return s, err
	}, "SELECT first_seq, last_seq, object, version, sha256, archived_at FROM audit_segments ORDER BY first_seq")
}

// LastAuditCheckpoint returns the latest checkpoint, if there is one.
func (d *DB) LastAuditCheckpoint(ctx context.Context) (audit.StoredCheckpoint, bool, error) {
	var cp audit.StoredCheckpoint
	err := d.queryRow(ctx, "SELECT seq, hash, time, jws FROM audit_checkpoints ORDER BY seq DESC LIMIT 1").
		Scan(&cp.Seq, &cp.Hash, &cp.Time, &cp.JWS)
	if errors.Is(err, sql.ErrNoRows) {
		return cp, false, nil
	}
	cp.Time = cp.Time.UTC()
	return cp, err == nil, err
}

// AddAuditCheckpoint records a checkpoint and its archived segment together.
func (d *DB) AddAuditCheckpoint(ctx context.Context, prevSeq int64, cp audit.StoredCheckpoint, seg audit.ArchivedSegment) error {
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
		if _, err := t.exec(ctx, "INSERT INTO audit_checkpoints (seq, hash, time, jws) VALUES ($1, $2, $3, $4)",
			cp.Seq, cp.Hash, utc(cp.Time), cp.JWS); err != nil {
			return fmt.Errorf("store: audit checkpoint: %w", err)
		}
		if _, err := t.exec(ctx, "INSERT INTO audit_segments (first_seq, last_seq, object, version, sha256, archived_at) VALUES ($1, $2, $3, $4, $5, $6)",
			seg.First, seg.Last, seg.Key, seg.Version, seg.SHA256, utc(seg.ArchivedAt)); err != nil {
			return fmt.Errorf("store: audit segment: %w", err)
		}
		return nil
	})
}

// ProbeAudit checks that the audit chain can be written: it takes the
// chain's head as a writer would and inserts a probe entry, then rolls
// everything back. Readiness checks call it; it changes nothing.
func (d *DB) ProbeAudit(ctx context.Context) error {
	sqlTx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	defer sqlTx.Rollback() //nolint:errcheck // the probe is never committed
	t := &tx{d: d, tx: sqlTx}
	if err := t.loadHead(ctx); err != nil {
		return err
	}
	if _, err := sqlTx.ExecContext(ctx, "INSERT INTO audit_log (seq, time, type, body, hash) VALUES ($1, $2, $3, $4, $5)",
		-1, utc(time.Now()), "readiness-probe", "{}", ""); err != nil {
		return fmt.Errorf("store: the audit chain cannot be written: %w", err)
	}
	return nil
}
