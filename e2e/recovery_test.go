package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/client"
	"github.com/gatehouse-gw/gatehouse/config"
	"github.com/gatehouse-gw/gatehouse/devenv/testenv"
	"github.com/gatehouse-gw/gatehouse/gateway"
	"github.com/gatehouse-gw/gatehouse/store/objectstore"
)

// notReadyWithin waits (no longer than the readiness cache window, and a
// little time for the request) for /readyz to answer 503 with check failing.
func notReadyWithin(t *testing.T, gw *testenv.Gateway, check string) {
	t.Helper()
	deadline := time.Now().Add(gateway.ReadyCache + time.Second)
	for {
		status, h := readyz(t, gw)
		if status == http.StatusServiceUnavailable && h.Checks[check] == "failing" {
			return
		}
		require.True(t, time.Now().Before(deadline), "/readyz still %d %v, want %s failing within the cache window", status, h.Checks, check)
		time.Sleep(100 * time.Millisecond)
	}
}

// readyAgain waits for /readyz to answer 200 with every check ok.
func readyAgain(t *testing.T, gw *testenv.Gateway, within time.Duration) {
	t.Helper()
	require.Eventually(t, func() bool {
		status, _ := readyz(t, gw)
		return status == http.StatusOK
	}, within, 100*time.Millisecond, "/readyz did not come back")
}

// SQLite's files are made unwritable (the immutable attribute, which stops
// root too, and writes through files already open) for a few seconds: every
// write fails closed with 503 and /readyz turns not-ready at once; once the
// files are writable again the gateway takes writes and is ready again
// without a restart — including on connections it opened while the files
// were unwritable, which SQLite had opened read-only.
func TestSQLiteReadOnlyRecovers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// No client retries: every failure and every success is the first try's.
	gw := testenv.StartGateway(t, testenv.GatewayOptions{ClientRetry: client.Retry{Attempts: 1}})
	dbFile := gw.Env.Config.Database.DSN
	require.True(t, filepath.IsAbs(dbFile), "the test needs the database's path: %s", dbFile)
	testenv.RequireImmutableEnforced(t, filepath.Dir(dbFile))
	council := gw.Client(t, "council.revenues")
	police := gw.Client(t, "police.northshire")
	_, err := council.Send(ctx, policeDisclosure(16), bytes.NewReader(randomBytes(t, 16)))
	require.NoError(t, err)
	readyAgain(t, gw, 5*time.Second)

	// The database file and its write-ahead log. The shared-memory index is
	// left alone: SQLite maps it into memory, and a write to a mapped page
	// of an immutable file would kill the process rather than fail.
	files := []string{dbFile, dbFile + "-wal"}
	testenv.SetImmutable(t, true, files...)
	_, err = council.Declare(ctx, policeDisclosure(16))
	requireProblem(t, err, http.StatusServiceUnavailable, "unavailable")
	notReadyWithin(t, gw, "audit")
	// Reads still work meanwhile. Many at once make the pool open new
	// connections, which SQLite opens read-only now and would keep so.
	manyReads(t, gw)
	_, err = council.Declare(ctx, policeDisclosure(16))
	requireProblem(t, err, http.StatusServiceUnavailable, "unavailable")

	testenv.SetImmutable(t, false, files...)
	readyAgain(t, gw, 10*time.Second)
	writesAtFirstTry(t, gw)
	for i := range 5 {
		e, err := council.Send(ctx, policeDisclosure(16), bytes.NewReader(randomBytes(t, 16)))
		require.NoError(t, err, "exchange %d after the files are writable again", i)
		var out bytes.Buffer
		_, err = police.Fetch(ctx, e.ID, gw.DecryptKey(t, "police.northshire"), &out)
		require.NoError(t, err)
	}
	rep := check(t, gw, gw.App.DB, gw.App.AuditArchive)
	require.True(t, rep.OK(), "%v", rep.Problems)
}

// writesAtFirstTry declares exchanges with no client retries while many
// reads at once shuffle the pool's connections (those opened while the
// database could not be written too): every declaration is taken at once.
func writesAtFirstTry(t *testing.T, gw *testenv.Gateway) {
	t.Helper()
	ctx := context.Background()
	police := gw.Client(t, "police.northshire")
	raw := testenv.PartyHTTPClient(t, gw, "council.revenues")
	declaration, err := json.Marshal(policeDisclosure(16))
	require.NoError(t, err)
	for round := range 8 {
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() { _, _ = police.Inbox(ctx, "", 0) })
		}
		resp, err := raw.Post(gw.URL+"/v1/exchanges", "application/json", bytes.NewReader(declaration))
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusCreated, resp.StatusCode, "declaration %d after the database is writable again: %s", round, body)
		wg.Wait()
	}
}

