package store

import (
	"context"
	"database/sql"
	"sync"
)

// Statement cache. SQLite (and PostgreSQL) parse every query text they are
// given; the gateway's queries are a small fixed set, so each is prepared
// once per connection and reused. database/sql keeps a prepared copy on each
// connection that runs it, transactions included.

type stmtCache struct {
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

func (d *DB) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	d.stmts.mu.Lock()
	s := d.stmts.m[query]
	d.stmts.mu.Unlock()
	if s != nil {
		return s, nil
	}
	s, err := d.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	d.stmts.mu.Lock()
	defer d.stmts.mu.Unlock()
	if d.stmts.m == nil {
		d.stmts.m = map[string]*sql.Stmt{}
	}
	if prev := d.stmts.m[query]; prev != nil {
		s.Close()
		return prev, nil
	}
	d.stmts.m[query] = s
	return s, nil
}

func (d *DB) closeStmts() {
	d.stmts.mu.Lock()
	defer d.stmts.mu.Unlock()
	for _, s := range d.stmts.m {
		s.Close()
	}
	d.stmts.m = nil
}

// queryRow runs a prepared single-row query outside a transaction.
func (d *DB) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	s, err := d.stmt(ctx, query)
	if err != nil {
		return d.db.QueryRowContext(ctx, query, args...) // reports the same error
	}
	return s.QueryRowContext(ctx, args...)
}

// query runs a prepared query outside a transaction.
func (d *DB) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	s, err := d.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return s.QueryContext(ctx, args...)
}

// queryRow runs a prepared single-row query in the transaction.
func (t *tx) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	s, err := t.d.stmt(ctx, query)
	if err != nil {
		return t.tx.QueryRowContext(ctx, query, args...)
	}
	return t.tx.StmtContext(ctx, s).QueryRowContext(ctx, args...)
}

// exec runs a prepared statement in the transaction.
func (t *tx) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	s, err := t.d.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return t.tx.StmtContext(ctx, s).ExecContext(ctx, args...)
}
