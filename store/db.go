// Package store keeps the gateway's state in SQL: parties, agreements,
// exchanges and the audit chain, in SQLite (one node) or PostgreSQL (several
// nodes). Both backends share one implementation and one contract suite.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/gatehouse-gw/gatehouse/internal/health"
	"github.com/gatehouse-gw/gatehouse/store/migrations"
)

// Drivers.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// sqliteMaxOpen bounds SQLite's connection pool.
const sqliteMaxOpen = 8

// ErrUnknownDriver is returned for a driver that is neither sqlite nor postgres.
var ErrUnknownDriver = errors.New("store: driver must be sqlite or postgres")

// DB is the SQL store.
type DB struct {
	db     *sql.DB
	driver string
	// forUpdate locks selected rows on PostgreSQL; SQLite transactions take
	// the write lock when they begin, so it needs none.
	forUpdate string
	commits   *committer
	stmts     stmtCache
	// registryWrites counts committed registry changes made by this process.
	registryWrites atomic.Int64
	closeOnce      sync.Once

	// writes is the outcome of the last commit; recovering is set while a
	// loop reconnects after a write fault (writeFailed).
	writes     *health.Writes
	recovering atomic.Bool
	recoverWG  sync.WaitGroup
	closing    chan struct{}
	log        *slog.Logger
}

// Open connects to the database and applies any pending migrations.
// For sqlite, dsn is a file path; for postgres, a connection URL or DSN.
func Open(ctx context.Context, driver, dsn string, log *slog.Logger) (*DB, error) {
	return open(ctx, driver, dsn, log, openMigrate)
}

// OpenExisting connects to a database the gateway created, without changing
// its schema: for tools such as audit checkpoint.
func OpenExisting(ctx context.Context, driver, dsn string) (*DB, error) {
	return open(ctx, driver, dsn, nil, openExisting)
}

// OpenReadOnly connects to a database the gateway created for reading only
// (SQLite opened read-only; PostgreSQL sessions in read-only transactions):
// for tools that inspect the record, such as audit verify.
func OpenReadOnly(ctx context.Context, driver, dsn string) (*DB, error) {
	return open(ctx, driver, dsn, nil, openReadOnly)
}

type openMode int

const (
	openMigrate openMode = iota
	openExisting
	openReadOnly
)

func open(ctx context.Context, driver, dsn string, log *slog.Logger, mode openMode) (*DB, error) {
	var (
		db        *sql.DB
		err       error
		dialect   goose.Dialect
		schema    fs.FS
		forUpdate string
	)
	switch driver {
	case SQLite:
		conn := sqliteDSN(dsn)
		if mode != openMigrate && !strings.HasPrefix(dsn, "file:") {
			// A tool pointed at the wrong path must not create a database.
			if _, err := os.Stat(dsn); err != nil {
				return nil, fmt.Errorf("store: %w", err)
			}
		}
		if mode == openReadOnly {
			conn = sqliteReadOnlyDSN(dsn)
		}
		db, err = sql.Open("sqlite", conn)
		dialect = goose.DialectSQLite3
		schema, _ = fs.Sub(migrations.SQLite, "sqlite")
	case Postgres:
		conn := dsn
		if mode == openReadOnly {
			conn = postgresReadOnlyDSN(dsn)
		}
		db, err = sql.Open("pgx", conn)
		dialect = goose.DialectPostgres
		schema, _ = fs.Sub(migrations.Postgres, "postgres")
		forUpdate = " FOR UPDATE"
	default:
		return nil, fmt.Errorf("%w (got %q)", ErrUnknownDriver, driver)
	}
	if err != nil {
		return nil, err
	}
	if driver == SQLite {
		// One writer at a time; readers run beside it under WAL.
		db.SetMaxOpenConns(sqliteMaxOpen)
	} else {
		db.SetMaxOpenConns(32)
	}
	db.SetMaxIdleConns(maxIdleConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: connect: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &DB{db: db, driver: driver, forUpdate: forUpdate, writes: health.NewWrites("database"), closing: make(chan struct{}), log: log}
	if mode != openMigrate {
		d.commits = newCommitter(d)
		return d, nil
	}
	// Migrations are numbered as they are planned, not as they land: a
	// database already at a later number still takes an earlier one it
	// lacks (each is independent of those numbered after it).
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true), goose.WithGoMigrations(goMigrations()...), goose.WithAllowOutofOrder(true)}
	if driver == Postgres {
		// Nodes starting together take turns to migrate.
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			db.Close()
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	provider, err := goose.NewProvider(dialect, db, schema, opts...)
	if err != nil {
		db.Close()
		return nil, err
	}
	results, err := provider.Up(ctx)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: migrate: %w", err)
	}
	for _, r := range results {
		if log != nil {
			log.Info("applied migration", "version", r.Source.Version, "driver", driver)
		}
	}
	d.commits = newCommitter(d)
	return d, nil
}

