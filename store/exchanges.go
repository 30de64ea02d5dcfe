package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/exchange"
)

// Exchanges returns the exchange store view of d.
func (d *DB) Exchanges() exchange.Store { return exchangeStore{d} }

type exchangeStore struct{ d *DB }

var (
	_ exchange.Store = exchangeStore{}
	_ exchange.Tx    = (*tx)(nil)
)

const exchangeColumns = `id, state, sender, recipient, agreement_id, agreement_version, meta, decision,
	payload_size, payload_sha256, ciphertext_size, object_key, object_version, envelope,
	created_at, updated_at, delivered_at, acknowledged_at, expires_at, request_id`

type scanner interface{ Scan(dest ...any) error }

func scanExchange(row scanner) (*exchange.Exchange, error) {
	var (
		e                         exchange.Exchange
		state, meta, decision     string
		envelope                  string
		delivered, acked, expires sql.NullTime
	)
	err := row.Scan(&e.ID, &state, &e.Sender, &e.Recipient, &e.AgreementID, &e.AgreementVersion, &meta, &decision,
		&e.Payload.Size, &e.Payload.Digest, &e.Payload.CiphertextSize, &e.Payload.ObjectKey, &e.Payload.ObjectVersion, &envelope,
		&e.CreatedAt, &e.UpdatedAt, &delivered, &acked, &expires, &e.RequestID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, exchange.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	e.State = exchange.State(state)
	doc := metaDoc{Meta: &e.Meta}
	if err := json.Unmarshal([]byte(meta), &doc); err != nil {
		return nil, fmt.Errorf("store: exchange %s meta: %w", e.ID, err)
	}
	e.Release = doc.Release
	if err := json.Unmarshal([]byte(decision), &e.Decision); err != nil {
		return nil, fmt.Errorf("store: exchange %s decision: %w", e.ID, err)
	}
	if envelope != "" {
		e.Envelope = []byte(envelope)
	}
	e.CreatedAt, e.UpdatedAt = e.CreatedAt.UTC(), e.UpdatedAt.UTC()
	e.DeliveredAt, e.AcknowledgedAt, e.ExpiresAt = timeOf(delivered), timeOf(acked), timeOf(expires)
	return &e, nil
}

func (s exchangeStore) Exchange(ctx context.Context, id string) (*exchange.Exchange, error) {
	return scanExchange(s.d.queryRow(ctx, "SELECT "+exchangeColumns+" FROM exchanges WHERE id = $1", id))
}

func (s exchangeStore) Inbox(ctx context.Context, recipient string, q exchange.InboxQuery) ([]*exchange.Exchange, error) {
	args := []any{recipient, q.After}
	query := "SELECT " + exchangeColumns + " FROM exchanges WHERE recipient = $1 AND id > $2"
	if len(q.States) > 0 {
		var in string
		args, in = inList(args, q.States)
		query += " AND state IN " + in
	}
	args = append(args, q.Limit)
	query += fmt.Sprintf(" ORDER BY id LIMIT $%d", len(args))
	return queryAll(ctx, s.d, scanExchange, query, args...)
}

func (s exchangeStore) CountSent(ctx context.Context, sender, recipient, agreement string, since time.Time, exclude string) (int, error) {
	var n int
	err := s.d.queryRow(ctx, `SELECT COUNT(*) FROM exchanges
		WHERE sender = $1 AND recipient = $2 AND agreement_id = $3 AND created_at >= $4 AND id <> $5`,
		sender, recipient, agreement, utc(since), exclude).Scan(&n)
	return n, err
}

func (s exchangeStore) Update(ctx context.Context, fn func(exchange.Tx) error) error {
	return s.d.update(ctx, func(t *tx) error { return fn(t) })
}

func (t *tx) CreateExchange(ctx context.Context, e *exchange.Exchange) error {
	meta, decision, err := exchangeDocs(e)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, "INSERT INTO exchanges ("+exchangeColumns+`) VALUES
		($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)`,
		e.ID, string(e.State), e.Sender, e.Recipient, e.AgreementID, e.AgreementVersion, meta, decision,
		e.Payload.Size, e.Payload.Digest, e.Payload.CiphertextSize, e.Payload.ObjectKey, e.Payload.ObjectVersion, string(e.Envelope),
		utc(e.CreatedAt), utc(e.UpdatedAt), nullTime(e.DeliveredAt), nullTime(e.AcknowledgedAt), nullTime(e.ExpiresAt), e.RequestID)
	if err != nil {
		return fmt.Errorf("store: create exchange: %w", err)
	}
	return t.recordDisclosure(ctx, e)
}

