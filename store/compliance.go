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
	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/compliance"
	"github.com/gatehouse-gw/gatehouse/exchange"
)

// Compliance returns the compliance record's view of d.
func (d *DB) Compliance() compliance.Store { return complianceStore{d} }

type complianceStore struct{ d *DB }

var (
	_ compliance.Store = complianceStore{}
	_ compliance.Tx    = (*tx)(nil)
)

func (s complianceStore) Update(ctx context.Context, fn func(compliance.Tx) error) error {
	return s.d.update(ctx, func(t *tx) error { return fn(t) })
}

func (s complianceStore) AuditEntries(ctx context.Context, typ string, from, to time.Time) ([]audit.Entry, error) {
	rows, err := s.d.query(ctx, "SELECT body FROM audit_log WHERE type = $1 AND time >= $2 AND time < $3 ORDER BY seq",
		typ, utc(from), utc(to))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []audit.Entry
	for rows.Next() {
		var body []byte
		if err := rows.Scan(&body); err != nil {
			return nil, err
		}
		var e audit.Entry
		if err := json.Unmarshal(body, &e); err != nil {
			return nil, fmt.Errorf("store: audit entry: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func (s complianceStore) Exchange(ctx context.Context, id string) (*exchange.Exchange, error) {
	return exchangeStore(s).Exchange(ctx, id)
}

func (s complianceStore) Request(ctx context.Context, id string) (*exchange.Request, error) {
	return exchangeStore(s).Request(ctx, id)
}

func (s complianceStore) SubjectExchanges(ctx context.Context, subjectKey string) ([]*exchange.Exchange, error) {
	rows, err := s.d.query(ctx, "SELECT "+exchangeColumns+` FROM exchanges
		WHERE id IN (SELECT exchange_id FROM exchange_subjects WHERE subject_key = $1) ORDER BY id`, subjectKey)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*exchange.Exchange
	for rows.Next() {
		e, err := scanExchange(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func (s complianceStore) Parties(ctx context.Context) ([]*agreements.Party, error) {
	return s.d.Parties(ctx)
}

func (s complianceStore) AgreementVersions(ctx context.Context, id string) ([]*agreements.Agreement, error) {
	return s.d.AgreementVersions(ctx, id)
}

const overrideColumns = "exchange_id, review_by, state, outcome, notes, reviewer, reviewed_at, created_at"

func scanOverride(row scanner) (*compliance.Override, error) {
	var (
		o        compliance.Override
		reviewed sql.NullTime
	)
	err := row.Scan(&o.ExchangeID, &o.ReviewBy, &o.State, &o.Outcome, &o.Notes, &o.Reviewer, &reviewed, &o.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, compliance.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	o.ReviewBy, o.CreatedAt, o.ReviewedAt = o.ReviewBy.UTC(), o.CreatedAt.UTC(), timeOf(reviewed)
	return &o, nil
}

func (s complianceStore) Overrides(ctx context.Context) ([]*compliance.Override, error) {
	rows, err := s.d.query(ctx, "SELECT "+overrideColumns+" FROM override_reviews ORDER BY review_by, exchange_id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*compliance.Override
	for rows.Next() {
		o, err := scanOverride(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

func (t *tx) LockOverride(ctx context.Context, exchangeID string) (*compliance.Override, error) {
	return scanOverride(t.queryRow(ctx, "SELECT "+overrideColumns+" FROM override_reviews WHERE exchange_id = $1"+t.d.forUpdate, exchangeID))
}

func (t *tx) SaveOverride(ctx context.Context, o *compliance.Override) error {
	_, err := t.exec(ctx, "UPDATE override_reviews SET state = $2, outcome = $3, notes = $4, reviewer = $5, reviewed_at = $6 WHERE exchange_id = $1",
		o.ExchangeID, o.State, o.Outcome, o.Notes, o.Reviewer, nullTime(o.ReviewedAt))
	return err
}

const notificationColumns = "exchange_id, state, reason, review_at, updated_by, updated_at"

func scanNotification(row scanner) (*compliance.Notification, error) {
	var (
		n      compliance.Notification
		review sql.NullTime
	)
	err := row.Scan(&n.ExchangeID, &n.State, &n.Reason, &review, &n.UpdatedBy, &n.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, compliance.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	n.ReviewAt, n.UpdatedAt = timeOf(review), n.UpdatedAt.UTC()
	return &n, nil
}

func (s complianceStore) Notifications(ctx context.Context, states ...string) ([]*compliance.Notification, error) {
	args := make([]any, len(states))
	marks := make([]string, len(states))
	for i, st := range states {
		args[i], marks[i] = st, fmt.Sprintf("$%d", i+1)
	}
	rows, err := s.d.query(ctx, "SELECT "+notificationColumns+" FROM notifications WHERE state IN ("+strings.Join(marks, ", ")+") ORDER BY exchange_id", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*compliance.Notification
	for rows.Next() {
		n, err := scanNotification(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

func (s complianceStore) Notification(ctx context.Context, exchangeID string) (*compliance.Notification, error) {
	return scanNotification(s.d.queryRow(ctx, "SELECT "+notificationColumns+" FROM notifications WHERE exchange_id = $1", exchangeID))
}

func (t *tx) LockNotification(ctx context.Context, exchangeID string) (*compliance.Notification, error) {
	return scanNotification(t.queryRow(ctx, "SELECT "+notificationColumns+" FROM notifications WHERE exchange_id = $1"+t.d.forUpdate, exchangeID))
}

func (t *tx) SaveNotification(ctx context.Context, n *compliance.Notification) error {
	_, err := t.exec(ctx, "UPDATE notifications SET state = $2, reason = $3, review_at = $4, updated_by = $5, updated_at = $6 WHERE exchange_id = $1",
		n.ExchangeID, n.State, n.Reason, nullTime(n.ReviewAt), n.UpdatedBy, utc(n.UpdatedAt))
	return err
}

func (t *tx) CreateRectification(ctx context.Context, r *compliance.Rectification) error {
	if _, err := t.exec(ctx, "INSERT INTO rectifications (id, subject_key, action, description, recorded_by, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
		r.ID, r.SubjectKey, r.Action, r.Description, r.RecordedBy, utc(r.CreatedAt)); err != nil {
		return fmt.Errorf("store: rectification: %w", err)
	}
	for _, n := range r.Notices {
		if _, err := t.exec(ctx, "INSERT INTO notices (id, rectification_id, recipient, exchanges, sent_at) VALUES ($1, $2, $3, $4, $5)",
			n.ID, r.ID, n.Recipient, strings.Join(n.Exchanges, " "), utc(n.SentAt)); err != nil {
			return fmt.Errorf("store: notice: %w", err)
		}
	}
	return nil
}

const noticeColumns = `n.id, n.rectification_id, n.recipient, n.exchanges, n.sent_at, n.acknowledged_at, r.action, r.description`

func scanNotice(row scanner) (*compliance.Notice, error) {
	var (
		n     compliance.Notice
		exs   string
		acked sql.NullTime
	)
	err := row.Scan(&n.ID, &n.RectificationID, &n.Recipient, &exs, &n.SentAt, &acked, &n.Action, &n.Description)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, compliance.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	n.Exchanges, n.SentAt, n.AcknowledgedAt = strings.Fields(exs), n.SentAt.UTC(), timeOf(acked)
	return &n, nil
}

func (s complianceStore) notices(ctx context.Context, where string, args ...any) ([]*compliance.Notice, error) {
	rows, err := s.d.query(ctx, "SELECT "+noticeColumns+" FROM notices n JOIN rectifications r ON r.id = n.rectification_id "+where+" ORDER BY n.id", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*compliance.Notice
	for rows.Next() {
		n, err := scanNotice(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

func (s complianceStore) Notices(ctx context.Context, recipient string, pending bool) ([]*compliance.Notice, error) {
	where := "WHERE n.recipient = $1"
	if pending {
		where += " AND n.acknowledged_at IS NULL"
	}
	return s.notices(ctx, where, recipient)
}

func (s complianceStore) Rectifications(ctx context.Context, subjectKey string) ([]*compliance.Rectification, error) {
	query := "SELECT id, subject_key, action, description, recorded_by, created_at FROM rectifications"
	var args []any
	if subjectKey != "" {
		query += " WHERE subject_key = $1"
		args = append(args, subjectKey)
	}
	rows, err := s.d.query(ctx, query+" ORDER BY id", args...)
	if err != nil {
		return nil, err
	}
	var (
		out  []*compliance.Rectification
		byID = map[string]*compliance.Rectification{}
	)
	for rows.Next() {
		var r compliance.Rectification
		if err := rows.Scan(&r.ID, &r.SubjectKey, &r.Action, &r.Description, &r.RecordedBy, &r.CreatedAt); err != nil {
			rows.Close()
			return nil, err
		}
		r.CreatedAt = r.CreatedAt.UTC()
		out = append(out, &r)
		byID[r.ID] = &r
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	where, nargs := "", []any(nil)
	if subjectKey != "" {
		where, nargs = "WHERE r.subject_key = $1", []any{subjectKey}
	}
	ns, err := s.notices(ctx, where, nargs...)
	if err != nil {
		return nil, err
	}
	for _, n := range ns {
		if r := byID[n.RectificationID]; r != nil {
			r.Notices = append(r.Notices, n)
		}
	}
	return out, nil
}

func (s complianceStore) Rectification(ctx context.Context, id string) (*compliance.Rectification, error) {
	var r compliance.Rectification
	err := s.d.queryRow(ctx, "SELECT id, subject_key, action, description, recorded_by, created_at FROM rectifications WHERE id = $1", id).
		Scan(&r.ID, &r.SubjectKey, &r.Action, &r.Description, &r.RecordedBy, &r.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, compliance.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	r.CreatedAt = r.CreatedAt.UTC()
	r.Notices, err = s.notices(ctx, "WHERE n.rectification_id = $1", id)
	return &r, err
}

func (s complianceStore) KeyResource(ctx context.Context, scope, key string) (string, string, error) {
	return exchangeStore(s).KeyResource(ctx, scope, key)
}

func (t *tx) LockNotice(ctx context.Context, id string) (*compliance.Notice, error) {
	lock := ""
	if t.d.forUpdate != "" {
		lock = " FOR UPDATE OF n"
	}
	return scanNotice(t.queryRow(ctx, "SELECT "+noticeColumns+" FROM notices n JOIN rectifications r ON r.id = n.rectification_id WHERE n.id = $1"+lock, id))
}

func (t *tx) SaveNotice(ctx context.Context, n *compliance.Notice) error {
	_, err := t.exec(ctx, "UPDATE notices SET acknowledged_at = $2 WHERE id = $1", n.ID, nullTime(n.AcknowledgedAt))
	return err
}
