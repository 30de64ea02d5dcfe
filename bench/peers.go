package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/gatehouse-gw/gatehouse/devenv"
	"github.com/gatehouse-gw/gatehouse/store/objectstore"
)

// The peers are what a council uses for the same transfer without the
// gateway: (a) the file encrypted with gpg to the recipient's public key and
// sent with sftp to an OpenSSH server, and (b) a TLS-terminating reverse
// proxy (nginx) in front of the same MinIO. Both run on 127.0.0.1, started
// and stopped by the benchmark, with configurations and keys of their own in
// a temporary folder. Each is given its best chance: gpg without compression
// (the payload is incompressible), nginx without request or response
// buffering.

// peers is the running peer set.
type peers struct {
	dir   string
	input string // the 1 GiB plaintext, on disk as a council has it

	sshd       *daemon
	sshPort    int
	sshUser    string
	gnupgHome  string
	recipient  string
	sshOptions []string

	nginx  *daemon
	proxy  *objectstore.Store
	logDir string
}

// startPeers starts sshd and nginx (in front of e's MinIO) and prepares
// the gpg recipient key and the input file of size bytes.
func startPeers(ctx context.Context, e *env, size int64) (_ *peers, err error) {
	for _, tool := range []string{"sshd", "sftp", "ssh-keygen", "gpg", "nginx"} {
		if _, err := lookTool(tool); err != nil {
			return nil, fmt.Errorf("%s not found (make bench installs openssh-server, gnupg and nginx from Debian's packages): %w", tool, err)
		}
	}
	dir, err := os.MkdirTemp("", "gatehouse-peers-*")
	if err != nil {
		return nil, err
	}
	p := &peers{dir: dir, logDir: dir}
	defer func() {
		if err != nil {
			p.close()
		}
	}()
	p.input = filepath.Join(dir, "payload.bin")
	f, err := os.Create(p.input)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(f, newPattern(size)); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	if err := p.startSSH(ctx); err != nil {
		return nil, fmt.Errorf("sshd: %w", err)
	}
	if err := p.startGPG(ctx); err != nil {
		return nil, fmt.Errorf("gpg: %w", err)
	}
	if err := p.startNginx(ctx, e); err != nil {
		return nil, fmt.Errorf("nginx: %w", err)
	}
	return p, nil
}

// lookTool finds a tool on PATH or in /usr/sbin (sshd and nginx live there,
// outside an ordinary user's PATH).
func lookTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	p := filepath.Join("/usr/sbin", name)
	if _, err := os.Stat(p); err != nil {
		return "", err
	}
	return p, nil
}

func run(ctx context.Context, env []string, name string, args ...string) error {
	path, err := lookTool(name)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return nil
}

// waitListening waits until something accepts connections on addr, or the
// process ends.
func waitListening(addr string, done <-chan error) error {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		select {
		case err := <-done:
			return fmt.Errorf("exited: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("nothing listens on %s", addr)
}

// daemon is a server process the benchmark started, in its own process group.
type daemon struct {
	cmd  *exec.Cmd
	done chan error // receives Wait's result once, and is then closed
}

func startDaemon(path string, args []string, log string) (*daemon, error) {
	cmd := exec.Command(path, args...)
	lf, err := os.Create(log)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, err
	}
	d := &daemon{cmd: cmd, done: make(chan error, 1)}
	go func() { d.done <- cmd.Wait(); lf.Close(); close(d.done) }()
	return d, nil
}

// stop ends the daemon and every process of its group (sshd's and nginx's
// children), and waits for it.
func (d *daemon) stop() {
	if d == nil {
		return
	}
	_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		<-d.done
	}
}

func freePort() (int, error) {
	addr, err := devenv.FreeAddr()
	if err != nil {
		return 0, err
	}
	_, port, _ := net.SplitHostPort(addr)
	var n int
	_, err = fmt.Sscan(port, &n)
	return n, err
}

