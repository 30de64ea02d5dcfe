package cli

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"

	"github.com/gatehouse-gw/gatehouse/client"
	"github.com/gatehouse-gw/gatehouse/tlog"
)

// checkpointKey is the checkpoint verifier key: pinned by flag, else the
// one the gateway publishes.
func checkpointKey(ctx context.Context, pinned string, fetch func(context.Context) (string, error)) (string, error) {
	if pinned != "" {
		if _, err := tlog.NewVerifier(pinned); err != nil {
			return "", fmt.Errorf("--checkpoint-key: %w", err)
		}
		return pinned, nil
	}
	return fetch(ctx)
}

func newClientReceiptsCmd(f *clientFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "receipts",
		Short: "Check the gateway's receipts for your exchanges and requests",
	}
	var pinned string
	verify := &cobra.Command{
		Use:   "verify FILE…",
		Short: "Prove that the entries your receipts promise are in the gateway's signed record",
		Long: `Check every receipt in FILE… (one per line, as the API returns them in "receipt";
- for standard input): its signature against the gateway's audit keys, and, with
an inclusion proof the gateway serves, that its entry is in the tree of the
latest signed checkpoint (a C2SP checkpoint note, verified with the checkpoint
key: --checkpoint-key, or the one the gateway publishes).

A receipt newer than the latest checkpoint is "pending" (checkpoints are signed
every minute or so; run again later). Exit code 0: every receipt is proven or
pending; 1: some receipt is not in the record as promised (or its checkpoint
should cover it and does not); 2: the check could not run.`,
		Example: `  gatehouse client receipts verify receipts-2026-11.txt`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			ctx := cmd.Context()
			vkey, err := checkpointKey(ctx, pinned, c.CheckpointKey)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			v, _ := tlog.NewVerifier(vkey)
			keys, err := c.GatewayKeys(ctx)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			cp, err := c.Checkpoint(ctx)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			th, err := tlog.OpenTreeHead([]byte(cp.Note), v.Name(), v)
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			rep := receiptsReport{Checkpoint: treeHeadJSON{Origin: th.Origin, TreeSize: th.Size, Root: base64.StdEncoding.EncodeToString(th.Root)}, Receipts: []receiptResult{}}
			for _, file := range args {
				err := eachLine(cmd, file, func(line int, text string) error {
					compact, err := tlog.ReadReceiptLine(text)
					if err == nil && compact == "" {
						return nil
					}
					res := receiptResult{File: file, Line: line, Status: "proven"}
					var r *tlog.Receipt
					if err == nil {
						r, err = c.VerifyReceipt(ctx, keys, th, compact)
					}
					if r != nil {
						res.Seq, res.Time = r.Seq(), r.Time
					}
					switch {
					case err == nil:
						rep.Proven++
					case errors.Is(err, tlog.ErrNotCovered) && !r.Time.Before(cp.Time.Add(-time.Minute)):
						res.Status, res.Reason = "pending", fmt.Sprintf("newer than the latest checkpoint (tree size %d)", th.Size)
						rep.Pending++
					case errors.Is(err, tlog.ErrNotCovered):
						res.Status, res.Reason = "missing", fmt.Sprintf("the checkpoint signed at %s, after this entry, does not cover it (tree size %d)", cp.Time.Format(time.RFC3339), th.Size)
						rep.Failed++
					default:
						res.Status, res.Reason = "failed", err.Error()
						rep.Failed++
					}
					rep.Receipts = append(rep.Receipts, res)
					return nil
				})
				if err != nil {
					return &exitError{code: 2, err: err}
				}
			}
			if f.json {
				if err := printJSON(cmd.OutOrStdout(), rep); err != nil {
					return err
				}
			} else {
				w := cmd.OutOrStdout()
				fmt.Fprintf(w, "checkpoint  %s, %d entries, root %s\n", th.Origin, th.Size, rep.Checkpoint.Root)
				for _, r := range rep.Receipts {
					fmt.Fprintf(w, "%-8s    %s:%d seq %d", r.Status, r.File, r.Line, r.Seq)
					if r.Reason != "" {
						fmt.Fprintf(w, ": %s", r.Reason)
					}
					fmt.Fprintln(w)
				}
				fmt.Fprintf(w, "result      %d proven, %d pending, %d failed\n", rep.Proven, rep.Pending, rep.Failed)
			}
			if rep.Failed > 0 {
				return &exitError{code: 1, err: fmt.Errorf("%d receipts are not in the signed record as promised", rep.Failed)}
			}
			return nil
		},
	}
	verify.Flags().StringVar(&pinned, "checkpoint-key", "", "the checkpoint verifier key (<origin>+<hash>+<key>) to trust, instead of the one the gateway publishes")
	cmd.AddCommand(verify)
	return cmd
}

