package agreements

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/internal/idem"
	"github.com/gatehouse-gw/gatehouse/internal/public"
	"github.com/gatehouse-gw/gatehouse/internal/valid"
)

// A party's trust (its kind, trust anchors, identity rule, revocation hosts
// and encryption key) decides which certificates act as it and whom its
// payloads are sealed to. It changes only by a proposal that a second
// person approves, naming the digest of what they were shown
// (docs/design.md §3).

// ChangeStatus is where a party change proposal is.
type ChangeStatus string

// Party change statuses: proposed → approved (applied) | rejected |
// withdrawn (rejected by its own proposer).
const (
	ChangeProposed  ChangeStatus = "proposed"
	ChangeApproved  ChangeStatus = "approved"
	ChangeRejected  ChangeStatus = "rejected"
	ChangeWithdrawn ChangeStatus = "withdrawn"
)

// Audit entry types for party change proposals.
const (
	AuditPartyChangeProposed  = "admin.party.change-proposed"
	AuditPartyChangeApproved  = "admin.party.change-approved"
	AuditPartyChangeRejected  = "admin.party.change-rejected"
	AuditPartyChangeWithdrawn = "admin.party.change-withdrawn"
	// AuditPartyChangeApprovalRefused records an approval refused, for
	// whatever reason (detail.refused: see RefusedRole and the others).
	AuditPartyChangeApprovalRefused = "admin.party.change-approval-refused"
)

// Party change errors.
var (
	// ErrSameProposer: the two-person rule; whoever proposed a change cannot approve it.
	ErrSameProposer = errors.New("a party change must be approved by someone other than its proposer")
	// ErrNeedsApproval: a direct update tried to change a party's trust.
	ErrNeedsApproval = errors.New("this change to a party needs a second person: propose it")
	// ErrChangeState: the proposal is no longer open, another is, or the
	// party moved on since it was proposed.
	ErrChangeState = errors.New("the party change's status does not allow this")
	// ErrDigestMismatch: the digest named is not the proposal's.
	ErrDigestMismatch = errors.New("the digest is not that of the proposed change")
)

// PartyTrust is what a party change proposal changes: the fields that
// decide which certificates act as the party and whom its payloads are
// sealed to.
type PartyTrust struct {
	Kind            PartyKind       `json:"kind"`
	TrustAnchors    string          `json:"trust_anchors"`
	Identity        IdentityRule    `json:"identity"`
	RevocationHosts []string        `json:"revocation_hosts"`
	EncryptionKey   json.RawMessage `json:"encryption_key"`
}

// TrustOf returns p's trust fields.
func TrustOf(p *Party) PartyTrust {
	return PartyTrust{
		Kind: p.Kind, TrustAnchors: p.TrustAnchors, Identity: p.Identity,
		RevocationHosts: slices.Clone(p.RevocationHosts), EncryptionKey: bytes.Clone(p.EncryptionKey),
	}
}

// apply sets p's trust fields to t.
func (t PartyTrust) apply(p *Party) {
	p.Kind, p.TrustAnchors, p.Identity = t.Kind, t.TrustAnchors, t.Identity
	p.RevocationHosts, p.EncryptionKey = slices.Clone(t.RevocationHosts), bytes.Clone(t.EncryptionKey)
}

// Changed lists the fields (by their JSON names) in which t and u differ.
func (t PartyTrust) Changed(u PartyTrust) []string {
	var out []string
	if t.Kind != u.Kind {
		out = append(out, "kind")
	}
	if t.TrustAnchors != u.TrustAnchors {
		out = append(out, "trust_anchors")
	}
	if t.Identity != u.Identity {
		out = append(out, "identity")
	}
	if !slices.Equal(t.RevocationHosts, u.RevocationHosts) {
		out = append(out, "revocation_hosts")
	}
	if !sameJSON(t.EncryptionKey, u.EncryptionKey) {
		out = append(out, "encryption_key")
	}
	return out
}