// sqliteDSN turns a file path into a modernc.org/sqlite DSN with the
// settings the gateway relies on: WAL, a busy timeout, full fsync on commit,
// transactions that take the write lock at BEGIN, and sortable times.
func sqliteDSN(path string) string {
	if strings.HasPrefix(path, "file:") {
		return path
	}
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	q.Set("_time_format", "sqlite")
	return "file:" + path + "?" + q.Encode()
}

// sqliteReadOnlyDSN opens an existing database for reading only: tools that
// inspect the record change nothing, not even the journal mode.
func sqliteReadOnlyDSN(path string) string {
	if strings.HasPrefix(path, "file:") {
		return path
	}
	q := url.Values{}
	q.Set("mode", "ro")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Set("_time_format", "sqlite")
	return "file:" + path + "?" + q.Encode()
}

// postgresReadOnlyDSN makes every transaction of the session read-only.
func postgresReadOnlyDSN(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set("default_transaction_read_only", "on")
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " default_transaction_read_only=on"
}

// Driver returns sqlite or postgres.
func (d *DB) Driver() string { return d.driver }

// Close finishes the changes in flight and closes the connection pool.
func (d *DB) Close() error {
	var err error
	d.closeOnce.Do(func() {
		close(d.closing)
		d.recoverWG.Wait()
		d.commits.close()
		d.closeStmts()
		err = d.db.Close()
	})
	return err
}

// Ping checks that the database answers.
func (d *DB) Ping(ctx context.Context) error {
	var one int
	return d.db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// tx is a store transaction. It implements the transaction interfaces the
// domain packages declare.
type tx struct {
	d  *DB
	tx *sql.Tx
	// registryChanged is set when the transaction changed a party or agreement.
	registryChanged bool
	head            chainHead
}

// update runs fn in a transaction (shared with other changes by group
// commit) and returns once it is durable, or fn's error if it failed and was
// rolled back.
func (d *DB) update(ctx context.Context, fn func(*tx) error) error {
	return d.commits.submit(ctx, fn)
}

// querier is what *sql.DB and *sql.Tx share.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// read runs fn in a read-only transaction that sees one snapshot.
func (d *DB) read(ctx context.Context, fn func(querier) error) error {
	opts := &sql.TxOptions{ReadOnly: true}
	if d.driver == Postgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	sqlTx, err := d.db.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	defer sqlTx.Rollback() //nolint:errcheck // read-only
	return fn(sqlTx)
}

// utc normalises a time for storage: UTC, microsecond precision (the
// precision of PostgreSQL), so that both backends return what was stored.
func utc(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func nullTime(t time.Time) sql.NullTime {
	if t.IsZero() {
		return sql.NullTime{}
	}
	return sql.NullTime{Time: utc(t), Valid: true}
}

// SQL returns the connection pool, for tools and tests that inspect the
// database directly.
func (d *DB) SQL() *sql.DB { return d.db }

// SchemaStatus returns the schema version the database is at and how many
// migrations are pending, without applying any and without writing: it
// reads goose's version table (a database that has none is at version 0)
// rather than let goose create it.
func (d *DB) SchemaStatus(ctx context.Context) (version int64, pending int, err error) {
	dialect, schema := goose.DialectSQLite3, mustSub(migrations.SQLite, "sqlite")
	exists := "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'goose_db_version'"
	if d.driver == Postgres {
		dialect, schema = goose.DialectPostgres, mustSub(migrations.Postgres, "postgres")
		exists = "SELECT COUNT(*) FROM pg_catalog.pg_tables WHERE tablename = 'goose_db_version' AND schemaname = ANY (current_schemas(false))"
	}
	provider, err := goose.NewProvider(dialect, d.db, schema, goose.WithDisableGlobalRegistry(true), goose.WithGoMigrations(goMigrations()...))
	if err != nil {
		return 0, 0, err
	}
	applied := map[int64]bool{}
	var n int
	if err := d.db.QueryRowContext(ctx, exists).Scan(&n); err != nil {
		return 0, 0, fmt.Errorf("store: schema version: %w", err)
	}
	if n > 0 {
		// The latest row for a version says whether it is applied.
		rows, err := d.db.QueryContext(ctx, "SELECT version_id, is_applied FROM goose_db_version ORDER BY id DESC")
		if err != nil {
			return 0, 0, fmt.Errorf("store: schema version: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var (
				v  int64
				ok bool
			)
			if err := rows.Scan(&v, &ok); err != nil {
				return 0, 0, err
			}
			if _, seen := applied[v]; !seen {
				applied[v] = ok
			}
		}
		if err := rows.Err(); err != nil {
			return 0, 0, err
		}
	}
	for _, src := range provider.ListSources() {
		if applied[src.Version] {
			version = max(version, src.Version)
		} else {
			pending++
		}
	}
	return version, pending, nil
}

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err)
	}
	return sub
}
