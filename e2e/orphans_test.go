package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/minio/minio-go/v7"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/client"
	"github.com/gatehouse-gw/gatehouse/config"
	"github.com/gatehouse-gw/gatehouse/devenv"
	"github.com/gatehouse-gw/gatehouse/devenv/demo"
	"github.com/gatehouse-gw/gatehouse/devenv/testenv"
	"github.com/gatehouse-gw/gatehouse/exchange"
	"github.com/gatehouse-gw/gatehouse/exchange/seal"
	"github.com/gatehouse-gw/gatehouse/internal/metrics"
	"github.com/gatehouse-gw/gatehouse/server"
	"github.com/gatehouse-gw/gatehouse/store/objectstore"
)

// orphansListed is what gatehouse objects orphans --json prints, by object.
func orphansListed(t *testing.T, configFile string) map[string]map[string]any {
	t.Helper()
	out, errOut, err := gatehouse(t, "objects", "orphans", "--config", configFile, "--json")
	require.NoError(t, err, errOut)
	var doc struct {
		Orphans []map[string]any `json:"orphans"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &doc), out)
	byKey := map[string]map[string]any{}
	for _, o := range doc.Orphans {
		byKey[o["object"].(string)] = o
	}
	return byKey
}

// orphanDeletions are the audited deletions of orphaned objects, by object.
func orphanDeletions(t *testing.T, db interface {
	AuditRecords(context.Context, int64, int) ([]audit.Record, error)
}) map[string]int {
	t.Helper()
	recs, err := db.AuditRecords(context.Background(), 0, 100000)
	require.NoError(t, err)
	out := map[string]int{}
	for _, r := range recs {
		var e audit.Entry
		require.NoError(t, json.Unmarshal(r.Body, &e))
		if e.Type == exchange.TypePayloadDeleted && strings.HasPrefix(e.Detail["reason"], "orphaned") {
			out[e.Detail["object"]]++
		}
	}
	return out
}

// Payload objects that no exchange records — beside a delivered exchange
// whose own object must stay — are deleted by the sweeper once older than
// the grace period, each deletion audited once however often the sweeper
// runs; those under an Object Lock (governance or compliance) are kept and
// reported until the lock ends, and deleted by the first sweep after it.
// gatehouse objects orphans lists them all.
func TestOrphansAreDeletedOrReported(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{Configure: func(c *config.Config) {
		c.Retention.OrphanGrace = time.Second
		c.Retention.SweepInterval = 0 // the test sweeps
	}})
	council := gw.Client(t, "council.revenues")
	delivered, err := council.Send(ctx, policeDisclosure(16), bytes.NewReader(randomBytes(t, 16)))
	require.NoError(t, err)
	declared, err := council.Declare(ctx, policeDisclosure(16))
	require.NoError(t, err)

	objs := gw.App.Objects
	put := func(key string, opts minio.PutObjectOptions) {
		t.Helper()
		_, err := objs.Client().PutObject(ctx, objs.Bucket(), key, bytes.NewReader(randomBytes(t, 64)), 64, opts)
		require.NoError(t, err)
	}
	until := time.Now().Add(time.Hour).UTC()
	// A governance lock that ends during the test.
	shortUntil := time.Now().Add(4 * time.Second).UTC()
	shortLocked := exchange.PayloadPrefix + uuid.NewString() + "/" + uuid.NewString()
	put(shortLocked, minio.PutObjectOptions{Mode: minio.Governance, RetainUntilDate: shortUntil})
	keys := map[string]string{
		"deleted/no-row":        exchange.PayloadPrefix + uuid.NewString() + "/" + uuid.NewString(),
		"deleted/row-declared":  exchange.PayloadPrefix + declared.ID + "/" + uuid.NewString(),
		"deleted/beside-record": exchange.PayloadPrefix + delivered.ID + "/" + uuid.NewString(),
		"kept/governance":       exchange.PayloadPrefix + uuid.NewString() + "/" + uuid.NewString(),
		"kept/compliance":       exchange.PayloadPrefix + uuid.NewString() + "/" + uuid.NewString(),
	}
	for name, key := range keys {
		switch name {
		case "kept/governance":
			put(key, minio.PutObjectOptions{Mode: minio.Governance, RetainUntilDate: until})
		case "kept/compliance":
			put(key, minio.PutObjectOptions{Mode: minio.Compliance, RetainUntilDate: until})
		default:
			put(key, minio.PutObjectOptions{})
		}
	}
	// Too young yet: nothing is touched.
	gw.App.SweepOnce(ctx)
	require.Empty(t, orphansListed(t, gw.Env.ConfigFile))

	deletedBefore := testutil.ToFloat64(metrics.OrphanObjects.WithLabelValues("deleted"))
	time.Sleep(1100 * time.Millisecond)
	gw.App.SweepOnce(ctx)
	gw.App.SweepOnce(ctx) // again: nothing is deleted or audited twice

	listed := orphansListed(t, gw.Env.ConfigFile)
	deletions := orphanDeletions(t, gw.App.DB)
	for name, key := range keys {
		t.Run(name, func(t *testing.T) {
			exists, err := objs.Exists(ctx, key)
			require.NoError(t, err)
			o := listed[key]
			require.NotNil(t, o, "gatehouse objects orphans lists %s", key)
			if strings.HasPrefix(name, "deleted/") {
				require.False(t, exists)
				require.Equal(t, "deleted", o["state"])
				require.Equal(t, 1, deletions[key], "its deletion is audited once")
				return
			}
			require.True(t, exists, "a locked orphan is kept")
			require.Equal(t, "kept-locked", o["state"])
			require.Equal(t, strings.TrimPrefix(name, "kept/"), strings.ToLower(o["lock_mode"].(string)))
			require.Zero(t, deletions[key])
		})
	}
	require.Len(t, listed, len(keys)+1)
	require.Equal(t, "kept-locked", listed[shortLocked]["state"], "its lock has not ended yet")
	require.GreaterOrEqual(t, testutil.ToFloat64(metrics.OrphanObjects.WithLabelValues("deleted"))-deletedBefore, 3.0)

	// The short lock ends: the next sweep deletes that orphan, audited once.
	time.Sleep(time.Until(shortUntil) + time.Second)
	gw.App.SweepOnce(ctx)
	gw.App.SweepOnce(ctx)
	exists, err := objs.Exists(ctx, shortLocked)
	require.NoError(t, err)
	require.False(t, exists, "deleted once its lock ended")
	require.Equal(t, "deleted", orphansListed(t, gw.Env.ConfigFile)[shortLocked]["state"])
	require.Equal(t, 1, orphanDeletions(t, gw.App.DB)[shortLocked])
	for name, key := range keys {
		if strings.HasPrefix(name, "kept/") {
			exists, err := objs.Exists(ctx, key)
			require.NoError(t, err)
			require.True(t, exists, "%s: still locked", name)
		}
	}

	// The delivered exchange's own object is untouched.
	var out bytes.Buffer
	_, err = gw.Client(t, "police.northshire").Fetch(ctx, delivered.ID, gw.DecryptKey(t, "police.northshire"), &out)
	require.NoError(t, err)
	require.Equal(t, 16, out.Len())
	rep := check(t, gw, gw.App.DB, gw.App.AuditArchive)
	require.True(t, rep.OK(), "%v", rep.Problems)
}

// The gateway is killed (SIGKILL) after an upload's sealed payload reached
// the object store and before its commit: the test holds SQLite's write
// lock, as a concurrent writer would, so the commit waits, sees the object
// arrive and kills the gateway. After a restart the sweeper deletes the
// orphan (audited, and listed by gatehouse objects orphans), the exchange is
// still only declared, and the client's retry of the upload goes through.
func TestKilledBetweenStoreAndCommit(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs the gateway as a process")
	}
	ctx := context.Background()
	bin := buildGatehouse(t, t.TempDir())
	m := testenv.MinIO(t)
	addr, err := devenv.FreeAddr()
	require.NoError(t, err)
	bucket := "orphan-" + testenv.RandomHex(6)
	// A payload bucket without Object Lock: an orphan in it can be deleted
	// at once (TestOrphansAreDeletedOrReported covers locked ones).
	plain, err := objectstore.New(objectstore.Config{Endpoint: m.Endpoint, Bucket: bucket, Region: "us-east-1", AccessKey: m.AccessKey, SecretKey: m.SecretKey})
	require.NoError(t, err)
	require.NoError(t, plain.EnsureBucket(ctx, false))
	env, err := devenv.Prepare(t.TempDir(), devenv.Options{
		Listen: addr, TrustDomain: demo.TrustDomain, Parties: demo.PartyIDs(),
		ObjectsEndpoint: m.Endpoint, AccessKey: m.AccessKey, SecretKey: m.SecretKey, Bucket: bucket,
	})
	require.NoError(t, err)
	a, err := server.New(ctx, env.Config, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	require.NoError(t, demo.Seed(ctx, a.Agreements, env.EncryptionKeys))
	require.NoError(t, a.Close())

	proc := startGatewayProcess(t, bin, env)
	council := partyClient(t, env, "council.revenues")
	payload := randomBytes(t, 256<<10)
	e, err := council.Declare(ctx, policeDisclosure(int64(len(payload))))
	require.NoError(t, err)

	// Hold the database's write lock: the upload's commit will wait for it.
	require.True(t, filepath.IsAbs(env.Config.Database.DSN))
	locker, err := sql.Open("sqlite", "file:"+env.Config.Database.DSN+"?_txlock=immediate&_pragma=busy_timeout(10000)")
	require.NoError(t, err)
	defer locker.Close()
	hold, err := locker.BeginTx(ctx, nil)
	require.NoError(t, err)
	_, err = hold.ExecContext(ctx, "UPDATE audit_head SET seq = seq WHERE id = 1")
	require.NoError(t, err)
	uploaded := make(chan error, 1)
	go func() {
		_, err := council.Upload(ctx, e.ID, bytes.NewReader(payload), int64(len(payload)))
		uploaded <- err
	}()
	prefix := exchange.PayloadPrefix + e.ID + "/"
	var orphan string
	require.Eventually(t, func() bool {
		keys, err := plain.Keys(ctx, prefix)
		if err != nil || len(keys) == 0 {
			return false
		}
		orphan = keys[0]
		return true
	}, 20*time.Second, 20*time.Millisecond, "the sealed payload never reached the store:\n%s", proc.log)
	require.NoError(t, proc.cmd.Process.Kill())
	_ = proc.cmd.Wait()
	require.NoError(t, hold.Rollback())
	require.Error(t, <-uploaded, "the client never saw the upload succeed")

	// Restarted with a short grace and a fast sweeper.
	proc = startGatewayProcess(t, bin, env, "GATEHOUSE_RETENTION_ORPHAN_GRACE=1s", "GATEHOUSE_RETENTION_SWEEP_INTERVAL=500ms")
	got, err := council.Exchange(ctx, e.ID)
	require.NoError(t, err)
	require.Contains(t, []string{"declared", "failed"}, got.State, "nothing claims delivery")
	require.Eventually(t, func() bool {
		ok, err := plain.Exists(ctx, orphan)
		return err == nil && !ok
	}, 20*time.Second, 100*time.Millisecond, "the sweeper did not delete the orphan:\n%s", proc.log)
	listed := orphansListed(t, env.ConfigFile)
	require.Equal(t, "deleted", listed[orphan]["state"], "%v", listed)
	require.Equal(t, e.ID, listed[orphan]["exchange"])

	// The client tries again, and the exchange is delivered.
	sent, err := council.Upload(ctx, e.ID, bytes.NewReader(payload), int64(len(payload)))
	require.NoError(t, err)
	require.Equal(t, "delivered", sent.State)
	var out bytes.Buffer
	key, err := seal.ReadKey(env.EncryptionKeyFile("police.northshire"))
	require.NoError(t, err)
	_, err = partyClient(t, env, "police.northshire").Fetch(ctx, e.ID, key, &out)
	require.NoError(t, err)
	require.Equal(t, payload, out.Bytes())
	keys, err := plain.Keys(ctx, prefix)
	require.NoError(t, err)
	require.Len(t, keys, 1, "only the delivered payload remains")

	verifyOut, _, err := gatehouse(t, "audit", "verify", "--config", env.ConfigFile, "--json")
	require.NoError(t, err, verifyOut)
	require.Contains(t, verifyOut, `"ok": true`)
}

// Payloads are locked in compliance mode, and an upload's commit fails
// after its object was stored (SQLite's files made immutable at that
// moment): the upload fails closed with 503, and the gateway cannot remove
// the object — nobody can before its retention date. The sweeper then
// reports it, kept-locked in compliance mode until that date, in gatehouse
// objects orphans and among the objects held; the client's retry is
// delivered, and its object is no orphan.
func TestFailedUploadUnderComplianceLockIsReported(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{Configure: func(c *config.Config) {
		c.Retention.LockMode = "compliance"
		c.Retention.OrphanGrace = time.Second
		c.Retention.SweepInterval = 0 // the test sweeps
	}, ClientRetry: client.Retry{Attempts: 1}})
	dbFile := gw.Env.Config.Database.DSN
	require.True(t, filepath.IsAbs(dbFile), "the test needs the database's path: %s", dbFile)
	testenv.RequireImmutableEnforced(t, filepath.Dir(dbFile))
	council := gw.Client(t, "council.revenues")
	payload := randomBytes(t, 4<<10)
	e, err := council.Declare(ctx, policeDisclosure(int64(len(payload))))
	require.NoError(t, err)

	files := []string{dbFile, dbFile + "-wal"}
	testenv.SetImmutable(t, true, files...)
	_, err = council.Upload(ctx, e.ID, bytes.NewReader(payload), int64(len(payload)))
	requireProblem(t, err, http.StatusServiceUnavailable, "unavailable")
	testenv.SetImmutable(t, false, files...)
	objs := gw.App.Objects
	left, err := objs.Keys(ctx, exchange.PayloadPrefix+e.ID+"/")
	require.NoError(t, err)
	require.Len(t, left, 1, "the compliance lock keeps the failed upload's object")
	failed := left[0]
	mode, until, err := objs.Retention(ctx, failed, "")
	require.NoError(t, err)
	require.Equal(t, "COMPLIANCE", mode)
	require.True(t, until.After(time.Now().Add(time.Hour)), "locked until %s", until)

	readyAgain(t, gw, 10*time.Second)
	sent, err := council.Upload(ctx, e.ID, bytes.NewReader(payload), int64(len(payload)))
	require.NoError(t, err)
	require.Equal(t, "delivered", sent.State)

	time.Sleep(1100 * time.Millisecond)
	gw.App.SweepOnce(ctx)
	listed := orphansListed(t, gw.Env.ConfigFile)
	require.Len(t, listed, 1, "the delivered payload is no orphan: %v", listed)
	o := listed[failed]
	require.NotNil(t, o, "gatehouse objects orphans lists %s: %v", failed, listed)
	require.Equal(t, "kept-locked", o["state"])
	require.Equal(t, "COMPLIANCE", o["lock_mode"])
	require.Equal(t, e.ID, o["exchange"])
	lockedUntil, err := time.Parse(time.RFC3339, o["locked_until"].(string))
	require.NoError(t, err)
	require.WithinDuration(t, until, lockedUntil, time.Second)
	require.Zero(t, orphanDeletions(t, gw.App.DB)[failed], "nothing claims it was deleted")
	// What the next pass counts as held (gatehouse_orphan_objects_held).
	pass, err := gw.App.Orphans.Reconcile(ctx, 5000)
	require.NoError(t, err)
	require.Equal(t, exchange.ReconcileReport{Scanned: 2, Orphans: 1, Kept: 1, PassDone: true}, pass)

	var out bytes.Buffer
	_, err = gw.Client(t, "police.northshire").Fetch(ctx, e.ID, gw.DecryptKey(t, "police.northshire"), &out)
	require.NoError(t, err)
	require.Equal(t, payload, out.Bytes())
	rep := check(t, gw, gw.App.DB, gw.App.AuditArchive)
	require.True(t, rep.OK(), "%v", rep.Problems)
}
