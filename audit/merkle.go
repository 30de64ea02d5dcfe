package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/bits"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// The record is also a Merkle tree (RFC 6962 / RFC 9162 hashing): leaf i
// (0-based) is the canonical body of the entry with seq i+1, exactly the
// bytes whose SHA-256 is the entry's chain hash. Its leaf hash is
// SHA-256(0x00 || body); an interior node's hash is SHA-256(0x01 || left ||
// right). Signed checkpoints commit to the tree's root, so anyone holding a
// checkpoint can check, with a few hashes the gateway serves, that an entry
// is in the record (an inclusion proof) and that a later record extends an
// earlier one (a consistency proof).
//
// The database keeps every completed node of the tree, written in the
// transaction of the entry that completes it: audit_tree holds one row per
// entry, and the row of seq s holds the hashes (32 bytes each,
// concatenated) of the nodes that appending leaf s−1 completes — the leaf
// itself, then its parent if that is now complete, and so on up. Node
// (level, index) covers leaves index·2^level to (index+1)·2^level − 1, so it
// is the (level+1)-th hash of the row of seq (index+1)·2^level. Reading the
// rows in seq order keeps step with reading the entries.

// hasher is the RFC 6962 SHA-256 tree hasher.
var hasher = rfc6962.DefaultHasher

// HashSize is the size of a tree hash.
const HashSize = 32

// LeafHash is the tree's leaf hash of an entry's canonical body:
// SHA-256(0x00 || body).
func LeafHash(body []byte) []byte { return hasher.HashLeaf(body) }

// nodeHash is the hash of an interior node: SHA-256(0x01 || left || right).
func nodeHash(left, right []byte) []byte { return hasher.HashChildren(left, right) }

// EmptyRoot is the root of the tree with no leaves: SHA-256 of nothing.
func EmptyRoot() []byte { return hasher.EmptyRoot() }

var factory = &compact.RangeFactory{Hash: nodeHash}

// NodeRow is where node (level, index) is stored: the seq of its row and
// its offset in the row's hashes.
func NodeRow(level uint, index uint64) (seq int64, offset int) {
	return int64((index + 1) << level), int(level) * HashSize
}

// NodesCompleted is how many nodes appending leaf i (0-based) completes:
// the leaf and one more for each trailing one bit of i.
func NodesCompleted(i uint64) int { return 1 + bits.TrailingZeros64(^i) }

// Frontier is the tree of a record of Size entries as a writer needs it:
// the roots of its perfect subtrees, left to right (a compact range
// [0, Size)). Appending a leaf completes at least that leaf's node.
type Frontier struct {
	r *compact.Range
}

// NewFrontier is the frontier of a tree of size leaves from its perfect
// subtrees' hashes, left to right.
func NewFrontier(size uint64, hashes [][]byte) (*Frontier, error) {
	for _, h := range hashes {
		if len(h) != HashSize {
			return nil, fmt.Errorf("audit: a tree hash of %d bytes", len(h))
		}
	}
	r, err := factory.NewRange(0, size, hashes)
	if err != nil {
		return nil, fmt.Errorf("audit: tree of size %d: %w", size, err)
	}
	return &Frontier{r: r}, nil
}

// DecodeFrontier reads a frontier stored as its hashes concatenated.
func DecodeFrontier(size uint64, b []byte) (*Frontier, error) {
	if len(b)%HashSize != 0 {
		return nil, fmt.Errorf("audit: a tree frontier of %d bytes", len(b))
	}
	hashes := make([][]byte, 0, len(b)/HashSize)
	for i := 0; i < len(b); i += HashSize {
		hashes = append(hashes, b[i:i+HashSize:i+HashSize])
	}
	return NewFrontier(size, hashes)
}

// Size is the number of leaves.
func (f *Frontier) Size() uint64 { return f.r.End() }

// Encode returns the frontier's hashes concatenated, for storing.
func (f *Frontier) Encode() []byte { return bytes.Join(f.r.Hashes(), nil) }

// Clone returns an independent copy (Append changes the frontier in place).
func (f *Frontier) Clone() *Frontier {
	hs := f.r.Hashes()
	c, _ := factory.NewRange(0, f.r.End(), append(make([][]byte, 0, len(hs)+1), hs...))
	return &Frontier{r: c}
}

// Append adds a leaf hash and returns the hashes of the nodes it
// completes, concatenated in order from the leaf up: the row audit_tree
// stores for this entry.
func (f *Frontier) Append(leaf []byte) []byte {
	return f.AppendTo(make([]byte, 0, NodesCompleted(f.r.End())*HashSize), leaf)
}

