package agreements_test

import (
	"crypto"
	"encoding/base64"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/exchange/seal"
)

var testChange = agreements.PartyChange{
	ID: "0193a1b2-0000-7000-8000-000000000001", Party: "dwp", Status: agreements.ChangeProposed,
	Reason: "annual key rotation", ProposedBy: "alice",
	ProposedAt: time.Date(2026, 11, 22, 12, 0, 0, 123456000, time.UTC),
	Before:     agreements.PartyTrust{Kind: agreements.KindDWP, EncryptionKey: []byte(`{"kty":"EC","kid":"k1"}`)},
	After:      agreements.PartyTrust{Kind: agreements.KindDWP, EncryptionKey: []byte(`{"kty":"EC","kid":"k2"}`)},
}

// The digest is a known answer over the proposal's canonical form
// (docs/parties.md), checked against an independent implementation: the
// SHA-256 of the canonical JSON written out by hand.
func TestChangeDigest(t *testing.T) {
	require.Equal(t, "a37ebfecb11e2edc3676e11eee8b4f7e2061e2812809add7125e1185ae6ef3bc", agreements.ChangeDigest(&testChange))

	for _, tt := range []struct {
		name string
		edit func(*agreements.PartyChange)
		same bool
	}{
		{"same/key-white-space", func(c *agreements.PartyChange) {
			c.After.EncryptionKey = []byte("{ \"kty\": \"EC\",\n \"kid\": \"k2\" }")
		}, true},
		{"same/status-and-decision", func(c *agreements.PartyChange) { c.Status, c.DecidedBy = agreements.ChangeApproved, "dana" }, true},
		{"same/no-hosts-nil-or-empty", func(c *agreements.PartyChange) { c.After.RevocationHosts = []string{} }, true},
		{"differs/key", func(c *agreements.PartyChange) { c.After.EncryptionKey = []byte(`{"kty":"EC","kid":"k3"}`) }, false},
		{"differs/before", func(c *agreements.PartyChange) { c.Before.TrustAnchors = "x" }, false},
		{"differs/reason", func(c *agreements.PartyChange) { c.Reason = "other" }, false},
		{"differs/proposer", func(c *agreements.PartyChange) { c.ProposedBy = "bob" }, false},
		{"differs/party", func(c *agreements.PartyChange) { c.Party = "hmrc" }, false},
		{"differs/identity", func(c *agreements.PartyChange) { c.After.Identity.SubjectDN = "CN=dwp" }, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := testChange
			tt.edit(&c)
			require.Equal(t, tt.same, agreements.ChangeDigest(&c) == agreements.ChangeDigest(&testChange))
		})
	}
}

func TestTrustChanged(t *testing.T) {
	a := testChange.Before
	require.Empty(t, a.Changed(a))
	b := a
	b.EncryptionKey = []byte(" {\"kty\":\"EC\", \"kid\":\"k1\"}")
	require.Empty(t, a.Changed(b), "white space in the key is no change")
	b.Kind, b.TrustAnchors, b.RevocationHosts = agreements.KindPolice, "pem", []string{"crl.example"}
	b.Identity = agreements.IdentityRule{SubjectDN: "CN=x"}
	b.EncryptionKey = []byte(`{"kty":"EC","kid":"k2"}`)
	require.Equal(t, []string{"kind", "trust_anchors", "identity", "revocation_hosts", "encryption_key"}, a.Changed(b))
}

// KeyFingerprint is the RFC 7638 thumbprint a JOSE library computes.
func TestKeyFingerprint(t *testing.T) {
	k, err := seal.GenerateKey("enc")
	require.NoError(t, err)
	pub, err := seal.PublicJSON(k)
	require.NoError(t, err)
	want, err := k.Thumbprint(crypto.SHA256)
	require.NoError(t, err)
	require.Equal(t, base64.RawURLEncoding.EncodeToString(want), agreements.KeyFingerprint(pub))
	require.Empty(t, agreements.KeyFingerprint([]byte(`{"kty":"RSA"}`)))
	require.Empty(t, agreements.KeyFingerprint([]byte(`not json`)))
}
