package agreements

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/internal/public"
	"github.com/gatehouse-gw/gatehouse/internal/valid"
)

// A new party is registered pending: it can neither send, nor receive, nor
// act as a party over TLS until someone other than its registrant approves
// the registration by its digest (ApproveParty). Otherwise one
// administrator could register a "police" party holding their own key and
// receive an emergency disclosure, which needs no agreement, with nobody
// else involved (docs/parties.md).

// Audit entry types for the approval of a new party.
const (
	AuditPartyRegistrationApproved = "admin.party.registration-approved"
	AuditPartyRegistrationRejected = "admin.party.registration-rejected"
	// AuditPartyRegistrationApprovalRefused records an approval refused,
	// for whatever reason (detail.refused: see RefusedRole and the others).
	AuditPartyRegistrationApprovalRefused = "admin.party.registration-approval-refused"
)

// ErrSameRegistrant: the two-person rule; whoever registered a party cannot
// approve its registration.
var ErrSameRegistrant = errors.New("a new party must be approved by someone other than whoever registered it")

// RegistrationDigest is the hex SHA-256 of a registration's canonical form:
// ChangeDigest of the change from no trust to the party's trust, with the
// party's id as the change's id and its party, its registrant and
// registration time as proposer and time, and "register " and its display
// name as the reason. An approval must name it.
func RegistrationDigest(p *Party) string {
	return ChangeDigest(registrationChange(p))
}

func registrationChange(p *Party) *PartyChange {
	return &PartyChange{
		ID: p.ID, Party: p.ID, ProposedBy: p.RegisteredBy, ProposedAt: p.RegisteredAt,
		Reason: "register " + p.Name, After: TrustOf(p),
	}
}

// registrationEntry is an audit entry about p's registration, with its digest.
func (s *Service) registrationEntry(actor Actor, typ string, p *Party) *audit.Entry {
	e := s.entry(actor, typ)
	e.Recipient = p.ID
	e.Detail["sha256"] = p.RegistrationSHA256
	e.Detail["kind"] = string(p.Kind)
	return e
}

// awaitingApproval refuses a change to a party whose registration is not
// yet approved, or was rejected: what a second person approves is the
// registration as it was made.
func awaitingApproval(p *Party) error {
	switch p.Status {
	case PartyPending:
		return public.Errorf(ErrChangeState, "party %s awaits approval of its registration: approve or reject it first", p.ID)
	case PartyRejected:
		return public.Errorf(ErrChangeState, "the registration of party %s was rejected: register it again", p.ID)
	}
	return nil
}

// ApproveParty approves a pending party's registration and makes it active,
// in one transaction with its audit entry (admin or dpo). The approver must
// not be its registrant (SamePerson) and must name the registration's
// digest, the one they were shown. A repeat by the person who approved it,
// with its digest, answers as the first did (the party as it is now) and
// records nothing. Every refusal is recorded
// (AuditPartyRegistrationApprovalRefused).
func (s *Service) ApproveParty(ctx context.Context, actor Actor, id, digest string) (*Party, error) {
	digest = strings.ToLower(strings.TrimSpace(digest))
	if err := needRole(actor, RoleAdmin, RoleDPO); err != nil {
		return nil, s.refuseRegistration(ctx, actor, AuditPartyRegistrationApprovalRefused, id, true, digest, err)
	}
	if digest == "" {
		return nil, valid.Errors{{Path: "sha256", Rule: "required", Message: "is required: the SHA-256 of the registration you were shown"}}
	}
	var out, seen *Party
	err := s.store.Update(ctx, func(tx Tx) error {
		p, err := tx.LockParty(ctx, id)
		if err != nil {
			return err
		}
		seen = p
		if approvedBy(p, actor) && digest == p.RegistrationSHA256 {
			// Already approved by this person, as named: the answer again.
			out = p
			return nil
		}
		if p.Status != PartyPending {
			return public.Errorf(ErrChangeState, "party %s is %s, not awaiting approval", p.ID, p.Status)
		}
		if SamePerson(p.RegisteredBy, actor.Subject) {
			return ErrSameRegistrant
		}
		if digest != p.RegistrationSHA256 || RegistrationDigest(p) != p.RegistrationSHA256 {
			return public.Errorf(ErrDigestMismatch, "the registration of party %s has digest %s", p.ID, p.RegistrationSHA256)
		}
		now := s.now().UTC()
		p.Status, p.DecidedBy, p.DecidedByName, p.DecidedAt, p.UpdatedAt = PartyActive, actor.Subject, actor.Name, now, now
		if err := tx.AppendAudit(ctx, s.registrationEntry(actor, AuditPartyRegistrationApproved, p)); err != nil {
			return err
		}
		out = p
		return tx.PutParty(ctx, p)
	})
	if err != nil {
		if reason := refusalReason(err); seen != nil && reason != "" {
			// Recorded like a refused party change, changing nothing else.
			e := s.registrationEntry(actor, AuditPartyRegistrationApprovalRefused, seen)
			e.Detail["sha256"], e.Detail["expected_sha256"] = given(digest), seen.RegistrationSHA256
			e.Detail["status"] = string(seen.Status)
			return nil, s.refuse(ctx, e, reason, err)
		}
		return nil, err
	}
	return out, nil
}

