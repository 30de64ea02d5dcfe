package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/client"
	"github.com/gatehouse-gw/gatehouse/devenv"
	"github.com/gatehouse-gw/gatehouse/devenv/demo"
	"github.com/gatehouse-gw/gatehouse/devenv/testenv"
	"github.com/gatehouse-gw/gatehouse/exchange/seal"
	"github.com/gatehouse-gw/gatehouse/server"
)

// buildGatehouse builds the gatehouse command into dir.
func buildGatehouse(t *testing.T, dir string) string {
	t.Helper()
	root, err := devenv.ModuleRoot()
	require.NoError(t, err)
	bin := filepath.Join(dir, "gatehouse")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/gatehouse")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	return bin
}

// gatewayProcess is `gatehouse serve` as a process of its own.
type gatewayProcess struct {
	cmd *exec.Cmd
	log *bytes.Buffer
}

// startGatewayProcess starts `gatehouse serve` with env's configuration,
// and extraEnv (GATEHOUSE_… overrides) added to the environment.
func startGatewayProcess(t *testing.T, bin string, env *devenv.Env, extraEnv ...string) *gatewayProcess {
	t.Helper()
	p := &gatewayProcess{cmd: exec.Command(bin, "serve", "--config", env.ConfigFile), log: &bytes.Buffer{}}
	p.cmd.Env = append(os.Environ(), extraEnv...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(t, p.cmd.Start())
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			_, _ = p.cmd.Process.Wait()
		}
	})
	c := partyClient(t, env, "council.revenues")
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := c.WhoAmI(ctx)
		return err == nil
	}, 30*time.Second, 100*time.Millisecond, "the gateway did not start:\n%s", p.log)
	return p
}

func partyClient(t *testing.T, env *devenv.Env, party string) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{
		Gateway: "https://" + env.Config.Listen, CertFile: env.CertFile(party), KeyFile: env.KeyFile(party), CAFile: env.CAFile(),
	})
	require.NoError(t, err)
	return c
}

// The gateway is killed (SIGKILL) in the middle of a load of concurrent
// exchanges. After a restart, every exchange a client saw succeed is
// complete, fetchable and decryptable, and the audit record verifies.
func TestKilledUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the gateway as a process")
	}
	ctx := context.Background()
	dir := t.TempDir()
	bin := buildGatehouse(t, t.TempDir())
	m := testenv.MinIO(t)
	addr, err := devenv.FreeAddr()
	require.NoError(t, err)
	env, err := devenv.Prepare(dir, devenv.Options{
		Listen: addr, TrustDomain: demo.TrustDomain, Parties: demo.PartyIDs(),
		ObjectsEndpoint: m.Endpoint, AccessKey: m.AccessKey, SecretKey: m.SecretKey, Bucket: "crash-" + testenv.RandomHex(6),
	})
	require.NoError(t, err)
	a, err := server.New(ctx, env.Config, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	require.NoError(t, demo.Seed(ctx, a.Agreements, env.EncryptionKeys))
	require.NoError(t, a.Close())

	proc := startGatewayProcess(t, bin, env)
	type sent struct {
		id  string
		sum [32]byte
	}
	var (
		mu        sync.Mutex
		succeeded []sent
		stop      atomic.Bool
		wg        sync.WaitGroup
	)
	for w := range 6 {
		council := partyClient(t, env, "council.revenues")
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				body := []byte(fmt.Sprintf("worker %d exchange %d %s", w, i, testenv.RandomHex(64)))
				e, err := council.Send(ctx, policeDisclosure(int64(len(body))), bytes.NewReader(body))
				if err != nil {
					return // the gateway is gone
				}
				mu.Lock()
				succeeded = append(succeeded, sent{e.ID, sha256.Sum256(body)})
				mu.Unlock()
			}
		})
	}
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(succeeded) >= 60 }, 60*time.Second, 10*time.Millisecond)
	require.NoError(t, proc.cmd.Process.Kill())
	_ = proc.cmd.Wait()
	stop.Store(true)
	wg.Wait()
	mu.Lock()
	seen := append([]sent(nil), succeeded...)
	mu.Unlock()
	t.Logf("killed the gateway after %d exchanges a client saw succeed", len(seen))

	startGatewayProcess(t, bin, env)
	police := partyClient(t, env, "police.northshire")
	key, err := seal.ReadKey(env.EncryptionKeyFile("police.northshire"))
	require.NoError(t, err)
	for _, s := range seen {
		var out bytes.Buffer
		m, err := police.Fetch(ctx, s.id, key, &out)
		require.NoError(t, err, "exchange %s", s.id)
		require.Equal(t, s.sum, sha256.Sum256(out.Bytes()), "exchange %s", s.id)
		require.Equal(t, s.id, m.Exchange)
	}
	out, _, err := gatehouse(t, "audit", "verify", "--config", env.ConfigFile, "--json")
	require.NoError(t, err, "%s\ngateway log:\n%s", out, proc.log)
	require.Contains(t, out, `"ok": true`)
}