type treeHeadJSON struct {
	Origin   string `json:"origin"`
	TreeSize uint64 `json:"tree_size"`
	Root     string `json:"root"`
}

type receiptResult struct {
	File   string    `json:"file"`
	Line   int       `json:"line"`
	Seq    int64     `json:"seq,omitempty"`
	Time   time.Time `json:"time,omitzero"`
	Status string    `json:"status"`
	Reason string    `json:"reason,omitempty"`
}

type receiptsReport struct {
	Checkpoint treeHeadJSON    `json:"checkpoint"`
	Proven     int             `json:"proven"`
	Pending    int             `json:"pending"`
	Failed     int             `json:"failed"`
	Receipts   []receiptResult `json:"receipts"`
}

// eachLine calls fn with each line of file (- for standard input).
func eachLine(cmd *cobra.Command, file string, fn func(line int, text string) error) error {
	var r io.Reader = cmd.InOrStdin()
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 8<<10), 64<<10)
	for line := 1; sc.Scan(); line++ {
		if err := fn(line, sc.Text()); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	return nil
}

// witnessState is what a witness keeps between runs.
type witnessState struct {
	CheckpointKey string    `json:"checkpoint_key"`
	Note          string    `json:"note"`
	Origin        string    `json:"origin"`
	TreeSize      uint64    `json:"tree_size"`
	Root          string    `json:"root"`
	SeenAt        time.Time `json:"seen_at"`
}

// witnessAPI is either API, as a witness uses it.
type witnessAPI interface {
	CheckpointKey(ctx context.Context) (string, error)
	OpenCheckpoint(ctx context.Context, key note.Verifier) (*tlog.TreeHead, string, error)
	VerifyConsistency(ctx context.Context, older, newer *tlog.TreeHead) error
}