// AppendTo is Append writing the row to the end of dst.
func (f *Frontier) AppendTo(dst, leaf []byte) []byte {
	// Append fails only for a corrupt range, which NewFrontier rules out.
	if err := f.r.Append(leaf, func(_ compact.NodeID, h []byte) { dst = append(dst, h...) }); err != nil {
		panic(err)
	}
	return dst
}

// Root is the tree's root hash.
func (f *Frontier) Root() []byte {
	if f.r.End() == 0 {
		return EmptyRoot()
	}
	root, _ := f.r.GetRootHash(nil)
	return root
}

// TreeRow is one row of the stored tree: the nodes entry Seq completed.
type TreeRow struct {
	Seq   int64
	Nodes []byte
}

// NodeReader reads the stored tree.
type NodeReader interface {
	// AuditTree returns the audit_tree rows of the given seqs, by seq; a
	// seq with no row is left out.
	AuditTree(ctx context.Context, seqs []int64) (map[int64][]byte, error)
}

// ErrTreeSize is returned for a proof about a tree size or index the
// record cannot answer for.
var ErrTreeSize = errors.New("audit: no such tree size or index")

// ErrTreeNode is returned when a node the tree should hold is not stored.
var ErrTreeNode = errors.New("audit: a tree node is not stored")

func fetchNodes(ctx context.Context, nr NodeReader, ids []compact.NodeID) ([][]byte, error) {
	seqs := make([]int64, 0, len(ids))
	for _, id := range ids {
		seq, _ := NodeRow(id.Level, id.Index)
		seqs = append(seqs, seq)
	}
	rows, err := nr.AuditTree(ctx, seqs)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(ids))
	for i, id := range ids {
		seq, off := NodeRow(id.Level, id.Index)
		row := rows[seq]
		if len(row) < off+HashSize {
			return nil, fmt.Errorf("%w: node (level %d, index %d) in the row of seq %d", ErrTreeNode, id.Level, id.Index, seq)
		}
		out[i] = row[off : off+HashSize : off+HashSize]
	}
	return out, nil
}

// InclusionProof returns the RFC 9162 inclusion proof of leaf index in the
// tree of size leaves, built from the stored nodes (hashing the ephemeral
// node the right border needs, as proof.Nodes.Rehash does).
func InclusionProof(ctx context.Context, nr NodeReader, index, size uint64) ([][]byte, error) {
	if index >= size {
		return nil, fmt.Errorf("%w: index %d is not below tree size %d", ErrTreeSize, index, size)
	}
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTreeSize, err)
	}
	hashes, err := fetchNodes(ctx, nr, nodes.IDs)
	if err != nil {
		return nil, err
	}
	return nodes.Rehash(hashes, nodeHash)
}

// ConsistencyProof returns the RFC 9162 consistency proof from the tree of
// size1 leaves to the tree of size2.
func ConsistencyProof(ctx context.Context, nr NodeReader, size1, size2 uint64) ([][]byte, error) {
	if size1 > size2 {
		return nil, fmt.Errorf("%w: tree size %d is larger than %d", ErrTreeSize, size1, size2)
	}
	nodes, err := proof.Consistency(size1, size2)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTreeSize, err)
	}
	hashes, err := fetchNodes(ctx, nr, nodes.IDs)
	if err != nil {
		return nil, err
	}
	return nodes.Rehash(hashes, nodeHash)
}

// ReadFrontier reads the frontier of the tree of size leaves from the
// stored nodes.
func ReadFrontier(ctx context.Context, nr NodeReader, size uint64) (*Frontier, error) {
	ids := compact.RangeNodes(0, size, nil)
	hashes, err := fetchNodes(ctx, nr, ids)
	if err != nil {
		return nil, err
	}
	return NewFrontier(size, hashes)
}

// VerifyInclusion checks an inclusion proof of leafHash at index against
// the root of the tree of size leaves.
func VerifyInclusion(index, size uint64, leafHash []byte, p [][]byte, root []byte) error {
	return proof.VerifyInclusion(hasher, index, size, leafHash, p, root)
}

// VerifyConsistency checks a consistency proof between two tree heads.
func VerifyConsistency(size1, size2 uint64, p [][]byte, root1, root2 []byte) error {
	return proof.VerifyConsistency(hasher, size1, size2, p, root1, root2)
}
