package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/devenv"
	"github.com/gatehouse-gw/gatehouse/devenv/testenv"
)

// runGatehouse runs the built command with extra environment and returns
// its output and exit code.
func runGatehouse(t *testing.T, bin string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out.String(), errOut.String(), ee.ExitCode()
	}
	require.NoError(t, err)
	return out.String(), errOut.String(), 0
}

// audit verify and the other read-only commands write nothing anywhere —
// even with objects.create_bucket: true (the development configuration
// sets it) — and say clearly, with exit code 2, when what they read is
// missing or unreachable. A store that refuses writes does not stop them.
func TestReadOnlyCommandsWriteNothing(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the gatehouse command")
	}
	ctx := context.Background()
	bin := buildGatehouse(t, t.TempDir())
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	require.True(t, gw.Env.Config.Objects.CreateBucket, "the case needs objects.create_bucket: true")
	_, err := gw.Client(t, "council.revenues").Send(ctx, policeDisclosure(16), bytes.NewReader(randomBytes(t, 16)))
	require.NoError(t, err)
	_, err = gw.App.Checkpointer.Once(ctx, true)
	require.NoError(t, err)
	cfg := gw.Env.ConfigFile
	closed, err := devenv.FreeAddr()
	require.NoError(t, err)

	t.Run("exit2/archive-bucket-missing", func(t *testing.T) {
		missing := "no-such-" + testenv.RandomHex(4)
		_, errOut, code := runGatehouse(t, bin, []string{"GATEHOUSE_AUDIT_BUCKET=" + missing}, "audit", "verify", "--config", cfg)
		require.Equal(t, 2, code, errOut)
		require.Contains(t, errOut, "does not exist")
		ok, err := gw.App.Objects.Client().BucketExists(ctx, missing)
		require.NoError(t, err)
		require.False(t, ok, "audit verify created the bucket")
	})
	t.Run("exit2/store-unreachable", func(t *testing.T) {
		_, errOut, code := runGatehouse(t, bin, []string{"GATEHOUSE_OBJECTS_ENDPOINT=" + closed}, "audit", "verify", "--config", cfg)
		require.Equal(t, 2, code, errOut)
		require.Contains(t, errOut, "the object store is unreachable at "+closed)
		_, errOut, code = runGatehouse(t, bin, []string{"GATEHOUSE_OBJECTS_ENDPOINT=" + closed}, "config", "check", "--connect", "--config", cfg)
		require.Equal(t, 1, code, errOut)
	})
	t.Run("exit2/database-missing", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "none.db")
		for _, args := range [][]string{{"audit", "verify"}, {"objects", "orphans"}} {
			_, errOut, code := runGatehouse(t, bin, []string{"GATEHOUSE_DATABASE_DSN=" + path}, append(args, "--config", cfg)...)
			require.Equal(t, 2, code, "%v: %s", args, errOut)
			require.NoFileExists(t, path, "%v created a database", args)
		}
	})
	t.Run("ok/archive-refusing-writes", func(t *testing.T) {
		// The archive over its quota refuses every write; reading it is all
		// verify does. (The archive's own bucket: other cases read it too.)
		testenv.SetBucketQuota(t, testenv.MinIO(t), gw.App.AuditArchive.Bucket(), 1)
		defer testenv.SetBucketQuota(t, testenv.MinIO(t), gw.App.AuditArchive.Bucket(), 1<<30)
		out, errOut, code := runGatehouse(t, bin, nil, "audit", "verify", "--config", cfg)
		require.Equal(t, 0, code, "%s%s", out, errOut)
		require.Contains(t, out, "sound")
	})
	t.Run("ok/no-schema-written", func(t *testing.T) {
		// An empty SQLite file: config check --connect reports every
		// migration pending and creates no table (goose would create its
		// version table).
		path := filepath.Join(t.TempDir(), "empty.db")
		db, err := sql.Open("sqlite", path)
		require.NoError(t, err)
		_, err = db.Exec("PRAGMA user_version = 0")
		require.NoError(t, err)
		_, err = db.Exec("CREATE TABLE keep (x INTEGER)")
		require.NoError(t, err)
		out, errOut, code := runGatehouse(t, bin, []string{"GATEHOUSE_DATABASE_DSN=" + path}, "config", "check", "--connect", "--config", cfg)
		require.Equal(t, 0, code, "%s%s", out, errOut)
		require.Regexp(t, `schema version 0, \d+ migration\(s\) pending`, out)
		var n int
		require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'").Scan(&n))
		require.Equal(t, 1, n, "config check created tables")
		require.NoError(t, db.Close())
	})
}
