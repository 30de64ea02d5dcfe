package agreements

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/internal/idem"
	"github.com/gatehouse-gw/gatehouse/internal/public"
	"github.com/gatehouse-gw/gatehouse/internal/strictjson"
	"github.com/gatehouse-gw/gatehouse/internal/valid"
)

// Roles of the people who administer the registry.
const (
	RoleAdmin   = "admin"
	RoleDPO     = "dpo"
	RoleAuditor = "auditor"
)

// Actor is a person acting on the registry, from a verified token.
type Actor struct {
	// Subject is the person's stable id (the identity provider's id claim).
	Subject string
	// Name is their display name, if the identity provider gave one.
	Name  string
	Roles []string
}

// AuditDetail is what an audit entry records of the actor beside its id:
// the roles acted under and the display name.
func (a Actor) AuditDetail() map[string]string {
	d := map[string]string{"roles": fmt.Sprint(a.Roles)}
	if a.Name != "" {
		d["actor_name"] = a.Name
	}
	return d
}

// Has reports whether the actor holds role.
func (a Actor) Has(role string) bool { return slices.Contains(a.Roles, role) }

// Registry service errors.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already registered")
	// ErrForbidden: the actor's roles do not allow the action.
	ErrForbidden = errors.New("your role does not allow this")
	// ErrSamePerson: the two-person rule; a DPO cannot approve their own agreement.
	ErrSamePerson = errors.New("an agreement must be approved by a DPO who is not its author")
	// ErrTransition: the lifecycle does not allow the change from the current status.
	ErrTransition = errors.New("the agreement's status does not allow this")
	// ErrAgreementDigest: an approval or activation named a digest that is
	// not that of the version's document (DigestMismatchError says which).
	ErrAgreementDigest = errors.New("the agreement version's document is not the one named")
)

// DigestMismatchError refuses an approval or activation whose digest is not
// the version's: the person was shown another document.
type DigestMismatchError struct {
	// Ref is the version acted on, id@version.
	Ref string
	// Expected is the digest of its document (or, with Approved, the digest
	// its DPO approved); Given is the one named.
	Expected, Given string
	Approved        bool
}

func (e *DigestMismatchError) Error() string {
	what := "the document of " + e.Ref + " has sha256 " + e.Expected
	if e.Approved {
		what = e.Ref + " was approved with sha256 " + e.Expected
	}
	return ErrAgreementDigest.Error() + ": " + what + ", not " + e.Given + "; read the version again"
}

// Is makes errors.Is(err, ErrAgreementDigest) hold.
func (e *DigestMismatchError) Is(target error) bool { return target == ErrAgreementDigest }

// Audit entry types for registry changes.
const (
	AuditPartyRegistered     = "admin.party.registered"
	AuditPartyUpdated        = "admin.party.updated"
	AuditPartySuspended      = "admin.party.suspended"
	AuditPartyResumed        = "admin.party.resumed"
	AuditAgreementRegistered = "admin.agreement.registered"
	AuditAgreementApproved   = "admin.agreement.approved"
	AuditAgreementActivated  = "admin.agreement.activated"
	// AuditAgreementApprovalRefused and AuditAgreementActivationRefused
	// record an approval or activation refused, for whatever reason
	// (detail.refused: see RefusedRole and the others).
	AuditAgreementApprovalRefused   = "admin.agreement.approval-refused"
	AuditAgreementActivationRefused = "admin.agreement.activation-refused"
	AuditAgreementSuspended         = "admin.agreement.suspended"
	AuditAgreementResumed           = "admin.agreement.resumed"
	AuditAgreementTerminated        = "admin.agreement.terminated"
)

