package store

import (
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Faults that heal. A database can stop taking writes for a while and then
// take them again with nothing changed in the gateway: SQLite's files made
// read-only, its disk full, an I/O error; PostgreSQL restarted, failed
// over, its connection cut or its disk full. The connection that saw such a
// fault is not reused (an SQLite connection opened while its file could not
// be written stays read-only for good), idle ones are closed, and writes are
// tried again with backoff until one commits.

// faultKind says what a failed write tells about the database.
type faultKind int

const (
	// notAFault: the change itself failed (a constraint, a domain rule);
	// the database is fine.
	notAFault faultKind = iota
	// writeFault: the database could not take the write, and the
	// connection may be the reason: do not reuse it.
	writeFault
	// readOnlyConn: a connection that is read-only (SQLite opened it while
	// its file could not be written; PostgreSQL's was opened to a standby,
	// or while the database was read-only). If the database is writable
	// again, a fresh connection will be too: try one at once.
	readOnlyConn
)

// classify says what err, from a write, tells about the database.
func classify(err error) faultKind {
	if err == nil {
		return notAFault
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_READONLY:
			return readOnlyConn
		case sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN:
			return writeFault
		}
		return notAFault
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"), // connection exception
			strings.HasPrefix(pe.Code, "53"),  // insufficient resources: disk full, out of memory, too many connections
			strings.HasPrefix(pe.Code, "57P"), // operator intervention: shutdown, crash recovery
			strings.HasPrefix(pe.Code, "58"):  // system error: I/O
			return writeFault
		case pe.Code == "25006":
			// read-only transaction: a connection to a standby (after a
			// failover), or one that opened while the database was set
			// read-only. A fresh connection may reach the new primary.
			return readOnlyConn
		}
		return notAFault
	}
	var ne net.Error
	var ce *pgconn.ConnectError
	if errors.As(err, &ne) || errors.As(err, &ce) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || pgconn.Timeout(err) {
		return writeFault
	}
	return notAFault
}
