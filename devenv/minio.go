package devenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// MinIO is an S3 server run as a child process, for development and tests:
// MinIO (StartMinIO), or the Versity S3 gateway on its posix backend
// (StartVersityGW), the second real store the object-store contract tests
// and the Object Lock tests run against.
type MinIO struct {
	Endpoint  string
	AccessKey string
	SecretKey string

	cmd  *exec.Cmd
	done chan error
	// What Restart needs to start the same server again.
	bin, dataDir string
	log          io.Writer
	versity      bool
}

// MinIOBinary finds the pinned MinIO server: $GATEHOUSE_MINIO_BIN, else
// bin/minio at the module root (installed by the Makefile).
func MinIOBinary() (string, error) {
	if p := os.Getenv("GATEHOUSE_MINIO_BIN"); p != "" {
		return p, nil
	}
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	p := filepath.Join(root, "bin", "minio")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("MinIO server not found at %s: run 'make bin/minio' (make test and make run install it)", p)
	}
	return p, nil
}

// ModuleRoot returns the folder holding go.mod, walking up from the working folder.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working folder")
		}
		dir = parent
	}
}

// FreeAddr returns a loopback address with a port that was free a moment ago.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// StartMinIO runs bin with data under dataDir, listening on addr (a free
// loopback port if empty), and waits until it is ready. Its output goes to log.
func StartMinIO(ctx context.Context, bin, dataDir, addr, accessKey, secretKey string, log io.Writer) (*MinIO, error) {
	if addr == "" {
		var err error
		if addr, err = FreeAddr(); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	m := &MinIO{Endpoint: addr, AccessKey: accessKey, SecretKey: secretKey, bin: bin, dataDir: dataDir, log: log}
	if err := m.start(ctx); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *MinIO) start(ctx context.Context) error {
	bin, dataDir, addr, log := m.bin, m.dataDir, m.Endpoint, m.log
	accessKey, secretKey := m.AccessKey, m.SecretKey
	cmd := exec.Command(bin, "server", dataDir, "--address", addr, "--quiet")
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+accessKey,
		"MINIO_ROOT_PASSWORD="+secretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
	)
	if m.versity {
		// Buckets are folders under objects/, object versions are kept
		// under versions/; Object Lock lives in extended attributes.
		cmd = exec.Command(bin, "--port", addr, "--quiet", "posix",
			"--versioning-dir", filepath.Join(dataDir, "versions"), filepath.Join(dataDir, "objects"))
		cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+accessKey, "ROOT_SECRET_KEY="+secretKey)
	}
	cmd.Stdout, cmd.Stderr = log, log
	// Its own process group, so that a Ctrl-C in the terminal reaches the
	// parent first and the parent stops MinIO in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting MinIO: %w", err)
	}
	m.cmd, m.done = cmd, make(chan error, 1)
	go func() { m.done <- cmd.Wait() }()
	if err := m.waitReady(ctx, 60*time.Second); err != nil {
		_ = m.Stop()
		return err
	}
	return nil
}

func (m *MinIO) answers(ctx context.Context, url string, status int) bool {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == status
}

// VersityGWBinary finds the pinned Versity S3 gateway: $GATEHOUSE_VERSITYGW_BIN,
// else bin/versitygw at the module root (installed by the Makefile).
func VersityGWBinary() (string, error) {
	if p := os.Getenv("GATEHOUSE_VERSITYGW_BIN"); p != "" {
		return p, nil
	}
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	p := filepath.Join(root, "bin", "versitygw")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("the Versity S3 gateway (versitygw) is not at %s: run 'make bin/versitygw' (make test installs it)", p)
	}
	return p, nil
}

// StartVersityGW runs the Versity S3 gateway bin on its posix backend with
// data (objects, versions) under dataDir, listening on addr (a free loopback
// port if empty), and waits until it serves. Its output goes to log.
func StartVersityGW(ctx context.Context, bin, dataDir, addr, accessKey, secretKey string, log io.Writer) (*MinIO, error) {
	if addr == "" {
		var err error
		if addr, err = FreeAddr(); err != nil {
			return nil, err
		}
	}
	for _, d := range []string{"objects", "versions"} {
		if err := os.MkdirAll(filepath.Join(dataDir, d), 0o700); err != nil {
			return nil, err
		}
	}
	m := &MinIO{Endpoint: addr, AccessKey: accessKey, SecretKey: secretKey, bin: bin, dataDir: dataDir, log: log, versity: true}
	if err := m.start(ctx); err != nil {
		return nil, err
	}
	return m, nil
}

// Kill ends the server at once (SIGKILL), as a crash or a power cut
// would, in the middle of whatever it was doing.
func (m *MinIO) Kill() error {
	_ = m.cmd.Process.Kill()
	err := <-m.done
	m.done <- err
	return nil
}

// Restart starts a server that was stopped or killed again, on the same
// address and data, and waits until it is ready.
func (m *MinIO) Restart(ctx context.Context) error {
	select {
	case <-m.done:
	default:
		return errors.New("MinIO is still running")
	}
	return m.start(ctx)
}

func (m *MinIO) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	url := "http://" + m.Endpoint + "/minio/health/ready"
	if m.versity {
		url = "http://" + m.Endpoint + "/" // it has no health endpoint: an anonymous listing is refused once it serves
	}
	for time.Now().Before(deadline) {
		select {
		case err := <-m.done:
			m.done <- err
			return fmt.Errorf("MinIO exited before it was ready: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if (m.versity || m.answers(ctx, url, http.StatusOK)) && m.answers(ctx, "http://"+m.Endpoint+"/", http.StatusForbidden) {
			// Ready, and its S3 API past "Server not initialized yet"
			// (503): an anonymous listing is refused, not postponed.
			return nil
		}
	}
	return fmt.Errorf("MinIO at %s not ready after %s", m.Endpoint, timeout)
}

// Pause stops the server process (SIGSTOP) without killing it, to simulate
// an object store that stops answering; Resume continues it.
func (m *MinIO) Pause() error { return m.cmd.Process.Signal(syscall.SIGSTOP) }

// Resume continues a paused server.
func (m *MinIO) Resume() error { return m.cmd.Process.Signal(syscall.SIGCONT) }

// Stop asks MinIO to exit and waits; after 10 s it is killed.
func (m *MinIO) Stop() error {
	_ = m.cmd.Process.Signal(syscall.SIGCONT)
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.done:
		return nil
	case <-time.After(10 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.done
		return errors.New("MinIO did not stop in 10s; killed")
	}
}

// Pid is the server's process id (0 if it is not running); the benchmarks
// read its CPU time from /proc.
func (m *MinIO) Pid() int {
	if m.cmd == nil || m.cmd.Process == nil {
		return 0
	}
	return m.cmd.Process.Pid
}
