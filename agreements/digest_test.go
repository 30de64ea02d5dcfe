package agreements_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/agreements"
)

// kat is the digest of testdata/digest.yaml registered as version 3; it
// changes only when the canonical document's bytes do, which changes what
// every approval in the field is bound to (docs/agreements.md).
const kat = "9e12280a2173ca9790632b077729c68104555c6bb2509312a014d391b7ecb6f4"

func katAgreement(t *testing.T) *agreements.Agreement {
	t.Helper()
	doc, err := os.ReadFile("testdata/digest.yaml")
	require.NoError(t, err)
	a, err := agreements.DecodeYAML(doc)
	require.NoError(t, err)
	a.Version = 3
	return a
}

// The canonical document and its SHA-256 are pinned: the exact bytes of
// testdata/digest.document.yaml, whose sha256sum is kat.
func TestDigestKnownAnswer(t *testing.T) {
	a := katAgreement(t)
	doc, err := agreements.Document(a)
	require.NoError(t, err)
	want, err := os.ReadFile("testdata/digest.document.yaml")
	require.NoError(t, err)
	require.Equal(t, string(want), string(doc))
	sum := sha256.Sum256(want)
	require.Equal(t, kat, hex.EncodeToString(sum[:]))
	require.Equal(t, kat, agreements.Digest(a))
	require.Len(t, agreements.Digest(a), agreements.DigestSize)
}

// The registry's own fields are not in the document: approving and
// activating a version leave its digest as it was.
func TestDigestIgnoresRegistryFields(t *testing.T) {
	a := katAgreement(t)
	a.Status, a.Author, a.ApprovedBy = agreements.StatusActive, "alice", "dana"
	a.CreatedAt, a.UpdatedAt = time.Unix(1e9, 0), time.Unix(2e9, 0)
	a.ApprovedSHA256 = "00"
	require.Equal(t, kat, agreements.Digest(a))
}

// Any change of content, the version number included, is a new digest.
func TestDigestChangesWithContent(t *testing.T) {
	for name, edit := range map[string]func(a *agreements.Agreement){
		"version": func(a *agreements.Agreement) { a.Version = 4 },
		"title":   func(a *agreements.Agreement) { a.Title += "." },
		"purpose": func(a *agreements.Agreement) {
			a.Flows[0].Purposes = append(a.Flows[0].Purposes, "fraud-prevention-detection")
		},
		"category":  func(a *agreements.Agreement) { a.Flows[0].DataCategories = a.Flows[0].DataCategories[:2] },
		"max":       func(a *agreements.Agreement) { a.Flows[0].MaxSubjects = 11 },
		"dpia":      func(a *agreements.Agreement) { a.DPIA.Outcome = agreements.DPIAApprovedWithMitigations },
		"signatory": func(a *agreements.Agreement) { a.Signatories[1].Name = "B. Officer " },
		"named":     func(a *agreements.Agreement) { a.Flows[0].RequiresNamedSubject = false },
		"retention": func(a *agreements.Agreement) { a.Retention *= 2 },
		"override":  func(a *agreements.Agreement) { a.Flows[0].EmergencyOverride = true },
	} {
		t.Run(name, func(t *testing.T) {
			a := katAgreement(t)
			edit(a)
			require.NotEqual(t, kat, agreements.Digest(a))
		})
	}
}
