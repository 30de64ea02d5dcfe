package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// VerifyError names the first bad record and why.
type VerifyError struct {
	Seq    int64
	Reason string
}

func (e *VerifyError) Error() string {
	return fmt.Sprintf("audit chain broken at seq %d: %s", e.Seq, e.Reason)
}

// Verifier checks records one by one, in order, from the start of the chain.
type Verifier struct {
	seq  int64
	hash string
}

// NewVerifier starts at the genesis of the chain.
func NewVerifier() *Verifier { return &Verifier{hash: GenesisHash} }

// Head is the sequence number and hash of the last record verified.
func (v *Verifier) Head() (int64, string) { return v.seq, v.hash }

// Next checks that r follows the records verified so far: the next sequence
// number, linked to the previous hash, and hashed as stored.
func (v *Verifier) Next(r Record) error {
	want := v.seq + 1
	switch {
	case r.Seq < want:
		return &VerifyError{Seq: r.Seq, Reason: fmt.Sprintf("out of order or repeated: expected seq %d", want)}
	case r.Seq > want:
		return &VerifyError{Seq: want, Reason: fmt.Sprintf("missing: the next record found is seq %d", r.Seq)}
	}
	sum := sha256.Sum256(r.Body)
	if hex.EncodeToString(sum[:]) != r.Hash {
		return &VerifyError{Seq: r.Seq, Reason: "edited: the body does not match its hash"}
	}
	var e Entry
	if err := json.Unmarshal(r.Body, &e); err != nil {
		return &VerifyError{Seq: r.Seq, Reason: "unreadable body: " + err.Error()}
	}
	if e.Seq != r.Seq {
		return &VerifyError{Seq: r.Seq, Reason: fmt.Sprintf("body says seq %d", e.Seq)}
	}
	if e.Prev != v.hash {
		return &VerifyError{Seq: r.Seq, Reason: "reordered or replaced: previous hash does not match the record before it"}
	}
	v.seq, v.hash = r.Seq, r.Hash
	return nil
}
