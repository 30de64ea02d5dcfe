package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/client"
	"github.com/gatehouse-gw/gatehouse/devenv/testenv"
)

// pausingReader gives size bytes of data and, after the first at bytes,
// calls pause once and notes when.
type pausingReader struct {
	data   []byte
	off    int
	at     int
	pause  func()
	once   sync.Once
	paused time.Time
}

func (r *pausingReader) Read(b []byte) (int, error) {
	if r.off >= len(r.data) {
		return 0, io.EOF
	}
	if r.off >= r.at {
		r.once.Do(func() { r.pause(); r.paused = time.Now() })
	}
	n := copy(b, r.data[r.off:min(len(r.data), r.off+64<<10)])
	r.off += n
	return n, nil
}

func readyz(t *testing.T, gw *testenv.Gateway) (int, api.Health) {
	t.Helper()
	resp, err := testenv.PartyHTTPClient(t, gw, "council.revenues").Get(gw.URL + "/readyz")
	require.NoError(t, err)
	defer resp.Body.Close()
	var h api.Health
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&h))
	return resp.StatusCode, h
}

// MinIO stops answering in the middle of a 40 MiB upload: the gateway
// answers 503 within 5 s, stores nothing and claims no delivery; once MinIO
// is back the same upload succeeds with no operator action.
func TestObjectStoreStopsMidUpload(t *testing.T) {
	ctx := context.Background()
	m := testenv.OwnMinIO(t)
	gw := testenv.StartGateway(t, testenv.GatewayOptions{MinIO: m})
	council := gw.Client(t, "council.revenues")
	payload := randomBytes(t, 40<<20)
	d := policeDisclosure(int64(len(payload)))
	e, err := council.Declare(ctx, d)
	require.NoError(t, err)

	body := &pausingReader{data: payload, at: 20 << 20, pause: func() { require.NoError(t, m.Pause()) }}
	resumed := false
	defer func() {
		if !resumed {
			_ = m.Resume()
		}
	}()
	_, err = council.Upload(ctx, e.ID, body, int64(len(payload)))
	failedAfter := time.Since(body.paused)
	t.Logf("paused at %s, failed after %s", body.paused.Format("15:04:05.000"), failedAfter)
	requireProblem(t, err, http.StatusServiceUnavailable, "unavailable")
	require.Less(t, failedAfter, 5*time.Second, "the upload fails within 5 s of the store going silent")

	status, h := readyz(t, gw)
	require.Equal(t, http.StatusServiceUnavailable, status)
	require.Equal(t, "failing", h.Checks["objects"])
	got, err := council.Exchange(ctx, e.ID)
	require.NoError(t, err)
	require.Equal(t, "failed", got.State, "nothing claims delivery")
	inbox, err := gw.Client(t, "police.northshire").Inbox(ctx, "", 0)
	require.NoError(t, err)
	require.Empty(t, inbox.Exchanges)

	require.NoError(t, m.Resume())
	resumed = true
	require.Eventually(t, func() bool { status, _ := readyz(t, gw); return status == http.StatusOK },
		10*time.Second, 200*time.Millisecond, "ready again once the store answers (results are cached for 2 s)")
	// No object, and (once the abandoned multipart upload is aborted) no parts.
	keys, err := gw.App.Objects.Keys(ctx, "")
	require.NoError(t, err)
	require.Empty(t, keys)
	_, err = gw.App.Objects.AbortStale(ctx, time.Now())
	require.NoError(t, err)
	for u := range gw.App.Objects.Client().ListIncompleteUploads(ctx, gw.App.Objects.Bucket(), "", true) {
		require.NoError(t, u.Err)
		t.Errorf("incomplete upload left behind: %s", u.Key)
	}

	// The same upload, again: it goes through.
	sent, err := council.Upload(ctx, e.ID, bytes.NewReader(payload), int64(len(payload)))
	require.NoError(t, err)
	require.Equal(t, "delivered", sent.State)
	var out bytes.Buffer
	_, err = gw.Client(t, "police.northshire").Fetch(ctx, e.ID, gw.DecryptKey(t, "police.northshire"), &out)
	require.NoError(t, err)
	require.Equal(t, sha256.Sum256(payload), sha256.Sum256(out.Bytes()))
}

