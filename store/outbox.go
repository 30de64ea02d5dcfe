package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/alerts"
	"github.com/gatehouse-gw/gatehouse/audit"
)

// The outbox (docs/alerts.md): events are written by AppendAudit, in the
// transaction of the change they announce, and by Emit; the dispatcher
// routes them to deliveries and claims those under a lease.

// Outbox returns the outbox view of d.
func (d *DB) Outbox() alerts.Store { return outboxStore{d} }

type outboxStore struct{ d *DB }

var _ alerts.Store = outboxStore{}

// emitFor writes the events an audit entry causes, in its transaction.
func (t *tx) emitFor(ctx context.Context, e *audit.Entry) error {
	evs, err := alerts.FromAudit(e, txLookup{ctx, t})
	if err != nil {
		return fmt.Errorf("store: outbox: %w", err)
	}
	return insertEvents(ctx, t, evs)
}

type txLookup struct {
	ctx context.Context
	t   *tx
}

func (l txLookup) AgreementParties(ref string) ([]string, error) {
	id, v, err := agreements.ParseRef(ref)
	if err != nil {
		return nil, nil // not an agreement version: nobody to tell
	}
	a, err := queryDoc[agreements.Agreement](l.ctx, l.t.tx, "SELECT doc FROM agreements WHERE id = $1 AND version = $2", id, v)
	if errors.Is(err, agreements.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return alerts.FlowParties(a), nil
}

// insertEvents writes events with the prepared statement of the
// connection (each delivered exchange writes one, in the transaction of its
// audit entry: parsing the statement every time cost more than running it).
func insertEvents(ctx context.Context, t *tx, evs []alerts.Event) error {
	for _, ev := range evs {
		data, err := json.Marshal(ev.Data)
		if err != nil {
			return err
		}
		if _, err := t.exec(ctx, `INSERT INTO outbox_events (id, type, created_at, party, roles, data) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (id) DO NOTHING`, ev.ID, ev.Type, utc(ev.Time), ev.Party, strings.Join(ev.Roles, " "), string(data)); err != nil {
			return fmt.Errorf("store: outbox: %w", err)
		}
	}
	return nil
}

func (s outboxStore) Emit(ctx context.Context, evs []alerts.Event) error {
	if len(evs) == 0 {
		return nil
	}
	return s.d.update(ctx, func(t *tx) error { return insertEvents(ctx, t, evs) })
}

const eventColumns = "e.id, e.type, e.created_at, e.party, e.roles, e.data"

func scanEvent(dest []any, ev *alerts.Event, roles, data *string) []any {
	return append(dest, &ev.ID, &ev.Type, &ev.Time, &ev.Party, roles, data)
}

func finishEvent(ev *alerts.Event, roles, data string) error {
	ev.Time = ev.Time.UTC()
	ev.Roles = strings.Fields(roles)
	if err := json.Unmarshal([]byte(data), &ev.Data); err != nil {
		return fmt.Errorf("store: outbox event %s: %w", ev.ID, err)
	}
	return nil
}

func (s outboxStore) Unrouted(ctx context.Context, limit int) ([]alerts.Event, error) {
	return queryAll(ctx, s.d, func(row scanner) (alerts.Event, error) {
		var (
			ev          alerts.Event
			roles, data string
		)
		if err := row.Scan(scanEvent(nil, &ev, &roles, &data)...); err != nil {
			return ev, err
		}
		return ev, finishEvent(&ev, roles, data)
	}, "SELECT "+eventColumns+" FROM outbox_events e WHERE NOT e.routed ORDER BY e.created_at, e.id LIMIT $1", limit)
}

// outboxTx runs fn in a transaction of its own: the outbox's bookkeeping
// is not audited, so it does not queue behind the audit chain's head.
func (s outboxStore) outboxTx(ctx context.Context, fn func(*sql.Tx) error) error {
	sqlTx, err := s.d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	if err := fn(sqlTx); err != nil {
		_ = sqlTx.Rollback()
		return err
	}
	return sqlTx.Commit()
}

func (s outboxStore) Route(ctx context.Context, rs []alerts.Routing, now time.Time) error {
	if len(rs) == 0 {
		return nil
	}
	return s.outboxTx(ctx, func(t *sql.Tx) error {
		for _, r := range rs {
			for _, tg := range r.Targets {
				if _, err := t.ExecContext(ctx, `INSERT INTO outbox_deliveries (event_id, channel, target, state, next_at, created_at)
					VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (event_id, channel, target) DO NOTHING`,
					r.Event, tg.Channel, tg.Target, alerts.StatePending, utc(now)); err != nil {
					return fmt.Errorf("store: route event: %w", err)
				}
			}
			if _, err := t.ExecContext(ctx, "UPDATE outbox_events SET routed = TRUE WHERE id = $1", r.Event); err != nil {
				return fmt.Errorf("store: route event: %w", err)
			}
		}
		return nil
	})
}

const deliveryColumns = `d.id, d.channel, d.target, d.state, d.attempts, d.next_at, d.last_at, d.last_error, d.delivered_at, d.created_at, ` + eventColumns

func scanDelivery(row scanner) (alerts.Delivery, error) {
	var (
		d               alerts.Delivery
		last, delivered sql.NullTime
		roles, data     string
	)
	dest := []any{&d.ID, &d.Channel, &d.Target, &d.State, &d.Attempts, &d.NextAt, &last, &d.LastError, &delivered, &d.CreatedAt}
	if err := row.Scan(scanEvent(dest, &d.Event, &roles, &data)...); err != nil {
		return d, err
	}
	d.NextAt, d.CreatedAt = d.NextAt.UTC(), d.CreatedAt.UTC()
	d.LastAt, d.DeliveredAt = timeOf(last), timeOf(delivered)
	return d, finishEvent(&d.Event, roles, data)
}

const deliveryFrom = " FROM outbox_deliveries d JOIN outbox_events e ON e.id = d.event_id"

func (s outboxStore) Claim(ctx context.Context, holder string, now, until time.Time, limit int) ([]alerts.Delivery, error) {
	now, until = utc(now), utc(until)
	due := `SELECT id FROM outbox_deliveries WHERE state = $1 AND next_at <= $2 AND (lease_until IS NULL OR lease_until <= $2)
		ORDER BY next_at, id LIMIT $3`
	// A quick look first, so that an idle outbox costs no write.
	var n int
	if err := s.d.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM ("+due+") AS due", alerts.StatePending, now, limit).Scan(&n); err != nil || n == 0 {
		return nil, err
	}
	if s.d.driver == Postgres {
		due += " FOR UPDATE SKIP LOCKED"
	}
	var ids []int64
	err := s.outboxTx(ctx, func(t *sql.Tx) error {
		ids = ids[:0]
		rows, err := t.QueryContext(ctx, due, alerts.StatePending, now, limit)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, id := range ids {
			if _, err := t.ExecContext(ctx, "UPDATE outbox_deliveries SET lease_holder = $1, lease_until = $2 WHERE id = $3", holder, until, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	out := make([]alerts.Delivery, 0, len(ids))
	for _, id := range ids {
		d, err := scanDelivery(s.d.db.QueryRowContext(ctx, "SELECT "+deliveryColumns+deliveryFrom+" WHERE d.id = $1", id))
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

func (s outboxStore) Finish(ctx context.Context, id int64, holder string, now time.Time, errText string, next time.Time) error {
	now = utc(now)
	var (
		query string
		args  []any
	)
	switch {
	case errText == "":
		query = `UPDATE outbox_deliveries SET state = $1, attempts = attempts + 1, last_at = $2, delivered_at = $2, last_error = '',
			lease_holder = '', lease_until = NULL WHERE id = $3 AND lease_holder = $4`
		args = []any{alerts.StateDelivered, now, id, holder}
	case next.IsZero():
		query = `UPDATE outbox_deliveries SET state = $1, attempts = attempts + 1, last_at = $2, last_error = $3,
			lease_holder = '', lease_until = NULL WHERE id = $4 AND lease_holder = $5`
		args = []any{alerts.StateFailed, now, errText, id, holder}
	default:
		query = `UPDATE outbox_deliveries SET attempts = attempts + 1, last_at = $1, last_error = $2, next_at = $3,
			lease_holder = '', lease_until = NULL WHERE id = $4 AND lease_holder = $5`
		args = []any{now, errText, utc(next), id, holder}
	}
	_, err := s.d.db.ExecContext(ctx, query, args...)
	return err
}

func (s outboxStore) Deliveries(ctx context.Context, q alerts.Query) ([]alerts.Delivery, error) {
	if q.Limit <= 0 || q.Limit > 500 {
		q.Limit = 100
	}
	before := q.Before
	if before <= 0 {
		before = 1<<63 - 1
	}
	args := []any{before}
	query := "SELECT " + deliveryColumns + deliveryFrom + " WHERE d.id < $1"
	if q.State != "" {
		args = append(args, q.State)
		query += " AND d.state = $2"
	}
	args = append(args, q.Limit)
	query += fmt.Sprintf(" ORDER BY d.id DESC LIMIT $%d", len(args))
	return queryAll(ctx, s.d, scanDelivery, query, args...)
}

func (s outboxStore) delivery(ctx context.Context, q querier, id int64) (alerts.Delivery, error) {
	d, err := scanDelivery(q.QueryRowContext(ctx, "SELECT "+deliveryColumns+deliveryFrom+" WHERE d.id = $1", id))
	if errors.Is(err, sql.ErrNoRows) {
		return d, alerts.ErrNotFound
	}
	return d, err
}

func (s outboxStore) Retry(ctx context.Context, id int64, now time.Time, entry *audit.Entry) (alerts.Delivery, error) {
	var out alerts.Delivery
	err := s.d.update(ctx, func(t *tx) error {
		d, err := s.delivery(ctx, t.tx, id)
		if err != nil {
			return err
		}
		if d.State == alerts.StateDelivered {
			return alerts.ErrState
		}
		if err := t.AppendAudit(ctx, entry); err != nil {
			return err
		}
		if _, err := t.tx.ExecContext(ctx, "UPDATE outbox_deliveries SET state = $1, next_at = $2 WHERE id = $3",
			alerts.StatePending, utc(now), id); err != nil {
			return err
		}
		out, err = s.delivery(ctx, t.tx, id)
		return err
	})
	return out, err
}

func (s outboxStore) Depth(ctx context.Context) (alerts.Depth, error) {
	out := alerts.Depth{Pending: map[string]int{}, Failed: map[string]int{}}
	err := s.d.read(ctx, func(q querier) error {
		if err := q.QueryRowContext(ctx, "SELECT COUNT(*) FROM outbox_events WHERE NOT routed").Scan(&out.Unrouted); err != nil {
			return err
		}
		rows, err := q.QueryContext(ctx, "SELECT state, channel, COUNT(*) FROM outbox_deliveries WHERE state <> $1 GROUP BY state, channel", alerts.StateDelivered)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				state, channel string
				n              int
			)
			if err := rows.Scan(&state, &channel, &n); err != nil {
				return err
			}
			if state == alerts.StateFailed {
				out.Failed[channel] = n
			} else {
				out.Pending[channel] = n
			}
		}
		return rows.Err()
	})
	return out, err
}

// OverridesAwaiting counts emergency overrides that await the DPO's review.
func (d *DB) OverridesAwaiting(ctx context.Context) (int, error) {
	var n int
	err := d.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM override_reviews WHERE state = 'awaiting'").Scan(&n)
	return n, err
}

// DueBefore lists what falls due before a time, overdue included:
// overrides awaiting review, notifications due or withheld until a
// review, withholdings awaiting a DPO's confirmation, open requests with a
// deadline.
func (d *DB) DueBefore(ctx context.Context, before time.Time) ([]alerts.Due, error) {
	before = utc(before)
	var out []alerts.Due
	err := d.read(ctx, func(q querier) error {
		// Each row is an id, one or two times (the first set is the
		// deadline) and a party.
		scan := func(kind, query string, args ...any) error {
			rows, err := q.QueryContext(ctx, query, args...)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var (
					it     alerts.Due
					t1, t2 sql.NullTime
				)
				it.Kind = kind
				if err := rows.Scan(&it.ID, &t1, &t2, &it.Party); err != nil {
					return err
				}
				it.Deadline = timeOf(t1)
				if !t1.Valid {
					it.Deadline = timeOf(t2)
				}
				if it.Deadline.Before(before) {
					out = append(out, it)
				}
			}
			return rows.Err()
		}
		if err := scan(alerts.DueOverride, "SELECT exchange_id, review_by, NULL, '' FROM override_reviews WHERE state = 'awaiting' AND review_by < $1 ORDER BY review_by", before); err != nil {
			return err
		}
		if err := scan(alerts.DueNotification, `SELECT exchange_id, review_at, updated_at, '' FROM notifications
			WHERE state = 'due' OR (state = 'withheld' AND review_at IS NOT NULL AND review_at < $1) ORDER BY exchange_id`, before); err != nil {
			return err
		}
		// A withholding no DPO has confirmed is due at confirm_by (at once
		// if it has none).
		if err := scan(alerts.DueConfirmation, `SELECT exchange_id, confirm_by, updated_at, '' FROM notifications
			WHERE state = 'withheld' AND confirmed_at IS NULL AND (confirm_by IS NULL OR confirm_by < $1) ORDER BY exchange_id`, before); err != nil {
			return err
		}
		return scan(alerts.DueRequest, `SELECT id, deadline, NULL, handler FROM requests
			WHERE state IN ('open', 'accepted') AND deadline IS NOT NULL AND deadline < $1 ORDER BY deadline`, before)
	})
	return out, err
}
