package devenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// Mailpit is a Mailpit server run as a child process: a real SMTP server
// (STARTTLS required, any login accepted) that keeps every message it
// gets and shows them in a web UI and an HTTP API, for development and
// tests of the alerts.
type Mailpit struct {
	// SMTP is the SMTP listener's host:port; UI the web UI's and API's URL.
	SMTP string
	UI   string

	cmd  *exec.Cmd
	done chan error
	// What Restart needs.
	bin, dir, certFile, keyFile string
	log                         io.Writer
}

// MailpitBinary finds Mailpit: $GATEHOUSE_MAILPIT_BIN, else bin/mailpit at
// the module root (installed by the Makefile).
func MailpitBinary() (string, error) {
	if p := os.Getenv("GATEHOUSE_MAILPIT_BIN"); p != "" {
		return p, nil
	}
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	p := filepath.Join(root, "bin", "mailpit")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("Mailpit not found at %s: run 'make bin/mailpit' (make test and make run install it)", p)
	}
	return p, nil
}

// StartMailpit runs bin with its database under dir, SMTP on smtpAddr and
// the UI on uiAddr (free loopback ports if empty), STARTTLS with the
// given certificate, and waits until it answers.
func StartMailpit(ctx context.Context, bin, dir, smtpAddr, uiAddr, certFile, keyFile string, log io.Writer) (*Mailpit, error) {
	var err error
	if smtpAddr == "" {
		if smtpAddr, err = FreeAddr(); err != nil {
			return nil, err
		}
	}
	if uiAddr == "" {
		if uiAddr, err = FreeAddr(); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	m := &Mailpit{SMTP: smtpAddr, UI: "http://" + uiAddr, bin: bin, dir: dir, certFile: certFile, keyFile: keyFile, log: log}
	if err := m.start(ctx); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *Mailpit) start(ctx context.Context) error {
	u, _ := url.Parse(m.UI)
	cmd := exec.Command(m.bin,
		"--smtp", m.SMTP, "--listen", u.Host, "--database", filepath.Join(m.dir, "mailpit.db"),
		"--smtp-tls-cert", m.certFile, "--smtp-tls-key", m.keyFile, "--smtp-require-starttls",
		"--smtp-auth-accept-any", "--smtp-disable-rdns", "--quiet")
	cmd.Stdout, cmd.Stderr = m.log, m.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting Mailpit: %w", err)
	}
	m.cmd, m.done = cmd, make(chan error, 1)
	go func() { m.done <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-m.done:
			m.done <- err
			return fmt.Errorf("Mailpit exited before it was ready: %v", err)
		case <-ctx.Done():
			_ = m.Stop()
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if _, err := m.get(ctx, "/api/v1/info"); err == nil {
			return nil
		}
	}
	_ = m.Stop()
	return fmt.Errorf("Mailpit at %s not ready after 30s", m.UI)
}

// Stop asks Mailpit to exit and waits; after 10 s it is killed.
func (m *Mailpit) Stop() error {
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-m.done:
		m.done <- err
		return nil
	case <-time.After(10 * time.Second):
		_ = m.cmd.Process.Kill()
		err := <-m.done
		m.done <- err
		return errors.New("Mailpit did not stop in 10s; killed")
	}
}

// Restart starts a stopped server again, on the same addresses and data.
func (m *Mailpit) Restart(ctx context.Context) error {
	select {
	case err := <-m.done:
		m.done <- err
	default:
		return errors.New("Mailpit is still running")
	}
	return m.start(ctx)
}

func (m *Mailpit) get(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.UI+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("mailpit %s: %s", path, resp.Status)
	}
	return b, nil
}

// MailSummary is a message as Mailpit lists it.
type MailSummary struct {
	ID      string `json:"ID"`
	Subject string `json:"Subject"`
	To      []struct {
		Address string `json:"Address"`
	} `json:"To"`
}

// Messages lists the messages Mailpit holds (up to 1000), newest first.
func (m *Mailpit) Messages(ctx context.Context) ([]MailSummary, error) {
	b, err := m.get(ctx, "/api/v1/messages?limit=1000")
	if err != nil {
		return nil, err
	}
	var out struct {
		Messages []MailSummary `json:"messages"`
	}
	return out.Messages, json.Unmarshal(b, &out)
}

// Raw returns a message as it was received: headers and body.
func (m *Mailpit) Raw(ctx context.Context, id string) (string, error) {
	b, err := m.get(ctx, "/api/v1/message/"+url.PathEscape(id)+"/raw")
	return string(b), err
}

// Text returns a message's plain-text body, decoded.
func (m *Mailpit) Text(ctx context.Context, id string) (string, error) {
	b, err := m.get(ctx, "/api/v1/message/"+url.PathEscape(id))
	if err != nil {
		return "", err
	}
	var out struct {
		Text string `json:"Text"`
	}
	return out.Text, json.Unmarshal(b, &out)
}