func (p *peers) startSSH(ctx context.Context) error {
	u, err := user.Current()
	if err != nil {
		return err
	}
	p.sshUser = u.Username
	d := filepath.Join(p.dir, "ssh")
	if err := os.MkdirAll(filepath.Join(d, "files"), 0o700); err != nil {
		return err
	}
	for _, k := range []string{"host_ed25519", "client_ed25519"} {
		if err := run(ctx, nil, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "gatehouse-bench", "-f", filepath.Join(d, k)); err != nil {
			return err
		}
	}
	pub, err := os.ReadFile(filepath.Join(d, "client_ed25519.pub"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(d, "authorized_keys"), pub, 0o600); err != nil {
		return err
	}
	if p.sshPort, err = freePort(); err != nil {
		return err
	}
	conf := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %[2]s/host_ed25519
PidFile %[2]s/sshd.pid
AuthorizedKeysFile %[2]s/authorized_keys
AuthenticationMethods publickey
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers %[3]s
StrictModes no
UsePAM no
Subsystem sftp internal-sftp
LogLevel ERROR
`, p.sshPort, d, p.sshUser)
	if err := os.WriteFile(filepath.Join(d, "sshd_config"), []byte(conf), 0o600); err != nil {
		return err
	}
	// sshd's privilege separation needs its empty folder.
	if os.Geteuid() == 0 {
		_ = os.MkdirAll("/run/sshd", 0o755)
	}
	path, err := lookTool("sshd")
	if err != nil {
		return err
	}
	// sshd must be started by its absolute path (it re-executes itself).
	if p.sshd, err = startDaemon(path, []string{"-D", "-e", "-f", filepath.Join(d, "sshd_config")}, filepath.Join(p.logDir, "sshd.log")); err != nil {
		return err
	}
	if err := waitListening(fmt.Sprintf("127.0.0.1:%d", p.sshPort), p.sshd.done); err != nil {
		log, _ := os.ReadFile(filepath.Join(p.logDir, "sshd.log"))
		return fmt.Errorf("%w\n%s", err, log)
	}
	p.sshOptions = []string{"-q", "-P", fmt.Sprint(p.sshPort), "-i", filepath.Join(d, "client_ed25519"),
		"-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=accept-new",
		"-o", "UserKnownHostsFile=" + filepath.Join(d, "known_hosts")}
	return nil
}

// sftp runs one sftp batch command against the local server.
func (p *peers) sftp(ctx context.Context, command string) error {
	path, err := lookTool("sftp")
	if err != nil {
		return err
	}
	args := append(append([]string{}, p.sshOptions...), "-b", "-", p.sshUser+"@127.0.0.1")
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdin = strings.NewReader(command + "\n")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("sftp %q: %w\n%s", command, err, out.String())
	}
	return nil
}

func (p *peers) startGPG(ctx context.Context) error {
	p.gnupgHome = filepath.Join(p.dir, "gnupg")
	if err := os.Mkdir(p.gnupgHome, 0o700); err != nil {
		return err
	}
	p.recipient = "recipient@gatehouse-bench.invalid"
	return p.gpg(ctx, "--quick-generate-key", "Bench Recipient <"+p.recipient+">", "default", "default", "never")
}

func (p *peers) gpg(ctx context.Context, args ...string) error {
	return run(ctx, []string{"GNUPGHOME=" + p.gnupgHome}, "gpg",
		append([]string{"--batch", "--yes", "--quiet", "--pinentry-mode", "loopback", "--passphrase", ""}, args...)...)
}

// sftpUpload is a council's upload: gpg-encrypt the file to the
// recipient's public key, then put it on the SFTP server.
func (p *peers) sftpUpload(ctx context.Context) error {
	enc := filepath.Join(p.dir, "payload.bin.gpg")
	if err := p.gpg(ctx, "--trust-model", "always", "--compress-algo", "none", "--recipient", p.recipient, "--output", enc, "--encrypt", p.input); err != nil {
		return err
	}
	defer os.Remove(enc)
	return p.sftp(ctx, fmt.Sprintf("put %s %s", enc, filepath.Join(p.dir, "ssh", "files", "payload.bin.gpg")))
}

// sftpDownload is the recipient's side: get the file, then gpg-decrypt it.
func (p *peers) sftpDownload(ctx context.Context) (int64, error) {
	got := filepath.Join(p.dir, "fetched.bin.gpg")
	out := filepath.Join(p.dir, "fetched.bin")
	defer os.Remove(got)
	defer os.Remove(out)
	if err := p.sftp(ctx, fmt.Sprintf("get %s %s", filepath.Join(p.dir, "ssh", "files", "payload.bin.gpg"), got)); err != nil {
		return 0, err
	}
	if err := p.gpg(ctx, "--output", out, "--decrypt", got); err != nil {
		return 0, err
	}
	fi, err := os.Stat(out)
	if err != nil {
		return 0, err
	}
	_ = os.Remove(filepath.Join(p.dir, "ssh", "files", "payload.bin.gpg"))
	return fi.Size(), nil
}

func (p *peers) startNginx(ctx context.Context, e *env) error {
	d := filepath.Join(p.dir, "nginx")
	if err := os.MkdirAll(filepath.Join(d, "tmp"), 0o700); err != nil {
		return err
	}
	certFile, keyFile := filepath.Join(d, "cert.pem"), filepath.Join(d, "key.pem")
	if err := selfSigned(certFile, keyFile); err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	userLine := ""
	if os.Geteuid() == 0 {
		userLine = "user root;" // its workers write to the temporary folder
	}
	conf := fmt.Sprintf(`%s
worker_processes auto;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log error;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path %[2]s/tmp/body;
  proxy_temp_path %[2]s/tmp/proxy;
  fastcgi_temp_path %[2]s/tmp/fastcgi;
  uwsgi_temp_path %[2]s/tmp/uwsgi;
  scgi_temp_path %[2]s/tmp/scgi;
  upstream store { server %[3]s; keepalive 16; }
  server {
    listen 127.0.0.1:%[4]d ssl;
    ssl_certificate %[5]s;
    ssl_certificate_key %[6]s;
    ssl_protocols TLSv1.2 TLSv1.3;
    client_max_body_size 0;
    proxy_request_buffering off;
    proxy_buffering off;
    proxy_http_version 1.1;
    location / {
      proxy_pass http://store;
      proxy_set_header Host $http_host;
      proxy_set_header Connection "";
    }
  }
}
`, userLine, d, e.minio.Endpoint, port, certFile, keyFile)
	confFile := filepath.Join(d, "nginx.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
		return err
	}
	path, err := lookTool("nginx")
	if err != nil {
		return err
	}
	if p.nginx, err = startDaemon(path, []string{"-e", filepath.Join(d, "error.log"), "-c", confFile, "-p", d, "-g", "daemon off;"}, filepath.Join(p.logDir, "nginx.log")); err != nil {
		return err
	}
	endpoint := fmt.Sprintf("127.0.0.1:%d", port)
	if err := waitListening(endpoint, p.nginx.done); err != nil {
		log, _ := os.ReadFile(filepath.Join(d, "error.log"))
		return fmt.Errorf("%w\n%s", err, log)
	}
	// The council's client of the store behind the proxy: the gateway's own
	// object-store client and options, over TLS.
	p.proxy, err = objectstore.New(objectstore.Config{
		Endpoint: endpoint, Bucket: "baseline-proxy", Region: "us-east-1", TLS: true, CAFile: certFile,
		AccessKey: e.minio.AccessKey, SecretKey: e.minio.SecretKey,
	})
	if err != nil {
		return err
	}
	return p.proxy.EnsureBucket(ctx, false)
}

// selfSigned writes a P-256 certificate for 127.0.0.1 and its key.
func selfSigned(certFile, keyFile string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gatehouse bench proxy"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600)
}

func (p *peers) close() {
	p.sshd.stop()
	p.nginx.stop()
	if p.dir != "" {
		os.RemoveAll(p.dir)
	}
}
