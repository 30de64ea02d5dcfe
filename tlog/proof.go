package tlog

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// ErrProof is returned for a proof that does not verify.
var ErrProof = errors.New("proof does not verify")

// ErrNotCovered is returned for a receipt whose entry is beyond the tree
// head it is checked against (a later checkpoint will cover it).
var ErrNotCovered = errors.New("the checkpoint does not cover the receipt's entry yet")

// VerifyInclusion checks that the receipt's entry is leaf r.Index of the
// tree head th, given the inclusion proof hashes (RFC 9162 §2.1.3.2).
func VerifyInclusion(r *Receipt, th *TreeHead, hashes [][]byte) error {
	if r.Log != th.Origin {
		return fmt.Errorf("%w: the receipt is for log %q, the checkpoint for %q", ErrProof, r.Log, th.Origin)
	}
	if r.Index >= th.Size {
		return fmt.Errorf("%w: entry %d, tree size %d", ErrNotCovered, r.Seq(), th.Size)
	}
	leaf, err := r.Leaf()
	if err != nil {
		return err
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, r.Index, th.Size, leaf, hashes, th.Root); err != nil {
		return fmt.Errorf("%w: entry %d is not in the tree of size %d: %v", ErrProof, r.Seq(), th.Size, err)
	}
	return nil
}

// VerifyConsistency checks that the tree head newer extends older, given
// the consistency proof hashes (RFC 9162 §2.1.4.2). A smaller newer tree
// is a shrink; the same size with another root, or a proof that does not
// verify, is a fork.
func VerifyConsistency(older, newer *TreeHead, hashes [][]byte) error {
	if older.Origin != newer.Origin {
		return fmt.Errorf("%w: log %q, then %q", ErrProof, older.Origin, newer.Origin)
	}
	if newer.Size < older.Size {
		return fmt.Errorf("%w: %w: the record shrank from %d to %d entries", ErrProof, ErrShrunk, older.Size, newer.Size)
	}
	if newer.Size == older.Size && !bytes.Equal(older.Root, newer.Root) {
		return fmt.Errorf("%w: %w: two roots for %d entries", ErrProof, ErrForked, older.Size)
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, older.Size, newer.Size, hashes, older.Root, newer.Root); err != nil {
		return fmt.Errorf("%w: %w: the tree of %d entries does not extend the tree of %d: %v", ErrProof, ErrForked, newer.Size, older.Size, err)
	}
	return nil
}

// Kinds of inconsistency.
var (
	ErrShrunk = errors.New("shrunk")
	ErrForked = errors.New("forked")
)