func sameJSON(a, b json.RawMessage) bool {
	var ca, cb bytes.Buffer
	if json.Compact(&ca, a) != nil || json.Compact(&cb, b) != nil {
		return bytes.Equal(a, b)
	}
	return bytes.Equal(ca.Bytes(), cb.Bytes())
}

// TrustEdit is a proposed change: nil fields stay as they are.
type TrustEdit struct {
	Kind            *PartyKind
	TrustAnchors    *string
	Identity        *IdentityRule
	RevocationHosts *[]string
	EncryptionKey   json.RawMessage
}

// on returns t with the edit applied.
func (e TrustEdit) on(t PartyTrust) PartyTrust {
	if e.Kind != nil {
		t.Kind = *e.Kind
	}
	if e.TrustAnchors != nil {
		t.TrustAnchors = *e.TrustAnchors
	}
	if e.Identity != nil {
		t.Identity = *e.Identity
	}
	if e.RevocationHosts != nil {
		t.RevocationHosts = slices.Clone(*e.RevocationHosts)
	}
	if e.EncryptionKey != nil {
		t.EncryptionKey = bytes.Clone(e.EncryptionKey)
	}
	return t
}

// PartyChange is a proposed change to a party's trust.
type PartyChange struct {
	ID     string       `json:"id"`
	Party  string       `json:"party"`
	Status ChangeStatus `json:"status"`
	Reason string       `json:"reason"`
	// Before is the party's trust when the change was proposed; After is
	// what it becomes if the change is approved.
	Before         PartyTrust `json:"before"`
	After          PartyTrust `json:"after"`
	ProposedBy     string     `json:"proposed_by"`
	ProposedByName string     `json:"proposed_by_name,omitempty"`
	ProposedAt     time.Time  `json:"proposed_at"`
	// Digest is the hex SHA-256 of the proposal's canonical form
	// (ChangeDigest); an approval must name it.
	Digest         string    `json:"digest"`
	DecidedBy      string    `json:"decided_by,omitempty"`
	DecidedByName  string    `json:"decided_by_name,omitempty"`
	DecidedAt      time.Time `json:"decided_at,omitzero"`
	DecisionReason string    `json:"decision_reason,omitempty"`
}

// Fields lists the fields the change changes.
func (c *PartyChange) Fields() []string { return c.Before.Changed(c.After) }