// PostgreSQL goes away (the connection to it is cut): every request fails
// closed with 503, /readyz says so, and when it is back the gateway carries
// on without a restart.
func TestDatabaseUnavailable(t *testing.T) {
	ctx := context.Background()
	dsn, err := url.Parse(testenv.Postgres(t))
	require.NoError(t, err)
	proxy := testenv.StartProxy(t, dsn.Host)
	dsn.Host = proxy.Addr
	gw := testenv.StartGateway(t, testenv.GatewayOptions{Postgres: true, DSN: dsn.String(), ClientRetry: client.Retry{Attempts: 1}})
	council := gw.Client(t, "council.revenues")
	police := gw.Client(t, "police.northshire")
	sent, err := council.Send(ctx, policeDisclosure(16), bytes.NewReader(randomBytes(t, 16)))
	require.NoError(t, err)

	proxy.Cut()
	start := time.Now()
	_, err = council.Declare(ctx, policeDisclosure(16))
	requireProblem(t, err, http.StatusServiceUnavailable, "unavailable")
	require.Less(t, time.Since(start), 5*time.Second)
	_, err = police.Inbox(ctx, "", 0)
	requireProblem(t, err, http.StatusServiceUnavailable, "unavailable")
	var out bytes.Buffer
	_, err = police.Fetch(ctx, sent.ID, gw.DecryptKey(t, "police.northshire"), &out)
	requireProblem(t, err, http.StatusServiceUnavailable, "unavailable")
	require.Zero(t, out.Len(), "nothing is disclosed without its audit record")
	require.Eventually(t, func() bool {
		status, h := readyz(t, gw)
		return status == http.StatusServiceUnavailable && h.Checks["database"] == "failing" && h.Checks["audit"] == "failing"
	}, 10*time.Second, 200*time.Millisecond)

	proxy.Restore()
	require.Eventually(t, func() bool { status, _ := readyz(t, gw); return status == http.StatusOK }, 15*time.Second, 200*time.Millisecond)
	e, err := council.Send(ctx, policeDisclosure(16), bytes.NewReader(randomBytes(t, 16)))
	require.NoError(t, err)
	_, err = police.Fetch(ctx, e.ID, gw.DecryptKey(t, "police.northshire"), &out)
	require.NoError(t, err)
	rep := check(t, gw, gw.App.DB, gw.App.AuditArchive)
	require.True(t, rep.OK(), "%v", rep.Problems)
}

// The object store refuses writes (its quota is reached): the upload gets a
// clear 507, nothing is stored or delivered, and once there is room the
// same upload goes through.
func TestObjectStoreRefusesWrites(t *testing.T) {
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	council := gw.Client(t, "council.revenues")
	payload := randomBytes(t, 64<<10)
	e, err := council.Declare(ctx, policeDisclosure(int64(len(payload))))
	require.NoError(t, err)
	testenv.SetBucketQuota(t, testenv.MinIO(t), gw.App.Objects.Bucket(), 1024)

	_, err = council.Upload(ctx, e.ID, bytes.NewReader(payload), int64(len(payload)))
	p := requireProblem(t, err, http.StatusInsufficientStorage, "storage-full")
	require.Contains(t, p.Title, "full")
	got, err := council.Exchange(ctx, e.ID)
	require.NoError(t, err)
	require.Equal(t, "failed", got.State)
	keys, err := gw.App.Objects.Keys(ctx, "")
	require.NoError(t, err)
	require.Empty(t, keys, "nothing half-written")

	testenv.SetBucketQuota(t, testenv.MinIO(t), gw.App.Objects.Bucket(), 1<<30)
	sent, err := council.Upload(ctx, e.ID, bytes.NewReader(payload), int64(len(payload)))
	require.NoError(t, err)
	require.Equal(t, "delivered", sent.State)
}
