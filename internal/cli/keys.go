package cli

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-gw/gatehouse/exchange/seal"
	"github.com/gatehouse-gw/gatehouse/internal/devenv"
)

func newKeysCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Create the gateway's own keys"}
	var dir string
	initCmd := &cobra.Command{
		Use:   "init --dir DIR",
		Short: "Create the gateway's signing, audit, subject and pseudonym keys (existing files are kept)",
		Long: `Create, in DIR, the keys a gateway needs, each readable only by its owner:

  signing.jwk    ES256 key that signs manifests        (keys.signing_key_file)
  audit.jwk      ES256 key that signs checkpoints and   (keys.audit_key_file)
                 compliance exports
  subject.key    HMAC key for subject identifiers       (keys.subject_key_file)
  pseudonym.key  master key for pseudonymised fields    (keys.pseudonym_key_file)

A file that exists is never overwritten: losing subject.key or pseudonym.key
makes earlier subject keys and pseudonyms unmatchable. Back them up with the
database (see docs/operations.md).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return errors.New("--dir is required")
			}
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for _, name := range []string{"signing.jwk", "audit.jwk"} {
				path := filepath.Join(dir, name)
				if _, err := os.Stat(path); err == nil {
					fmt.Fprintf(out, "kept     %s\n", path)
					continue
				}
				k, err := seal.GenerateKey(seal.UseSignature)
				if err != nil {
					return err
				}
				if err := seal.WriteKey(path, k); err != nil {
					return err
				}
				kid, _ := k.KeyID()
				fmt.Fprintf(out, "created  %s (kid %s)\n", path, kid)
			}
			for _, name := range []string{"subject.key", "pseudonym.key"} {
				path := filepath.Join(dir, name)
				if _, err := os.Stat(path); err == nil {
					fmt.Fprintf(out, "kept     %s\n", path)
					continue
				}
				f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
				if err != nil {
					return err
				}
				_, err = f.WriteString(devenv.RandomSecret(32) + "\n")
				if cerr := f.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "created  %s\n", path)
			}
			return nil
		},
	}
	initCmd.Flags().StringVar(&dir, "dir", "", "folder for the keys")
	cmd.AddCommand(initCmd)
	return cmd
}

func newProbeCmd() *cobra.Command {
	var caFile string
	cmd := &cobra.Command{
		Use:   "probe URL",
		Short: "Exit 0 if URL answers 200 (a container health check for /readyz on the admin listener)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tr := http.DefaultTransport.(*http.Transport).Clone()
			if caFile != "" {
				pem, err := os.ReadFile(caFile)
				if err != nil {
					return err
				}
				pool := x509.NewCertPool()
				if !pool.AppendCertsFromPEM(pem) {
					return fmt.Errorf("%s: no PEM certificate", caFile)
				}
				tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
			}
			hc := &http.Client{Transport: tr, Timeout: 5 * time.Second}
			resp, err := hc.Get(args[0])
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s answered %s", args[0], resp.Status)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&caFile, "ca", "", "CA certificate of the server (PEM)")
	return cmd
}
