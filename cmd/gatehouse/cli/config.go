package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/spf13/cobra"

	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/config"
	"github.com/gatehouse-gw/gatehouse/exchange/seal"
	"github.com/gatehouse-gw/gatehouse/gateway"
	"github.com/gatehouse-gw/gatehouse/server"
	"github.com/gatehouse-gw/gatehouse/store"
	"github.com/gatehouse-gw/gatehouse/store/objectstore"
)

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Check a configuration"}
	var (
		configFile string
		connect    bool
		asJSON     bool
	)
	check := &cobra.Command{
		Use:   "check",
		Short: "Check a configuration file, its keys and certificates, and (with --connect) what it points at",
		Long: `Check a configuration as the gateway would read it (the file, then GATEHOUSE_*
environment overrides, then defaults): every setting is valid, every key and
certificate file parses and is usable. With --connect it also reaches the
database (and says whether migrations are pending) and the object store
(both buckets, and the audit bucket's Object Lock). It changes nothing.
Exit code 0: all checks pass; 1: some fail.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(configFile)
			if err != nil {
				if asJSON {
					_ = printJSON(cmd.OutOrStdout(), map[string]any{"ok": false, "checks": []configCheck{{Name: "configuration", Error: err.Error()}}})
				}
				return &exitError{code: 1, err: err}
			}
			checks := []configCheck{{Name: "configuration", Detail: "every setting is valid"}}
			checks = append(checks, checkFiles(cfg)...)
			if connect {
				checks = append(checks, checkConnections(cmd.Context(), cfg)...)
			}
			ok := true
			for _, c := range checks {
				ok = ok && c.Error == ""
			}
			if asJSON {
				if err := printJSON(cmd.OutOrStdout(), map[string]any{"ok": ok, "checks": checks}); err != nil {
					return err
				}
			} else {
				printChecks(cmd.OutOrStdout(), checks)
			}
			if !ok {
				return &exitError{code: 1, err: errors.New("the configuration has problems")}
			}
			return nil
		},
	}
	check.Flags().StringVarP(&configFile, "config", "c", "", "configuration file (YAML; or GATEHOUSE_CONFIG)")
	check.Flags().BoolVar(&connect, "connect", false, "also reach the database and the object store")
	addOutputFlags(check.Flags(), &asJSON)
	cmd.AddCommand(check)
	return cmd
}

type configCheck struct {
	Name   string `json:"name"`
	Detail string `json:"detail,omitempty"`
	Error  string `json:"error,omitempty"`
}

func printChecks(w io.Writer, checks []configCheck) {
	for _, c := range checks {
		if c.Error != "" {
			fmt.Fprintf(w, "✗ %s: %s\n", c.Name, c.Error)
		} else {
			fmt.Fprintf(w, "✓ %s: %s\n", c.Name, c.Detail)
		}
	}
}

func result(name string, detail string, err error) configCheck {
	if err != nil {
		return configCheck{Name: name, Error: err.Error()}
	}
	return configCheck{Name: name, Detail: detail}
}

// checkFiles parses every key and certificate the configuration names.
func checkFiles(cfg *config.Config) []configCheck {
	var out []configCheck
	cert, err := tls.LoadX509KeyPair(cfg.TLS.CertFile, cfg.TLS.KeyFile)
	detail := ""
	if err == nil {
		leaf := cert.Leaf
		detail = fmt.Sprintf("%s, expires %s (%d days)", leaf.Subject.CommonName, leaf.NotAfter.Format(time.DateOnly), int(time.Until(leaf.NotAfter).Hours()/24))
		if time.Now().After(leaf.NotAfter) {
			err = fmt.Errorf("the server certificate expired on %s", leaf.NotAfter.Format(time.DateOnly))
		}
	}
	out = append(out, result("tls.cert_file", detail, err))
	for i, f := range cfg.TLS.ClientCAFiles {
		n, err := countCertificates(f)
		out = append(out, result(fmt.Sprintf("tls.client_ca_files[%d]", i), fmt.Sprintf("%d CA certificate(s)", n), err))
	}
	for _, k := range []struct{ name, file string }{
		{"keys.signing_key_file", cfg.Keys.SigningKeyFile},
		{"keys.audit_key_file", cfg.Keys.AuditKeyFile},
	} {
		key, err := seal.ReadKey(k.file)
		if err == nil {
			_, err = seal.NewSigner(key)
		}
		kid, _ := key.KeyID()
		out = append(out, result(k.name, "ES256 signing key "+kid, err))
	}
	if cfg.Keys.SigningKeyFile == cfg.Keys.AuditKeyFile {
		out = append(out, configCheck{Name: "keys.audit_key_file", Error: "must not be the manifest signing key: keep the audit key apart"})
	}
	if ring, err := audit.ReadSubjectKeys(cfg.Keys.SubjectKeyFile); err == nil {
		out = append(out, configCheck{Name: "keys.subject_key_file", Detail: fmt.Sprintf("HMAC keys of 32 bytes or more, version %d new", ring.Version())})
	} else {
		out = append(out, result("keys.subject_key_file", "", err))
	}
	_, err = server.ReadHexKey(cfg.Keys.PseudonymKeyFile)
	out = append(out, result("keys.pseudonym_key_file", "HMAC key of 32 bytes or more", err))
	if _, keys, err := server.AuditKeys(cfg); err == nil && cfg.Keys.AuditRetiredKeysFile != "" {
		out = append(out, configCheck{Name: "keys.audit_retired_keys_file", Detail: fmt.Sprintf("%d retired key(s)", keys.Len()-1)})
	} else if err != nil {
		out = append(out, result("keys.audit_retired_keys_file", "", err))
	}
	if key, notes, err := server.CheckpointKeys(cfg); err == nil {
		out = append(out, configCheck{Name: "keys.checkpoint_key_file", Detail: "Ed25519 checkpoint key " + key.VerifierKey})
		if cfg.Keys.CheckpointRetiredKeysFile != "" {
			out = append(out, configCheck{Name: "keys.checkpoint_retired_keys_file", Detail: fmt.Sprintf("%d retired key(s)", len(notes.Keys)-1)})
		}
	} else {
		out = append(out, result("keys.checkpoint_key_file", "", err))
	}
	for i, ti := range cfg.Admin.TokenIssuers() {
		if cfg.Admin.Listen == "" || ti.JWKSFile == "" {
			continue
		}
		at := "admin"
		if i > 0 {
			at = fmt.Sprintf("admin.issuers[%d]", i-1)
		}
		set, err := jwk.ReadFile(ti.JWKSFile)
		n := 0
		if err == nil {
			// The check start-up makes, so that the two agree.
			if set, err = gateway.PrepareTokenKeys(set); err == nil {
				n = set.Len()
			}
		}
		out = append(out, result(at+".jwks_file", fmt.Sprintf("%d token-signing key(s) of %s", n, ti.Issuer), err))
	}
	return out
}

func countCertificates(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	n := 0
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return n, err
		}
		n++
	}
	if n == 0 {
		return 0, errors.New("no PEM certificate found")
	}
	return n, nil
}

// checkConnections reaches the database and both buckets.
func checkConnections(ctx context.Context, cfg *config.Config) []configCheck {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var out []configCheck
	db, err := store.OpenReadOnly(ctx, cfg.Database.Driver, cfg.Database.DSN)
	if err == nil {
		var version int64
		var pending int
		version, pending, err = db.SchemaStatus(ctx)
		detail := fmt.Sprintf("%s reachable, schema version %d", cfg.Database.Driver, version)
		if pending > 0 {
			detail += fmt.Sprintf(", %d migration(s) pending (applied when the gateway starts, or by gatehouse migrate)", pending)
		}
		db.Close()
		out = append(out, result("database", detail, err))
	} else {
		out = append(out, result("database", "", err))
	}
	for _, b := range []struct {
		name, bucket, mode string
		audit              bool
	}{
		{"objects.bucket", cfg.Objects.Bucket, cfg.Retention.LockMode, false},
		{"audit.bucket", cfg.Audit.Bucket, cfg.Audit.LockMode, true},
	} {
		st, err := objectstore.New(server.ObjectsConfig(cfg, b.bucket, b.mode))
		if err != nil {
			out = append(out, result(b.name, "", err))
			continue
		}
		if err := st.Ping(ctx); err != nil {
			out = append(out, result(b.name, "", objectstore.Unreachable(st, err)))
			continue
		}
		locked, err := st.DetectObjectLock(ctx)
		switch {
		case err != nil:
			out = append(out, result(b.name, "", err))
		case locked:
			out = append(out, result(b.name, b.bucket+" reachable, with Object Lock", nil))
		case b.audit && b.mode != "none":
			out = append(out, result(b.name, "", fmt.Errorf("%s has no Object Lock; the gateway refuses to start (or set audit.lock_mode: none)", b.bucket)))
		default:
			out = append(out, result(b.name, b.bucket+" reachable, without Object Lock (objects are kept without retention locks)", nil))
		}
	}
	return out
}
