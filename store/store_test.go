package store_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/internal/testenv"
	"github.com/gatehouse-gw/gatehouse/store"
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

func TestOpenRejectsUnknownDriver(t *testing.T) {
	_, err := store.Open(context.Background(), "mysql", "x", nil)
	require.ErrorIs(t, err, store.ErrUnknownDriver)
}
