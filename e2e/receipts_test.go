package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/cmd/gatehouse/cli"
	"github.com/gatehouse-gw/gatehouse/config"
	"github.com/gatehouse-gw/gatehouse/devenv/testenv"
	"github.com/gatehouse-gw/gatehouse/tlog"
)

// partnerFlags are the connection flags of party's CLI.
func partnerFlags(gw *testenv.Gateway, party string) []string {
	return []string{"--gateway", gw.URL, "--cert", gw.Env.CertFile(party), "--key", gw.Env.KeyFile(party), "--ca", gw.Env.CAFile()}
}

// sendForReceipts sends n disclosures and returns their receipts, one
// line each, as a partner would keep them.
func sendForReceipts(t *testing.T, gw *testenv.Gateway, n int) []string {
	t.Helper()
	council := gw.Client(t, "council.revenues")
	var out []string
	for range n {
		e, err := council.Send(context.Background(), policeDisclosure(4), strings.NewReader("data"))
		require.NoError(t, err)
		require.NotEmpty(t, e.Receipts)
		out = append(out, e.Receipts...)
	}
	return out
}

func writeLines(t *testing.T, path string, lines []string) string {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600))
	return path
}

// Tail deleted and head moved back, checkpoints with it, by an insider
// with the owner's rights: nothing inside the database shows it, but the
// partners' receipts and a witness's last checkpoint do.
func TestRollbackFoundByReceiptsAndWitness(t *testing.T) {
	quiet := func(c *config.Config) { c.Audit.CheckpointInterval = time.Hour }
	backends(t, quiet, func(t *testing.T, gw *testenv.Gateway) {
		ctx := context.Background()
		dir := t.TempDir()
		state := filepath.Join(dir, "witness.json")
		witness := append([]string{"audit", "witness", "--state", state}, partnerFlags(gw, "police.northshire")...)

		kept := sendForReceipts(t, gw, 3)
		_, err := gw.App.Checkpointer.Once(ctx, true)
		require.NoError(t, err)
		first, ok, err := gw.App.DB.LastAuditCheckpoint(ctx)
		require.NoError(t, err)
		require.True(t, ok)
		out, _, err := gatehouse(t, witness...)
		require.NoError(t, err, out)
		require.Contains(t, out, fmt.Sprintf("first look: %s has %d entries", gw.Env.Config.Audit.Origin, first.Seq))

		tail := sendForReceipts(t, gw, 2)
		all := writeLines(t, filepath.Join(dir, "receipts.txt"), append(append([]string{"# council.revenues, November"}, kept...), tail...))

		// Before the second checkpoint the tail is pending; after it, proven.
		out, _, err = gatehouse(t, append(append([]string{"client"}, partnerFlags(gw, "council.revenues")...), "receipts", "verify", all)...)
		require.NoError(t, err, out)
		require.Contains(t, out, fmt.Sprintf("%d proven, %d pending, 0 failed", len(kept), len(tail)))
		_, err = gw.App.Checkpointer.Once(ctx, true)
		require.NoError(t, err)
		out, _, err = gatehouse(t, append(append([]string{"client"}, partnerFlags(gw, "council.revenues")...), "receipts", "verify", all, "--output", "json")...)
		require.NoError(t, err, out)
		require.Contains(t, out, fmt.Sprintf(`"proven": %d`, len(kept)+len(tail)))
		out, _, err = gatehouse(t, witness...)
		require.NoError(t, err, out)
		require.Contains(t, out, "consistent:")
		out, _, err = gatehouse(t, "audit", "verify", "--config", gw.Env.ConfigFile, "--receipts", all)
		require.NoError(t, err, out)
		require.Contains(t, out, fmt.Sprintf("receipts      %d checked: every entry is in the record as promised", len(kept)+len(tail)))

		// The insider cuts the record back to the first checkpoint.
		cut := first.Seq
		if gw.Env.Config.Database.Driver == "postgres" {
			for _, table := range []string{"audit_checkpoints", "audit_segments"} {
				_, err := gw.App.DB.SQL().Exec("ALTER TABLE " + table + " DISABLE TRIGGER ALL")
				require.NoError(t, err)
			}
		} else {
			for _, trig := range []string{"audit_checkpoints_no_delete", "audit_segments_no_delete"} {
				_, err := gw.App.DB.SQL().Exec("DROP TRIGGER " + trig)
				require.NoError(t, err)
			}
		}
		recs := records(t, gw.App.DB)
		insider(t, gw,
			fmt.Sprintf("DELETE FROM audit_log WHERE seq > %d", cut),
			fmt.Sprintf("DELETE FROM audit_tree WHERE seq > %d", cut),
			fmt.Sprintf("DELETE FROM audit_checkpoints WHERE seq > %d", cut),
			fmt.Sprintf("DELETE FROM audit_segments WHERE last_seq > %d", cut),
			fmt.Sprintf("UPDATE audit_head SET seq = %d, hash = '%s' WHERE id = 1", cut, recs[cut-1].Hash),
		)

		out, _, err = gatehouse(t, "audit", "verify", "--config", gw.Env.ConfigFile, "--receipts", all)
		require.Equal(t, 1, cli.ExitCode(err), out)
		for i, compact := range tail {
			r, err := tlog.ReadReceiptLine(compact)
			require.NoError(t, err)
			keys, err := gw.Client(t, "council.revenues").GatewayKeys(ctx)
			require.NoError(t, err)
			rc, err := tlog.ParseReceipt(r, keys)
			require.NoError(t, err)
			require.Contains(t, out, fmt.Sprintf("line %d: seq %d: beyond-end", 1+len(kept)+i+1, rc.Seq()), "every cut receipt is named")
		}
		require.Contains(t, out, fmt.Sprintf("%d NOT in the record as promised", len(tail)))

		out, _, err = gatehouse(t, witness...)
		require.Equal(t, 1, cli.ExitCode(err), out)
		require.Contains(t, out, "SHRUNK")
		out, _, err = gatehouse(t, witness...)
		require.Equal(t, 1, cli.ExitCode(err), "the witness keeps the evidence and keeps failing: %s", out)
	})
}
