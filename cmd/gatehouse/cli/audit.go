package cli

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/config"
	"github.com/gatehouse-gw/gatehouse/server"
	"github.com/gatehouse-gw/gatehouse/store"
)

func newAuditCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Check the tamper-evident audit record",
	}
	cmd.AddCommand(newAuditVerifyCmd(), newAuditCheckpointCmd(), newAuditSubjectKeyCmd(), newAuditWitnessCmd())
	return cmd
}

// loadConfig reads the configuration named by --config or GATEHOUSE_CONFIG,
// with environment overrides.
func loadConfig(file string) (*config.Config, error) {
	if file == "" {
		file = os.Getenv("GATEHOUSE_CONFIG")
	}
	if file == "" {
		return nil, errors.New("--config is required (or set GATEHOUSE_CONFIG)")
	}
	return config.Load(file, os.Environ())
}

func newAuditVerifyCmd() *cobra.Command {
	var (
		configFile, jwksFile, receiptsFile string
		asJSON                             bool
	)
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Verify the audit chain, its signed checkpoints and the archive",
		Long: `Verify the whole audit record: every entry in the database from the first to
the last (each hashes to its stored hash and links to the one before), every
signed checkpoint (its signature, and that the chain still reaches the hash it
signed), and every version of every segment archived to the audit bucket.

It reports the first bad sequence number and why: edited, missing, reordered or
bad-signature. The exit code is 0 when the record is sound, 1 when it is not,
and 2 when the check could not run (the database or the object store
unreachable, the archive bucket missing). With --json the report is JSON on
stdout. It only reads: the database schema is not migrated, and the archive
bucket is neither created nor written, whatever objects.create_bucket says.

With --receipts FILE (one receipt per line, as the API returns them in
"receipt"; - for standard input) it also holds each receipt to the record and
reports every one whose entry is missing, different from what was promised,
or beyond the record's end (its tail cut off): exit code 1 if any is.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(configFile)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			ctx := cmd.Context()
			db, err := store.OpenReadOnly(ctx, cfg.Database.Driver, cfg.Database.DSN)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			defer db.Close()
			// Never created or written, whatever objects.create_bucket says.
			archive, err := server.OpenArchiveReadOnly(ctx, cfg)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			var keys jwk.Set
			if jwksFile != "" {
				keys, err = jwk.ReadFile(jwksFile)
			} else {
				_, keys, err = server.AuditKeys(cfg)
			}
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			_, notes, err := server.CheckpointKeys(cfg)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			head, err := db.AuditMaxSeq(ctx)
			if err != nil {
				return &exitError{code: 2, err: fmt.Errorf("read the chain: %w", err)}
			}
			progress, done := verifyProgress(cmd.ErrOrStderr(), head)
			rep, err := audit.Check(ctx, db, archive, audit.CheckOptions{Keys: keys, Issuer: cfg.Issuer, Notes: notes, Progress: progress})
			done()
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			var receipts *audit.ReceiptReport
			if receiptsFile != "" {
				if receipts, err = checkReceiptsFile(cmd, db, keys, cfg.Audit.Origin, receiptsFile); err != nil {
					return &exitError{code: 2, err: err}
				}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(verifyJSON{OK: rep.OK() && (receipts == nil || receipts.OK()), Report: rep, Receipts: receipts}); err != nil {
					return &exitError{code: 2, err: err}
				}
			} else {
				printReport(out, rep)
				if receipts != nil {
					printReceiptReport(out, receipts)
				}
			}
			if !rep.OK() {
				return &exitError{code: 1, err: rep.First()}
			}
			if receipts != nil && !receipts.OK() {
				return &exitError{code: 1, err: fmt.Errorf("%d of %d receipts name entries the record does not hold as promised", len(receipts.Problems), receipts.Checked)}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&configFile, "config", "c", "", "the gateway's configuration file (YAML)")
	addOutputFlags(cmd.Flags(), &asJSON)
	cmd.Flags().StringVar(&receiptsFile, "receipts", "", "also check the receipts in this file (one per line; - for standard input)")
	cmd.Flags().StringVar(&jwksFile, "jwks", "", "verify checkpoints with the public keys in this JWKS file (default: the keys of keys.audit_key_file and keys.audit_retired_keys_file)")
	return cmd
}

type verifyJSON struct {
	OK bool `json:"ok"`
	*audit.Report
	Receipts *audit.ReceiptReport `json:"receipts,omitempty"`
}

// checkReceiptsFile checks the receipts in file (- for standard input).
func checkReceiptsFile(cmd *cobra.Command, log audit.ReceiptLog, keys jwk.Set, origin, file string) (*audit.ReceiptReport, error) {
	var r io.Reader = cmd.InOrStdin()
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	return audit.CheckReceipts(cmd.Context(), log, keys, origin, r)
}

func printReceiptReport(w io.Writer, rep *audit.ReceiptReport) {
	if rep.OK() {
		fmt.Fprintf(w, "receipts      %d checked: every entry is in the record as promised\n", rep.Checked)
		return
	}
	fmt.Fprintf(w, "receipts      %d checked, %d sound, %d NOT in the record as promised\n", rep.Checked, rep.Sound, len(rep.Problems))
	for _, p := range rep.Problems {
		if p.Seq > 0 {
			fmt.Fprintf(w, "  line %d: seq %d: %s: %s\n", p.Line, p.Seq, p.Kind, p.Reason)
		} else {
			fmt.Fprintf(w, "  line %d: %s: %s\n", p.Line, p.Kind, p.Reason)
		}
	}
	if rep.Truncated {
		fmt.Fprintf(w, "  … and more\n")
	}
}

func printReport(w io.Writer, rep *audit.Report) {
	fmt.Fprintf(w, "entries       %d (head seq %d)\n", rep.Entries, rep.HeadSeq)
	fmt.Fprintf(w, "checkpoints   %d signed\n", rep.Checkpoints)
	fmt.Fprintf(w, "archive       %d segments (%d stored versions), %d entries not yet archived\n", rep.Segments, rep.Versions, rep.Unarchived)
	if rep.OK() {
		fmt.Fprintf(w, "result        sound: the chain, its checkpoints and the archive agree\n")
		return
	}
	first := rep.First()
	fmt.Fprintf(w, "result        BROKEN at seq %d (%s)\n", first.Seq, first.Kind)
	for _, p := range rep.Problems {
		where := ""
		if p.Where != "" {
			where = " [" + p.Where + "]"
		}
		fmt.Fprintf(w, "  seq %d: %s: %s%s\n", p.Seq, p.Kind, p.Reason, where)
	}
	if rep.Truncated {
		fmt.Fprintf(w, "  … and more\n")
	}
}

// verifyProgress shows a progress bar on a terminal while the chain is read.
func verifyProgress(w io.Writer, total int64) (func(int64), func()) {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) || total < 50000 {
		return nil, func() {}
	}
	bar := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("verifying entries"),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowCount(),
		progressbar.OptionOnCompletion(func() { _, _ = io.WriteString(w, "\n") }),
	)
	return func(seq int64) { _ = bar.Set64(seq) }, func() { _ = bar.Finish() }
}

func newAuditCheckpointCmd() *cobra.Command {
	var configFile string
	cmd := &cobra.Command{
		Use:   "checkpoint",
		Short: "Sign a checkpoint now and archive every entry not yet archived",
		Long: `Sign a checkpoint covering every entry so far and archive the segments up to
it, without waiting for audit.checkpoint_interval: before a backup, an export
or a shutdown for maintenance. A running gateway does this by itself.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(configFile)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			db, err := store.OpenExisting(ctx, cfg.Database.Driver, cfg.Database.DSN)
			if err != nil {
				return err
			}
			defer db.Close()
			archive, err := server.OpenArchive(ctx, cfg)
			if err != nil {
				return err
			}
			signer, _, err := server.AuditKeys(cfg)
			if err != nil {
				return err
			}
			notes, _, err := server.CheckpointKeys(cfg)
			if err != nil {
				return err
			}
			cp := server.NewCheckpointer(cfg, db, archive, signer, notes, server.NewLogger(config.Log{Level: "warn", Format: "text"}, cmd.ErrOrStderr()))
			n, err := cp.Once(ctx, true)
			if err != nil {
				return err
			}
			last, ok, err := db.LastAuditCheckpoint(ctx)
			if err != nil {
				return err
			}
			switch {
			case n == 0 && ok:
				fmt.Fprintf(cmd.OutOrStdout(), "nothing new: the last checkpoint already covers seq %d\n", last.Seq)
			case n == 0:
				fmt.Fprintln(cmd.OutOrStdout(), "nothing to sign: the audit chain is empty")
			default:
				fmt.Fprintf(cmd.OutOrStdout(), "signed %d checkpoint(s); the record is archived up to seq %d\n", n, last.Seq)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&configFile, "config", "c", "", "the gateway's configuration file (YAML)")
	return cmd
}

