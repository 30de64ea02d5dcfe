package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/gatehouse-gw/gatehouse/client"
	"github.com/gatehouse-gw/gatehouse/devenv"
	"github.com/gatehouse-gw/gatehouse/devenv/demo"
	"github.com/gatehouse-gw/gatehouse/server"
	"github.com/gatehouse-gw/gatehouse/store/objectstore"
)

// env is a benchmark environment: MinIO and a gateway, each its own
// process, as they run in production.
type env struct {
	dir     string
	minio   *devenv.MinIO
	cfg     *devenv.Env
	gateway *exec.Cmd
	url     string
	done    chan error
}

// startEnv starts MinIO and a gateway (the binary bin built from this tree),
// with the demo parties and agreements loaded.
func startEnv(ctx context.Context, bin string) (*env, error) {
	dir, err := os.MkdirTemp("", "gatehouse-bench-*")
	if err != nil {
		return nil, err
	}
	e := &env{dir: dir}
	minioBin, err := devenv.MinIOBinary()
	if err != nil {
		return nil, err
	}
	if e.minio, err = devenv.StartMinIO(ctx, minioBin, filepath.Join(dir, "minio"), "", "bench", devenv.RandomSecret(12), io.Discard); err != nil {
		return nil, err
	}
	addr, err := devenv.FreeAddr()
	if err != nil {
		return nil, err
	}
	e.cfg, err = devenv.Prepare(filepath.Join(dir, "gw"), devenv.Options{
		Listen: addr, TrustDomain: demo.TrustDomain, Parties: demo.PartyIDs(),
		ObjectsEndpoint: e.minio.Endpoint, AccessKey: e.minio.AccessKey, SecretKey: e.minio.SecretKey,
	})
	if err != nil {
		return nil, err
	}
	// Load the demo registry, then hand the database to the gateway process.
	a, err := server.New(ctx, e.cfg.Config, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return nil, err
	}
	if err := demo.Seed(ctx, a.Agreements, e.cfg.EncryptionKeys); err != nil {
		a.Close()
		return nil, err
	}
	a.Close()
	e.url = "https://" + addr
	return e, e.startGateway(ctx, bin)
}

// startGateway starts (or restarts) the gateway process.
func (e *env) startGateway(ctx context.Context, bin string) error {
	args := []string{"serve", "--config", e.cfg.ConfigFile}
	if p := os.Getenv("GATEHOUSE_BENCH_CPU_PROFILE"); p != "" {
		args = append(args, "--cpu-profile", p)
	}
	if p := os.Getenv("GATEHOUSE_BENCH_ALLOC_PROFILE"); p != "" {
		args = append(args, "--alloc-profile", p)
	}
	cmd := exec.Command(bin, args...)
	// The benchmarks measure the gateway, not its per-party rate limit
	// (200 requests/s by default): it is raised out of the way.
	cmd.Env = append(os.Environ(), "GATEHOUSE_LOG_LEVEL=warn",
		"GATEHOUSE_LIMITS_RATE_DEFAULT_PER_SECOND=100000", "GATEHOUSE_LIMITS_RATE_DEFAULT_BURST=100000")
	logFile, err := os.Create(filepath.Join(e.dir, "gateway.log"))
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	e.gateway, e.done = cmd, make(chan error, 1)
	go func() { e.done <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if conn, err := net.DialTimeout("tcp", strings.TrimPrefix(e.url, "https://"), 200*time.Millisecond); err == nil {
			conn.Close()
			return nil
		}
		select {
		case err := <-e.done:
			return fmt.Errorf("gateway exited: %v (log in %s)", err, logFile.Name())
		case <-time.After(100 * time.Millisecond):
		}
	}
	return errors.New("gateway did not start listening")
}

// stopGateway stops the gateway process.
func (e *env) stopGateway() {
	if e.gateway == nil {
		return
	}
	_ = e.gateway.Process.Signal(syscall.SIGTERM)
	select {
	case <-e.done:
	case <-time.After(30 * time.Second):
		_ = e.gateway.Process.Kill()
		<-e.done
	}
	e.gateway = nil
}

// peakRSS is the gateway process's peak resident set (VmHWM), in bytes.
func (e *env) peakRSS() (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", e.gateway.Process.Pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM in /proc status")
}

func (e *env) close() {
	e.stopGateway()
	if e.minio != nil {
		_ = e.minio.Stop()
	}
	os.RemoveAll(e.dir)
}

// client connects to the gateway as party.
func (e *env) client(party string) (*client.Client, error) {
	return client.New(client.Config{Gateway: e.url, CertFile: e.cfg.CertFile(party), KeyFile: e.cfg.KeyFile(party), CAFile: e.cfg.CAFile()})
}

// rawStore is the baseline: MinIO straight, through the same client library
// and options the gateway uses, on a bucket of its own.
func (e *env) rawStore(ctx context.Context) (*objectstore.Store, error) {
	s, err := objectstore.New(objectstore.Config{
		Endpoint: e.minio.Endpoint, Bucket: "baseline", Region: "us-east-1",
		AccessKey: e.minio.AccessKey, SecretKey: e.minio.SecretKey,
	})
	if err != nil {
		return nil, err
	}
	return s, s.EnsureBucket(ctx, false)
}

// rawGet reads a whole object from the baseline bucket.
func rawGet(ctx context.Context, s *objectstore.Store, key string) (int64, error) {
	obj, err := s.Client().GetObject(ctx, s.Bucket(), key, minio.GetObjectOptions{})
	if err != nil {
		return 0, err
	}
	defer obj.Close()
	return io.Copy(io.Discard, obj)
}

// pattern is a cheap endless source of incompressible bytes: a random 1 MiB
// block, repeated.
type pattern struct {
	block []byte
	off   int
	left  int64
}

func newPattern(size int64) *pattern {
	b := make([]byte, 1<<20)
	_, _ = rand.Read(b)
	return &pattern{block: b, left: size}
}

func (p *pattern) Read(b []byte) (int, error) {
	if p.left <= 0 {
		return 0, io.EOF
	}
	n := copy(b, p.block[p.off:])
	if int64(n) > p.left {
		n = int(p.left)
	}
	p.off = (p.off + n) % len(p.block)
	p.left -= int64(n)
	return n, nil
}