// Store keeps parties and agreement versions. Update runs fn in one
// transaction with the audit entries it appends.
type Store interface {
	Update(ctx context.Context, fn func(Tx) error) error
	Parties(ctx context.Context) ([]*Party, error)
	Party(ctx context.Context, id string) (*Party, error)
	// AgreementVersions returns every version of agreement id ("" for every
	// agreement), ordered by id and version.
	AgreementVersions(ctx context.Context, id string) ([]*Agreement, error)
	Snapshot(ctx context.Context) (*Registry, error)
	// KeyResource returns what an idempotency key created (idem.ErrUnknown if nothing).
	KeyResource(ctx context.Context, scope, key string) (fingerprint, resource string, err error)
	// PartyChanges returns the change proposals of a party ("" for every
	// party), newest first.
	PartyChanges(ctx context.Context, party string) ([]*PartyChange, error)
	// PartyChange returns one change proposal; ErrNotFound if none.
	PartyChange(ctx context.Context, id string) (*PartyChange, error)
}

// Tx is a store transaction.
type Tx interface {
	audit.Appender
	PutParty(ctx context.Context, p *Party) error
	// LockParty reads a party for update; ErrNotFound if none.
	LockParty(ctx context.Context, id string) (*Party, error)
	PutAgreement(ctx context.Context, a *Agreement) error
	// LockAgreementVersions reads every version of an agreement for update.
	LockAgreementVersions(ctx context.Context, id string) ([]*Agreement, error)
	// ClaimKey claims an idempotency key for what this transaction creates.
	ClaimKey(ctx context.Context, scope, key, fingerprint, resource string, now time.Time) error
	// PutPartyChange stores a change proposal, replacing it if it exists.
	PutPartyChange(ctx context.Context, c *PartyChange) error
	// LockPartyChange reads a change proposal for update; ErrNotFound if none.
	LockPartyChange(ctx context.Context, id string) (*PartyChange, error)
	// PartyChanges reads the change proposals of a party, newest first.
	PartyChanges(ctx context.Context, party string) ([]*PartyChange, error)
}

// Service registers and changes parties and agreements. Every change is
// audited with its actor, in the same transaction.
type Service struct {
	store Store
	now   func() time.Time
}

// NewService returns a registry service.
func NewService(store Store) *Service { return &Service{store: store, now: time.Now} }

// SetClock replaces the clock; for tests.
func (s *Service) SetClock(now func() time.Time) { s.now = now }

func needRole(actor Actor, roles ...string) error {
	for _, r := range roles {
		if actor.Has(r) {
			return nil
		}
	}
	return public.Errorf(ErrForbidden, "needs role %v", roles)
}

func (s *Service) entry(actor Actor, typ string) *audit.Entry {
	return &audit.Entry{Time: s.now().UTC(), Type: typ, Actor: actor.Subject, Detail: actor.AuditDetail()}
}

// MaxRevocationHosts is the most revocation hosts a party may register.
const MaxRevocationHosts = 16

// ValidateParty checks a party registration.
func ValidateParty(p *Party) error {
	var v valid.Errors
	if v.Required("id", p.ID) && !ValidPartyID(p.ID) {
		v.Add("id", "format", "%q is not a party id (lower-case words joined by '.' or '-')", p.ID)
	}
	if !PartyKinds[p.Kind] {
		v.Add("kind", "enum", "%q is not one of police, dwp, cabinet-office, hmrc, court, local-authority, council-service", p.Kind)
	}
	v.Required("name", p.Name)
	switch p.Status {
	case "", PartyPending, PartyActive, PartySuspended, PartyRejected:
	default:
		v.Add("status", "enum", "%q is not one of pending, active, suspended, rejected", p.Status)
	}
	if len(p.EncryptionKey) == 0 {
		v.Add("encryption_key", "required", "a public P-256 JWK is required: payloads are sealed to it")
	} else if err := checkPublicJWK(p.EncryptionKey); err != nil {
		v.Add("encryption_key", "jwk", "%v", err)
	}
	if p.TrustAnchors != "" {
		if certs, err := parsePEMCertificates([]byte(p.TrustAnchors)); err != nil {
			v.Add("trust_anchors", "pem", "%v", err)
		} else {
			for i, c := range certs {
				if !c.IsCA {
					v.Add(valid.Path("trust_anchors", i), "ca", "certificate %q is not a CA certificate", c.Subject.CommonName)
				}
			}
		}
	}
	if len(p.RevocationHosts) > MaxRevocationHosts {
		v.Add("revocation_hosts", "max-items", "names more than %d hosts", MaxRevocationHosts)
	}
	for i, h := range p.RevocationHosts {
		if !valid.Host(h) {
			v.Add(valid.Path("revocation_hosts", i), "format", "%s is not a host name or address (with an optional :port)", strictjson.Quote(h))
		}
	}
	if id := p.Identity; id.SubjectDN != "" || id.IssuerFingerprint != "" {
		v.Required("identity.subject_dn", id.SubjectDN)
		if len(id.IssuerFingerprint) != 64 {
			v.Add("identity.issuer_fingerprint", "format", "must be the hex SHA-256 of the issuing CA certificate (64 hex digits)")
		}
	}
	return v.Err()
}

