package agreements_test

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/agreements"
)

// A registration's digest is the party-change digest of the canonical form
// docs/parties.md writes out, computed here independently from that text;
// every field a person compares, and the registrant and time, move it.
func TestRegistrationDigest(t *testing.T) {
	p := &agreements.Party{
		ID: "police.newshire", Kind: agreements.KindPolice, Name: "Newshire Police", Status: agreements.PartyPending,
		EncryptionKey: []byte(`{ "kty": "EC", "kid": "k1" }`), RegisteredBy: "alice",
		RegisteredAt: time.Date(2026, 11, 22, 12, 0, 0, 123456789, time.UTC),
	}
	doc := `{"id":"police.newshire","party":"police.newshire","proposed_by":"alice","proposed_at":"2026-11-22T12:00:00.123456Z","reason":"register Newshire Police",` +
		`"before":{"kind":"","trust_anchors":"","identity":{},"revocation_hosts":[],"encryption_key":null},` +
		`"after":{"kind":"police","trust_anchors":"","identity":{},"revocation_hosts":[],"encryption_key":{"kty":"EC","kid":"k1"}}}`
	sum := sha256.Sum256([]byte(doc))
	want := hex.EncodeToString(sum[:])
	require.Equal(t, want, agreements.RegistrationDigest(p))

	for name, edit := range map[string]func(*agreements.Party){
		"kind":       func(p *agreements.Party) { p.Kind = agreements.KindCouncilService },
		"name":       func(p *agreements.Party) { p.Name = "Northshire Police" },
		"key":        func(p *agreements.Party) { p.EncryptionKey = []byte(`{"kty":"EC","kid":"k2"}`) },
		"anchors":    func(p *agreements.Party) { p.TrustAnchors = "pem" },
		"identity":   func(p *agreements.Party) { p.Identity.SubjectDN = "CN=x" },
		"hosts":      func(p *agreements.Party) { p.RevocationHosts = []string{"crl.example"} },
		"registrant": func(p *agreements.Party) { p.RegisteredBy = "bob" },
		"time":       func(p *agreements.Party) { p.RegisteredAt = p.RegisteredAt.Add(time.Microsecond) },
	} {
		q := *p
		edit(&q)
		require.NotEqual(t, want, agreements.RegistrationDigest(&q), name)
	}
	q := *p
	q.Status, q.DecidedBy = agreements.PartyActive, "dana"
	require.Equal(t, want, agreements.RegistrationDigest(&q), "the decision is not part of what was shown")
}
