package store

import (
	"context"
	"fmt"

	"github.com/gatehouse-gw/gatehouse/audit"
)

var _ audit.Appender = (*tx)(nil)

// chainHead is the audit chain's head as a transaction sees it.
type chainHead struct {
	loaded bool
	dirty  bool
	seq    int64
	hash   string
}

// AppendAudit links e to the head of the chain and stores it. The head row is
// locked for the whole transaction (on PostgreSQL it is the transaction's
// first lock; SQLite holds the write lock from BEGIN), so entries from every
// node form one chain with no gaps or duplicate sequence numbers. The head
// row itself is written once, when the transaction ends.
func (t *tx) AppendAudit(ctx context.Context, e *audit.Entry) error {
	if err := t.loadHead(ctx); err != nil {
		return err
	}
	e.Time = utc(e.Time)
	rec, err := audit.Chain(e, t.head.seq, t.head.hash)
	if err != nil {
		return err
	}
	if _, err := t.exec(ctx,
		"INSERT INTO audit_log (seq, time, type, body, hash) VALUES ($1, $2, $3, $4, $5)",
		rec.Seq, rec.Time, rec.Type, string(rec.Body), rec.Hash); err != nil {
		return fmt.Errorf("store: audit append: %w", err)
	}
	t.head.seq, t.head.hash, t.head.dirty = rec.Seq, rec.Hash, true
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

// saveHead writes the chain head if the transaction appended to it.
func (t *tx) saveHead(ctx context.Context) error {
	if !t.head.dirty {
		return nil
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
		var (
			r    audit.Record
			body string
		)
		if err := rows.Scan(&r.Seq, &r.Time, &r.Type, &body, &r.Hash); err != nil {
			return nil, err
		}
		r.Body = []byte(body)
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
