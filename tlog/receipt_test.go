package tlog_test

import (
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/tlog"
)

// Known answers, each checked with Python (hashlib; cryptography 48 for the
// ES256 signature, verified over the JWS signing input with the key below).
const (
	// katBody is an entry's canonical body; katLeaf is base64 of
	// SHA-256(0x00 || katBody).
	katBody = `{"seq":42,"time":"2026-01-15T09:30:00.123456Z","type":"exchange.decided","actor":"police.northshire","prev":"0000000000000000000000000000000000000000000000000000000000000000"}`
	katLeaf = "pM8JbrNed+JlZ43ecBR3D8CI8qs1ZPHDpf0g3/6+0DY="
	// katEmptyLeaf is base64 of SHA-256(0x00).
	katEmptyLeaf = "bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0="
	// katPayload is the receipt of katBody's entry, as signed.
	katPayload = `{"log":"council.example/gatehouse/audit","index":41,"leaf_hash":"pM8JbrNed+JlZ43ecBR3D8CI8qs1ZPHDpf0g3/6+0DY=","time":"2026-01-15T09:30:00.123456Z"}`
	// katKey is a P-256 audit key (a test key, nothing else) and
	// katReceipt a receipt it signed.
	katKey     = `{"crv":"P-256","d":"Ns83f3f5yX3WpRTyV-9l-uXa4NLXC0gTtFakhP_7OYM","kid":"audit-kat","kty":"EC","x":"mtZMR22psjjkNXAU1nsP6_YiZ0ObzPslNwY7i8kiJn8","y":"j3FHIBHrA6KKNiwMv7k9JxBGakazzS3lsLE424Ou7D4"}`
	katReceipt = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImF1ZGl0LWthdCIsInR5cCI6ImdhdGVob3VzZS1yZWNlaXB0K2p3cyJ9." +
		"eyJsb2ciOiJjb3VuY2lsLmV4YW1wbGUvZ2F0ZWhvdXNlL2F1ZGl0IiwiaW5kZXgiOjQxLCJsZWFmX2hhc2giOiJwTThKYnJOZWQrSmxaNDNlY0JSM0Q4Q0k4cXMxWlBIRHBmMGczLzYrMERZPSIsInRpbWUiOiIyMDI2LTAxLTE1VDA5OjMwOjAwLjEyMzQ1NloifQ." +
		"lpqdq4aBqQLnZ5p0B-YNRJyCPAxgvhlSjoSe1-IW-_i8CVmRu91u_WK3TP3GhDSMUo_TqrlaKZrQvas4zIzd3Q"
)

func katKeys(t *testing.T) jwk.Set {
	t.Helper()
	priv, err := jwk.ParseKey([]byte(katKey))
	require.NoError(t, err)
	pub, err := priv.PublicKey()
	require.NoError(t, err)
	set := jwk.NewSet()
	require.NoError(t, set.AddKey(pub))
	return set
}

func TestLeafHashKnownAnswer(t *testing.T) {
	require.Equal(t, katLeaf, base64.StdEncoding.EncodeToString(tlog.LeafHash([]byte(katBody))))
	require.Equal(t, katEmptyLeaf, base64.StdEncoding.EncodeToString(tlog.LeafHash(nil)))
}

func TestReceiptKnownAnswer(t *testing.T) {
	r := tlog.Receipt{Log: "council.example/gatehouse/audit", Index: 41, LeafHash: katLeaf,
		Time: time.Date(2026, 1, 15, 10, 30, 0, 123456000, time.FixedZone("BST", 3600))}
	p, err := r.Payload()
	require.NoError(t, err)
	require.Equal(t, katPayload, string(p))

	got, err := tlog.ParseReceipt(katReceipt, katKeys(t))
	require.NoError(t, err)
	require.Equal(t, r.Log, got.Log)
	require.Equal(t, uint64(41), got.Index)
	require.Equal(t, int64(42), got.Seq())
	require.True(t, r.Time.Equal(got.Time))
	leaf, err := got.Leaf()
	require.NoError(t, err)
	require.Equal(t, tlog.LeafHash([]byte(katBody)), leaf)
}

