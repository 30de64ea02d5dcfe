package audit_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/audit"
)

// Known answers (hashes checked independently with Python hashlib/hmac):
// the canonical encoding and its hash are part of the audit
// format. Changing either breaks every verifier of existing chains.
func TestEncodeKnownAnswer(t *testing.T) {
	e := &audit.Entry{
		Seq:         7,
		Time:        time.Date(2026, 11, 1, 9, 30, 0, 123456000, time.FixedZone("BST", 3600)),
		Type:        audit.TypeExchangeDecided,
		Actor:       "council.revenues",
		Exchange:    "01a202e1-6ad7-72c5-942e-418aac07183a",
		Agreement:   "police-crime@1",
		Recipient:   "police.northshire",
		Outcome:     "deny",
		Failed:      []string{"purpose.permitted"},
		Purpose:     "marketing",
		LawfulBasis: "A6-1-e",
		Categories:  []string{"identity"},
		Subjects:    []string{"hmac-sha256:00ff"},
		Detail:      map[string]string{"z": "1", "a": "<&>"},
		Prev:        audit.GenesisHash,
	}
	body, hash, err := audit.Encode(e)
	require.NoError(t, err)
	require.Equal(t, `{"seq":7,"time":"2026-11-01T08:30:00.123456Z","type":"exchange.decided","actor":"council.revenues",`+
		`"exchange":"01a202e1-6ad7-72c5-942e-418aac07183a","agreement":"police-crime@1","recipient":"police.northshire",`+
		`"outcome":"deny","failed":["purpose.permitted"],"purpose":"marketing","lawful_basis":"A6-1-e",`+
		`"categories":["identity"],"subjects":["hmac-sha256:00ff"],"detail":{"a":"\u003c\u0026\u003e","z":"1"},`+
		`"prev":"0000000000000000000000000000000000000000000000000000000000000000"}`, string(body))
	require.Equal(t, "d03dc14191af3ff7aa49c1a335029f9be8dcab20ca09b3c598a06fc4da20cbb7", hash)
}

// Known answers checked with Python's hmac: HMAC-SHA256 under the key of
// the type, a zero byte and the value in canonical form.
func TestSubjectKeyKnownAnswer(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	want := "hmac-sha256:v2:cdaedeaeda4cd1f0a58b82977838717560710729dfce930f57beea29af3a9d1d"
	got := audit.SubjectKey(key, "nino", "QQ123456C")
	require.Equal(t, want, got)
	require.Equal(t, got, audit.SubjectKey(key, " NINO ", "qq 12 34 56 c"), "type and value are canonicalised")
	require.NotEqual(t, got, audit.SubjectKey(key, "uprn", "QQ123456C"), "the type is part of the key")
	require.NotEqual(t, got, audit.SubjectKey([]byte("another key, another key, anothe"), "nino", "QQ123456C"))
	require.ErrorIs(t, audit.CheckSubjectKey(key[:16]), audit.ErrKeyTooShort)

	name := "hmac-sha256:v2:808b3487bff90edec27d940c81233e900ac772cf3e4efab5ee312dde6ab710e1"
	require.Equal(t, name, audit.SubjectKey(key, "name", "José Núñez"))
	require.Equal(t, name, audit.SubjectKey(key, "name", "  JOSE\u0301  NU\u0301N\u0303EZ "), "NFC, case-folded, one space")
	require.Equal(t, "hmac-sha256:3e2c09f51873989557b0cd376de32d5c90fa91ccd73c6e1d962a2538c0af22b0", audit.LegacySubjectKey(key, "name", "José Núñez"))
	require.Equal(t, "hmac-sha256:cdaedeaeda4cd1f0a58b82977838717560710729dfce930f57beea29af3a9d1d", audit.LegacySubjectKey(key, "nino", "qq 12 34 56 c"))
}