// manyReads reads the inbox 16 times at once, four times over, with a spell
// of the reconnect backoff between: the pool opens new connections, which
// carry the fault while it lasts.
func manyReads(t *testing.T, gw *testenv.Gateway) {
	t.Helper()
	ctx := context.Background()
	police := gw.Client(t, "police.northshire")
	for range 4 {
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for range 16 {
			wg.Go(func() {
				_, err := police.Inbox(ctx, "", 0)
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err, "reads go on")
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// PostgreSQL stops taking writes as a standby after a failover does: the
// database is made read-only (default_transaction_read_only) and the
// gateway's connections are cut, so every new one is read-only. Every write
// fails closed with 503 and /readyz turns not-ready at once while reads go
// on. The database is then made writable again without cutting anything:
// the connections the gateway opened meanwhile stay read-only, as
// connections to a former primary would, and the gateway must replace them
// by itself — it is ready again and takes every write at the first try,
// without a restart.
func TestPostgresReadOnlyRecovers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := testenv.Postgres(t)
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	name := strings.TrimPrefix(u.Path, "/")
	admin, err := sql.Open("pgx", testenv.PostgresAdminDSN())
	require.NoError(t, err)
	defer admin.Close()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{Postgres: true, DSN: dsn, ClientRetry: client.Retry{Attempts: 1}})
	council := gw.Client(t, "council.revenues")
	police := gw.Client(t, "police.northshire")
	_, err = council.Send(ctx, policeDisclosure(16), bytes.NewReader(randomBytes(t, 16)))
	require.NoError(t, err)
	readyAgain(t, gw, 5*time.Second)

	_, err = admin.ExecContext(ctx, "ALTER DATABASE "+name+" SET default_transaction_read_only = on")
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = admin.Exec("ALTER DATABASE " + name + " RESET default_transaction_read_only") })
	_, err = admin.ExecContext(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", name)
	require.NoError(t, err)
	_, err = council.Declare(ctx, policeDisclosure(16))
	requireProblem(t, err, http.StatusServiceUnavailable, "unavailable")
	notReadyWithin(t, gw, "audit")
	manyReads(t, gw)
	_, err = council.Declare(ctx, policeDisclosure(16))
	requireProblem(t, err, http.StatusServiceUnavailable, "unavailable")
	status, h := readyz(t, gw)
	require.Equal(t, http.StatusServiceUnavailable, status)
	require.Equal(t, "failing", h.Checks["audit"])
	require.Equal(t, "ok", h.Checks["database"], "reads still work")

	// Writable again; the connections opened meanwhile are not.
	_, err = admin.ExecContext(ctx, "ALTER DATABASE "+name+" RESET default_transaction_read_only")
	require.NoError(t, err)
	readyAgain(t, gw, 10*time.Second)
	writesAtFirstTry(t, gw)
	for i := range 3 {
		e, err := council.Send(ctx, policeDisclosure(16), bytes.NewReader(randomBytes(t, 16)))
		require.NoError(t, err, "exchange %d after the database is writable again", i)
		var out bytes.Buffer
		_, err = police.Fetch(ctx, e.ID, gw.DecryptKey(t, "police.northshire"), &out)
		require.NoError(t, err)
	}
	rep := check(t, gw, gw.App.DB, gw.App.AuditArchive)
	require.True(t, rep.OK(), "%v", rep.Problems)
}

// SQLite's disk (a tmpfs the test mounts) fills up: commits fail, /readyz
// turns not-ready at once — the readiness heartbeat commits for real, so it
// needs room too — and once there is room again the gateway takes writes and
// is ready again without a restart.
func TestSQLiteDiskFullRecovers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	disk := testenv.Tmpfs(t, 32<<20)
	gw := testenv.StartGateway(t, testenv.GatewayOptions{Configure: func(c *config.Config) {
		c.Database.DSN = filepath.Join(disk, "gatehouse.db")
	}, ClientRetry: client.Retry{Attempts: 1}})
	council := gw.Client(t, "council.revenues")
	police := gw.Client(t, "police.northshire")
	_, err := council.Send(ctx, policeDisclosure(16), bytes.NewReader(randomBytes(t, 16)))
	require.NoError(t, err)
	readyAgain(t, gw, 5*time.Second)

	free := testenv.Fill(t, disk)
	// The write-ahead log may still have room it took before; it runs out
	// within a few commits.
	failed := false
	for i := 0; i < 200 && !failed; i++ {
		_, err = council.Declare(ctx, policeDisclosure(16))
		failed = err != nil
	}
	require.True(t, failed, "declarations kept committing on a full disk")
	requireProblem(t, err, http.StatusServiceUnavailable, "unavailable")
	notReadyWithin(t, gw, "audit")
	time.Sleep(2 * gateway.ReadyCache) // the heartbeat, not only the last failure, says so
	status, h := readyz(t, gw)
	require.Equal(t, http.StatusServiceUnavailable, status)
	require.Equal(t, "failing", h.Checks["audit"])
	require.Equal(t, "ok", h.Checks["database"], "reads still work")

	free()
	readyAgain(t, gw, 10*time.Second)
	e, err := council.Send(ctx, policeDisclosure(16), bytes.NewReader(randomBytes(t, 16)))
	require.NoError(t, err)
	var out bytes.Buffer
	_, err = police.Fetch(ctx, e.ID, gw.DecryptKey(t, "police.northshire"), &out)
	require.NoError(t, err)
	rep := check(t, gw, gw.App.DB, gw.App.AuditArchive)
	require.True(t, rep.OK(), "%v", rep.Problems)
}

