package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/exchange"
)

// DecisionQuery selects decisions from the audit record: those on
// exchanges and on information requests, in [From, To), newest first.
// Party matches the party that asked or the one the decision was about
// (recipient or handler); Agreement is an agreement id (any version);
// Outcome is allow, deny or allow-override. Empty fields match all.
type DecisionQuery struct {
	From, To  time.Time
	Party     string
	Agreement string
	Outcome   string
	// Limit and Offset page the results; Limit must be positive.
	Limit, Offset int
}

// ErrNoDecision is returned for an audit sequence number that holds no
// decision.
var ErrNoDecision = errors.New("store: no decision with that number")

// decisionQueries are the dialects' forms of the same query: the
// filters are fixed parameters (an empty one matches all), so that the
// statement is prepared once.
var decisionQueries = map[string]string{
	SQLite: `SELECT body FROM audit_log
		WHERE type IN ($1, $2) AND time >= $3 AND time < $4
		AND ($5 = '' OR json_extract(body, '$.actor') = $5 OR json_extract(body, '$.recipient') = $5)
		AND ($6 = '' OR json_extract(body, '$.agreement') = $6 OR json_extract(body, '$.agreement') LIKE $6 || '@%')
		AND ($7 = '' OR json_extract(body, '$.outcome') = $7)
		ORDER BY seq DESC LIMIT $8 OFFSET $9`,
	Postgres: `SELECT body FROM audit_log
		WHERE type IN ($1, $2) AND time >= $3 AND time < $4
		AND ($5::text = '' OR (body::jsonb)->>'actor' = $5::text OR (body::jsonb)->>'recipient' = $5::text)
		AND ($6::text = '' OR (body::jsonb)->>'agreement' = $6::text OR (body::jsonb)->>'agreement' LIKE $6::text || '@%')
		AND ($7::text = '' OR (body::jsonb)->>'outcome' = $7::text)
		ORDER BY seq DESC LIMIT $8 OFFSET $9`,
}

// Decisions returns the decisions q selects. Subjects appear in them only
// as keyed HMACs, as in every audit entry.
func (d *DB) Decisions(ctx context.Context, q DecisionQuery) ([]audit.Entry, error) {
	if q.Limit <= 0 {
		return nil, errors.New("store: a decision query needs a positive limit")
	}
	return queryAll(ctx, d, scanEntry, decisionQueries[d.driver],
		audit.TypeExchangeDecided, exchange.TypeRequestDecided, utc(q.From), utc(q.To),
		q.Party, q.Agreement, q.Outcome, q.Limit, max(q.Offset, 0))
}

// Decision returns the decision recorded at seq.
func (d *DB) Decision(ctx context.Context, seq int64) (audit.Entry, error) {
	e, err := scanEntry(d.queryRow(ctx, "SELECT body FROM audit_log WHERE seq = $1 AND type IN ($2, $3)",
		seq, audit.TypeExchangeDecided, exchange.TypeRequestDecided))
	if errors.Is(err, sql.ErrNoRows) {
		return e, ErrNoDecision
	}
	return e, err
}

func scanEntry(row scanner) (e audit.Entry, err error) {
	var body []byte
	if err := row.Scan(&body); err != nil {
		return e, err
	}
	if err := json.Unmarshal(body, &e); err != nil {
		return e, fmt.Errorf("store: audit entry: %w", err)
	}
	return e, nil
}