func newAuditWitnessCmd() *cobra.Command {
	var (
		partner       clientFlags
		admin         adminFlags
		state, pinned string
	)
	cmd := &cobra.Command{
		Use:   "witness --state FILE",
		Short: "Check that the record only grows: each checkpoint extends the last one seen",
		Long: `Fetch the gateway's latest signed checkpoint, verify its note with the
checkpoint key, and check with a consistency proof that it extends the last
checkpoint this witness saw (kept in --state FILE, written after each run that
finds the record sound). A partner runs it over mutual TLS (--gateway, --cert,
--key), the council's internal audit over the admin API (--admin, --token);
both from cron.

The first run trusts the checkpoint key the gateway publishes (or
--checkpoint-key) and keeps it in the state file; later runs verify with that
key only. Exit code 0: the record grew (or stayed) consistently; 1: it shrank,
forked (two different trees of one size, or a tree that does not extend the
last one) or its checkpoint does not verify — the state file is left as it
was, as evidence; 2: the check could not run.`,
		Example: `  gatehouse audit witness --state /var/lib/gatehouse-witness/council.json \
    --gateway https://gatehouse.council.example:8443 --cert police.pem --key police-key.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if state == "" {
				return &exitError{code: 2, err: errors.New("--state is required")}
			}
			var api witnessAPI
			if admin.ca == "" {
				admin.ca = partner.ca
			}
			if admin.url != "" || (partner.gateway == "" && os.Getenv("GATEHOUSE_ADMIN_URL") != "") {
				a, err := admin.client()
				if err != nil {
					return &exitError{code: 2, err: err}
				}
				api = a
			} else {
				c, err := partner.client()
				if err != nil {
					return &exitError{code: 2, err: err}
				}
				api = c
			}
			ctx := cmd.Context()
			var last *witnessState
			if b, err := os.ReadFile(state); err == nil {
				last = &witnessState{}
				if err := json.Unmarshal(b, last); err != nil {
					return &exitError{code: 2, err: fmt.Errorf("%s: %w", state, err)}
				}
			} else if !errors.Is(err, os.ErrNotExist) {
				return &exitError{code: 2, err: err}
			}
			vkey := pinned
			if vkey == "" && last != nil {
				vkey = last.CheckpointKey
			}
			vkey, err := checkpointKey(ctx, vkey, api.CheckpointKey)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			v, _ := tlog.NewVerifier(vkey)
			newer, noteText, err := api.OpenCheckpoint(ctx, v)
			if errors.Is(err, tlog.ErrNote) {
				return &exitError{code: 1, err: fmt.Errorf("the gateway's checkpoint does not verify: %w", err)}
			}
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			out := witnessResult{Origin: newer.Origin, TreeSize: newer.Size, Root: base64.StdEncoding.EncodeToString(newer.Root), Status: "first"}
			if last != nil {
				older, err := tlog.OpenTreeHead([]byte(last.Note), v.Name(), v)
				if err != nil {
					return &exitError{code: 2, err: fmt.Errorf("%s: the checkpoint kept there does not verify with its key: %w", state, err)}
				}
				out.Previous, out.Status = older.Size, "consistent"
				if err := api.VerifyConsistency(ctx, older, newer); err != nil {
					if !errors.Is(err, tlog.ErrProof) {
						return &exitError{code: 2, err: err}
					}
					out.Status, out.Reason = "shrunk", err.Error()
					if errors.Is(err, tlog.ErrForked) {
						out.Status = "forked"
					}
					out.PreviousNote, out.Note = last.Note, noteText
					if err := printWitness(cmd, partner.json || admin.json, out); err != nil {
						return err
					}
					return &exitError{code: 1, err: fmt.Errorf("the record %s: %w", out.Status, err)}
				}
			}
			next := witnessState{CheckpointKey: vkey, Note: noteText, Origin: newer.Origin, TreeSize: newer.Size, Root: out.Root, SeenAt: time.Now().UTC()}
			if err := writeFileAtomic(state, next); err != nil {
				return &exitError{code: 2, err: err}
			}
			return printWitness(cmd, partner.json || admin.json, out)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&state, "state", "", "the file this witness keeps the last checkpoint it saw in")
	fl.StringVar(&pinned, "checkpoint-key", "", "the checkpoint verifier key (<origin>+<hash>+<key>) to trust")
	fl.StringVar(&partner.gateway, "gateway", "", "partner API URL, to witness as a party (or GATEHOUSE_CLIENT_GATEWAY)")
	fl.StringVar(&partner.cert, "cert", "", "your party's client certificate (PEM)")
	fl.StringVar(&partner.key, "key", "", "your party's client key (PEM)")
	fl.StringVar(&admin.url, "admin", "", "admin API URL, to witness as an auditor (or GATEHOUSE_ADMIN_URL)")
	fl.StringVar(&admin.token, "token", "", "admin bearer token (or GATEHOUSE_ADMIN_TOKEN)")
	fl.StringVar(&partner.ca, "ca", "", "CA certificate of the gateway's server certificate (PEM)")
	addOutputFlags(fl, &partner.json)
	return cmd
}

type witnessResult struct {
	Status       string `json:"status"`
	Origin       string `json:"origin"`
	TreeSize     uint64 `json:"tree_size"`
	Root         string `json:"root"`
	Previous     uint64 `json:"previous_tree_size,omitempty"`
	Reason       string `json:"reason,omitempty"`
	PreviousNote string `json:"previous_note,omitempty"`
	Note         string `json:"note,omitempty"`
}

func printWitness(cmd *cobra.Command, asJSON bool, r witnessResult) error {
	if asJSON {
		return printJSON(cmd.OutOrStdout(), r)
	}
	w := cmd.OutOrStdout()
	switch r.Status {
	case "first":
		fmt.Fprintf(w, "first look: %s has %d entries (root %s); kept as the checkpoint to extend\n", r.Origin, r.TreeSize, r.Root)
	case "consistent":
		fmt.Fprintf(w, "consistent: %s grew from %d to %d entries (root %s)\n", r.Origin, r.Previous, r.TreeSize, r.Root)
	default:
		fmt.Fprintf(w, "%s: %s: %s\nlast seen:\n%s\nnow served:\n%s", map[string]string{"shrunk": "SHRUNK", "forked": "FORKED"}[r.Status], r.Origin, r.Reason, r.PreviousNote, r.Note)
	}
	return nil
}

// writeFileAtomic writes v as JSON to path through a temporary file, so a
// crash never leaves half a state.
func writeFileAtomic(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".witness-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

var (
	_ witnessAPI = (*client.Client)(nil)
	_ witnessAPI = (*client.Admin)(nil)
)
