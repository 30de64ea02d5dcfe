package audit_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/exchange/seal"
)

func newSigner(t testing.TB) (*seal.Signer, jwk.Set) {
	t.Helper()
	key, err := seal.GenerateKey(seal.UseSignature)
	require.NoError(t, err)
	s, err := seal.NewSigner(key)
	require.NoError(t, err)
	set, err := s.PublicSet()
	require.NoError(t, err)
	return s, set
}

func chain(t testing.TB, n int) []audit.Record {
	t.Helper()
	var (
		recs []audit.Record
		seq  int64
		hash string
	)
	for i := range n {
		r, err := audit.Chain(&audit.Entry{
			Time: time.Date(2026, 11, 1, 9, 0, i, 0, time.UTC), Type: audit.TypeExchangeDecided, Actor: "council.revenues",
			Outcome: "allow", Subjects: []string{"hmac-sha256:00ff"}, Detail: map[string]string{"note": `"prev":"x"}`},
		}, seq, hash)
		require.NoError(t, err)
		recs = append(recs, *r)
		seq, hash = r.Seq, r.Hash
	}
	return recs
}

func TestCheckpointSignAndVerify(t *testing.T) {
	s, keys := newSigner(t)
	recs := chain(t, 3)
	cp, err := audit.SignCheckpoint(s, audit.Checkpoint{Log: "gatehouse-test", Seq: 3, Hash: recs[2].Hash, Time: time.Now()})
	require.NoError(t, err)
	got, err := audit.ParseCheckpoint([]byte(cp.JWS), keys)
	require.NoError(t, err)
	require.Equal(t, int64(3), got.Seq)
	require.Equal(t, recs[2].Hash, got.Hash)

	_, other := newSigner(t)
	_, err = audit.ParseCheckpoint([]byte(cp.JWS), other)
	require.ErrorIs(t, err, audit.ErrBadSignature, "another gateway's keys")

	parts := strings.Split(cp.JWS, ".")
	forged := parts[0] + "." + parts[1][:len(parts[1])-4] + "AAAA." + parts[2]
	_, err = audit.ParseCheckpoint([]byte(forged), keys)
	require.ErrorIs(t, err, audit.ErrBadSignature, "changed claims")

	manifest, err := s.Sign([]byte(`{"seq":3}`), seal.ManifestType)
	require.NoError(t, err)
	_, err = audit.ParseCheckpoint(manifest, keys)
	require.ErrorIs(t, err, audit.ErrBadSignature, "a manifest is not a checkpoint")
}

func TestSegmentRoundTrip(t *testing.T) {
	s, keys := newSigner(t)
	recs := chain(t, 5)
	cp, err := audit.SignCheckpoint(s, audit.Checkpoint{Seq: 5, Hash: recs[4].Hash, Time: time.Now()})
	require.NoError(t, err)
	_, err = audit.EncodeSegment(recs[:4], cp)
	require.Error(t, err, "a segment ends at its checkpoint")
	body, err := audit.EncodeSegment(recs, cp)
	require.NoError(t, err)

	r := audit.NewSegmentReader(bytes.NewReader(body))
	v := audit.NewVerifier()
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		require.NoError(t, v.Next(rec))
	}
	seq, hash := v.Head()
	require.Equal(t, int64(5), seq)
	got, err := audit.ParseCheckpoint(r.Checkpoint(), keys)
	require.NoError(t, err)
	require.Equal(t, hash, got.Hash)

	first, last, err := audit.ParseSegmentKey(audit.SegmentKey(1, 5))
	require.NoError(t, err)
	require.Equal(t, [2]int64{1, 5}, [2]int64{first, last})
	for _, bad := range []string{"segments/x.ndjson", "segments/00000000000000000005-00000000000000000001.ndjson", "other/1-2.ndjson"} {
		_, _, err := audit.ParseSegmentKey(bad)
		require.Error(t, err, bad)
	}

	truncated := body[:bytes.LastIndex(body[:len(body)-1], []byte("\n"))+1]
	r = audit.NewSegmentReader(bytes.NewReader(truncated))
	for {
		if _, err = r.Next(); err != nil {
			break
		}
	}
	require.ErrorContains(t, err, "without a checkpoint")
}

// The fast path of the verifier agrees with decoding the whole entry.
func TestVerifierFastPathAgrees(t *testing.T) {
	for _, r := range chain(t, 3) {
		var e audit.Entry
		require.NoError(t, jsonUnmarshal(r.Body, &e))
		v := audit.NewVerifierAt(r.Seq-1, e.Prev)
		require.NoError(t, v.Next(r))
	}
}

// FuzzSegmentReader: any bytes give records or an error, never a panic, and
// every record read hashes as returned.
func FuzzSegmentReader(f *testing.F) {
	s, _ := newSigner(f)
	recs := chain(f, 3)
	cp, err := audit.SignCheckpoint(s, audit.Checkpoint{Seq: 3, Hash: recs[2].Hash, Time: time.Unix(0, 0)})
	require.NoError(f, err)
	body, err := audit.EncodeSegment(recs, cp)
	require.NoError(f, err)
	f.Add(body)
	f.Add([]byte(`{"seq":1,"prev":"` + strings.Repeat("0", 64) + `"}` + "\n" + `{"checkpoint":"a.b.c"}` + "\n"))
	f.Add([]byte(`{"seq":9x,"a":1,"prev":"` + strings.Repeat("0", 64) + `"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := audit.NewSegmentReader(bytes.NewReader(data))
		for range 1000 {
			rec, err := r.Next()
			if err != nil {
				return
			}
			v := audit.NewVerifierAt(rec.Seq-1, "")
			_ = v.Next(rec)
		}
	})
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