func TestParseReceiptRefuses(t *testing.T) {
	keys := katKeys(t)
	parts := strings.Split(katReceipt, ".")
	h, p, s := parts[0], parts[1], parts[2]
	otherPayload := base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(katPayload, `"index":41`, `"index":40`, 1)))
	checkpointHeader := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ES256","kid":"audit-kat","typ":"gatehouse-checkpoint+jws"}`))
	for name, compact := range map[string]string{
		"changed-claims":  h + "." + otherPayload + "." + s,
		"other-typ":       checkpointHeader + "." + p + "." + s,
		"unsigned":        h + "." + p + ".",
		"not-jws":         "hello",
		"too-long":        strings.Repeat("a", tlog.MaxReceipt+1),
		"json-serialised": `{"payload":"` + p + `","signatures":[]}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := tlog.ParseReceipt(compact, keys)
			require.ErrorIs(t, err, tlog.ErrReceipt)
		})
	}
	t.Run("unknown-key", func(t *testing.T) {
		_, err := tlog.ParseReceipt(katReceipt, jwk.NewSet())
		require.ErrorIs(t, err, tlog.ErrReceipt)
	})
}

func TestReadReceiptLine(t *testing.T) {
	for name, tc := range map[string]struct{ line, want string }{
		"bare":        {"  " + katReceipt + "\r", katReceipt},
		"json-string": {`"` + katReceipt + `"`, katReceipt},
		"answer":      {`{"id":"x","receipt":"` + katReceipt + `"}`, katReceipt},
		"blank":       {"   ", ""},
		"comment":     {"# exchanges of March", ""},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := tlog.ReadReceiptLine(tc.line)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
	_, err := tlog.ReadReceiptLine(`{"id":"x"}`)
	require.ErrorIs(t, err, tlog.ErrReceipt)
}

func node(l, r []byte) []byte {
	h := sha256.New()
	h.Write([]byte{1})
	h.Write(l)
	h.Write(r)
	return h.Sum(nil)
}

// A tree of three leaves, hashed by hand (RFC 9162 §2.1.1).
func TestProofs(t *testing.T) {
	l := [][]byte{tlog.LeafHash([]byte("a")), tlog.LeafHash([]byte("b")), tlog.LeafHash([]byte("c"))}
	root2 := node(l[0], l[1])
	root3 := node(root2, l[2])
	origin := "council.example/gatehouse/audit"
	th2 := &tlog.TreeHead{Origin: origin, Size: 2, Root: root2}
	th3 := &tlog.TreeHead{Origin: origin, Size: 3, Root: root3}
	rc := &tlog.Receipt{Log: origin, Index: 2, LeafHash: base64.StdEncoding.EncodeToString(l[2])}

	require.NoError(t, tlog.VerifyInclusion(rc, th3, [][]byte{root2}))
	require.ErrorIs(t, tlog.VerifyInclusion(rc, th3, [][]byte{l[0]}), tlog.ErrProof)
	require.ErrorIs(t, tlog.VerifyInclusion(rc, th2, nil), tlog.ErrNotCovered)
	other := *rc
	other.Log = "elsewhere"
	require.ErrorIs(t, tlog.VerifyInclusion(&other, th3, [][]byte{root2}), tlog.ErrProof)

	require.NoError(t, tlog.VerifyConsistency(th2, th3, [][]byte{l[2]}))
	require.NoError(t, tlog.VerifyConsistency(th3, th3, nil))
	require.ErrorIs(t, tlog.VerifyConsistency(th3, th2, nil), tlog.ErrShrunk)
	forked := &tlog.TreeHead{Origin: origin, Size: 3, Root: node(root2, l[1])}
	require.ErrorIs(t, tlog.VerifyConsistency(th3, forked, nil), tlog.ErrForked)
	require.ErrorIs(t, tlog.VerifyConsistency(th2, forked, [][]byte{l[2]}), tlog.ErrForked)
}

func FuzzParseReceipt(f *testing.F) {
	f.Add(katReceipt)
	f.Add(`"` + katReceipt + `"`)
	f.Add(`{"receipt":"a.b.c"}`)
	f.Add("a.b.c")
	keys := jwk.NewSet()
	f.Fuzz(func(t *testing.T, line string) {
		compact, err := tlog.ReadReceiptLine(line)
		if err != nil || compact == "" {
			return
		}
		if _, err := tlog.ParseReceipt(compact, keys); err == nil {
			t.Fatalf("a receipt verified against no keys: %q", line)
		}
	})
}