// approvedBy reports whether p's registration was approved by actor: it
// took effect (the party is active, or suspended since) and they decided it.
func approvedBy(p *Party, actor Actor) bool {
	return (p.Status == PartyActive || p.Status == PartySuspended) && p.DecidedBy != "" && SamePerson(p.DecidedBy, actor.Subject)
}

// refuseRegistration records an approval (with the digest given) or a
// rejection of a registration refused before the party was locked (the
// actor's role), naming the party asked for and, if it can be read, its
// registration's digest.
func (s *Service) refuseRegistration(ctx context.Context, actor Actor, typ, id string, approval bool, digest string, err error) error {
	e := s.entry(actor, typ)
	e.Recipient = given(id)
	if p, rerr := s.store.Party(ctx, id); rerr == nil {
		e = s.registrationEntry(actor, typ, p)
		e.Detail["status"] = string(p.Status)
		if approval {
			e.Detail["expected_sha256"] = p.RegistrationSHA256
			delete(e.Detail, "sha256")
		}
	}
	if digest != "" {
		e.Detail["sha256"] = given(digest)
	}
	return s.refuse(ctx, e, refusalReason(err), err)
}

// RejectParty refuses a pending party's registration (admin or dpo; its
// registrant may withdraw it). The party stays, rejected, so the record
// shows what was refused; registering the id again replaces it. A repeat by
// the person who rejected it answers as the first did and records nothing.
// Every refusal is recorded (AuditPartyRegistrationRejectionRefused).
func (s *Service) RejectParty(ctx context.Context, actor Actor, id, reason string) (*Party, error) {
	if err := needRole(actor, RoleAdmin, RoleDPO); err != nil {
		return nil, s.refuseRegistration(ctx, actor, AuditPartyRegistrationRejectionRefused, id, false, "", err)
	}
	if err := checkReason("reason", reason); err != nil {
		return nil, err
	}
	var out, seen *Party
	err := s.store.Update(ctx, func(tx Tx) error {
		p, err := tx.LockParty(ctx, id)
		if err != nil {
			return err
		}
		seen = p
		if p.Status == PartyRejected && p.DecidedBy != "" && SamePerson(p.DecidedBy, actor.Subject) {
			out = p
			return nil
		}
		if p.Status != PartyPending {
			return public.Errorf(ErrChangeState, "party %s is %s, not awaiting approval", p.ID, p.Status)
		}
		now := s.now().UTC()
		p.Status, p.DecidedBy, p.DecidedByName, p.DecidedAt, p.UpdatedAt = PartyRejected, actor.Subject, actor.Name, now, now
		e := s.registrationEntry(actor, AuditPartyRegistrationRejected, p)
		e.Detail["reason"] = reason
		if err := tx.AppendAudit(ctx, e); err != nil {
			return err
		}
		out = p
		return tx.PutParty(ctx, p)
	})
	if code := refusalReason(err); err != nil && seen != nil && code != "" {
		e := s.registrationEntry(actor, AuditPartyRegistrationRejectionRefused, seen)
		e.Detail["status"], e.Detail["reason"] = string(seen.Status), reason
		return nil, s.refuse(ctx, e, code, err)
	}
	return out, err
}

// registered fills in a new party's registration: pending, by actor, now.
func (s *Service) registered(actor Actor, p *Party, now time.Time) {
	p.Status = PartyPending
	p.RegisteredBy, p.RegisteredByName, p.RegisteredAt = actor.Subject, actor.Name, now.Truncate(time.Microsecond)
	p.DecidedBy, p.DecidedByName, p.DecidedAt = "", "", time.Time{}
	p.UpdatedAt = p.RegisteredAt
	p.RegistrationSHA256 = RegistrationDigest(p)
}
