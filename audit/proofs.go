package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// ProofLog is what serving proofs reads of the record.
type ProofLog interface {
	NodeReader
	LastAuditCheckpoint(ctx context.Context) (StoredCheckpoint, bool, error)
	AuditMaxSeq(ctx context.Context) (int64, error)
	AuditRecords(ctx context.Context, after int64, limit int) ([]Record, error)
}

// Proofs answers for the record: its latest signed checkpoint, and the
// inclusion and consistency proofs that let anyone holding a receipt or an
// earlier checkpoint check it (RFC 9162 §2.1.3, §2.1.4), built from the
// stored tree.
type Proofs struct {
	Log ProofLog
}

// ErrNoCheckpoint is returned before the first checkpoint is signed.
var ErrNoCheckpoint = errors.New("no checkpoint of the audit record has been signed yet")

// Checkpoint returns the latest checkpoint with a tree head (a note).
func (p *Proofs) Checkpoint(ctx context.Context) (StoredCheckpoint, error) {
	cp, ok, err := p.Log.LastAuditCheckpoint(ctx)
	if err != nil {
		return StoredCheckpoint{}, err
	}
	if !ok || cp.Note == "" {
		return StoredCheckpoint{}, ErrNoCheckpoint
	}
	return cp, nil
}

// Inclusion is an inclusion proof with the entry it is for.
type Inclusion struct {
	Index, Size uint64
	// Leaf is the entry's leaf hash; Hashes the proof, from the leaf up.
	Leaf   []byte
	Hashes [][]byte
	// Entry is the entry at Index, for deciding who may see the proof.
	Entry *Entry
}

// Inclusion returns the inclusion proof of leaf index in the tree of size
// leaves. The size may be any the record has reached (up to its last
// entry, which the stored tree covers), usually a checkpoint's.
func (p *Proofs) Inclusion(ctx context.Context, index, size uint64) (*Inclusion, error) {
	if err := p.within(ctx, size); err != nil {
		return nil, err
	}
	if index >= size {
		return nil, fmt.Errorf("%w: index %d is not below tree size %d", ErrTreeSize, index, size)
	}
	recs, err := p.Log.AuditRecords(ctx, int64(index), 1)
	if err != nil {
		return nil, err
	}
	if len(recs) != 1 || recs[0].Seq != int64(index)+1 {
		return nil, fmt.Errorf("%w: no entry at index %d", ErrTreeNode, index)
	}
	var e Entry
	if err := json.Unmarshal(recs[0].Body, &e); err != nil {
		return nil, fmt.Errorf("audit: entry %d: %w", recs[0].Seq, err)
	}
	hashes, err := InclusionProof(ctx, p.Log, index, size)
	if err != nil {
		return nil, err
	}
	return &Inclusion{Index: index, Size: size, Leaf: LeafHash(recs[0].Body), Hashes: hashes, Entry: &e}, nil
}

// Consistency returns the consistency proof from the tree of from leaves
// to the tree of to leaves.
func (p *Proofs) Consistency(ctx context.Context, from, to uint64) ([][]byte, error) {
	if err := p.within(ctx, to); err != nil {
		return nil, err
	}
	if from > to {
		return nil, fmt.Errorf("%w: tree size %d is larger than %d", ErrTreeSize, from, to)
	}
	return ConsistencyProof(ctx, p.Log, from, to)
}

// within refuses a tree size past the record's last entry.
func (p *Proofs) within(ctx context.Context, size uint64) error {
	last, err := p.Log.AuditMaxSeq(ctx)
	if err != nil {
		return err
	}
	if size > uint64(last) {
		return fmt.Errorf("%w: tree size %d is beyond the record's %d entries", ErrTreeSize, size, last)
	}
	return nil
}
