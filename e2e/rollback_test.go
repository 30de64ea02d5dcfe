package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/cmd/gatehouse/cli"
	"github.com/gatehouse-gw/gatehouse/config"
	"github.com/gatehouse-gw/gatehouse/devenv/testenv"
)

// backends runs a test against a gateway on SQLite and one on PostgreSQL.
func backends(t *testing.T, configure func(*config.Config), test func(t *testing.T, gw *testenv.Gateway)) {
	for _, pg := range []bool{false, true} {
		name := "sqlite"
		if pg {
			name = "postgres"
		}
		t.Run(name, func(t *testing.T) {
			test(t, testenv.StartGateway(t, testenv.GatewayOptions{Postgres: pg, Configure: configure}))
		})
	}
}

// insider runs SQL as someone with the database owner's rights (or the
// SQLite file) would, triggers out of the way: the attacker the record
// must stand up to.
func insider(t *testing.T, gw *testenv.Gateway, stmts ...string) {
	t.Helper()
	db := gw.App.DB.SQL()
	pg := gw.Env.Config.Database.Driver == "postgres"
	if pg {
		for _, table := range []string{"audit_head", "audit_log", "audit_tree"} {
			_, err := db.Exec("ALTER TABLE " + table + " DISABLE TRIGGER ALL")
			require.NoError(t, err)
		}
	} else {
		for _, trig := range []string{"audit_head_forward_only", "audit_head_no_delete", "audit_log_no_delete", "audit_log_no_update", "audit_tree_no_delete"} {
			_, err := db.Exec("DROP TRIGGER " + trig)
			require.NoError(t, err)
		}
	}
	for _, s := range stmts {
		_, err := db.Exec(s)
		require.NoError(t, err, s)
	}
}

// Head moved back with the rows kept: the entries after it are hidden
// from the writers and from any check that trusts the head. audit verify
// reads to the last entry, and names them.
func TestAuditVerifyFindsHiddenRows(t *testing.T) {
	quiet := func(c *config.Config) { c.Audit.CheckpointInterval = time.Hour }
	backends(t, quiet, func(t *testing.T, gw *testenv.Gateway) {
		ctx := context.Background()
		declare(t, gw, 12)
		_, err := gw.App.Checkpointer.Once(ctx, true)
		require.NoError(t, err)
		declare(t, gw, 5) // the last decisions, not yet in a checkpoint
		recs := records(t, gw.App.DB)
		n := int64(len(recs))
		back := recs[n-6] // the head moved back by five

		// The trigger refuses, for the owner too.
		moveBack := fmt.Sprintf("UPDATE audit_head SET seq = %d, hash = '%s' WHERE id = 1", back.Seq, back.Hash)
		_, err = gw.App.DB.SQL().Exec(moveBack)
		require.ErrorContains(t, err, "only moves forward")

		insider(t, gw, moveBack)
		out, _, err := gatehouse(t, "audit", "verify", "--config", gw.Env.ConfigFile)
		require.Equal(t, 1, cli.ExitCode(err), out)
		require.Contains(t, out, fmt.Sprintf("BROKEN at seq %d (hidden)", back.Seq+1))
		require.Contains(t, out, fmt.Sprintf("entries seq %d to %d lie past the chain's head (seq %d)", back.Seq+1, n, back.Seq))

		out, _, err = gatehouse(t, "audit", "verify", "--config", gw.Env.ConfigFile, "--json")
		require.Equal(t, 1, cli.ExitCode(err), out)
		var rep struct {
			OK       bool                 `json:"ok"`
			Hidden   int64                `json:"hidden_entries"`
			HeadSeq  int64                `json:"head_seq"`
			Problems []*audit.VerifyError `json:"problems"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &rep))
		require.False(t, rep.OK)
		require.Equal(t, int64(5), rep.Hidden)
		require.Equal(t, n, rep.HeadSeq, "the chain is read to its last entry")
		require.Equal(t, audit.KindHidden, rep.Problems[0].Kind)
	})
}
