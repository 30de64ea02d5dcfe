// Package tlog checks the gateway's audit record from outside, with nothing
// of the gateway but its published keys: receipts (the gateway's signed
// promise that an entry is in the record), C2SP checkpoint notes (its signed
// tree heads) and the RFC 9162 inclusion and consistency proofs that tie
// them together. The partner SDK and the command line use it; the gateway
// signs with the same encodings.
package tlog

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// A tree head is published as a checkpoint in the C2SP tlog-checkpoint
// format (https://c2sp.org/tlog-checkpoint): a signed note (c2sp.org/signed-note,
// golang.org/x/mod/sumdb/note) whose text is exactly three lines,
//
//	<origin>
//	<tree size, decimal>
//	<root hash, standard base64>
//
// followed by a blank line and one signature line per signer,
// "— <key name> <base64(key hash || Ed25519 signature)>". The key is named
// after the origin, so off-the-shelf verifiers and witnesses read it.

// HashSize is the size of a tree hash (SHA-256).
const HashSize = 32

// TreeHead is what a checkpoint note says: the log, its size and its root.
type TreeHead struct {
	Origin string
	Size   uint64
	Root   []byte
}

// Text is the note text of the tree head.
func (t TreeHead) Text() string {
	return fmt.Sprintf("%s\n%d\n%s\n", t.Origin, t.Size, base64.StdEncoding.EncodeToString(t.Root))
}

// ErrNote is returned for a checkpoint note that is unreadable, unsigned by
// the expected key or not for the expected log.
var ErrNote = errors.New("bad checkpoint note")

// MaxNote bounds a checkpoint note read from anywhere.
const MaxNote = 16 << 10

// OpenTreeHead verifies a checkpoint note for the log named origin against
// the log's keys (named origin: the current key and any retired ones) and
// returns the tree head it signs. Other signatures (a witness's
// cosignature) are allowed; one of the log's must be there.
func OpenTreeHead(msg []byte, origin string, keys ...note.Verifier) (*TreeHead, error) {
	if len(msg) > MaxNote {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrNote, MaxNote)
	}
	var mine []note.Verifier
	for _, k := range keys {
		if k.Name() == origin {
			mine = append(mine, k)
		}
	}
	if len(mine) == 0 {
		return nil, fmt.Errorf("%w: no checkpoint key named %q", ErrNote, origin)
	}
	n, err := note.Open(msg, note.VerifierList(mine...))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNote, err)
	}
	t, err := ParseTreeHead(n.Text)
	if err != nil {
		return nil, err
	}
	if t.Origin != origin {
		return nil, fmt.Errorf("%w: it is for log %q, not %q", ErrNote, t.Origin, origin)
	}
	return t, nil
}

// ParseTreeHead reads the text of a checkpoint note (not its signatures).
// Extension lines after the root are allowed, as the format says, and ignored.
func ParseTreeHead(text string) (*TreeHead, error) {
	lines := strings.SplitAfter(text, "\n")
	if len(lines) < 4 || lines[len(lines)-1] != "" {
		return nil, fmt.Errorf("%w: the text is not at least three lines", ErrNote)
	}
	origin := strings.TrimSuffix(lines[0], "\n")
	sizeLine := strings.TrimSuffix(lines[1], "\n")
	size, err := strconv.ParseUint(sizeLine, 10, 64)
	if err != nil || origin == "" || (len(sizeLine) > 1 && sizeLine[0] == '0') {
		return nil, fmt.Errorf("%w: unreadable origin or size", ErrNote)
	}
	root, err := base64.StdEncoding.Strict().DecodeString(strings.TrimSuffix(lines[2], "\n"))
	if err != nil || len(root) != HashSize {
		return nil, fmt.Errorf("%w: the root is not a base64 SHA-256 hash", ErrNote)
	}
	return &TreeHead{Origin: origin, Size: size, Root: root}, nil
}

// NewVerifier parses a checkpoint verifier key ("<origin>+<hash>+<key>"),
// as the gateway publishes it at /.well-known/gatehouse-checkpoint-key.
func NewVerifier(vkey string) (note.Verifier, error) {
	v, err := note.NewVerifier(strings.TrimSpace(vkey))
	if err != nil {
		return nil, fmt.Errorf("not a signed-note verifier key (<name>+<hash>+<key>): %w", err)
	}
	return v, nil
}
