package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gatehouse-gw/gatehouse/exchange"
)

const requestColumns = `id, state, requester, handler, agreement_id, agreement_version, meta, decision, response,
	deadline, created_at, updated_at`

func scanRequest(row scanner) (*exchange.Request, error) {
	var (
		r                               exchange.Request
		state, meta, decision, response string
		deadline                        sql.NullTime
	)
	err := row.Scan(&r.ID, &state, &r.Requester, &r.Handler, &r.AgreementID, &r.AgreementVersion, &meta, &decision, &response,
		&deadline, &r.CreatedAt, &r.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, exchange.ErrRequestNotFound
	}
	if err != nil {
		return nil, err
	}
	r.State = exchange.RequestState(state)
	if err := json.Unmarshal([]byte(meta), &r.Meta); err != nil {
		return nil, fmt.Errorf("store: request %s meta: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(decision), &r.Decision); err != nil {
		return nil, fmt.Errorf("store: request %s decision: %w", r.ID, err)
	}
	if response != "" {
		if err := json.Unmarshal([]byte(response), &r.Response); err != nil {
			return nil, fmt.Errorf("store: request %s response: %w", r.ID, err)
		}
	}
	r.Deadline = timeOf(deadline)
	r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	return &r, nil
}

func requestDocs(r *exchange.Request) (meta, decision, response string, err error) {
	m, err := json.Marshal(&r.Meta)
	if err != nil {
		return "", "", "", err
	}
	d, err := json.Marshal(&r.Decision)
	if err != nil {
		return "", "", "", err
	}
	resp, err := json.Marshal(&r.Response)
	if err != nil {
		return "", "", "", err
	}
	return string(m), string(d), string(resp), nil
}

func (s exchangeStore) Request(ctx context.Context, id string) (*exchange.Request, error) {
	return scanRequest(s.d.queryRow(ctx, "SELECT "+requestColumns+" FROM requests WHERE id = $1", id))
}

func (s exchangeStore) Requests(ctx context.Context, q exchange.RequestQuery) ([]*exchange.Request, error) {
	col, party := "handler", q.Handler
	if q.Handler == "" {
		col, party = "requester", q.Requester
	}
	args := []any{party, q.After}
	query := "SELECT " + requestColumns + " FROM requests WHERE " + col + " = $1 AND id > $2"
	if len(q.States) > 0 {
		var in string
		args, in = inList(args, q.States)
		query += " AND state IN " + in
	}
	args = append(args, q.Limit)
	query += fmt.Sprintf(" ORDER BY id LIMIT $%d", len(args))
	return queryAll(ctx, s.d, scanRequest, query, args...)
}

func (t *tx) CreateRequest(ctx context.Context, r *exchange.Request) error {
	meta, decision, response, err := requestDocs(r)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, "INSERT INTO requests ("+requestColumns+`) VALUES
		($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		r.ID, string(r.State), r.Requester, r.Handler, r.AgreementID, r.AgreementVersion, meta, decision, response,
		nullTime(r.Deadline), utc(r.CreatedAt), utc(r.UpdatedAt))
	if err != nil {
		return fmt.Errorf("store: create request: %w", err)
	}
	return nil
}

func (t *tx) LockRequest(ctx context.Context, id string) (*exchange.Request, error) {
	return scanRequest(t.queryRow(ctx, "SELECT "+requestColumns+" FROM requests WHERE id = $1"+t.d.forUpdate, id))
}

func (t *tx) SaveRequest(ctx context.Context, r *exchange.Request) error {
	meta, decision, response, err := requestDocs(r)
	if err != nil {
		return err
	}
	res, err := t.exec(ctx, `UPDATE requests SET state = $2, meta = $3, decision = $4, response = $5, updated_at = $6 WHERE id = $1`,
		r.ID, string(r.State), meta, decision, response, utc(r.UpdatedAt))
	if err != nil {
		return fmt.Errorf("store: save request: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("store: save request %s: %w", r.ID, exchange.ErrRequestNotFound)
	}
	return nil
}
