package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/client"
	"github.com/gatehouse-gw/gatehouse/config"
	"github.com/gatehouse-gw/gatehouse/devenv/testenv"
	"github.com/gatehouse-gw/gatehouse/exchange/seal"
	"github.com/gatehouse-gw/gatehouse/server"
	"github.com/gatehouse-gw/gatehouse/store"
)

// auditedGateway is a gateway with some history: allowed and refused
// exchanges, checkpoints every five entries, all archived.
func auditedGateway(t *testing.T) *testenv.Gateway {
	t.Helper()
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{Configure: func(c *config.Config) {
		c.Audit.CheckpointEvery = 5
		c.Audit.CheckpointInterval = time.Hour
	}})
	council := gw.Client(t, "council.revenues")
	for i := range 6 {
		_, err := council.Send(ctx, policeDisclosure(16), bytes.NewReader(randomBytes(t, 16)))
		require.NoError(t, err)
		if i%2 == 0 {
			refused := policeDisclosure(16)
			refused.Purpose = "marketing"
			_, err = council.Declare(ctx, refused)
			requireProblem(t, err, 403, "refused")
		}
	}
	_, err := gw.App.Checkpointer.Once(ctx, true)
	require.NoError(t, err)
	head, _, err := gw.App.DB.AuditHead(ctx)
	require.NoError(t, err)
	require.GreaterOrEqual(t, head, int64(15))
	return gw
}

// tamperable copies the gateway's database to a file of its own, with the
// append-only triggers dropped, as an attacker with file access could.
func tamperable(t *testing.T, gw *testenv.Gateway) (*store.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "copy.db")
	_, err := gw.App.DB.SQL().Exec("VACUUM INTO '" + path + "'")
	require.NoError(t, err)
	db, err := store.OpenExisting(context.Background(), store.SQLite, path)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	for _, trig := range []string{"audit_log_no_update", "audit_log_no_delete", "audit_checkpoints_no_update", "audit_checkpoints_no_delete",
		"audit_head_forward_only", "audit_head_no_delete", "audit_tree_no_update", "audit_tree_no_delete"} {
		_, err := db.SQL().Exec("DROP TRIGGER " + trig)
		require.NoError(t, err)
	}
	return db, path
}

func check(t *testing.T, gw *testenv.Gateway, db audit.Log, archive audit.Archive) *audit.Report {
	t.Helper()
	rep, err := audit.Check(context.Background(), db, archive, audit.CheckOptions{Keys: gw.App.AuditKeys, Issuer: gw.Env.Config.Issuer})
	require.NoError(t, err)
	return rep
}

func requireFirstProblem(t *testing.T, rep *audit.Report, seq int64, kind string) {
	t.Helper()
	require.False(t, rep.OK(), "the damage must be found")
	first := rep.First()
	require.Equal(t, seq, first.Seq, "first problem: %v (all: %v)", first, rep.Problems)
	require.Equal(t, kind, first.Kind, "first problem: %v", first)
}

func records(t *testing.T, db *store.DB) []audit.Record {
	t.Helper()
	recs, err := db.AuditRecords(context.Background(), 0, 10000)
	require.NoError(t, err)
	return recs
}

// rechain rewrites the entries from seq on so that the chain is internally
// consistent again: what an attacker who changed an entry would do next.
func rechain(t *testing.T, db *store.DB, from int64, change func(*audit.Entry)) {
	t.Helper()
	recs := records(t, db)
	prev := audit.GenesisHash
	for _, r := range recs {
		if r.Seq < from {
			prev = r.Hash
			continue
		}
		var e audit.Entry
		require.NoError(t, json.Unmarshal(r.Body, &e))
		if r.Seq == from {
			change(&e)
		}
		nr, err := audit.Chain(&e, r.Seq-1, prev)
		require.NoError(t, err)
		_, err = db.SQL().Exec("UPDATE audit_log SET body = ?, hash = ? WHERE seq = ?", string(nr.Body), nr.Hash, r.Seq)
		require.NoError(t, err)
		prev = nr.Hash
	}
	_, err := db.SQL().Exec("UPDATE audit_head SET hash = ? WHERE id = 1", prev)
	require.NoError(t, err)
}