// ChangeDigest is the hex SHA-256 of a proposal's canonical form: the JSON
// encoding (fixed field order, no insignificant white space, the time in
// UTC RFC 3339 to the microsecond) of its id, party, proposer, time, reason, and its trust before
// and after. It binds an approval to exactly what the approver was shown.
func ChangeDigest(c *PartyChange) string {
	doc := struct {
		ID         string     `json:"id"`
		Party      string     `json:"party"`
		ProposedBy string     `json:"proposed_by"`
		ProposedAt string     `json:"proposed_at"`
		Reason     string     `json:"reason"`
		Before     PartyTrust `json:"before"`
		After      PartyTrust `json:"after"`
	}{c.ID, c.Party, c.ProposedBy, c.ProposedAt.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano), c.Reason, canonTrust(c.Before), canonTrust(c.After)}
	b, err := json.Marshal(doc)
	if err != nil {
		panic(err) // every field is a string, a slice of strings or valid JSON
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// canonTrust compacts the key's JSON, so that white space never changes a
// digest, and writes no hosts as an empty list.
func canonTrust(t PartyTrust) PartyTrust {
	var b bytes.Buffer
	if len(t.EncryptionKey) == 0 || json.Compact(&b, t.EncryptionKey) != nil {
		t.EncryptionKey = json.RawMessage("null")
	} else {
		t.EncryptionKey = b.Bytes()
	}
	if t.RevocationHosts == nil {
		t.RevocationHosts = []string{}
	}
	return t
}

// MaxChangeReason bounds a proposal's or decision's reason, in bytes.
const MaxChangeReason = 2000

func checkReason(path, reason string) error {
	switch {
	case strings.TrimSpace(reason) == "":
		return valid.Errors{{Path: path, Rule: "required", Message: "is required: say why"}}
	case len(reason) > MaxChangeReason:
		return valid.Errors{{Path: path, Rule: "max-length", Message: "is longer than 2000 bytes"}}
	}
	return nil
}

// ProposePartyChange proposes a change to a party's trust (admin). Nothing
// changes until someone else approves it; a party has at most one open
// proposal. With an idempotency key, a repeat of the same proposal returns
// the proposal it made.
func (s *Service) ProposePartyChange(ctx context.Context, actor Actor, id string, edit TrustEdit, reason, key string) (*PartyChange, error) {
	if err := needRole(actor, RoleAdmin); err != nil {
		return nil, err
	}
	if err := checkReason("reason", reason); err != nil {
		return nil, err
	}
	scope, fingerprint := "admin:"+actor.Subject, idem.Fingerprint(struct {
		Party  string
		Edit   TrustEdit
		Reason string
	}{id, edit, reason})
	if ref, err := idem.Replay(ctx, s.store, scope, key, fingerprint); err != nil {
		return nil, err
	} else if ref != "" {
		return s.store.PartyChange(ctx, ref)
	}
	var out *PartyChange
	err := s.store.Update(ctx, func(tx Tx) error {
		cur, err := tx.LockParty(ctx, id)
		if err != nil {
			return err
		}
		if err := awaitingApproval(cur); err != nil {
			return err
		}
		before := TrustOf(cur)
		after := edit.on(before)
		next := *cur
		after.apply(&next)
		if err := ValidateParty(&next); err != nil {
			return err
		}
		if len(before.Changed(after)) == 0 {
			return valid.Errors{{Path: "change", Rule: "changed", Message: "changes nothing: name the kind, trust anchors, identity, revocation hosts or encryption key to change"}}
		}
		open, err := tx.PartyChanges(ctx, id)
		if err != nil {
			return err
		}
		for _, o := range open {
			if o.Status == ChangeProposed {
				return public.Errorf(ErrChangeState, "party %s already has an open proposal (%s): approve, reject or withdraw it first", id, o.ID)
			}
		}
		c := &PartyChange{
			ID: uuid.Must(uuid.NewV7()).String(), Party: id, Status: ChangeProposed, Reason: reason,
			Before: before, After: after, ProposedBy: actor.Subject, ProposedByName: actor.Name,
			ProposedAt: s.now().UTC().Truncate(time.Microsecond),
		}
		c.Digest = ChangeDigest(c)
		if key != "" {
			if err := tx.ClaimKey(ctx, scope, key, fingerprint, c.ID, c.ProposedAt); err != nil {
				return err
			}
		}
		e := s.changeEntry(actor, AuditPartyChangeProposed, c)
		e.Detail["reason"] = reason
		if err := tx.AppendAudit(ctx, e); err != nil {
			return err
		}
		out = c
		return tx.PutPartyChange(ctx, c)
	})
	return out, err
}

func (s *Service) changeEntry(actor Actor, typ string, c *PartyChange) *audit.Entry {
	e := s.entry(actor, typ)
	e.Recipient = c.Party
	e.Detail["change"] = c.ID
	e.Detail["sha256"] = c.Digest
	e.Detail["fields"] = strings.Join(c.Fields(), ",")
	return e
}

// ApprovePartyChange approves an open proposal and applies it, in one
// transaction (admin or dpo). The approver must not be its proposer
// (SamePerson) and must name the proposal's digest, the one they were
// shown. A repeat by the person who approved it, with its digest, of an
// approval that took effect answers as the first did (the change and the
// party as they are now) and records nothing: a retry whose answer was
// lost. Every refusal is recorded (AuditPartyChangeApprovalRefused).
func (s *Service) ApprovePartyChange(ctx context.Context, actor Actor, changeID, digest string) (*PartyChange, *Party, error) {
	digest = strings.ToLower(strings.TrimSpace(digest))
	if err := needRole(actor, RoleAdmin, RoleDPO); err != nil {
		return nil, nil, s.refuseChange(ctx, actor, AuditPartyChangeApprovalRefused, changeID, true, digest, err)
	}
	if digest == "" {
		return nil, nil, valid.Errors{{Path: "sha256", Rule: "required", Message: "is required: the SHA-256 of the proposal you were shown"}}
	}
	var (
		out, seen *PartyChange
		party     *Party
	)
	err := s.store.Update(ctx, func(tx Tx) error {
		c, err := tx.LockPartyChange(ctx, changeID)
		if err != nil {
			return err
		}
		seen = c
		if c.Status == ChangeApproved && SamePerson(c.DecidedBy, actor.Subject) && digest == c.Digest {
			// Already approved by this person, as named: the answer again.
			p, err := tx.LockParty(ctx, c.Party)
			if err != nil {
				return err
			}
			out, party = c, p
			return nil
		}
		if c.Status != ChangeProposed {
			return public.Errorf(ErrChangeState, "change %s is %s", c.ID, c.Status)
		}
		if SamePerson(c.ProposedBy, actor.Subject) {
			return ErrSameProposer
		}
		if digest != c.Digest || ChangeDigest(c) != c.Digest {
			return public.Errorf(ErrDigestMismatch, "change %s has digest %s", c.ID, c.Digest)
		}
		p, err := tx.LockParty(ctx, c.Party)
		if err != nil {
			return err
		}
		if len(TrustOf(p).Changed(c.Before)) != 0 {
			return public.Errorf(ErrChangeState, "party %s changed after change %s was proposed: propose it again", p.ID, c.ID)
		}
		now := s.now().UTC()
		c.After.apply(p)
		p.UpdatedAt = now
		if err := ValidateParty(p); err != nil {
			return err
		}
		c.Status, c.DecidedBy, c.DecidedByName, c.DecidedAt = ChangeApproved, actor.Subject, actor.Name, now
		if err := tx.AppendAudit(ctx, s.changeEntry(actor, AuditPartyChangeApproved, c)); err != nil {
			return err
		}
		if err := tx.PutPartyChange(ctx, c); err != nil {
			return err
		}
		out, party = c, p
		return tx.PutParty(ctx, p)
	})
	if err != nil {
		if reason := refusalReason(err); seen != nil && reason != "" {
			// The refusal is recorded, with what was given and expected
			// (digests are not secret), and changes nothing else.
			e := s.changeEntry(actor, AuditPartyChangeApprovalRefused, seen)
			e.Detail["sha256"], e.Detail["expected_sha256"] = given(digest), seen.Digest
			e.Detail["status"] = string(seen.Status)
			return nil, nil, s.refuse(ctx, e, reason, err)
		}
		return nil, nil, err
	}
	return out, party, nil
}

// refuseChange records an approval (with the digest given) or a rejection
// of a change refused before it was locked (the actor's role), naming the
// change asked for and, if it can be read, its party and digest.
func (s *Service) refuseChange(ctx context.Context, actor Actor, typ, changeID string, approval bool, digest string, err error) error {
	e := s.entry(actor, typ)
	e.Detail["change"] = given(changeID)
	if c, rerr := s.store.PartyChange(ctx, changeID); rerr == nil {
		e = s.changeEntry(actor, typ, c)
		e.Detail["status"] = string(c.Status)
		if approval {
			e.Detail["expected_sha256"] = c.Digest
			delete(e.Detail, "sha256")
		}
	}
	if digest != "" {
		e.Detail["sha256"] = given(digest)
	}
	return s.refuse(ctx, e, refusalReason(err), err)
}

// RejectPartyChange closes an open proposal without applying it (admin or
// dpo); closed by its own proposer, it is withdrawn. A repeat by the person
// who closed it answers as the first did (the reason first given stands)
// and records nothing. Every refusal is recorded
// (AuditPartyChangeRejectionRefused).
func (s *Service) RejectPartyChange(ctx context.Context, actor Actor, changeID, reason string) (*PartyChange, error) {
	if err := needRole(actor, RoleAdmin, RoleDPO); err != nil {
		return nil, s.refuseChange(ctx, actor, AuditPartyChangeRejectionRefused, changeID, false, "", err)
	}
	if err := checkReason("reason", reason); err != nil {
		return nil, err
	}
	var out, seen *PartyChange
	err := s.store.Update(ctx, func(tx Tx) error {
		c, err := tx.LockPartyChange(ctx, changeID)
		if err != nil {
			return err
		}
		seen = c
		if (c.Status == ChangeRejected || c.Status == ChangeWithdrawn) && SamePerson(c.DecidedBy, actor.Subject) {
			out = c
			return nil
		}
		if c.Status != ChangeProposed {
			return public.Errorf(ErrChangeState, "change %s is %s", c.ID, c.Status)
		}
		status, typ := ChangeRejected, AuditPartyChangeRejected
		if SamePerson(c.ProposedBy, actor.Subject) {
			status, typ = ChangeWithdrawn, AuditPartyChangeWithdrawn
		}
		c.Status, c.DecidedBy, c.DecidedByName, c.DecidedAt, c.DecisionReason = status, actor.Subject, actor.Name, s.now().UTC(), reason
		e := s.changeEntry(actor, typ, c)
		e.Detail["reason"] = reason
		if err := tx.AppendAudit(ctx, e); err != nil {
			return err
		}
		out = c
		return tx.PutPartyChange(ctx, c)
	})
	if code := refusalReason(err); err != nil && seen != nil && code != "" {
		e := s.changeEntry(actor, AuditPartyChangeRejectionRefused, seen)
		e.Detail["status"], e.Detail["reason"] = string(seen.Status), reason
		return nil, s.refuse(ctx, e, code, err)
	}
	return out, err
}

// PartyChanges lists the change proposals of a party ("" for every
// party), newest first (any role).
func (s *Service) PartyChanges(ctx context.Context, actor Actor, party string) ([]*PartyChange, error) {
	if err := needRole(actor, RoleAdmin, RoleDPO, RoleAuditor); err != nil {
		return nil, err
	}
	return s.store.PartyChanges(ctx, party)
}

// PartyChange shows one change proposal (any role).
func (s *Service) PartyChange(ctx context.Context, actor Actor, id string) (*PartyChange, error) {
	if err := needRole(actor, RoleAdmin, RoleDPO, RoleAuditor); err != nil {
		return nil, err
	}
	return s.store.PartyChange(ctx, id)
}

// KeyFingerprint is the RFC 7638 JWK thumbprint (SHA-256, base64url) of a
// public EC key, the fingerprint people compare when a key changes; "" if
// jwk is not one.
func KeyFingerprint(jwk []byte) string {
	var k struct {
		Kty string `json:"kty"`
		Crv string `json:"crv"`
		X   string `json:"x"`
		Y   string `json:"y"`
	}
	if json.Unmarshal(jwk, &k) != nil || k.Kty != "EC" || k.Crv == "" || k.X == "" || k.Y == "" {
		return ""
	}
	// The required members in lexical order, no white space (RFC 7638 §3).
	b, err := json.Marshal(struct {
		Crv string `json:"crv"`
		Kty string `json:"kty"`
		X   string `json:"x"`
		Y   string `json:"y"`
	}{k.Crv, k.Kty, k.X, k.Y})
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// AnchorFingerprints lists the hex SHA-256 of each CA certificate in a PEM
// bundle (what a person compares with the partner's own record).
func AnchorFingerprints(pemText string) []string {
	certs, err := parsePEMCertificates([]byte(pemText))
	if err != nil {
		return nil
	}
	out := make([]string, len(certs))
	for i, c := range certs {
		sum := sha256.Sum256(c.Raw)
		out[i] = hex.EncodeToString(sum[:])
	}
	return out
}
