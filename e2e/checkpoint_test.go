package e2e

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/config"
	"github.com/gatehouse-gw/gatehouse/devenv/testenv"
	"github.com/gatehouse-gw/gatehouse/internal/metrics"
	"github.com/gatehouse-gw/gatehouse/server"
	"github.com/gatehouse-gw/gatehouse/store/objectstore"
)

// declare makes n audit entries (declarations, which need no object store).
func declare(t *testing.T, gw *testenv.Gateway, n int) {
	t.Helper()
	council := gw.Client(t, "council.revenues")
	for range n {
		_, err := council.Declare(context.Background(), policeDisclosure(16))
		require.NoError(t, err)
	}
}

// requireOneObjectPerSegment checks that the archive holds exactly the
// segments the database records, one object version each, and that the
// record verifies with nothing unrecorded.
func requireOneObjectPerSegment(t *testing.T, gw *testenv.Gateway) {
	t.Helper()
	ctx := context.Background()
	recorded, err := gw.App.DB.AuditSegments(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, recorded)
	versions, err := gw.App.AuditArchive.SegmentVersions(ctx)
	require.NoError(t, err)
	want := map[string]string{}
	for _, r := range recorded {
		want[r.Key] = r.Version
	}
	got := map[string][]string{}
	for _, v := range versions {
		got[v.Key] = append(got[v.Key], v.Version)
	}
	for key, vs := range got {
		require.Equal(t, []string{want[key]}, vs, "the archive holds exactly the recorded version of %s", key)
	}
	require.Len(t, got, len(want), "every recorded segment is archived, and nothing else")
	rep := check(t, gw, gw.App.DB, gw.App.AuditArchive)
	require.True(t, rep.OK(), "%v", rep.Problems)
	require.Empty(t, rep.Unrecorded)
	require.Zero(t, rep.Pending)
}

// MinIO killed during a checkpoint: the archive's answers are lost after
// a segment was written (the write reached MinIO, the gateway never heard),
// then MinIO is killed while segments are being written, again and again.
// The gateway retries with backoff and no operator action; afterwards the
// archive holds exactly one object per recorded segment and the record
// verifies.
func TestMinIOKilledDuringCheckpoint(t *testing.T) {
	ctx := context.Background()
	m := testenv.OwnMinIO(t)
	proxy := testenv.StartProxy(t, m.Endpoint)
	gw := testenv.StartGateway(t, testenv.GatewayOptions{MinIO: m, Configure: func(c *config.Config) {
		c.Objects.Endpoint = proxy.Addr
		c.Objects.IOTimeout = 500 * time.Millisecond
		c.Audit.CheckpointEvery = 5
		c.Audit.CheckpointInterval = time.Hour
	}})
	failuresBefore := testutil.ToFloat64(metrics.AuditCheckpointFailures)
	_, err := gw.App.Checkpointer.Once(ctx, true)
	require.NoError(t, err, "the setup's entries are archived")

	// A segment reaches the archive, its answer does not (the segment of
	// three entries is the one request of more than 2 KiB; three are fewer
	// than checkpoint_every, so only the forced round signs them).
	declare(t, gw, 3)
	proxy.MuteAfter(2 << 10)
	_, err = gw.App.Checkpointer.Once(ctx, true)
	require.Error(t, err, "the archive did not answer")
	direct := archiveAt(t, gw, m.Endpoint)
	landed, err := direct.SegmentVersions(ctx)
	require.NoError(t, err)
	recorded, err := gw.App.DB.AuditSegments(ctx)
	require.NoError(t, err)
	unheard := len(landed) - len(recorded)
	require.Equal(t, 1, unheard, "a segment reached MinIO, but the gateway never heard, so it is not recorded yet")
	proxy.Restore()
	requireArchivedOnce(t, gw)

	// MinIO killed while the checkpointer writes, several times over.
	for round := range 4 {
		declare(t, gw, 7)
		time.Sleep(time.Duration(100*round) * time.Millisecond)
		require.NoError(t, m.Kill())
		declare(t, gw, 5) // the record goes on without the archive
		if round == 0 {
			// The gateway's own checkpointer (not only the forced rounds
			// below) meets the dead archive, and its failure is counted.
			require.Eventually(t, func() bool {
				return testutil.ToFloat64(metrics.AuditCheckpointFailures) > failuresBefore
			}, 30*time.Second, 50*time.Millisecond, "the failures are counted")
		}
		_, err := gw.App.Checkpointer.Once(ctx, true)
		require.Error(t, err, "no archive, no checkpoint archived")
		require.NoError(t, m.Restart(ctx))
	}
	require.Eventually(t, func() bool {
		_, err := gw.App.Checkpointer.Once(ctx, true)
		return err == nil
	}, 30*time.Second, 200*time.Millisecond, "checkpoints work again once MinIO is back")
	requireOneObjectPerSegment(t, gw)
}

// archiveAt is the gateway's archive bucket reached at endpoint.
func archiveAt(t *testing.T, gw *testenv.Gateway, endpoint string) *objectstore.Store {
	t.Helper()
	cfg := *gw.Env.Config
	cfg.Objects.Endpoint = endpoint
	st, err := objectstore.New(server.ObjectsConfig(&cfg, cfg.Audit.Bucket, cfg.Audit.LockMode))
	require.NoError(t, err)
	return st
}

// requireArchivedOnce waits for the checkpointer to recover and checks that
// the segment whose answer was lost was recorded, not written again.
func requireArchivedOnce(t *testing.T, gw *testenv.Gateway) {
	t.Helper()
	ctx := context.Background()
	require.Eventually(t, func() bool {
		_, err := gw.App.Checkpointer.Once(ctx, true)
		return err == nil
	}, 20*time.Second, 200*time.Millisecond)
	requireOneObjectPerSegment(t, gw)
}

// Two nodes starting together, both with entries to checkpoint at once:
// one of them signs and archives each segment (the other waits for the
// lease), and no extra segment is left in the archive.
func TestTwoNodesStartingTogether(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.Postgres(t)
	slow := func(c *config.Config) { c.Audit.CheckpointInterval = time.Hour }
	first := testenv.StartGateway(t, testenv.GatewayOptions{Postgres: true, DSN: dsn, Configure: slow})
	declare(t, first, 25)
	dir, bucket := first.Env.Dir, first.Env.Config.Objects.Bucket
	require.NoError(t, first.App.Shutdown(ctx))

	fast := func(c *config.Config) {
		c.Audit.CheckpointEvery = 4
		c.Audit.CheckpointInterval = time.Second
	}
	nodes := make([]*testenv.Gateway, 2)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Go(func() {
			nodes[i] = testenv.StartGateway(t, testenv.GatewayOptions{Postgres: true, DSN: dsn, Dir: dir, Bucket: bucket, Configure: fast})
		})
	}
	wg.Wait()
	// Both nodes race to checkpoint the 25 entries, while both add more.
	for _, gw := range nodes {
		wg.Go(func() { declare(t, gw, 6) })
	}
	wg.Wait()
	require.Eventually(t, func() bool {
		age, err := nodes[0].App.Checkpointer.UnarchivedAge(ctx)
		return err == nil && age == 0
	}, 30*time.Second, 200*time.Millisecond, "the nodes' checkpointers archive every entry")
	requireOneObjectPerSegment(t, nodes[1])
	head, _, err := nodes[0].App.DB.AuditHead(ctx)
	require.NoError(t, err)
	last, ok, err := nodes[0].App.DB.LastAuditCheckpoint(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, head, last.Seq)
}
