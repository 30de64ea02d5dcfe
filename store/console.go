package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// The console's state (docs/console.md): its sessions and the exports it
// has made, in the database so that every node behind a load balancer
// serves them alike. None of it is audited: a session is bookkeeping, and
// the export it downloads was audited when it was made.

// ErrNoConsoleRecord is returned for a console session or export that does
// not exist (never made, signed out, or cleaned up).
var ErrNoConsoleRecord = errors.New("store: no such console record")

// ConsoleSession is a signed-in person's session. IDHash is the SHA-256 of
// the cookie's random id; Data is the console's sealed session.
type ConsoleSession struct {
	IDHash    string
	Subject   string
	Data      []byte
	SignedIn  time.Time
	Seen      time.Time
	IdleUntil time.Time
	Expires   time.Time
}

// ConsoleExport is an export made in the console: its file, its detached
// signature and its printable report.
type ConsoleExport struct {
	ID        string
	Owner     string
	Name      string
	Format    string
	Body      []byte
	Signature string
	Report    []byte
	Created   time.Time
	Expires   time.Time
}

// CreateConsoleSession keeps a new session; a person's oldest sessions
// beyond keep are ended.
func (d *DB) CreateConsoleSession(ctx context.Context, s ConsoleSession, keep int) error {
	return d.consoleTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO console_sessions (id_hash, subject, data, signed_in, seen_at, idle_until, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, s.IDHash, s.Subject, s.Data, utc(s.SignedIn), utc(s.Seen), utc(s.IdleUntil), utc(s.Expires)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM console_sessions WHERE subject = $1 AND id_hash NOT IN
			(SELECT id_hash FROM console_sessions WHERE subject = $1 ORDER BY signed_in DESC, id_hash LIMIT $2)`, s.Subject, keep)
		return err
	})
}

// ConsoleSession returns the session whose id hashes to idHash, or
// ErrNoConsoleRecord.
func (d *DB) ConsoleSession(ctx context.Context, idHash string) (*ConsoleSession, error) {
	s := ConsoleSession{IDHash: idHash}
	err := d.queryRow(ctx, `SELECT subject, data, signed_in, seen_at, idle_until, expires_at FROM console_sessions WHERE id_hash = $1`, idHash).
		Scan(&s.Subject, &s.Data, &s.SignedIn, &s.Seen, &s.IdleUntil, &s.Expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNoConsoleRecord
	}
	if err != nil {
		return nil, fmt.Errorf("store: console session: %w", err)
	}
	s.SignedIn, s.Seen, s.IdleUntil, s.Expires = s.SignedIn.UTC(), s.Seen.UTC(), s.IdleUntil.UTC(), s.Expires.UTC()
	return &s, nil
}

// TouchConsoleSession moves a session's idle clock on.
func (d *DB) TouchConsoleSession(ctx context.Context, idHash string, seen, idleUntil time.Time) error {
	_, err := d.db.ExecContext(ctx, `UPDATE console_sessions SET seen_at = $2, idle_until = $3 WHERE id_hash = $1`, idHash, utc(seen), utc(idleUntil))
	if err != nil {
		return fmt.Errorf("store: console session: %w", err)
	}
	return nil
}

// DeleteConsoleSession ends a session (signing out).
func (d *DB) DeleteConsoleSession(ctx context.Context, idHash string) error {
	if _, err := d.db.ExecContext(ctx, `DELETE FROM console_sessions WHERE id_hash = $1`, idHash); err != nil {
		return fmt.Errorf("store: console session: %w", err)
	}
	return nil
}

// PutConsoleExport keeps a made export; the owner's oldest beyond
// keepOwner, and everyone's oldest beyond keepAll, go.
func (d *DB) PutConsoleExport(ctx context.Context, e ConsoleExport, keepOwner, keepAll int) error {
	return d.consoleTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO console_exports (id, owner, name, format, body, signature, report, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, e.ID, e.Owner, e.Name, e.Format, e.Body, e.Signature, e.Report, utc(e.Created), utc(e.Expires)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM console_exports WHERE owner = $1 AND id NOT IN
			(SELECT id FROM console_exports WHERE owner = $1 ORDER BY created_at DESC, id LIMIT $2)`, e.Owner, keepOwner); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM console_exports WHERE id NOT IN
			(SELECT id FROM console_exports ORDER BY created_at DESC, id LIMIT $1)`, keepAll)
		return err
	})
}

// ConsoleExport returns a made export, or ErrNoConsoleRecord.
func (d *DB) ConsoleExport(ctx context.Context, id string) (*ConsoleExport, error) {
	e := ConsoleExport{ID: id}
	err := d.queryRow(ctx, `SELECT owner, name, format, body, signature, report, created_at, expires_at FROM console_exports WHERE id = $1`, id).
		Scan(&e.Owner, &e.Name, &e.Format, &e.Body, &e.Signature, &e.Report, &e.Created, &e.Expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNoConsoleRecord
	}
	if err != nil {
		return nil, fmt.Errorf("store: console export: %w", err)
	}
	e.Created, e.Expires = e.Created.UTC(), e.Expires.UTC()
	return &e, nil
}

// ForgetConsoleState deletes the sessions idle or past their lifetime, and
// the exports past theirs, at now.
func (d *DB) ForgetConsoleState(ctx context.Context, now time.Time) (sessions, exports int64, err error) {
	err = d.consoleTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM console_sessions WHERE idle_until < $1 OR expires_at < $1`, utc(now))
		if err != nil {
			return err
		}
		if sessions, err = res.RowsAffected(); err != nil {
			return err
		}
		if res, err = tx.ExecContext(ctx, `DELETE FROM console_exports WHERE expires_at < $1`, utc(now)); err != nil {
			return err
		}
		exports, err = res.RowsAffected()
		return err
	})
	return sessions, exports, err
}

// consoleTx runs fn in a transaction of its own, outside the group commit
// of audited changes.
func (d *DB) consoleTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return fmt.Errorf("store: console: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: console: %w", err)
	}
	return nil
}
