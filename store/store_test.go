package store_test

import (
	"context"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/devenv/testenv"
	"github.com/gatehouse-gw/gatehouse/exchange"
	"github.com/gatehouse-gw/gatehouse/store"
	"github.com/gatehouse-gw/gatehouse/store/migrations"
	"github.com/gatehouse-gw/gatehouse/store/storetest"
)

func TestSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) *store.DB {
		db, err := store.Open(context.Background(), store.SQLite, filepath.Join(t.TempDir(), "gatehouse.db"), nil)
		require.NoError(t, err)
		t.Cleanup(func() { db.Close() })
		return db
	})
}

func TestPostgres(t *testing.T) {
	storetest.Run(t, func(t *testing.T) *store.DB {
		db, err := store.Open(context.Background(), store.Postgres, testenv.Postgres(t), nil)
		require.NoError(t, err)
		t.Cleanup(func() { db.Close() })
		return db
	})
}

// A record written before the tree was kept gets its tree on migration.
func TestAuditTreeMigration(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		storetest.RunTreeMigration(t, store.SQLite, filepath.Join(t.TempDir(), "gatehouse.db"))
	})
	t.Run("postgres", func(t *testing.T) { storetest.RunTreeMigration(t, store.Postgres, testenv.Postgres(t)) })
}

func TestOpenRejectsUnknownDriver(t *testing.T) {
	_, err := store.Open(context.Background(), "mysql", "x", nil)
	require.ErrorIs(t, err, store.ErrUnknownDriver)
}

// On PostgreSQL the audit record is append-only twice over: by privilege
// for the gateway's role (store/migrations/postgres-roles.sql), and by
// trigger for everyone, the owner included.
func TestPostgresAuditIsAppendOnly(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.Postgres(t)
	owner, err := store.Open(ctx, store.Postgres, dsn, nil)
	require.NoError(t, err)
	defer owner.Close()
	appendEntry := func(db *store.DB) error {
		return db.Exchanges().Update(ctx, func(tx exchange.Tx) error {
			return tx.AppendAudit(ctx, &audit.Entry{Time: time.Now(), Type: "test.appended", Actor: "store-test"})
		})
	}
	require.NoError(t, appendEntry(owner))
	_, err = owner.SQL().ExecContext(ctx, migrations.PostgresRoles)
	require.NoError(t, err)

	login := "gatehouse_test_" + testenv.RandomHex(6)
	_, err = owner.SQL().ExecContext(ctx, "CREATE ROLE "+login+" LOGIN IN ROLE gatehouse_app")
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = owner.SQL().Exec("DROP ROLE IF EXISTS " + login) })
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	u.User = url.User(login)
	gateway, err := store.Open(ctx, store.Postgres, u.String(), nil)
	require.NoError(t, err, "the gateway's role opens the migrated database")
	defer gateway.Close()
	require.NoError(t, appendEntry(gateway), "and appends to the record")

	for _, stmt := range []string{
		"UPDATE audit_log SET body = '{}' WHERE seq = 1",
		"DELETE FROM audit_log",
		"TRUNCATE audit_log",
		"UPDATE audit_checkpoints SET jws = ''",
		"DELETE FROM audit_segments",
		"UPDATE audit_tree SET nodes = ''",
		"DELETE FROM audit_tree",
	} {
		_, err := gateway.SQL().ExecContext(ctx, stmt)
		require.ErrorContains(t, err, "permission denied", "the gateway's role: %s", stmt)
		_, err = owner.SQL().ExecContext(ctx, stmt)
		require.ErrorContains(t, err, "append-only", "the owner: %s", stmt)
	}

	// The head: the gateway's role moves it forward, but neither it nor
	// the owner can move it back, change its hash in place or remove it.
	for _, c := range []struct{ stmt, gatewayErr string }{
		{"UPDATE audit_head SET seq = seq - 1", "only moves forward"},
		{"UPDATE audit_head SET seq = 0, hash = '0000000000000000000000000000000000000000000000000000000000000000'", "only moves forward"},
		{"UPDATE audit_head SET hash = 'x'", "only moves forward"},
		{"DELETE FROM audit_head", "permission denied"},
		{"TRUNCATE audit_head", "permission denied"},
	} {
		_, err := gateway.SQL().ExecContext(ctx, c.stmt)
		require.ErrorContains(t, err, c.gatewayErr, "the gateway's role: %s", c.stmt)
		_, err = owner.SQL().ExecContext(ctx, c.stmt)
		require.ErrorContains(t, err, "only moves forward", "the owner: %s", c.stmt)
	}
	require.NoError(t, appendEntry(gateway), "and the head still moves forward")
}