// checkPublicJWK checks, without a JOSE library, that b is a public EC P-256
// JWK with a kid: a private key must never be registered.
func checkPublicJWK(b []byte) error {
	var k struct {
		Kty string `json:"kty"`
		Crv string `json:"crv"`
		Kid string `json:"kid"`
		X   string `json:"x"`
		Y   string `json:"y"`
		D   string `json:"d"`
	}
	if err := strictjson.DecodeOpen(b, &k); err != nil {
		return fmt.Errorf("not a JWK: %v", err)
	}
	switch {
	case k.D != "":
		return errors.New("this is a private key: register only the public key")
	case k.Kty != "EC" || k.Crv != "P-256" || k.X == "" || k.Y == "":
		return errors.New("must be an EC P-256 public key")
	case k.Kid == "":
		return errors.New("needs a kid")
	}
	return nil
}

func parsePEMCertificates(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for len(b) > 0 {
		block, rest := pem.Decode(b)
		if block == nil {
			break
		}
		b = rest
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM certificate found")
	}
	return out, nil
}

// RegisterParty registers a new party (admin), pending: it is not active
// until someone else approves its registration (ApproveParty). A status
// named by the caller is refused. A rejected registration's id may be
// registered again. With an idempotency key, a repeat of the same
// registration returns the party it registered.
func (s *Service) RegisterParty(ctx context.Context, actor Actor, p *Party, key string) (*Party, error) {
	if err := needRole(actor, RoleAdmin); err != nil {
		return nil, err
	}
	if p.Status != "" {
		return nil, valid.Errors{{Path: "status", Rule: "registry", Message: "is set by the registry: a new party is pending until someone else approves it"}}
	}
	if err := ValidateParty(p); err != nil {
		return nil, err
	}
	scope, fingerprint := "admin:"+actor.Subject, idem.Fingerprint(p)
	if id, err := idem.Replay(ctx, s.store, scope, key, fingerprint); err != nil {
		return nil, err
	} else if id != "" {
		return s.store.Party(ctx, id)
	}
	s.registered(actor, p, s.now().UTC())
	err := s.store.Update(ctx, func(tx Tx) error {
		if key != "" {
			if err := tx.ClaimKey(ctx, scope, key, fingerprint, p.ID, p.UpdatedAt); err != nil {
				return err
			}
		}
		if cur, err := tx.LockParty(ctx, p.ID); err == nil && cur.Status != PartyRejected {
			return public.Errorf(ErrExists, "party %s", p.ID)
		} else if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		if err := tx.AppendAudit(ctx, s.registrationEntry(actor, AuditPartyRegistered, p)); err != nil {
			return err
		}
		return tx.PutParty(ctx, p)
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// UpdateParty changes a party's display name (admin). Its trust (kind,
// trust anchors, identity rule, revocation hosts, encryption key) changes
// only by an approved proposal (ProposePartyChange): an update that would
// change it is refused with ErrNeedsApproval and changes nothing. Its status
// changes only by Suspend and Resume.
func (s *Service) UpdateParty(ctx context.Context, actor Actor, p *Party) (*Party, error) {
	if err := needRole(actor, RoleAdmin); err != nil {
		return nil, err
	}
	var out *Party
	err := s.store.Update(ctx, func(tx Tx) error {
		cur, err := tx.LockParty(ctx, p.ID)
		if err != nil {
			return err
		}
		if err := awaitingApproval(cur); err != nil {
			return err
		}
		next := *cur
		next.Name = p.Name
		next.UpdatedAt = s.now().UTC()
		after := *p
		after.Status = cur.Status
		if err := ValidateParty(&after); err != nil {
			return err
		}
		if fields := TrustOf(cur).Changed(TrustOf(&after)); len(fields) > 0 {
			return public.Errorf(ErrNeedsApproval, "%s of party %s change only by a proposal another person approves (POST /admin/v1/parties/%s/changes)", strings.Join(fields, ", "), p.ID, p.ID)
		}
		e := s.entry(actor, AuditPartyUpdated)
		e.Recipient = p.ID
		if err := tx.AppendAudit(ctx, e); err != nil {
			return err
		}
		out = &next
		return tx.PutParty(ctx, &next)
	})
	return out, err
}

// SetPartyStatus suspends or resumes a party (admin). It takes effect on the
// party's next request.
func (s *Service) SetPartyStatus(ctx context.Context, actor Actor, id string, status PartyStatus, reason string) (*Party, error) {
	if err := needRole(actor, RoleAdmin); err != nil {
		return nil, err
	}
	if reason == "" {
		return nil, valid.Errors{{Path: "reason", Rule: "required", Message: "is required: say why"}}
	}
	typ := AuditPartySuspended
	if status == PartyActive {
		typ = AuditPartyResumed
	}
	var out *Party
	err := s.store.Update(ctx, func(tx Tx) error {
		p, err := tx.LockParty(ctx, id)
		if err != nil {
			return err
		}
		if err := awaitingApproval(p); err != nil {
			return err
		}
		if p.Status == status {
			return public.Errorf(ErrTransition, "party %s is already %s", id, status)
		}
		p.Status, p.UpdatedAt = status, s.now().UTC()
		e := s.entry(actor, typ)
		e.Recipient = id
		e.Detail["reason"] = reason
		if err := tx.AppendAudit(ctx, e); err != nil {
			return err
		}
		out = p
		return tx.PutParty(ctx, p)
	})
	return out, err
}

// Parties lists every party (any role).
func (s *Service) Parties(ctx context.Context, actor Actor) ([]*Party, error) {
	if err := needRole(actor, RoleAdmin, RoleDPO, RoleAuditor); err != nil {
		return nil, err
	}
	return s.store.Parties(ctx)
}

// Party shows one party (any role).
func (s *Service) Party(ctx context.Context, actor Actor, id string) (*Party, error) {
	if err := needRole(actor, RoleAdmin, RoleDPO, RoleAuditor); err != nil {
		return nil, err
	}
	return s.store.Party(ctx, id)
}

// Register stores a document as a new draft version of its agreement
// (admin): version 1 for a new agreement, else one after the latest. Every
// change to an agreement is a new version; old versions stay readable. With
// an idempotency key, repeating the same registration returns the version it
// created instead of making another.
func (s *Service) Register(ctx context.Context, actor Actor, doc *Agreement, key string) (*Agreement, error) {
	if err := needRole(actor, RoleAdmin); err != nil {
		return nil, err
	}
	if err := doc.Validate(); err != nil {
		return nil, err
	}
	scope, fingerprint := "admin:"+actor.Subject, idem.Fingerprint(doc)
	if ref, err := idem.Replay(ctx, s.store, scope, key, fingerprint); err != nil {
		return nil, err
	} else if ref != "" {
		return s.version(ctx, ref)
	}
	now := s.now().UTC()
	a := *doc
	a.Status, a.Author, a.ApprovedBy, a.ApprovedSHA256 = StatusDraft, actor.Subject, "", ""
	a.CreatedAt, a.UpdatedAt = now, now
	err := s.store.Update(ctx, func(tx Tx) error {
		versions, err := tx.LockAgreementVersions(ctx, a.ID)
		if err != nil {
			return err
		}
		a.Version = len(versions) + 1
		if n := len(versions); n > 0 {
			a.Version = versions[n-1].Version + 1
		}
		if key != "" {
			if err := tx.ClaimKey(ctx, scope, key, fingerprint, a.Ref(), now); err != nil {
				return err
			}
		}
		e := s.entry(actor, AuditAgreementRegistered)
		e.Agreement = a.Ref()
		if err := tx.AppendAudit(ctx, e); err != nil {
			return err
		}
		return tx.PutAgreement(ctx, &a)
	})
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// version reads one version of an agreement by id@version.
func (s *Service) version(ctx context.Context, ref string) (*Agreement, error) {
	id, v, err := ParseRef(ref)
	if err != nil {
		return nil, err
	}
	all, err := s.store.AgreementVersions(ctx, id)
	if err != nil {
		return nil, err
	}
	for _, a := range all {
		if a.Version == v {
			return a, nil
		}
	}
	return nil, public.Errorf(ErrNotFound, "%s", ref)
}

// change edits one version of an agreement; it may also change others
// (activation supersedes the version in force), which it returns.
type change func(a *Agreement, all []*Agreement, reg *Registry) (others []*Agreement, err error)

// transition changes one version of an agreement (0: the governing one)
// under lock, audited in the same transaction.
func (s *Service) transition(ctx context.Context, actor Actor, id string, version int, typ string, detail map[string]string, fn change) (*Agreement, error) {
	reg, err := s.store.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	var out *Agreement
	err = s.store.Update(ctx, func(tx Tx) error {
		all, err := tx.LockAgreementVersions(ctx, id)
		if err != nil {
			return err
		}
		a := governingOrLatest(all)
		if version != 0 {
			a = nil
			for _, v := range all {
				if v.Version == version {
					a = v
				}
			}
		}
		if a == nil {
			if version > 0 {
				return public.Errorf(ErrNotFound, "agreement %s version %d", id, version)
			}
			return public.Errorf(ErrNotFound, "agreement %s", id)
		}
		before := a.Status
		others, err := fn(a, all, reg)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		e := s.entry(actor, typ)
		e.Agreement = a.Ref()
		e.Detail["from"], e.Detail["to"] = string(before), string(a.Status)
		for k, v := range detail {
			e.Detail[k] = v
		}
		if err := tx.AppendAudit(ctx, e); err != nil {
			return err
		}
		for _, o := range append(others, a) {
			o.UpdatedAt = now
			if err := tx.PutAgreement(ctx, o); err != nil {
				return err
			}
		}
		out = a
		return nil
	})
	return out, err
}

// governingOrLatest is the version a lifecycle command without a version
// acts on: the one that governs sharing, else the latest.
func governingOrLatest(all []*Agreement) *Agreement {
	if g := Governing(all); len(g) > 0 {
		return g[0]
	}
	return nil
}

// SamePerson reports whether two people's ids name one person: compared
// after trimming white space, Unicode NFC and case folding, so that
// "alice", "Alice " and "ALICE" cannot approve one another's work.
func SamePerson(a, b string) bool {
	canon := func(s string) string { return cases.Fold().String(norm.NFC.String(strings.TrimSpace(s))) }
	return canon(a) == canon(b)
}

// Approve approves a draft version (dpo): the version the DPO names, whose
// canonical document must have the digest they name (Digest) — the document
// they were shown. The approver must not be its author: the two-person rule.
// A digest that does not match is refused with a *DigestMismatchError.
// Every refusal is recorded (AuditAgreementApprovalRefused).
func (s *Service) Approve(ctx context.Context, actor Actor, id string, version int, digest string) (*Agreement, error) {
	if err := needRole(actor, RoleDPO); err != nil {
		return nil, s.refuseVersion(ctx, actor, AuditAgreementApprovalRefused, id, version, digest, err)
	}
	if err := checkBinding(version, digest); err != nil {
		return nil, err
	}
	return s.bound(ctx, actor, id, version, digest, AuditAgreementApproved, AuditAgreementApprovalRefused, func(a *Agreement, _ []*Agreement, _ *Registry) ([]*Agreement, error) {
		if a.Status != StatusDraft {
			return nil, public.Errorf(ErrTransition, "%s is %s; only a draft can be approved", a.Ref(), a.Status)
		}
		if SamePerson(a.Author, actor.Subject) {
			return nil, ErrSamePerson
		}
		a.Status, a.ApprovedBy, a.ApprovedSHA256 = StatusApproved, actor.Subject, digest
		return nil, nil
	})
}

// Activate puts an approved version into force (admin): the version the
// administrator names, with the digest of its document, as Approve. It needs
// a completed DPIA and registered parties; the version in force before it is
// superseded. The document must still be the one its DPO approved.
func (s *Service) Activate(ctx context.Context, actor Actor, id string, version int, digest string) (*Agreement, error) {
	if err := needRole(actor, RoleAdmin); err != nil {
		return nil, s.refuseVersion(ctx, actor, AuditAgreementActivationRefused, id, version, digest, err)
	}
	if err := checkBinding(version, digest); err != nil {
		return nil, err
	}
	return s.bound(ctx, actor, id, version, digest, AuditAgreementActivated, AuditAgreementActivationRefused, func(a *Agreement, all []*Agreement, reg *Registry) ([]*Agreement, error) {
		if a.Status != StatusApproved {
			return nil, public.Errorf(ErrTransition, "%s is %s; only an approved version can be activated", a.Ref(), a.Status)
		}
		if a.ApprovedSHA256 != "" && a.ApprovedSHA256 != digest {
			// The document is not the one approved (its encoding changed
			// since): approve it again.
			return nil, &DigestMismatchError{Ref: a.Ref(), Expected: a.ApprovedSHA256, Given: digest, Approved: true}
		}
		if err := a.CheckActivation(reg, s.now()); err != nil {
			return nil, err
		}
		a.Status = StatusActive
		var superseded []*Agreement
		for _, v := range all {
			if v != a && (v.Status == StatusActive || v.Status == StatusSuspended) {
				v.Status = StatusSuperseded
				superseded = append(superseded, v)
			}
		}
		return superseded, nil
	})
}

// checkBinding checks that an approval or activation names a version and a
// well-formed digest.
func checkBinding(version int, digest string) error {
	var v valid.Errors
	if version < 1 {
		v.Add("version", "required", "is required: the version you read (1, 2, …)")
	}
	switch {
	case digest == "":
		v.Add("sha256", "required", "is required: the SHA-256 of the version's document, as shown with it")
	case !validDigest(digest):
		v.Add("sha256", "format", "must be %d lower-case hexadecimal characters", DigestSize)
	}
	if len(v) > 0 {
		return v
	}
	return nil
}

func validDigest(d string) bool {
	if len(d) != DigestSize {
		return false
	}
	for _, c := range d {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// bound runs a transition bound to a digest: the version's document must
// have it. The digest is recorded in the audit entry. A refusal (the
// digest, the two-person rule, the version's status, the activation's
// checks) is recorded as refusedType, with the digest given and, for a
// mismatch, the one expected (digests are not secret), and changes nothing
// else.
func (s *Service) bound(ctx context.Context, actor Actor, id string, version int, digest, typ, refusedType string, fn change) (*Agreement, error) {
	var seen *Agreement
	a, err := s.transition(ctx, actor, id, version, typ, map[string]string{"sha256": digest}, func(a *Agreement, all []*Agreement, reg *Registry) ([]*Agreement, error) {
		seen = a
		if want := Digest(a); want != digest {
			return nil, &DigestMismatchError{Ref: a.Ref(), Expected: want, Given: digest}
		}
		return fn(a, all, reg)
	})
	reason := refusalReason(err)
	if err == nil || seen == nil || reason == "" {
		return a, err
	}
	e := s.entry(actor, refusedType)
	e.Agreement = seen.Ref()
	e.Detail["sha256"], e.Detail["status"] = digest, string(seen.Status)
	var mismatch *DigestMismatchError
	if errors.As(err, &mismatch) {
		e.Detail["expected_sha256"] = mismatch.Expected
	}
	return nil, s.refuse(ctx, e, reason, err)
}

// refuseVersion records an approval or activation refused before the
// version was read (the actor's role), naming what was asked for.
func (s *Service) refuseVersion(ctx context.Context, actor Actor, refusedType, id string, version int, digest string, err error) error {
	e := s.entry(actor, refusedType)
	e.Agreement = given(Ref(id, version))
	e.Detail["sha256"] = given(digest)
	return s.refuse(ctx, e, refusalReason(err), err)
}

// Suspend pauses sharing under the agreement in force (admin); it takes
// effect on the next request.
func (s *Service) Suspend(ctx context.Context, actor Actor, id, reason string) (*Agreement, error) {
	return s.setStatus(ctx, actor, id, reason, AuditAgreementSuspended, []Status{StatusActive}, StatusSuspended)
}

// Resume lifts a suspension (admin).
func (s *Service) Resume(ctx context.Context, actor Actor, id, reason string) (*Agreement, error) {
	return s.setStatus(ctx, actor, id, reason, AuditAgreementResumed, []Status{StatusSuspended}, StatusActive)
}

// Terminate ends the agreement in force for good (admin).
func (s *Service) Terminate(ctx context.Context, actor Actor, id, reason string) (*Agreement, error) {
	return s.setStatus(ctx, actor, id, reason, AuditAgreementTerminated, []Status{StatusActive, StatusSuspended}, StatusTerminated)
}

func (s *Service) setStatus(ctx context.Context, actor Actor, id, reason, typ string, from []Status, to Status) (*Agreement, error) {
	if err := needRole(actor, RoleAdmin); err != nil {
		return nil, err
	}
	if reason == "" {
		return nil, valid.Errors{{Path: "reason", Rule: "required", Message: "is required: say why"}}
	}
	return s.transition(ctx, actor, id, 0, typ, map[string]string{"reason": reason}, func(a *Agreement, _ []*Agreement, _ *Registry) ([]*Agreement, error) {
		if !slices.Contains(from, a.Status) {
			return nil, public.Errorf(ErrTransition, "%s is %s", a.Ref(), a.Status)
		}
		a.Status = to
		return nil, nil
	})
}

// Versions lists every version of an agreement (any role).
func (s *Service) Versions(ctx context.Context, actor Actor, id string) ([]*Agreement, error) {
	if err := needRole(actor, RoleAdmin, RoleDPO, RoleAuditor); err != nil {
		return nil, err
	}
	all, err := s.store.AgreementVersions(ctx, id)
	if err != nil {
		return nil, err
	}
	if len(all) == 0 {
		return nil, public.Errorf(ErrNotFound, "agreement %s", id)
	}
	return all, nil
}

// List returns the governing version of every agreement (any role).
func (s *Service) List(ctx context.Context, actor Actor) ([]*Agreement, error) {
	if err := needRole(actor, RoleAdmin, RoleDPO, RoleAuditor); err != nil {
		return nil, err
	}
	all, err := s.store.AgreementVersions(ctx, "")
	if err != nil {
		return nil, err
	}
	return Governing(all), nil
}

// Snapshot returns the current registry (any role), for dry-run decisions.
func (s *Service) Snapshot(ctx context.Context, actor Actor) (*Registry, error) {
	if err := needRole(actor, RoleAdmin, RoleDPO, RoleAuditor); err != nil {
		return nil, err
	}
	return s.store.Snapshot(ctx)
}