// A rotated key makes new keys of its version; every older version, and
// the legacy form, still find what was recorded before.
func TestSubjectKeyring(t *testing.T) {
	ring, err := audit.ParseSubjectKeys([]byte("# rotated 2026-11\n" +
		"3031323334353637383961626364656630313233343536373839616263646566\n" +
		"v3:616e6f74686572206b65792c20616e6f74686572206b65792c20616e6f746865\n"))
	require.NoError(t, err)
	require.Equal(t, 3, ring.Version())
	require.Equal(t, "hmac-sha256:v3:54e8f6d617c2e14bcb81e26bf7f691e6a90fff59a89d0f5f965b225c3ce14eb2", ring.Key("nino", "QQ 12 34 56 C"))
	require.Equal(t, []string{
		"hmac-sha256:v3:54e8f6d617c2e14bcb81e26bf7f691e6a90fff59a89d0f5f965b225c3ce14eb2",
		"hmac-sha256:v2:cdaedeaeda4cd1f0a58b82977838717560710729dfce930f57beea29af3a9d1d",
		"hmac-sha256:54e8f6d617c2e14bcb81e26bf7f691e6a90fff59a89d0f5f965b225c3ce14eb2",
		"hmac-sha256:cdaedeaeda4cd1f0a58b82977838717560710729dfce930f57beea29af3a9d1d",
	}, ring.Keys("nino", "QQ123456C"))

	for name, file := range map[string]string{
		"empty":       "# nothing\n",
		"short":       "v2:00ff\n",
		"twice":       "v2:3031323334353637383961626364656630313233343536373839616263646566\nv2:3031323334353637383961626364656630313233343536373839616263646566\n",
		"bare-and-v2": "3031323334353637383961626364656630313233343536373839616263646566\nv2:3031323334353637383961626364656630313233343536373839616263646566\n",
		"version-1":   "v1:3031323334353637383961626364656630313233343536373839616263646566\n",
		"not-hex":     "v3:zz\n",
		"bad-version": "x3:3031323334353637383961626364656630313233343536373839616263646566\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := audit.ParseSubjectKeys([]byte(file))
			require.Error(t, err)
		})
	}
}

func TestVerifierFindsTampering(t *testing.T) {
	var recs []audit.Record
	seq, hash := int64(0), ""
	for i := range 4 {
		r, err := audit.Chain(&audit.Entry{Time: time.Unix(int64(i), 0), Type: "t", Actor: "a"}, seq, hash)
		require.NoError(t, err)
		recs = append(recs, *r)
		seq, hash = r.Seq, r.Hash
	}
	verify := func(rs []audit.Record) error {
		v := audit.NewVerifier()
		for _, r := range rs {
			if err := v.Next(r); err != nil {
				return err
			}
		}
		return nil
	}
	require.NoError(t, verify(recs))

	edited := append([]audit.Record(nil), recs...)
	edited[2].Body = []byte(string(edited[2].Body[:len(edited[2].Body)-2]) + `x"}`)
	requireBroken(t, verify(edited), 3, "edited")

	missing := append(append([]audit.Record(nil), recs[:1]...), recs[2:]...)
	requireBroken(t, verify(missing), 2, "missing")

	reordered := []audit.Record{recs[0], recs[2], recs[1], recs[3]}
	requireBroken(t, verify(reordered), 2, "missing")

	// Rows swapped under their sequence numbers.
	swapped := append([]audit.Record(nil), recs...)
	swapped[1].Body, swapped[2].Body = swapped[2].Body, swapped[1].Body
	swapped[1].Hash, swapped[2].Hash = swapped[2].Hash, swapped[1].Hash
	requireBroken(t, verify(swapped), 2, "reordered")

	// A body relinked to another predecessor, rehashed.
	relinked := append([]audit.Record(nil), recs...)
	e := audit.Entry{Time: time.Unix(2, 0), Type: "t", Actor: "a"}
	r, err := audit.Chain(&e, 2, recs[0].Hash)
	require.NoError(t, err)
	relinked[2] = *r
	requireBroken(t, verify(relinked), 3, "reordered")
}

func requireBroken(t *testing.T, err error, seq int64, kind string) {
	t.Helper()
	var ve *audit.VerifyError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, seq, ve.Seq, ve.Error())
	require.Equal(t, kind, ve.Kind, ve.Error())
}

// The keyed payload digest, checked with Python's hmac and hashlib.
func TestPayloadDigestKnownAnswer(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	sum := "3a6eb0790f39ac87c94f3856b2dd2c5d110e6811602261a9a923d3bb23adc8b7" // SHA-256 of "data"
	want := "hmac-sha256:v2:6ba609ecf13a1a0ab87777470b99c55a0060020a696c07619b0cfdaaa70a36a5"
	require.Equal(t, want, audit.PayloadDigest(key, 2, sum))
	require.Equal(t, want, audit.PayloadDigest(key, 2, want), "a keyed digest is kept as it is")
	require.Empty(t, audit.PayloadDigest(key, 2, ""))
}
