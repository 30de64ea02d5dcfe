package audit_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"

	"github.com/gatehouse-gw/gatehouse/audit"
)

// Known answers, computed independently with Python's hashlib: the leaf
// hash of an entry is SHA-256 of a zero byte and its canonical body (the
// body of TestEncodeKnownAnswer), and interior nodes hash a one byte and
// their children. Changing either breaks every receipt and checkpoint.
func TestLeafHashKnownAnswer(t *testing.T) {
	body := `{"seq":7,"time":"2026-11-01T08:30:00.123456Z","type":"exchange.decided","actor":"council.revenues",` +
		`"exchange":"01a202e1-6ad7-72c5-942e-418aac07183a","agreement":"police-crime@1","recipient":"police.northshire",` +
		`"outcome":"deny","failed":["purpose.permitted"],"purpose":"marketing","lawful_basis":"A6-1-e",` +
		`"categories":["identity"],"subjects":["hmac-sha256:00ff"],"detail":{"a":"\u003c\u0026\u003e","z":"1"},` +
		`"prev":"0000000000000000000000000000000000000000000000000000000000000000"}`
	require.Equal(t, "11966012e95749ab18a8b2ffab33d30bc0af9fcde737f7c4962c4643ae619b88", hex.EncodeToString(audit.LeafHash([]byte(body))))

	tree, err := audit.NewFrontier(0, nil)
	require.NoError(t, err)
	for _, b := range []string{"a", "b", "c"} {
		tree.Append(audit.LeafHash([]byte(b)))
	}
	require.Equal(t, "NmQuc8JUCrEh46a/lUWwokmCzYMOsT080Z3jzmwCHsE=", base64.StdEncoding.EncodeToString(tree.Root()))
}

// memTree is the stored tree of a record held in memory: the rows the
// writers would store.
type memTree map[int64][]byte

func (m memTree) AuditTree(_ context.Context, seqs []int64) (map[int64][]byte, error) {
	out := map[int64][]byte{}
	for _, s := range seqs {
		if r, ok := m[s]; ok {
			out[s] = r
		}
	}
	return out, nil
}

// The tree and its proofs agree with transparency-dev/merkle's reference
// implementation and RFC 6962's test vectors at every size.
func TestTreeMatchesReference(t *testing.T) {
	ctx := context.Background()
	inputs := testonly.LeafInputs()
	ref := testonly.New(rfc6962.DefaultHasher)
	rows := memTree{}
	tree, _ := audit.NewFrontier(0, nil)
	for i, in := range inputs {
		row := tree.Append(audit.LeafHash(in))
		require.Len(t, row, audit.NodesCompleted(uint64(i))*audit.HashSize)
		rows[int64(i+1)] = row
		ref.AppendData(in)
		require.Equal(t, testonly.RootHashes()[i+1], tree.Root(), "RFC 6962 root of size %d", i+1)
		require.Equal(t, ref.Hash(), tree.Root())
		again, err := audit.DecodeFrontier(tree.Size(), tree.Encode())
		require.NoError(t, err)
		require.Equal(t, tree.Root(), again.Root(), "a frontier survives storing")
		stored, err := audit.ReadFrontier(ctx, rows, tree.Size())
		require.NoError(t, err)
		require.Equal(t, tree.Root(), stored.Root(), "the frontier read from the stored rows")
	}
	size := uint64(len(inputs))
	for s := uint64(1); s <= size; s++ {
		for i := range s {
			t.Run(fmt.Sprintf("inclusion/%d-of-%d", i, s), func(t *testing.T) {
				got, err := audit.InclusionProof(ctx, rows, i, s)
				require.NoError(t, err)
				want, err := ref.InclusionProof(i, s)
				require.NoError(t, err)
				require.Equal(t, want, got)
				require.NoError(t, audit.VerifyInclusion(i, s, ref.LeafHash(i), got, ref.HashAt(s)))
			})
		}
		for s1 := range s + 1 {
			t.Run(fmt.Sprintf("consistency/%d-to-%d", s1, s), func(t *testing.T) {
				got, err := audit.ConsistencyProof(ctx, rows, s1, s)
				require.NoError(t, err)
				want, err := ref.ConsistencyProof(s1, s)
				require.NoError(t, err)
				require.Equal(t, want, got)
			})
		}
	}
	_, err := audit.InclusionProof(ctx, rows, size, size)
	require.ErrorIs(t, err, audit.ErrTreeSize)
	_, err = audit.ConsistencyProof(ctx, rows, 3, 2)
	require.ErrorIs(t, err, audit.ErrTreeSize)
	_, err = audit.InclusionProof(ctx, rows, 0, size*2)
	require.ErrorIs(t, err, audit.ErrTreeNode)
}

func TestFrontierRejectsBadInput(t *testing.T) {
	for name, c := range map[string]struct {
		size uint64
		b    []byte
	}{
		"deny/ragged":         {3, make([]byte, 33)},
		"deny/too-few-hashes": {3, make([]byte, 32)},
		"deny/too-many":       {4, make([]byte, 64)},
	} {
		_, err := audit.DecodeFrontier(c.size, c.b)
		require.Error(t, err, name)
	}
	f, err := audit.DecodeFrontier(0, nil)
	require.NoError(t, err, "ok/empty")
	require.Equal(t, audit.EmptyRoot(), f.Root())
}
