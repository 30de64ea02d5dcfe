package audit

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
	"unicode"

	"golang.org/x/mod/sumdb/note"

	"github.com/gatehouse-gw/gatehouse/tlog"
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

// TreeHead is what a checkpoint note says: the log, its size and its root
// (tlog reads and checks checkpoints for anyone outside the gateway).
type TreeHead = tlog.TreeHead

// ErrNote is returned for a checkpoint note that is unreadable, unsigned by
// the expected key or not for the expected log.
var ErrNote = tlog.ErrNote

// SignTreeHead signs t as a checkpoint note.
func SignTreeHead(s note.Signer, t TreeHead) (string, error) {
	if s.Name() != t.Origin {
		return "", fmt.Errorf("audit: the checkpoint key is named %q, not the log's origin %q", s.Name(), t.Origin)
	}
	msg, err := note.Sign(&note.Note{Text: t.Text()}, s)
	if err != nil {
		return "", fmt.Errorf("audit: sign checkpoint note: %w", err)
	}
	return string(msg), nil
}

// OpenTreeHead verifies a checkpoint note for the log named origin against
// the log's keys and returns the tree head it signs (tlog.OpenTreeHead).
func OpenTreeHead(msg []byte, origin string, keys ...note.Verifier) (*TreeHead, error) {
	return tlog.OpenTreeHead(msg, origin, keys...)
}

// ParseTreeHead reads the text of a checkpoint note (tlog.ParseTreeHead).
func ParseTreeHead(text string) (*TreeHead, error) { return tlog.ParseTreeHead(text) }

// ValidOrigin reports why origin cannot name a log (and its key), or nil.
// A key name is non-empty UTF-8 with no white space and no "+".
func ValidOrigin(origin string) error {
	bad := len(origin) > 255 || strings.IndexFunc(origin, unicode.IsControl) >= 0
	vkey, err := note.NewEd25519VerifierKey(origin, make([]byte, ed25519.PublicKeySize))
	if err == nil {
		_, err = note.NewVerifier(vkey) // checks the name
	}
	if err != nil || bad {
		return errors.New("must be 1 to 255 characters with no white space, control character or '+'")
	}
	return nil
}

func ed25519Public(seed []byte) ed25519.PublicKey {
	return ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
}

// GenerateCheckpointKey returns a new Ed25519 checkpoint signing key named
// origin, in the signed-note private key encoding
// ("PRIVATE+KEY+<origin>+<hash>+<key>"), and its verifier key
// ("<origin>+<hash>+<key>").
func GenerateCheckpointKey(origin string) (skey, vkey string, err error) {
	if err := ValidOrigin(origin); err != nil {
		return "", "", fmt.Errorf("audit: origin %q %v", origin, err)
	}
	return note.GenerateKey(rand.Reader, origin)
}

// CheckpointKey is the checkpoint note signer and its verifier key.
type CheckpointKey struct {
	Signer note.Signer
	// VerifierKey is the public key in the signed-note encoding, as
	// published at /.well-known/gatehouse-checkpoint-key.
	VerifierKey string
	Verifier    note.Verifier
}

// ReadCheckpointKey reads a checkpoint signing key file (one line, the
// signed-note private key encoding) and derives its verifier key.
func ReadCheckpointKey(path string) (*CheckpointKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseCheckpointKey(string(bytes.TrimSpace(b)))
}

// ParseCheckpointKey reads a signed-note private key encoding.
func ParseCheckpointKey(skey string) (*CheckpointKey, error) {
	s, err := note.NewSigner(skey)
	if err != nil {
		return nil, errors.New("not a signed-note private key (PRIVATE+KEY+<name>+<hash>+<key>)")
	}
	// After PRIVATE+KEY+<name>+<hash>+ comes the key data (base64, which
	// may itself hold "+"): the algorithm byte and the Ed25519 seed.
	rest := strings.TrimPrefix(skey, "PRIVATE+KEY+")
	_, rest, _ = strings.Cut(rest, "+")
	_, key64, _ := strings.Cut(rest, "+")
	raw, err := base64.StdEncoding.DecodeString(key64)
	if err != nil || len(raw) != 33 || raw[0] != 1 {
		return nil, errors.New("not an Ed25519 signed-note key")
	}
	vkey, err := note.NewEd25519VerifierKey(s.Name(), ed25519Public(raw[1:]))
	if err != nil {
		return nil, err
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, err
	}
	if v.KeyHash() != s.KeyHash() {
		return nil, errors.New("the key's hash does not match its key")
	}
	return &CheckpointKey{Signer: s, VerifierKey: vkey, Verifier: v}, nil
}

// NewCheckpointVerifier parses a verifier key ("<origin>+<hash>+<key>").
func NewCheckpointVerifier(vkey string) (note.Verifier, error) {
	v, err := note.NewVerifier(strings.TrimSpace(vkey))
	if err != nil {
		return nil, fmt.Errorf("not a signed-note verifier key (<name>+<hash>+<key>): %w", err)
	}
	return v, nil
}

// ReadCheckpointVerifiers reads verifier keys, one per line (blank lines and
// lines starting with # are skipped): a file of retired checkpoint keys.
func ReadCheckpointVerifiers(path string) ([]note.Verifier, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []note.Verifier
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "PRIVATE+KEY+") {
			return nil, fmt.Errorf("line %d is a private key; keep only the verifier keys of retired checkpoint keys", i+1)
		}
		v, err := NewCheckpointVerifier(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		out = append(out, v)
	}
	return out, nil
}
