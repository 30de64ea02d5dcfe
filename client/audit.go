package client

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"golang.org/x/mod/sumdb/note"

	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/tlog"
)

// The audit record's checkpoint and proofs, on either API: a partner asks
// the partner API (about its own exchanges and requests), an auditor the
// admin API. Checking them needs nothing of the gateway: tlog does it.

// prefix is the API's path prefix.
func (c *conn) prefix() string {
	if c.token != "" {
		return "/admin/v1"
	}
	return "/v1"
}

// Checkpoint returns the latest signed checkpoint of the audit record, not
// yet verified (OpenCheckpoint verifies it).
func (c *conn) Checkpoint(ctx context.Context) (*api.AuditCheckpoint, error) {
	var out api.AuditCheckpoint
	return &out, c.getJSON(ctx, c.prefix()+"/audit/checkpoint", &out)
}

// CheckpointKey fetches the verifier key of the checkpoint notes the
// gateway publishes at /.well-known/gatehouse-checkpoint-key
// ("<origin>+<hash>+<key>"), checked to be one.
func (c *conn) CheckpointKey(ctx context.Context) (string, error) {
	resp, err := c.get(ctx, "/.well-known/gatehouse-checkpoint-key", "text/plain")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return "", readProblem(resp)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if err != nil {
		return "", err
	}
	vkey := strings.TrimSpace(string(b))
	if _, err := tlog.NewVerifier(vkey); err != nil {
		return "", err
	}
	return vkey, nil
}

// OpenCheckpoint fetches the latest checkpoint and verifies its note with
// key (the log's checkpoint key, named after its origin).
func (c *conn) OpenCheckpoint(ctx context.Context, key note.Verifier) (*tlog.TreeHead, string, error) {
	cp, err := c.Checkpoint(ctx)
	if err != nil {
		return nil, "", err
	}
	th, err := tlog.OpenTreeHead([]byte(cp.Note), key.Name(), key)
	if err != nil {
		return nil, "", err
	}
	return th, cp.Note, nil
}

// InclusionProof returns the proof that the entry at index is in the tree
// of treeSize entries (0: the latest checkpoint's).
func (c *conn) InclusionProof(ctx context.Context, index, treeSize uint64) (*api.InclusionProof, error) {
	q := url.Values{"index": {strconv.FormatUint(index, 10)}}
	if treeSize > 0 {
		q.Set("tree_size", strconv.FormatUint(treeSize, 10))
	}
	var out api.InclusionProof
	return &out, c.getJSON(ctx, c.prefix()+"/audit/proofs/inclusion?"+q.Encode(), &out)
}

// ConsistencyProof returns the proof that the tree of to entries extends
// the tree of from entries.
func (c *conn) ConsistencyProof(ctx context.Context, from, to uint64) (*api.ConsistencyProof, error) {
	q := url.Values{"from": {strconv.FormatUint(from, 10)}, "to": {strconv.FormatUint(to, 10)}}
	var out api.ConsistencyProof
	return &out, c.getJSON(ctx, c.prefix()+"/audit/proofs/consistency?"+q.Encode(), &out)
}

// DecodeHashes reads a proof's base64 hashes.
func DecodeHashes(hs []string) ([][]byte, error) {
	out := make([][]byte, len(hs))
	for i, h := range hs {
		b, err := base64.StdEncoding.Strict().DecodeString(h)
		if err != nil || len(b) != tlog.HashSize {
			return nil, fmt.Errorf("%w: hash %d is not a base64 SHA-256 hash", tlog.ErrProof, i)
		}
		out[i] = b
	}
	return out, nil
}

// VerifyReceipt checks a receipt: its signature against the gateway's
// audit keys, then, with an inclusion proof the gateway serves, that its
// entry is in the tree th (a verified checkpoint). A receipt the
// checkpoint does not cover yet gives tlog.ErrNotCovered.
func (c *conn) VerifyReceipt(ctx context.Context, keys jwk.Set, th *tlog.TreeHead, compact string) (*tlog.Receipt, error) {
	r, err := tlog.ParseReceipt(compact, keys)
	if err != nil {
		return nil, err
	}
	if r.Log != th.Origin {
		return r, fmt.Errorf("%w: the receipt is for log %q, the checkpoint for %q", tlog.ErrProof, r.Log, th.Origin)
	}
	if r.Index >= th.Size {
		return r, fmt.Errorf("%w: entry %d, tree size %d", tlog.ErrNotCovered, r.Seq(), th.Size)
	}
	p, err := c.InclusionProof(ctx, r.Index, th.Size)
	if err != nil {
		return r, err
	}
	hashes, err := DecodeHashes(p.Hashes)
	if err != nil {
		return r, err
	}
	return r, tlog.VerifyInclusion(r, th, hashes)
}

// VerifyConsistency checks, with a consistency proof the gateway serves,
// that the tree head newer extends older (tlog.ErrShrunk, tlog.ErrForked).
func (c *conn) VerifyConsistency(ctx context.Context, older, newer *tlog.TreeHead) error {
	if newer.Size <= older.Size || older.Size == 0 {
		return tlog.VerifyConsistency(older, newer, nil)
	}
	p, err := c.ConsistencyProof(ctx, older.Size, newer.Size)
	if err != nil {
		return err
	}
	hashes, err := DecodeHashes(p.Hashes)
	if err != nil {
		return err
	}
	return tlog.VerifyConsistency(older, newer, hashes)
}
