package audit

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"golang.org/x/mod/sumdb/note"
)

// CheckpointType is the JWS "typ" of a signed checkpoint.
const CheckpointType = "gatehouse-checkpoint+jws"

// Checkpoint is the gateway's signed statement that the chain's entry seq
// has the given hash (and, since the record is also a Merkle tree, that the
// tree of its first seq entries has the given root). Because every hash
// covers the one before it, a checkpoint fixes every entry up to seq: an
// entry changed later, even with the chain recomputed after it, no longer
// leads to the signed hash.
type Checkpoint struct {
	// Log names the chain: the gateway's issuer.
	Log  string `json:"log"`
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
	// Root is the tree's root hash, standard base64; absent from
	// checkpoints signed before the record was a tree.
	Root string    `json:"root,omitempty"`
	Time time.Time `json:"time"`
}

// StoredCheckpoint is a checkpoint as kept beside the chain: its claims,
// the compact JWS that signs them and, for the tree, its root and the
// C2SP checkpoint note that signs it (both empty on checkpoints made
// before the record was a tree).
type StoredCheckpoint struct {
	Seq  int64
	Hash string
	Time time.Time
	JWS  string
	Root []byte
	Note string
}

// Signer signs checkpoints (ES256 with the gateway's audit key).
type Signer interface {
	Sign(payload []byte, typ string) ([]byte, error)
}

// SignCheckpoint signs cp and returns it as stored.
func SignCheckpoint(s Signer, cp Checkpoint) (StoredCheckpoint, error) {
	cp.Time = cp.Time.UTC().Truncate(time.Microsecond)
	payload, err := json.Marshal(cp)
	if err != nil {
		return StoredCheckpoint{}, err
	}
	sig, err := s.Sign(payload, CheckpointType)
	if err != nil {
		return StoredCheckpoint{}, fmt.Errorf("audit: sign checkpoint: %w", err)
	}
	sc := StoredCheckpoint{Seq: cp.Seq, Hash: cp.Hash, Time: cp.Time, JWS: string(sig)}
	if cp.Root != "" {
		if sc.Root, err = base64.StdEncoding.DecodeString(cp.Root); err != nil {
			return StoredCheckpoint{}, fmt.Errorf("audit: checkpoint root: %w", err)
		}
	}
	return sc, nil
}

// SignTreeCheckpoint signs the record's state after entry seq twice: the
// chain's hash and the tree's root in a JWS by the audit key, and the tree
// head in a C2SP checkpoint note by the checkpoint key, named origin.
func SignTreeCheckpoint(s Signer, notes note.Signer, issuer, origin string, seq int64, hash string, root []byte, now time.Time) (StoredCheckpoint, error) {
	sc, err := SignCheckpoint(s, Checkpoint{Log: issuer, Seq: seq, Hash: hash, Root: base64.StdEncoding.EncodeToString(root), Time: now})
	if err != nil {
		return StoredCheckpoint{}, err
	}
	if sc.Note, err = SignTreeHead(notes, TreeHead{Origin: origin, Size: uint64(seq), Root: root}); err != nil {
		return StoredCheckpoint{}, err
	}
	return sc, nil
}

// ErrBadSignature is returned for a checkpoint whose signature does not
// verify against the audit keys, or that is not a checkpoint at all.
var ErrBadSignature = errors.New("bad signature")

// ParseCheckpoint verifies a compact JWS checkpoint against keys (the
// gateway's current and retired audit keys) and returns its claims. Only
// ES256 is accepted, and the key is chosen by kid.
func ParseCheckpoint(compact []byte, keys jwk.Set) (*Checkpoint, error) {
	payload, err := verifyJWS(compact, keys, CheckpointType)
	if err != nil {
		return nil, err
	}
	var cp Checkpoint
	if err := json.Unmarshal(payload, &cp); err != nil {
		return nil, fmt.Errorf("%w: unreadable claims: %v", ErrBadSignature, err)
	}
	return &cp, nil
}

// verifyJWS verifies a compact JWS of the given typ against keys (ES256,
// the key chosen by kid) and returns its payload.
func verifyJWS(compact []byte, keys jwk.Set, typ string) ([]byte, error) {
	msg, err := jws.Parse(compact)
	if err != nil || len(msg.Signatures()) != 1 {
		return nil, fmt.Errorf("%w: not a compact JWS", ErrBadSignature)
	}
	hdr := msg.Signatures()[0].ProtectedHeaders()
	if got, _ := hdr.Type(); got != typ {
		return nil, fmt.Errorf("%w: typ is %q, not %q", ErrBadSignature, got, typ)
	}
	kid, _ := hdr.KeyID()
	key, ok := keys.LookupKeyID(kid)
	if !ok {
		return nil, fmt.Errorf("%w: no audit key with kid %q", ErrBadSignature, kid)
	}
	payload, err := jws.Verify(compact, jws.WithKey(jwa.ES256(), key))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	return payload, nil
}

// NoteKeys are what verifies checkpoint notes: the log's origin and its
// checkpoint keys (the current one and any retired ones).
type NoteKeys struct {
	Origin string
	Keys   []note.Verifier
}

// checkStored checks a stored checkpoint's signatures and that they agree
// with its row: the JWS claims name its seq and hash (and root), and its
// note, if any, signs the same tree head. It returns the verified claims.
func checkStored(sc StoredCheckpoint, verify func([]byte) (*Checkpoint, error), notes *NoteKeys) (*Checkpoint, *VerifyError) {
	cp, err := verify([]byte(sc.JWS))
	if err != nil {
		return nil, &VerifyError{Seq: sc.Seq, Kind: KindBadSignature, Reason: "checkpoint: " + err.Error()}
	}
	root := base64.StdEncoding.EncodeToString(sc.Root)
	if len(sc.Root) == 0 {
		root = ""
	}
	if cp.Seq != sc.Seq || cp.Hash != sc.Hash || cp.Root != root {
		return nil, &VerifyError{Seq: sc.Seq, Kind: KindEdited, Reason: fmt.Sprintf("the checkpoint row does not match its signed claims (seq %d)", cp.Seq)}
	}
	if sc.Note == "" {
		if len(sc.Root) != 0 {
			return nil, &VerifyError{Seq: sc.Seq, Kind: KindMissing, Reason: "the checkpoint signs a tree root but its note is missing"}
		}
		return cp, nil
	}
	if notes == nil {
		return cp, nil
	}
	th, err := OpenTreeHead([]byte(sc.Note), notes.Origin, notes.Keys...)
	if err != nil {
		return nil, &VerifyError{Seq: sc.Seq, Kind: KindBadSignature, Reason: "checkpoint note: " + err.Error()}
	}
	if th.Size != uint64(sc.Seq) || !bytes.Equal(th.Root, sc.Root) {
		return nil, &VerifyError{Seq: sc.Seq, Kind: KindEdited, Reason: fmt.Sprintf("the checkpoint note signs tree size %d with another root than the checkpoint's", th.Size)}
	}
	return cp, nil
}
