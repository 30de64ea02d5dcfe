package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/gatehouse-gw/gatehouse/devenv"
	"github.com/gatehouse-gw/gatehouse/exchange/seal"
)

func newKeysCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Create the gateway's own keys"}
	var dir, origin string
	initCmd := &cobra.Command{
		Use:   "init --dir DIR [--origin ORIGIN]",
		Short: "Create the gateway's signing, audit, checkpoint, subject and pseudonym keys (existing files are kept)",
		Long: `Create, in DIR, the keys a gateway needs, each readable only by its owner:

  signing.jwk     ES256 key that signs manifests        (keys.signing_key_file)
  audit.jwk       ES256 key that signs checkpoints,     (keys.audit_key_file)
                  receipts and compliance exports
  checkpoint.key  Ed25519 key that signs the audit      (keys.checkpoint_key_file)
                  log's checkpoint notes, named ORIGIN
  subject.key     HMAC key for subject identifiers      (keys.subject_key_file)
  pseudonym.key   master key for pseudonymised fields   (keys.pseudonym_key_file)

ORIGIN must be the gateway's audit.origin (by default its issuer followed by
"/audit"): witnesses know the log by that name.

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
			if path := filepath.Join(dir, "checkpoint.key"); fileExists(path) {
				fmt.Fprintf(out, "kept     %s\n", path)
			} else {
				vkey, err := devenv.WriteCheckpointKey(path, origin)
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "created  %s (verifier key %s)\n", path, vkey)
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
	initCmd.Flags().StringVar(&origin, "origin", "gatehouse/audit", "the audit log's origin (audit.origin), which names the checkpoint key")
	cmd.AddCommand(initCmd)
	return cmd
}
