package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-gw/gatehouse/internal/idem"
)

// KeyResource returns what a claimed idempotency key created, or idem.ErrUnknown.
func (d *DB) KeyResource(ctx context.Context, scope, key string) (fingerprint, resource string, err error) {
	err = d.queryRow(ctx, "SELECT fingerprint, resource FROM idempotency_keys WHERE scope = $1 AND key = $2", scope, key).
		Scan(&fingerprint, &resource)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", idem.ErrUnknown
	}
	return fingerprint, resource, err
}

// ClaimKey claims an idempotency key for the resource created in the same
// transaction. A key already claimed fails the transaction.
func (t *tx) ClaimKey(ctx context.Context, scope, key, fingerprint, resource string, now time.Time) error {
	_, err := t.exec(ctx, "INSERT INTO idempotency_keys (scope, key, fingerprint, resource, created_at) VALUES ($1, $2, $3, $4, $5)",
		scope, key, fingerprint, resource, utc(now))
	if err != nil {
		return fmt.Errorf("store: claim idempotency key: %w", err)
	}
	return nil
}

// ForgetKeys deletes idempotency keys claimed before the given time.
func (d *DB) ForgetKeys(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := d.update(ctx, func(t *tx) error {
		res, err := t.exec(ctx, "DELETE FROM idempotency_keys WHERE created_at < $1", utc(before))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// exchangeStore serves keys to the exchange service.
func (s exchangeStore) KeyResource(ctx context.Context, scope, key string) (string, string, error) {
	return s.d.KeyResource(ctx, scope, key)
}

func (r registryStore) KeyResource(ctx context.Context, scope, key string) (string, string, error) {
	return r.d.KeyResource(ctx, scope, key)
}
