package store

import (
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want faultKind
	}{
		{"ok/nil", nil, notAFault},
		{"ok/domain-error", errors.New("exchange is delivered"), notAFault},
		{"ok/pg-unique-violation", &pgconn.PgError{Code: "23505"}, notAFault},
		{"fault/pg-connection", &pgconn.PgError{Code: "08006"}, writeFault},
		{"fault/pg-disk-full", &pgconn.PgError{Code: "53100"}, writeFault},
		{"fault/pg-shutdown", &pgconn.PgError{Code: "57P01"}, writeFault},
		{"fault/pg-standby", fmt.Errorf("store: commit: %w", &pgconn.PgError{Code: "25006"}), readOnlyConn},
		{"fault/net", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, writeFault},
		{"fault/eof", fmt.Errorf("wrapped: %w", io.ErrUnexpectedEOF), writeFault},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, classify(tc.err))
		})
	}
}

// SQLite's own errors, from a real database: a constraint is not a fault;
// a write on a connection opened read-only is, of the kind a fresh
// connection may cure.
func TestClassifySQLite(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	d, err := Open(ctx, SQLite, path, nil)
	require.NoError(t, err)
	defer d.Close()
	_, err = d.db.ExecContext(ctx, "INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '')")
	require.Error(t, err)
	require.Equal(t, notAFault, classify(err), "%v", err)

	ro, err := OpenReadOnly(ctx, SQLite, path)
	require.NoError(t, err)
	defer ro.Close()
	_, err = ro.db.ExecContext(ctx, "UPDATE audit_head SET seq = seq WHERE id = 1")
	require.Error(t, err)
	require.Equal(t, readOnlyConn, classify(err), "%v", err)
}
