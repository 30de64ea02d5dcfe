package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
)

// Kinds of damage a verifier reports.
const (
	// KindEdited: an entry's body no longer matches its hash, or the chain
	// no longer leads to a signed checkpoint's hash.
	KindEdited = "edited"
	// KindMissing: an entry, a checkpoint or an archived segment is gone.
	KindMissing = "missing"
	// KindReordered: entries are out of order, repeated or relinked.
	KindReordered = "reordered"
	// KindBadSignature: a checkpoint's signature does not verify.
	KindBadSignature = "bad-signature"
	// KindUnreadable: a record or segment cannot be parsed at all.
	KindUnreadable = "unreadable"
	// KindHidden: entries lie past the chain's head, where writers and a
	// verifier trusting the head would not see them: the head was moved
	// back.
	KindHidden = "hidden"
	// KindUnrecorded: the archive holds a segment (or a version of one)
	// that no checkpoint or segment row of the database records.
	KindUnrecorded = "unrecorded"
)

// VerifyError names a bad record, what kind of damage it shows and why.
type VerifyError struct {
	Seq    int64  `json:"seq"`
	Kind   string `json:"kind"`
	Reason string `json:"reason"`
	// Where is "database" or "archive" (with the segment's object key).
	Where string `json:"where,omitempty"`
}

func (e *VerifyError) Error() string {
	where := ""
	if e.Where != "" {
		where = " in " + e.Where
	}
	return fmt.Sprintf("audit chain broken at seq %d%s (%s): %s", e.Seq, where, e.Kind, e.Reason)
}

// Verifier checks records one by one, in order, from a known point of the
// chain: each must carry the next sequence number, hash to its stored hash
// and link to the hash of the record before it.
type Verifier struct {
	seq  int64
	hash string
	// scratch for the hex of a body's hash.
	hexSum [64]byte
}

// NewVerifier starts at the genesis of the chain.
func NewVerifier() *Verifier { return &Verifier{hash: GenesisHash} }

// NewVerifierAt starts after the record seq with the given hash, for
// checking a segment that continues the chain.
func NewVerifierAt(seq int64, hash string) *Verifier {
	if seq == 0 {
		hash = GenesisHash
	}
	return &Verifier{seq: seq, hash: hash}
}

// Head is the sequence number and hash of the last record verified.
func (v *Verifier) Head() (int64, string) { return v.seq, v.hash }

// Next checks that r follows the records verified so far.
func (v *Verifier) Next(r Record) error { return v.next(r, false) }

// next checks r; hashed says that r.Hash was computed from r.Body just now
// (as a SegmentReader does), so checking it again would only hash twice.
func (v *Verifier) next(r Record, hashed bool) error {
	want := v.seq + 1
	switch {
	case r.Seq < want:
		return &VerifyError{Seq: r.Seq, Kind: KindReordered, Reason: fmt.Sprintf("out of order or repeated: expected seq %d", want)}
	case r.Seq > want:
		return &VerifyError{Seq: want, Kind: KindMissing, Reason: fmt.Sprintf("the next record found is seq %d", r.Seq)}
	}
	if !hashed {
		sum := sha256.Sum256(r.Body)
		hex.Encode(v.hexSum[:], sum[:])
		if string(v.hexSum[:]) != r.Hash {
			return &VerifyError{Seq: r.Seq, Kind: KindEdited, Reason: "the body does not match its hash"}
		}
	}
	seq, prev, err := links(r.Body)
	if err != nil {
		return &VerifyError{Seq: r.Seq, Kind: KindUnreadable, Reason: err.Error()}
	}
	if seq != r.Seq {
		return &VerifyError{Seq: r.Seq, Kind: KindReordered, Reason: fmt.Sprintf("the record stored as seq %d says it is seq %d", r.Seq, seq)}
	}
	if string(prev) != v.hash {
		return &VerifyError{Seq: r.Seq, Kind: KindReordered, Reason: errBrokenLink}
	}
	v.seq, v.hash = r.Seq, r.Hash
	return nil
}

// errBrokenLink is the reason for an entry that does not link to the one
// before it.
const errBrokenLink = "its previous hash is not the hash of the record before it: it was moved or relinked, or that record was changed and rehashed"

var (
	seqPrefix  = []byte(`{"seq":`)
	prevMarker = []byte(`,"prev":"`)
)

// links reads an entry's sequence number and previous hash without decoding
// the body. The canonical encoding puts seq first and prev last, so both sit
// at fixed places. What lies between is covered by the hash (and, through
// the chain, by the next signed checkpoint), so it need not be parsed to be
// verified; a body of another shape is decoded in full.
func links(body []byte) (int64, []byte, error) {
	const tail = len(`,"prev":"`) + 64 + len(`"}`)
	if !bytes.HasPrefix(body, seqPrefix) || len(body) < len(seqPrefix)+tail ||
		!bytes.HasPrefix(body[len(body)-tail:], prevMarker) || !bytes.HasSuffix(body, []byte(`"}`)) {
		return linksSlow(body)
	}
	digits := body[len(seqPrefix):]
	n := bytes.IndexByte(digits, ',')
	if n <= 0 {
		return linksSlow(body)
	}
	seq, err := strconv.ParseInt(string(digits[:n]), 10, 64)
	if err != nil {
		return linksSlow(body)
	}
	return seq, body[len(body)-tail+len(prevMarker) : len(body)-2], nil
}

func linksSlow(body []byte) (int64, []byte, error) {
	var e struct {
		Seq  int64  `json:"seq"`
		Prev string `json:"prev"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		return 0, nil, fmt.Errorf("unreadable body: %v", err)
	}
	return e.Seq, []byte(e.Prev), nil
}
