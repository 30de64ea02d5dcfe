package audit_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/exchange/seal"
)

// records is a record in memory: the narrow interface CheckReceipts reads.
type records []audit.Record

func (r records) AuditRecords(_ context.Context, after int64, limit int) ([]audit.Record, error) {
	var out []audit.Record
	for _, rec := range r {
		if rec.Seq > after && len(out) < limit {
			out = append(out, rec)
		}
	}
	return out, nil
}

func (r records) AuditMaxSeq(context.Context) (int64, error) {
	if len(r) == 0 {
		return 0, nil
	}
	return r[len(r)-1].Seq, nil
}

func TestCheckReceipts(t *testing.T) {
	key, err := seal.GenerateKey(seal.UseSignature)
	require.NoError(t, err)
	signer, err := seal.NewSigner(key)
	require.NoError(t, err)
	keys, err := signer.PublicSet()
	require.NoError(t, err)
	const origin = "council.example/audit"
	rs := &audit.Receipts{Signer: signer, Origin: origin}

	var (
		rec   records
		lines []string
		head  = audit.GenesisHash
	)
	for i := range 6 {
		e := &audit.Entry{Time: time.Date(2026, 11, 23, 10, i, 0, 0, time.UTC), Type: audit.TypeExchangeDecided, Actor: "police.northshire"}
		r, err := audit.Chain(e, int64(i), head)
		require.NoError(t, err)
		head = r.Hash
		rec = append(rec, *r)
		line, err := rs.Issue(e)
		require.NoError(t, err)
		lines = append(lines, line)
	}
	other := &audit.Receipts{Signer: signer, Origin: "elsewhere"}
	foreign, err := other.Issue(&audit.Entry{Seq: 1, Time: time.Now(), Type: "x", Actor: "y"})
	require.NoError(t, err)

	// Seq 3 deleted, seq 4 replaced, the tail from seq 6 cut off.
	edited := &audit.Entry{Time: rec[3].Time, Type: audit.TypeExchangeDecided, Actor: "someone.else"}
	r4, err := audit.Chain(edited, 3, rec[2].Hash)
	require.NoError(t, err)
	damaged := records{rec[0], rec[1], *r4, rec[4]}

	file := strings.Join(append(lines, "# a comment", "", foreign, "not a receipt", `{"receipt":"`+lines[0]+`"}`), "\n")
	rep, err := audit.CheckReceipts(context.Background(), damaged, keys, origin, strings.NewReader(file))
	require.NoError(t, err)
	require.False(t, rep.OK())
	require.Equal(t, 9, rep.Checked)
	require.Equal(t, 4, rep.Sound, "seq 1, 2, 5 and the JSON line")
	kinds := map[int]string{}
	for _, p := range rep.Problems {
		kinds[p.Line] = p.Kind
	}
	require.Equal(t, map[int]string{
		3: audit.ReceiptMissing, 4: audit.ReceiptDifferent, 6: audit.ReceiptBeyondEnd,
		9: audit.ReceiptDifferent, 10: audit.ReceiptUnreadable,
	}, kinds)

	rep, err = audit.CheckReceipts(context.Background(), rec, keys, origin, strings.NewReader(strings.Join(lines, "\n")))
	require.NoError(t, err)
	require.True(t, rep.OK())
	require.Equal(t, 6, rep.Sound)
}
