package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// CheckpointType is the JWS "typ" of a signed checkpoint.
const CheckpointType = "gatehouse-checkpoint+jws"

// Checkpoint is the gateway's signed statement that the chain's entry seq
// has the given hash. Because every hash covers the one before it, a
// checkpoint fixes every entry up to seq: an entry changed later, even with
// the chain recomputed after it, no longer leads to the signed hash.
type Checkpoint struct {
	// Log names the chain: the gateway's issuer.
	Log  string    `json:"log"`
	Seq  int64     `json:"seq"`
	Hash string    `json:"hash"`
	Time time.Time `json:"time"`
}

// StoredCheckpoint is a checkpoint as kept beside the chain: its claims and
// the compact JWS that signs them.
type StoredCheckpoint struct {
	Seq  int64
	Hash string
	Time time.Time
	JWS  string
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
	return StoredCheckpoint{Seq: cp.Seq, Hash: cp.Hash, Time: cp.Time, JWS: string(sig)}, nil
}

// ErrBadSignature is returned for a checkpoint whose signature does not
// verify against the audit keys, or that is not a checkpoint at all.
var ErrBadSignature = errors.New("bad signature")

// ParseCheckpoint verifies a compact JWS checkpoint against keys (the
// gateway's current and retired audit keys) and returns its claims. Only
// ES256 is accepted, and the key is chosen by kid.
func ParseCheckpoint(compact []byte, keys jwk.Set) (*Checkpoint, error) {
	msg, err := jws.Parse(compact)
	if err != nil || len(msg.Signatures()) != 1 {
		return nil, fmt.Errorf("%w: not a compact JWS", ErrBadSignature)
	}
	hdr := msg.Signatures()[0].ProtectedHeaders()
	if typ, _ := hdr.Type(); typ != CheckpointType {
		return nil, fmt.Errorf("%w: typ is %q, not %q", ErrBadSignature, typ, CheckpointType)
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
	var cp Checkpoint
	if err := json.Unmarshal(payload, &cp); err != nil {
		return nil, fmt.Errorf("%w: unreadable claims: %v", ErrBadSignature, err)
	}
	return &cp, nil
}