// recordDisclosure keeps, with a new exchange, what the compliance record
// needs: which subjects it concerns (by key), the review an emergency
// override awaits, and the decision about telling the subjects.
func (t *tx) recordDisclosure(ctx context.Context, e *exchange.Exchange) error {
	for _, key := range slices.Compact(slices.Sorted(slices.Values(e.Meta.SubjectKeys))) {
		if _, err := t.exec(ctx, "INSERT INTO exchange_subjects (subject_key, exchange_id) VALUES ($1, $2)", key, e.ID); err != nil {
			return fmt.Errorf("store: subject index: %w", err)
		}
	}
	if e.Decision.Outcome == agreements.AllowOverride {
		if _, err := t.exec(ctx, "INSERT INTO override_reviews (exchange_id, review_by, state, created_at) VALUES ($1, $2, $3, $4)",
			e.ID, utc(e.Decision.ReviewBy), "awaiting", utc(e.CreatedAt)); err != nil {
			return fmt.Errorf("store: override review: %w", err)
		}
	}
	if n := e.Notify; n.State != "" {
		if _, err := t.exec(ctx, "INSERT INTO notifications (exchange_id, state, reason, review_at, updated_by, updated_at, confirm_by) VALUES ($1, $2, $3, $4, $5, $6, $7)",
			e.ID, n.State, n.Reason, nullTime(n.ReviewAt), e.Sender, utc(e.CreatedAt), nullTime(n.ConfirmBy)); err != nil {
			return fmt.Errorf("store: notification: %w", err)
		}
	}
	return nil
}

func (t *tx) LockExchange(ctx context.Context, id string) (*exchange.Exchange, error) {
	return scanExchange(t.queryRow(ctx, "SELECT "+exchangeColumns+" FROM exchanges WHERE id = $1"+t.d.forUpdate, id))
}

func (t *tx) SaveExchange(ctx context.Context, e *exchange.Exchange) error {
	meta, decision, err := exchangeDocs(e)
	if err != nil {
		return err
	}
	res, err := t.exec(ctx, `UPDATE exchanges SET state = $2, agreement_id = $3, agreement_version = $4,
		meta = $5, decision = $6, payload_size = $7, payload_sha256 = $8, ciphertext_size = $9,
		object_key = $10, object_version = $11, envelope = $12, updated_at = $13, delivered_at = $14,
		acknowledged_at = $15, expires_at = $16, request_id = $17
		WHERE id = $1`,
		e.ID, string(e.State), e.AgreementID, e.AgreementVersion, meta, decision,
		e.Payload.Size, e.Payload.Digest, e.Payload.CiphertextSize, e.Payload.ObjectKey, e.Payload.ObjectVersion,
		string(e.Envelope), utc(e.UpdatedAt), nullTime(e.DeliveredAt), nullTime(e.AcknowledgedAt), nullTime(e.ExpiresAt), e.RequestID)
	if err != nil {
		return fmt.Errorf("store: save exchange: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("store: save exchange %s: %w", e.ID, exchange.ErrNotFound)
	}
	return nil
}

// metaDoc is the meta column: what the sender declared and, beside it, a
// DPO's release of the exchange if there is one.
type metaDoc struct {
	*exchange.Meta
	Release *exchange.Release `json:"release,omitempty"`
}

func exchangeDocs(e *exchange.Exchange) (meta, decision string, err error) {
	m, err := json.Marshal(metaDoc{Meta: &e.Meta, Release: e.Release})
	if err != nil {
		return "", "", err
	}
	d, err := json.Marshal(&e.Decision)
	if err != nil {
		return "", "", err
	}
	return string(m), string(d), nil
}

// CountExchanges returns how many exchanges are stored.
func (d *DB) CountExchanges(ctx context.Context) (int, error) {
	var n int
	err := d.queryRow(ctx, "SELECT COUNT(*) FROM exchanges").Scan(&n)
	return n, err
}

func timeOf(t sql.NullTime) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

func (s exchangeStore) Expired(ctx context.Context, before time.Time, limit int) ([]string, error) {
	return queryAll(ctx, s.d, func(row scanner) (id string, err error) { return id, row.Scan(&id) },
		`SELECT id FROM exchanges WHERE object_key <> '' AND expires_at <= $1 ORDER BY expires_at LIMIT $2`, utc(before), limit)
}

// ReserveVolume counts one more exchange from sender to recipient under
// agreement on day (UTC). With limit > 0 it does so only while fewer than
// limit are counted, and reports false (changing nothing) once limit are:
// the conditional update runs under the row's lock, so concurrent
// declarations, on one node or several, can never together pass the limit.
func (t *tx) ReserveVolume(ctx context.Context, agreement, sender, recipient string, day time.Time, limit int) (bool, error) {
	if limit <= 0 {
		limit = math.MaxInt32
	}
	res, err := t.exec(ctx, `INSERT INTO volume_reservations (agreement_id, sender, recipient, day, reserved)
		VALUES ($1, $2, $3, $4, 1)
		ON CONFLICT (agreement_id, sender, recipient, day)
		DO UPDATE SET reserved = volume_reservations.reserved + 1 WHERE volume_reservations.reserved < $5`,
		agreement, sender, recipient, day.UTC().Format(time.DateOnly), limit)
	if err != nil {
		return false, fmt.Errorf("store: reserve volume: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: reserve volume: %w", err)
	}
	return n == 1, nil
}
