package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/config"
	"github.com/gatehouse-gw/gatehouse/devenv/testenv"
	"github.com/gatehouse-gw/gatehouse/tlog"
)

// Two gateway nodes on one PostgreSQL database and one bucket behave as
// one: driven at once, they write one unbroken audit chain with no
// duplicate sequence numbers, and what one node seals the other delivers.
func TestTwoNodesOneRecord(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.Postgres(t)
	configure := func(c *config.Config) {
		// Both nodes sign checkpoints, often, while the load runs.
		c.Audit.CheckpointEvery = 20
		c.Audit.CheckpointInterval = time.Second
	}
	a := testenv.StartGateway(t, testenv.GatewayOptions{Postgres: true, DSN: dsn, Configure: configure})
	b := testenv.StartGateway(t, testenv.GatewayOptions{
		Postgres: true, DSN: dsn, Dir: a.Env.Dir, Bucket: a.Env.Config.Objects.Bucket, Configure: configure,
	})
	nodes := []*testenv.Gateway{a, b}

	const workers, each = 4, 6
	type sent struct {
		id, sum  string
		node     int
		receipts []string
	}
	var (
		mu   sync.Mutex
		all  []sent
		wg   sync.WaitGroup
		errs = make(chan error, 2*workers*each)
	)
	for n, gw := range nodes {
		for w := range workers {
			council := gw.Client(t, "council.revenues")
			wg.Go(func() {
				for i := range each {
					body := []byte(fmt.Sprintf("node %d worker %d exchange %d", n, w, i))
					e, err := council.Send(ctx, policeDisclosure(int64(len(body))), bytes.NewReader(body))
					if err != nil {
						errs <- err
						continue
					}
					// A refusal on every other round, decided by either node.
					if i%2 == 1 {
						refused := policeDisclosure(1)
						refused.Purpose = "marketing"
						if _, err := council.Declare(ctx, refused); err == nil {
							errs <- fmt.Errorf("marketing was not refused")
						}
					}
					sum := sha256.Sum256(body)
					mu.Lock()
					all = append(all, sent{id: e.ID, sum: hex.EncodeToString(sum[:]), node: n, receipts: e.Receipts})
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, all, 2*workers*each)

	// Each exchange is fetched and decrypted through the node that did not seal it.
	for _, s := range all {
		other := nodes[1-s.node]
		var out bytes.Buffer
		_, err := other.Client(t, "police.northshire").Fetch(ctx, s.id, other.DecryptKey(t, "police.northshire"), &out)
		require.NoError(t, err)
		sum := sha256.Sum256(out.Bytes())
		require.Equal(t, s.sum, hex.EncodeToString(sum[:]))
	}

	// One chain: seq 1..n with no gap or repeat, every decision recorded
	// once, checkpoints from both nodes agreeing with it and the archive.
	for _, gw := range nodes {
		_, err := gw.App.Checkpointer.Once(ctx, true)
		require.NoError(t, err)
	}
	recs, err := a.App.DB.AuditRecords(ctx, 0, 100000)
	require.NoError(t, err)
	decided := map[string]int{}
	for i, r := range recs {
		require.Equal(t, int64(i+1), r.Seq)
		var e audit.Entry
		require.NoError(t, json.Unmarshal(r.Body, &e))
		if e.Type == audit.TypeExchangeDecided {
			decided[e.Outcome]++
		}
	}
	require.Equal(t, 2*workers*each, decided["allow"])
	require.Equal(t, 2*workers*each/2, decided["deny"])
	rep, err := audit.Check(ctx, b.App.DB, b.App.AuditArchive, audit.CheckOptions{Keys: b.App.AuditKeys, Issuer: b.Env.Config.Issuer})
	require.NoError(t, err)
	require.True(t, rep.OK(), "%v", rep.Problems)
	require.Equal(t, int64(len(recs)), rep.HeadSeq)
	require.Greater(t, rep.Checkpoints, 3)
	require.Zero(t, rep.Unarchived)

	// One tree: every checkpoint, whichever node signed it, extends the one
	// before (proved by node a), and every receipt either node gave is in
	// the latest (proved by node b).
	cps, err := a.App.DB.AuditCheckpoints(ctx, 0, 10000)
	require.NoError(t, err)
	key, err := tlog.NewVerifier(a.App.CheckpointKey.VerifierKey)
	require.NoError(t, err)
	var prev *tlog.TreeHead
	for _, cp := range cps {
		th, err := tlog.OpenTreeHead([]byte(cp.Note), key.Name(), key)
		require.NoError(t, err)
		if prev != nil {
			require.NoError(t, a.Client(t, "dwp").VerifyConsistency(ctx, prev, th), "checkpoint %d extends %d", th.Size, prev.Size)
		}
		prev = th
	}
	police := b.Client(t, "police.northshire")
	keys, err := police.GatewayKeys(ctx)
	require.NoError(t, err)
	council := b.Client(t, "council.revenues")
	for _, s := range all {
		require.Len(t, s.receipts, 2, "the decision and the delivery")
		for _, r := range s.receipts {
			_, err := council.VerifyReceipt(ctx, keys, prev, r)
			require.NoError(t, err, "a receipt from node %d, proved by the other", s.node)
		}
	}

	// The command line agrees, reading PostgreSQL in read-only sessions.
	out, _, err := gatehouse(t, "audit", "verify", "--config", a.Env.ConfigFile, "--json")
	require.NoError(t, err, out)
	require.Contains(t, out, `"ok": true`)
}
