package gateway

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/audit"
)

// AuditProofs is what the proof routes need of the audit record.
type AuditProofs interface {
	Checkpoint(ctx context.Context) (audit.StoredCheckpoint, error)
	Inclusion(ctx context.Context, index, size uint64) (*audit.Inclusion, error)
	Consistency(ctx context.Context, from, to uint64) ([][]byte, error)
}

// Problem codes of the proof routes.
const (
	CodeNoCheckpoint  = "checkpoint-not-found"
	CodeEntryNotFound = "audit-entry-not-found"
)

func (s *Server) proofRoutes(r fiber.Router, guard fiber.Handler) {
	served := func(c *fiber.Ctx) error {
		if s.opts.Audit == nil {
			return problem(http.StatusNotFound, CodeNotFound, "This gateway serves no audit proofs.")
		}
		return c.Next()
	}
	r.Get("/audit/checkpoint", guard, served, s.auditCheckpoint)
	r.Get("/audit/proofs/inclusion", guard, served, s.inclusionProof)
	r.Get("/audit/proofs/consistency", guard, served, s.consistencyProof)
}

// mayAudit lets the admin roles that read the record through.
func mayAudit(c *fiber.Ctx) error {
	a := actorOf(c)
	if !a.Has(agreements.RoleAuditor) && !a.Has(agreements.RoleDPO) && !a.Has(agreements.RoleAdmin) {
		return problem(http.StatusForbidden, CodeRoleForbidden, "This needs the auditor, dpo or admin role.")
	}
	return c.Next()
}

// GET …/audit/checkpoint: the latest signed tree head.
func (s *Server) auditCheckpoint(c *fiber.Ctx) error {
	cp, err := s.opts.Audit.Checkpoint(c.UserContext())
	if err != nil {
		return proofProblem(err)
	}
	th, err := audit.ParseTreeHead(noteText(cp.Note))
	if err != nil {
		return err
	}
	return c.JSON(api.AuditCheckpoint{
		Origin: th.Origin, TreeSize: th.Size, Root: base64.StdEncoding.EncodeToString(th.Root),
		Note: cp.Note, Time: cp.Time.UTC(),
	})
}

// noteText is a signed note's text: up to and including the blank line.
func noteText(n string) string {
	for i := 0; i+1 < len(n); i++ {
		if n[i] == '\n' && n[i+1] == '\n' {
			return n[:i+1]
		}
	}
	return n
}

// GET …/audit/proofs/inclusion?index=N&tree_size=M: the inclusion proof of
// entry index (seq − 1) in the tree of M entries (the latest checkpoint's
// if M is not given). A partner may ask only about entries of its own
// exchanges and requests; any other index is "not found" to it.
func (s *Server) inclusionProof(c *fiber.Ctx) error {
	index, err := queryUint(c, "index", true)
	if err != nil {
		return err
	}
	size, err := queryUint(c, "tree_size", false)
	if err != nil {
		return err
	}
	if c.Query("tree_size") == "" {
		cp, err := s.opts.Audit.Checkpoint(c.UserContext())
		if err != nil {
			return proofProblem(err)
		}
		size = uint64(cp.Seq)
	}
	if index >= size {
		return fieldProblem("index", "range", fmt.Sprintf("must be below tree_size (%d)", size))
	}
	in, err := s.opts.Audit.Inclusion(c.UserContext(), index, size)
	if err != nil {
		return proofProblem(err)
	}
	if s.partner != nil {
		ok, err := s.partner.Exchanges.Concerns(c.UserContext(), caller(c).ID, in.Entry)
		if err != nil {
			return err
		}
		if !ok {
			return problem(http.StatusNotFound, CodeEntryNotFound, "No entry of the record about your exchanges or requests has that index.")
		}
	}
	return c.JSON(api.InclusionProof{Index: in.Index, TreeSize: in.Size, LeafHash: base64.StdEncoding.EncodeToString(in.Leaf), Hashes: hashStrings(in.Hashes)})
}

// GET …/audit/proofs/consistency?from=N&to=M: the proof that the tree of M
// entries extends the tree of N (to: the latest checkpoint's if not given).
func (s *Server) consistencyProof(c *fiber.Ctx) error {
	from, err := queryUint(c, "from", true)
	if err != nil {
		return err
	}
	to, err := queryUint(c, "to", false)
	if err != nil {
		return err
	}
	if c.Query("to") == "" {
		cp, err := s.opts.Audit.Checkpoint(c.UserContext())
		if err != nil {
			return proofProblem(err)
		}
		to = uint64(cp.Seq)
	}
	if from > to {
		return fieldProblem("from", "range", fmt.Sprintf("must not be above to (%d)", to))
	}
	hashes, err := s.opts.Audit.Consistency(c.UserContext(), from, to)
	if err != nil {
		return proofProblem(err)
	}
	return c.JSON(api.ConsistencyProof{From: from, To: to, Hashes: hashStrings(hashes)})
}

func hashStrings(hs [][]byte) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = base64.StdEncoding.EncodeToString(h)
	}
	return out
}

// maxTreeSize bounds the sizes a query may name.
const maxTreeSize = 1 << 62

func queryUint(c *fiber.Ctx, name string, required bool) (uint64, error) {
	v := c.Query(name)
	if v == "" {
		if required {
			return 0, fieldProblem(name, "required", "is required")
		}
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n > maxTreeSize || len(v) > 20 {
		return 0, fieldProblem(name, "format", "must be a whole number from 0")
	}
	return n, nil
}

// proofProblem turns what the record cannot answer into problems.
func proofProblem(err error) error {
	switch {
	case errors.Is(err, audit.ErrNoCheckpoint):
		return problem(http.StatusNotFound, CodeNoCheckpoint, "No checkpoint of the audit record has been signed yet.").withCause(err)
	case errors.Is(err, audit.ErrTreeSize):
		return problem(http.StatusNotFound, CodeEntryNotFound, "The record has no tree of that size or no entry at that index.").withCause(err)
	case errors.Is(err, audit.ErrTreeNode):
		return problem(http.StatusNotFound, CodeEntryNotFound, "The record has no entry at that index.").withCause(err)
	}
	return err
}