func newAuditSubjectKeyCmd() *cobra.Command {
	var (
		configFile string
		all        bool
	)
	cmd := &cobra.Command{
		Use:   "subject-key TYPE:VALUE | TYPE",
		Short: "Print the key that stands for a subject identifier in the audit record",
		Long: `Print the keyed HMAC that stands for a data subject's identifier (for example
nino:QQ123456C, written as --subject is everywhere) in the audit record and the
exchange index: the key to look the person up by for a subject access request.
The identifier is put in its canonical form first (type lower-cased; a NINO or
other code without spaces, upper-cased; a name NFC and case-folded). The HMAC
key is the newest version in keys.subject_key_file and is never printed; with
--all, every key the identifier may be recorded under is printed, one a line
(older key versions, and the unversioned form of records written before keys
were versioned). Given only TYPE, the value is read from standard input (unechoed on a
terminal), so that it stays out of the shell's history.`,
		Example: `  gatehouse audit subject-key --config gatehouse.yaml nino     # asks for the value, unechoed
  gatehouse audit subject-key --config gatehouse.yaml 'nino:QQ 12 34 56 C'`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 && strings.ContainsAny(args[0], ":=") {
				s, err := parseSubject(cmd.ErrOrStderr(), args[0])
				if err != nil {
					return err
				}
				args = []string{s.Type, s.Value}
			}
			if len(args) == 1 {
				// Kept out of the shell's history and the process list.
				v, err := readSecretLine(cmd, args[0]+" value: ")
				if err != nil {
					return err
				}
				args = append(args, v)
			}
			cfg, err := loadConfig(configFile)
			if err != nil {
				return err
			}
			ring, err := audit.ReadSubjectKeys(cfg.Keys.SubjectKeyFile)
			if err != nil {
				return fmt.Errorf("keys.subject_key_file: %w", err)
			}
			keys := []string{ring.Key(args[0], args[1])}
			if all {
				keys = ring.Keys(args[0], args[1])
			}
			for _, k := range keys {
				fmt.Fprintln(cmd.OutOrStdout(), k)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&configFile, "config", "c", "", "the gateway's configuration file (YAML)")
	cmd.Flags().BoolVar(&all, "all", false, "print every key the identifier may be recorded under")
	return cmd
}

// readSecretLine reads one line from standard input: without echo, after a
// prompt on standard error, when it is a terminal.
func readSecretLine(cmd *cobra.Command, prompt string) (string, error) {
	in := cmd.InOrStdin()
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(cmd.ErrOrStderr(), prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(cmd.ErrOrStderr())
		return strings.TrimSpace(string(b)), err
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && (err != io.EOF || line == "") {
		return "", errors.New("expected the value on standard input")
	}
	return strings.TrimSpace(line), nil
}
