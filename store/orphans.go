package store

import (
	"context"
	"database/sql"
	"slices"

	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/exchange"
)

var _ exchange.OrphanStore = (*DB)(nil)

// RecordedObjects returns the payload object each exchange's row records.
func (d *DB) RecordedObjects(ctx context.Context, ids []string) (map[string]exchange.ObjectRef, error) {
	out := make(map[string]exchange.ObjectRef, len(ids))
	slices.Sort(ids)
	ids = slices.Compact(ids)
	for chunk := range slices.Chunk(ids, 500) {
		args, in := inList(nil, chunk)
		rows, err := d.db.QueryContext(ctx, "SELECT id, object_key, object_version FROM exchanges WHERE id IN "+in, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id string
			var ref exchange.ObjectRef
			if err := rows.Scan(&id, &ref.Key, &ref.Version); err != nil {
				rows.Close()
				return nil, err
			}
			out[id] = ref
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

const upsertOrphan = `INSERT INTO orphan_objects (object, version, exchange_id, size, stored_at, found_at, seen_at, lock_mode, locked_until)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
	ON CONFLICT (object, version) DO UPDATE SET seen_at = excluded.seen_at, lock_mode = excluded.lock_mode, locked_until = excluded.locked_until`

func orphanArgs(o *exchange.Orphan) []any {
	return []any{o.Object.Key, o.Object.Version, o.Exchange, o.Object.Size, utc(o.Object.Modified), utc(o.FoundAt), utc(o.SeenAt),
		o.LockMode, nullTime(o.LockedUntil)}
}

// NoteOrphan records an orphan kept in the store, or refreshes its record.
func (d *DB) NoteOrphan(ctx context.Context, o *exchange.Orphan) error {
	return d.update(ctx, func(t *tx) error {
		_, err := t.exec(ctx, upsertOrphan, orphanArgs(o)...)
		return err
	})
}

// ClaimOrphan records an orphan's deletion and its audit entry in one
// transaction, unless its deletion is recorded already.
func (d *DB) ClaimOrphan(ctx context.Context, o *exchange.Orphan, entry *audit.Entry) (bool, error) {
	var claimed bool
	err := d.update(ctx, func(t *tx) error {
		claimed = false // the change may run more than once
		if _, err := t.exec(ctx, upsertOrphan, orphanArgs(o)...); err != nil {
			return err
		}
		res, err := t.exec(ctx, "UPDATE orphan_objects SET deleted_at = $1 WHERE object = $2 AND version = $3 AND deleted_at IS NULL",
			utc(entry.Time), o.Object.Key, o.Object.Version)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		claimed = true
		e := *entry
		return t.AppendAudit(ctx, &e)
	})
	return claimed, err
}

// Orphans returns every orphaned payload object the reconciler recorded,
// oldest first.
func (d *DB) Orphans(ctx context.Context) ([]exchange.Orphan, error) {
	return queryAll(ctx, d, func(row scanner) (o exchange.Orphan, err error) {
		var until, deleted sql.NullTime
		err = row.Scan(&o.Object.Key, &o.Object.Version, &o.Exchange, &o.Object.Size, &o.Object.Modified, &o.FoundAt, &o.SeenAt,
			&o.LockMode, &until, &deleted)
		o.Object.Modified, o.FoundAt, o.SeenAt = o.Object.Modified.UTC(), o.FoundAt.UTC(), o.SeenAt.UTC()
		o.LockedUntil, o.DeletedAt = timeOf(until), timeOf(deleted)
		return o, err
	}, `SELECT object, version, exchange_id, size, stored_at, found_at, seen_at, lock_mode, locked_until, deleted_at
		FROM orphan_objects ORDER BY found_at, object, version`)
}