func TestAuditChainFindsTampering(t *testing.T) {
	ctx := context.Background()
	gw := auditedGateway(t)
	archive := gw.App.AuditArchive

	t.Run("sound", func(t *testing.T) {
		rep := check(t, gw, gw.App.DB, archive)
		require.True(t, rep.OK(), "%v", rep.Problems)
		require.Equal(t, rep.HeadSeq, rep.Entries)
		require.GreaterOrEqual(t, rep.Checkpoints, 3)
		require.Equal(t, rep.Checkpoints, rep.Segments)
		require.Zero(t, rep.Unarchived)
	})

	t.Run("append-only in the database", func(t *testing.T) {
		for _, stmt := range []string{
			"UPDATE audit_log SET body = '{}' WHERE seq = 1",
			"DELETE FROM audit_log WHERE seq = 1",
			"UPDATE audit_checkpoints SET hash = 'x'",
			"DELETE FROM audit_checkpoints",
			"DELETE FROM audit_segments",
		} {
			_, err := gw.App.DB.SQL().Exec(stmt)
			require.ErrorContains(t, err, "append-only", stmt)
		}
	})

	t.Run("edited", func(t *testing.T) {
		db, _ := tamperable(t, gw)
		_, err := db.SQL().Exec(`UPDATE audit_log SET body = replace(body, '"actor":"', '"actor":"x') WHERE seq = 3`)
		require.NoError(t, err)
		requireFirstProblem(t, check(t, gw, db, archive), 3, audit.KindEdited)
	})

	t.Run("edited and the chain recomputed", func(t *testing.T) {
		db, _ := tamperable(t, gw)
		rechain(t, db, 7, func(e *audit.Entry) { e.Outcome = "allow"; e.Failed = nil })
		rep := check(t, gw, db, archive)
		// The chain is consistent again, but no longer reaches the signed
		// checkpoints; the archived copy shows which entry changed.
		requireFirstProblem(t, rep, 7, audit.KindEdited)
		require.Contains(t, rep.First().Reason, "archived copy")
	})

	t.Run("missing", func(t *testing.T) {
		db, _ := tamperable(t, gw)
		_, err := db.SQL().Exec("DELETE FROM audit_log WHERE seq = 4")
		require.NoError(t, err)
		requireFirstProblem(t, check(t, gw, db, archive), 4, audit.KindMissing)
	})

	t.Run("reordered", func(t *testing.T) {
		db, _ := tamperable(t, gw)
		recs := records(t, db)
		a, b := recs[5], recs[6] // seq 6 and 7
		for _, r := range []struct {
			seq  int64
			from audit.Record
		}{{a.Seq, b}, {b.Seq, a}} {
			_, err := db.SQL().Exec("UPDATE audit_log SET body = ?, hash = ? WHERE seq = ?", string(r.from.Body), r.from.Hash, r.seq)
			require.NoError(t, err)
		}
		requireFirstProblem(t, check(t, gw, db, archive), 6, audit.KindReordered)
	})

	t.Run("truncated", func(t *testing.T) {
		db, _ := tamperable(t, gw)
		recs := records(t, db)
		_, err := db.SQL().Exec("DELETE FROM audit_log WHERE seq > 8")
		require.NoError(t, err)
		_, err = db.SQL().Exec("UPDATE audit_head SET seq = 8, hash = ? WHERE id = 1", recs[7].Hash)
		require.NoError(t, err)
		requireFirstProblem(t, check(t, gw, db, archive), 9, audit.KindMissing)
	})

	t.Run("bad signature", func(t *testing.T) {
		db, _ := tamperable(t, gw)
		// A checkpoint signed by a key that is not the gateway's.
		key, err := seal.GenerateKey(seal.UseSignature)
		require.NoError(t, err)
		forger, err := seal.NewSigner(key)
		require.NoError(t, err)
		recs := records(t, db)
		forged, err := audit.SignCheckpoint(forger, audit.Checkpoint{Log: "gatehouse-dev", Seq: 10, Hash: recs[9].Hash, Time: time.Now()})
		require.NoError(t, err)
		_, err = db.SQL().Exec("UPDATE audit_checkpoints SET jws = ? WHERE seq = 10", forged.JWS)
		require.NoError(t, err)
		requireFirstProblem(t, check(t, gw, db, archive), 10, audit.KindBadSignature)
	})

	t.Run("the command line reports it", func(t *testing.T) {
		_, path := tamperable(t, gw)
		out, _, err := gatehouse(t, "audit", "verify", "--config", gw.Env.ConfigFile, "--json")
		require.NoError(t, err, out)
		var sound struct {
			OK      bool  `json:"ok"`
			Entries int64 `json:"entries"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &sound))
		require.True(t, sound.OK)

		copyDB, err := sql.Open("sqlite", path)
		require.NoError(t, err)
		_, err = copyDB.Exec("DELETE FROM audit_log WHERE seq = 2")
		require.NoError(t, err)
		require.NoError(t, copyDB.Close())
		t.Setenv("GATEHOUSE_DATABASE_DSN", path)
		out, _, err = gatehouse(t, "audit", "verify", "--config", gw.Env.ConfigFile)
		require.Error(t, err)
		require.Contains(t, out, "BROKEN at seq 2 (missing)")
	})

	t.Run("archive", func(t *testing.T) {
		mc := archive.Client()
		bucket := archive.Bucket()
		// Object Lock: not even the bucket's owner can remove a segment.
		key := audit.SegmentKey(1, 5)
		info, err := mc.StatObject(ctx, bucket, key, minio.StatObjectOptions{})
		require.NoError(t, err)
		err = mc.RemoveObject(ctx, bucket, key, minio.RemoveObjectOptions{VersionID: info.VersionID, GovernanceBypass: true})
		require.Error(t, err, "a locked segment cannot be deleted")

		// A segment hidden from the listing (as if the archive lost it).
		rep := check(t, gw, gw.App.DB, hiding{archive, audit.SegmentKey(6, 10)})
		requireFirstProblem(t, rep, 6, audit.KindMissing)

		// A second version of a segment with an entry changed: the version
		// stays, and is found.
		obj, err := archive.OpenSegment(ctx, key, info.VersionID)
		require.NoError(t, err)
		body, err := io.ReadAll(obj)
		obj.Close()
		require.NoError(t, err)
		edited := bytes.Replace(body, []byte(`"police.northshire"`), []byte(`"police.elsewhere"`), 1)
		require.NotEqual(t, body, edited)
		_, err = archive.PutSegment(ctx, key, edited, time.Now().Add(time.Hour))
		require.NoError(t, err)
		rep = check(t, gw, gw.App.DB, archive)
		require.False(t, rep.OK())
		require.Equal(t, audit.KindEdited, rep.First().Kind, "%v", rep.Problems)
		require.Contains(t, rep.First().Where, key)

		// A segment whose checkpoint another key signed.
		key2 := audit.SegmentKey(11, 15)
		obj, err = archive.OpenSegment(ctx, key2, "")
		require.NoError(t, err)
		body, err = io.ReadAll(obj)
		obj.Close()
		require.NoError(t, err)
		lines := strings.Split(strings.TrimSpace(string(body)), "\n")
		recs := records(t, gw.App.DB)
		fk, err := seal.GenerateKey(seal.UseSignature)
		require.NoError(t, err)
		forger, err := seal.NewSigner(fk)
		require.NoError(t, err)
		forged, err := audit.SignCheckpoint(forger, audit.Checkpoint{Seq: 15, Hash: recs[14].Hash, Time: time.Now()})
		require.NoError(t, err)
		lines[len(lines)-1] = fmt.Sprintf(`{"checkpoint":%q}`, forged.JWS)
		_, err = archive.PutSegment(ctx, key2, []byte(strings.Join(lines, "\n")+"\n"), time.Now().Add(time.Hour))
		require.NoError(t, err)
		rep = check(t, gw, gw.App.DB, archive)
		var kinds []string
		for _, p := range rep.Problems {
			kinds = append(kinds, fmt.Sprintf("%d:%s", p.Seq, p.Kind))
		}
		require.Contains(t, kinds, "15:"+audit.KindBadSignature)

		// An object whose name claims an absurd range is reported, not
		// trusted: the verifier neither crashes nor allocates for it.
		_, err = archive.PutSegment(ctx, "segments/00000000000000000001-09223372036854775806.ndjson", []byte("{}\n"), time.Now().Add(time.Hour))
		require.NoError(t, err)
		rep = check(t, gw, gw.App.DB, archive)
		require.False(t, rep.OK())
	})
}

// A segment that no row of the database records is reported as
// unrecorded, with its key: what an older gateway that lost the race to
// record its checkpoint, or that lost the database just after archiving,
// left behind, or what someone else put there. It is never accepted in
// silence, even when it agrees with the chain.
func TestAuditUnrecordedSegments(t *testing.T) {
	ctx := context.Background()
	gw := auditedGateway(t)
	archive := gw.App.AuditArchive
	recs := records(t, gw.App.DB)
	var keys []string
	for _, r := range [][2]int{{1, 7}, {11, 13}} {
		first, last := r[0], r[1]
		cp, err := audit.SignCheckpoint(gw.App.AuditSigner, audit.Checkpoint{Log: gw.Env.Config.Issuer, Seq: int64(last), Hash: recs[last-1].Hash, Time: time.Now()})
		require.NoError(t, err)
		body, err := audit.EncodeSegment(recs[first-1:last], cp)
		require.NoError(t, err)
		key := audit.SegmentKey(int64(first), int64(last))
		v, err := archive.PutSegment(ctx, key, body, time.Now().Add(time.Hour))
		require.NoError(t, err)
		keys = append(keys, key+" version "+v)
	}
	// And a second copy of a recorded segment.
	obj, err := archive.OpenSegment(ctx, audit.SegmentKey(1, 5), "")
	require.NoError(t, err)
	body, err := io.ReadAll(obj)
	obj.Close()
	require.NoError(t, err)
	v, err := archive.PutSegment(ctx, audit.SegmentKey(1, 5), body, time.Now().Add(time.Hour))
	require.NoError(t, err)
	keys = append(keys, audit.SegmentKey(1, 5)+" version "+v)

	rep := check(t, gw, gw.App.DB, archive)
	require.False(t, rep.OK())
	require.ElementsMatch(t, keys, rep.Unrecorded)
	for _, p := range rep.Problems {
		require.Equal(t, audit.KindUnrecorded, p.Kind, "%v", p)
	}

	out, _, err := gatehouse(t, "audit", "verify", "--config", gw.Env.ConfigFile)
	require.Error(t, err, out)
	for _, k := range keys {
		require.Contains(t, out, k)
	}
	require.Contains(t, out, "(unrecorded)")
}

// hiding is the archive with one segment missing from its listing.
type hiding struct {
	audit.Archive
	key string
}

func (h hiding) SegmentVersions(ctx context.Context) ([]audit.ArchivedSegment, error) {
	all, err := h.Archive.SegmentVersions(ctx)
	var out []audit.ArchivedSegment
	for _, s := range all {
		if s.Key != h.key {
			out = append(out, s)
		}
	}
	return out, err
}

func TestSubjectKeyCommand(t *testing.T) {
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	_, err := gw.Client(t, "council.revenues").Send(ctx, policeDisclosure(16), bytes.NewReader(randomBytes(t, 16)))
	require.NoError(t, err)
	out, _, err := gatehouse(t, "audit", "subject-key", "--config", gw.Env.ConfigFile, "NINO", "qq 12 34 56 c")
	require.NoError(t, err)
	key := strings.TrimSpace(out)
	require.True(t, strings.HasPrefix(key, audit.SubjectKeyPrefix))
	subjectKey, err := server.ReadHexKey(gw.Env.Config.Keys.SubjectKeyFile)
	require.NoError(t, err)
	require.Equal(t, audit.SubjectKey(subjectKey, "nino", "QQ123456C"), key)

	// The audit record names the subject by that key, never in clear.
	found := false
	for _, r := range records(t, gw.App.DB) {
		require.NotContains(t, string(r.Body), "QQ123456C")
		var e audit.Entry
		require.NoError(t, json.Unmarshal(r.Body, &e))
		if e.Type == audit.TypeExchangeDecided {
			require.Equal(t, []string{key}, e.Subjects)
			found = true
		}
	}
	require.True(t, found)
}

// No audit record, no action: when the chain cannot be written, a
// disclosure, an upload's seal, an acknowledgement and an export all fail
// with 503 and change nothing.
func TestFailsClosedWithoutAudit(t *testing.T) {
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{ClientRetry: client.Retry{Attempts: 1}})
	council := gw.Client(t, "council.revenues")
	police := gw.Client(t, "police.northshire")
	sent, err := council.Send(ctx, policeDisclosure(16), bytes.NewReader(randomBytes(t, 16)))
	require.NoError(t, err)
	declared, err := council.Declare(ctx, policeDisclosure(16))
	require.NoError(t, err)
	before := records(t, gw.App.DB)
	objects, err := gw.App.Objects.Keys(ctx, "")
	require.NoError(t, err)

	// The audit table refuses every new entry, as a full or failing disk would.
	_, err = gw.App.DB.SQL().Exec(`CREATE TRIGGER audit_log_broken BEFORE INSERT ON audit_log
		BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END`)
	require.NoError(t, err)

	_, err = council.Declare(ctx, policeDisclosure(16))
	requireProblem(t, err, 503, "unavailable")
	_, err = council.Upload(ctx, declared.ID, bytes.NewReader(randomBytes(t, 16)), 16)
	requireProblem(t, err, 503, "unavailable")
	_, err = police.Acknowledge(ctx, sent.ID)
	requireProblem(t, err, 503, "unavailable")
	_, err = gw.Admin(t, "ali.auditor", "auditor").Export(ctx, "overrides", nil)
	requireProblem(t, err, 503, "unavailable")
	require.Eventually(t, func() bool {
		status, h := readyz(t, gw)
		return status == 503 && h.Checks["audit"] == "failing" && h.Checks["database"] == "ok"
	}, 10*time.Second, 200*time.Millisecond, "/readyz: the database answers but the audit chain cannot be written")

	// Nothing changed: no entry, no object left behind, the upload not
	// delivered, no receipt.
	require.Equal(t, len(before), len(records(t, gw.App.DB)))
	after, err := gw.App.Objects.Keys(ctx, "")
	require.NoError(t, err)
	require.ElementsMatch(t, objects, after, "the sealed object of the failed upload is removed")
	got, err := council.Exchange(ctx, declared.ID)
	require.NoError(t, err)
	require.NotEqual(t, "delivered", got.State)
	got, err = council.Exchange(ctx, sent.ID)
	require.NoError(t, err)
	require.Equal(t, "delivered", got.State)

	// Once the record can be written again, so can everything else.
	_, err = gw.App.DB.SQL().Exec("DROP TRIGGER audit_log_broken")
	require.NoError(t, err)
	up, err := council.Upload(ctx, declared.ID, bytes.NewReader(randomBytes(t, 16)), 16)
	require.NoError(t, err)
	require.Equal(t, "delivered", up.State)
	rep := check(t, gw, gw.App.DB, gw.App.AuditArchive)
	require.True(t, rep.OK(), "%v", rep.Problems)
}
