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
	return queryAll(ctx, s.d, func(row scanner) (e audit.Entry, err error) {
		var body []byte
		if err := row.Scan(&body); err != nil {
			return e, err
		}
		if err := json.Unmarshal(body, &e); err != nil {
			return e, fmt.Errorf("store: audit entry: %w", err)
		}
		return e, nil
	}, "SELECT body FROM audit_log WHERE type = $1 AND time >= $2 AND time < $3 ORDER BY seq", typ, utc(from), utc(to))
}

func (s complianceStore) Exchange(ctx context.Context, id string) (*exchange.Exchange, error) {
	return exchangeStore(s).Exchange(ctx, id)
}

func (s complianceStore) Request(ctx context.Context, id string) (*exchange.Request, error) {
	return exchangeStore(s).Request(ctx, id)
}

func (s complianceStore) SubjectExchanges(ctx context.Context, subjectKey string) ([]*exchange.Exchange, error) {
	return queryAll(ctx, s.d, scanExchange, "SELECT "+exchangeColumns+` FROM exchanges
		WHERE id IN (SELECT exchange_id FROM exchange_subjects WHERE subject_key = $1) ORDER BY id`, subjectKey)
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
	return queryAll(ctx, s.d, scanOverride, "SELECT "+overrideColumns+" FROM override_reviews ORDER BY review_by, exchange_id")
}

func (t *tx) LockOverride(ctx context.Context, exchangeID string) (*compliance.Override, error) {
	return scanOverride(t.queryRow(ctx, "SELECT "+overrideColumns+" FROM override_reviews WHERE exchange_id = $1"+t.d.forUpdate, exchangeID))
}

func (t *tx) SaveOverride(ctx context.Context, o *compliance.Override) error {
	_, err := t.exec(ctx, "UPDATE override_reviews SET state = $2, outcome = $3, notes = $4, reviewer = $5, reviewed_at = $6 WHERE exchange_id = $1",
		o.ExchangeID, o.State, o.Outcome, o.Notes, o.Reviewer, nullTime(o.ReviewedAt))
	return err
}

const notificationColumns = "exchange_id, state, reason, review_at, updated_by, updated_at, confirm_by, confirmed_by, confirmed_at"

func scanNotification(row scanner) (*compliance.Notification, error) {
	var (
		n                            compliance.Notification
		review, confirmBy, confirmed sql.NullTime
	)
	err := row.Scan(&n.ExchangeID, &n.State, &n.Reason, &review, &n.UpdatedBy, &n.UpdatedAt, &confirmBy, &n.ConfirmedBy, &confirmed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, compliance.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	n.ReviewAt, n.UpdatedAt = timeOf(review), n.UpdatedAt.UTC()
	n.ConfirmBy, n.ConfirmedAt = timeOf(confirmBy), timeOf(confirmed)
	return &n, nil
}

func (s complianceStore) Notifications(ctx context.Context, states ...string) ([]*compliance.Notification, error) {
	args, in := inList(nil, states)
	return queryAll(ctx, s.d, scanNotification, "SELECT "+notificationColumns+" FROM notifications WHERE state IN "+in+" ORDER BY exchange_id", args...)
}

func (s complianceStore) Notification(ctx context.Context, exchangeID string) (*compliance.Notification, error) {
	return scanNotification(s.d.queryRow(ctx, "SELECT "+notificationColumns+" FROM notifications WHERE exchange_id = $1", exchangeID))
}

func (t *tx) LockNotification(ctx context.Context, exchangeID string) (*compliance.Notification, error) {
	return scanNotification(t.queryRow(ctx, "SELECT "+notificationColumns+" FROM notifications WHERE exchange_id = $1"+t.d.forUpdate, exchangeID))
}

func (t *tx) SaveNotification(ctx context.Context, n *compliance.Notification) error {
	_, err := t.exec(ctx, `UPDATE notifications SET state = $2, reason = $3, review_at = $4, updated_by = $5, updated_at = $6,
		confirm_by = $7, confirmed_by = $8, confirmed_at = $9 WHERE exchange_id = $1`,
		n.ExchangeID, n.State, n.Reason, nullTime(n.ReviewAt), n.UpdatedBy, utc(n.UpdatedAt), nullTime(n.ConfirmBy), n.ConfirmedBy, nullTime(n.ConfirmedAt))
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
	return queryAll(ctx, s.d, scanNotice, "SELECT "+noticeColumns+" FROM notices n JOIN rectifications r ON r.id = n.rectification_id "+where+" ORDER BY n.id", args...)
}

func (s complianceStore) Notices(ctx context.Context, recipient string, pending bool) ([]*compliance.Notice, error) {
	where := "WHERE n.recipient = $1"
	if pending {
		where += " AND n.acknowledged_at IS NULL"
	}
	return s.notices(ctx, where, recipient)
}

func (s complianceStore) Rectifications(ctx context.Context, subjectKey string) ([]*compliance.Rectification, error) {
	query, where := "SELECT "+rectificationColumns+" FROM rectifications", ""
	var args []any
	if subjectKey != "" {
		query, where, args = query+" WHERE subject_key = $1", "WHERE r.subject_key = $1", []any{subjectKey}
	}
	out, err := queryAll(ctx, s.d, scanRectification, query+" ORDER BY id", args...)
	if err != nil {
		return nil, err
	}
	byID := map[string]*compliance.Rectification{}
	for _, r := range out {
		byID[r.ID] = r
	}
	ns, err := s.notices(ctx, where, args...)
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
	r, err := scanRectification(s.d.queryRow(ctx, "SELECT "+rectificationColumns+" FROM rectifications WHERE id = $1", id))
	if err != nil {
		return nil, err
	}
	r.Notices, err = s.notices(ctx, "WHERE n.rectification_id = $1", id)
	return r, err
}

const rectificationColumns = "id, subject_key, action, description, recorded_by, created_at"

func scanRectification(row scanner) (*compliance.Rectification, error) {
	var r compliance.Rectification
	err := row.Scan(&r.ID, &r.SubjectKey, &r.Action, &r.Description, &r.RecordedBy, &r.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, compliance.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	r.CreatedAt = r.CreatedAt.UTC()
	return &r, nil
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
