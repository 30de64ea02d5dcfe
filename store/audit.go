package store

import (
	"context"
	"fmt"

	"github.com/gatehouse-gw/gatehouse/audit"
)

var _ audit.Appender = (*tx)(nil)

// AppendAudit links e to the head of the chain and stores it. The head row is
// locked until the transaction ends, so entries from every node form one
// chain with no gaps or duplicate sequence numbers.
func (t *tx) AppendAudit(ctx context.Context, e *audit.Entry) error {
	var (
		seq  int64
		hash string
	)
	err := t.tx.QueryRowContext(ctx, "SELECT seq, hash FROM audit_head WHERE id = 1"+t.d.forUpdate).Scan(&seq, &hash)
	if err != nil {
		return fmt.Errorf("store: audit head: %w", err)
	}
	e.Time = utc(e.Time)
	rec, err := audit.Chain(e, seq, hash)
	if err != nil {
		return err
	}
	if _, err := t.tx.ExecContext(ctx,
		"INSERT INTO audit_log (seq, time, type, body, hash) VALUES ($1, $2, $3, $4, $5)",
		rec.Seq, rec.Time, rec.Type, string(rec.Body), rec.Hash); err != nil {
		return fmt.Errorf("store: audit append: %w", err)
	}
	if _, err := t.tx.ExecContext(ctx,
		"UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1", rec.Seq, rec.Hash); err != nil {
		return fmt.Errorf("store: audit head: %w", err)
	}
	return nil
}

// AuditRecords returns up to limit records with seq > after, in order.
func (d *DB) AuditRecords(ctx context.Context, after int64, limit int) ([]audit.Record, error) {
	rows, err := d.db.QueryContext(ctx,
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
	err := d.db.QueryRowContext(ctx, "SELECT seq, hash FROM audit_head WHERE id = 1").Scan(&seq, &hash)
	return seq, hash, err
}
