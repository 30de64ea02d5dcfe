package agreements

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"go.yaml.in/yaml/v3"
)

// DigestSize is the length of a Digest in hexadecimal characters.
const DigestSize = 2 * sha256.Size

// Document is the canonical document of an agreement version: what its
// author registered, as the registry holds it, written as YAML (the format
// of docs/agreements.md, keys in the order of the Agreement type, maps in
// key order, dates YYYY-MM-DD, durations in their short form). The version
// number is in it; the registry's own fields (status, author, approver,
// times, approved digest) are not, so that approving or activating a
// version does not change its document. It is what the console's YAML
// download serves and what a DPO approves.
func Document(a *Agreement) ([]byte, error) {
	c := *a
	c.Status = ""
	out, err := yaml.Marshal(&c)
	if err != nil {
		return nil, fmt.Errorf("agreements: encode document: %w", err)
	}
	return out, nil
}

// Digest is the SHA-256 of an agreement version's Document, in lower-case
// hexadecimal. Approving and activating a version name it, so that the
// person acting binds themselves to the content they were shown: a version
// whose document is no longer the one they read is refused
// (docs/agreements.md, "Approval is bound to the document").
func Digest(a *Agreement) string {
	doc, err := Document(a)
	if err != nil {
		// An Agreement always encodes; a digest of nothing matches no
		// document a person could have been shown.
		return ""
	}
	sum := sha256.Sum256(doc)
	return hex.EncodeToString(sum[:])
}