// MinIO's disk (a tmpfs the test mounts) fills up: uploads are refused, and
// /readyz reports objects and audit-archive failing at once — while the
// store still answers reads, which is all the old check asked — and ready
// again once there is room. The readiness writes leave nothing behind: the
// archive holds exactly the segments the database records, and no upload
// is left open in either bucket.
func TestObjectStoreDiskFullReadiness(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	disk := testenv.Tmpfs(t, 96<<20)
	m := testenv.OwnMinIOAt(t, filepath.Join(disk, "data"))
	gw := testenv.StartGateway(t, testenv.GatewayOptions{MinIO: m})
	council := gw.Client(t, "council.revenues")
	police := gw.Client(t, "police.northshire")
	_, err := council.Send(ctx, policeDisclosure(16), bytes.NewReader(randomBytes(t, 16)))
	require.NoError(t, err)
	readyAgain(t, gw, 5*time.Second)
	// Idle for longer than the window: readiness writes to both buckets.
	time.Sleep(gateway.ReadyCache + 500*time.Millisecond)
	readyAgain(t, gw, 5*time.Second)

	free := testenv.Fill(t, disk)
	payload := randomBytes(t, 64<<10)
	e, err := council.Declare(ctx, policeDisclosure(int64(len(payload))))
	require.NoError(t, err, "the database is elsewhere and has room")
	_, err = council.Upload(ctx, e.ID, bytes.NewReader(payload), int64(len(payload)))
	// MinIO refuses with "storage full" when its free-space check sees the
	// drive full first, and with an internal error (no space left on
	// device) when the write itself does: 507 or 503, never a success.
	var p *api.Problem
	require.ErrorAs(t, err, &p)
	require.Contains(t, []string{"storage-full", "unavailable"}, p.Code, "%v", err)
	notReadyWithin(t, gw, "objects")
	// With no traffic the archive's check writes for itself.
	notReadyWithin(t, gw, "audit-archive")
	require.NoError(t, gw.App.Objects.Ping(ctx), "the store still answers reads: pinging it could not tell")

	free()
	readyAgain(t, gw, 15*time.Second)
	sent, err := council.Upload(ctx, e.ID, bytes.NewReader(payload), int64(len(payload)))
	require.NoError(t, err)
	require.Equal(t, "delivered", sent.State)
	var out bytes.Buffer
	_, err = police.Fetch(ctx, e.ID, gw.DecryptKey(t, "police.northshire"), &out)
	require.NoError(t, err)

	// Nothing left behind by the readiness writes.
	_, err = gw.App.Checkpointer.Once(ctx, true)
	require.NoError(t, err)
	segments, err := gw.App.DB.AuditSegments(ctx)
	require.NoError(t, err)
	recorded := map[string]bool{}
	for _, s := range segments {
		recorded[s.Key+"@"+s.Version] = true
	}
	for _, st := range []*objectstore.Store{gw.App.AuditArchive, gw.App.Objects} {
		for obj := range st.Client().ListObjects(ctx, st.Bucket(), minio.ListObjectsOptions{Recursive: true, WithVersions: true}) {
			require.NoError(t, obj.Err)
			require.False(t, strings.HasPrefix(obj.Key, objectstore.ProbePrefix), "readiness left %s in %s", obj.Key, st.Bucket())
			if st == gw.App.AuditArchive {
				require.True(t, recorded[obj.Key+"@"+obj.VersionID], "the archive holds %s (version %s), which no checkpoint records", obj.Key, obj.VersionID)
			}
		}
		for u := range st.Client().ListIncompleteUploads(ctx, st.Bucket(), "", true) {
			require.NoError(t, u.Err)
			t.Errorf("upload left open in %s: %s", st.Bucket(), u.Key)
		}
	}
	require.Len(t, recorded, len(segments))
	rep := check(t, gw, gw.App.DB, gw.App.AuditArchive)
	require.True(t, rep.OK(), "%v", rep.Problems)
}
