// Package agreements holds the parties and data-sharing agreements a council
// has registered, and decides whether a disclosure is lawful under them.
package agreements

import (
	"encoding/json"
	"slices"
	"time"
)

// PartyKind is the kind of organisation a party is.
type PartyKind string

// Party kinds (docs/design.md §3).
const (
	KindPolice         PartyKind = "police"
	KindDWP            PartyKind = "dwp"
	KindCabinetOffice  PartyKind = "cabinet-office"
	KindHMRC           PartyKind = "hmrc"
	KindCourt          PartyKind = "court"
	KindLocalAuthority PartyKind = "local-authority"
	KindCouncilService PartyKind = "council-service"
)

// PartyStatus is whether a party may exchange data.
type PartyStatus string

// Party statuses: a new party is pending until a second person approves its
// registration (ApproveParty), then active or suspended; a registration
// refused is rejected.
const (
	PartyPending   PartyStatus = "pending"
	PartyActive    PartyStatus = "active"
	PartySuspended PartyStatus = "suspended"
	PartyRejected  PartyStatus = "rejected"
)

// Party is an organisation or council service that connects to the gateway.
type Party struct {
	ID     string      `json:"id" yaml:"id"`
	Kind   PartyKind   `json:"kind" yaml:"kind"`
	Name   string      `json:"name" yaml:"name"`
	Status PartyStatus `json:"status" yaml:"status"`
	// TrustAnchors are the PEM certificates of the CAs that may issue this
	// party's client certificates. Agencies bring their own PKI.
	TrustAnchors string `json:"trust_anchors,omitempty" yaml:"trust_anchors,omitempty"`
	// Identity binds certificates to the party. The zero value is the default
	// rule: exactly one URI SAN spiffe://<trust-domain>/party/<id>.
	Identity IdentityRule `json:"identity,omitzero" yaml:"identity,omitempty"`
	// RevocationHosts are the hosts (name or name:port) that the CRL
	// distribution points and OCSP responders named in this party's
	// certificates may be fetched from; any other address is not contacted.
	RevocationHosts []string `json:"revocation_hosts,omitempty" yaml:"revocation_hosts,omitempty"`
	// EncryptionKey is the public JWK that payload manifests are sealed to.
	EncryptionKey json.RawMessage `json:"encryption_key,omitempty" yaml:"-"`
	UpdatedAt     time.Time       `json:"updated_at,omitzero" yaml:"-"`

	// Registration: who registered the party and when, the digest of the
	// registration (RegistrationDigest) a second person approves, and who
	// approved or rejected it. Set by the registry, never by the request.
	RegisteredBy       string    `json:"registered_by,omitempty" yaml:"-"`
	RegisteredByName   string    `json:"registered_by_name,omitempty" yaml:"-"`
	RegisteredAt       time.Time `json:"registered_at,omitzero" yaml:"-"`
	RegistrationSHA256 string    `json:"registration_sha256,omitempty" yaml:"-"`
	DecidedBy          string    `json:"decided_by,omitempty" yaml:"-"`
	DecidedByName      string    `json:"decided_by_name,omitempty" yaml:"-"`
	DecidedAt          time.Time `json:"decided_at,omitzero" yaml:"-"`
}

// Active reports whether the party may exchange data: a pending, suspended
// or rejected party may not.
func (p *Party) Active() bool { return p != nil && p.Status == PartyActive }

// IdentityRule is how a certificate is bound to a party.
type IdentityRule struct {
	// SubjectDN, with IssuerFingerprint, binds by subject distinguished name
	// for agencies whose PKI cannot issue URI SANs. Empty means URI SAN.
	SubjectDN string `json:"subject_dn,omitempty" yaml:"subject_dn,omitempty"`
	// IssuerFingerprint is the hex SHA-256 of the issuing CA certificate.
	IssuerFingerprint string `json:"issuer_fingerprint,omitempty" yaml:"issuer_fingerprint,omitempty"`
}

// Status is where an agreement is in its lifecycle.
type Status string

// Agreement lifecycle: draft → approved → active → suspended | terminated |
// expired; activating a new version supersedes the one before it.
const (
	StatusDraft      Status = "draft"
	StatusApproved   Status = "approved"
	StatusActive     Status = "active"
	StatusSuspended  Status = "suspended"
	StatusTerminated Status = "terminated"
	StatusExpired    Status = "expired"
	// StatusSuperseded is a version replaced by a newer version's activation.
	StatusSuperseded Status = "superseded"
)

// Agreement is one version of a registered data-sharing agreement, with what
// the ICO data-sharing code asks an agreement to record.
type Agreement struct {
	ID      string `json:"id" yaml:"id"`
	Version int    `json:"version" yaml:"version,omitempty"`
	Status  Status `json:"status" yaml:"status,omitempty"`
	Title   string `json:"title" yaml:"title"`
	// Controllers is the controller relationship: separate or joint.
	Controllers               string      `json:"controllers" yaml:"controllers"`
	Signatories               []Signatory `json:"signatories" yaml:"signatories"`
	AppropriatePolicyDocument string      `json:"appropriate_policy_document,omitempty" yaml:"appropriate_policy_document,omitempty"`
	Flows                     []Flow      `json:"flows" yaml:"flows"`
	DPIA                      *DPIA       `json:"dpia,omitempty" yaml:"dpia,omitempty"`
	EffectiveFrom             Date        `json:"effective_from" yaml:"effective_from"`
	ExpiresAt                 Date        `json:"expires_at,omitzero" yaml:"expires_at,omitempty"`
	ReviewBy                  Date        `json:"review_by" yaml:"review_by"`
	// Retention is how long delivered payloads are kept.
	Retention           Duration     `json:"retention" yaml:"retention"`
	SubjectNotification Notification `json:"subject_notification" yaml:"subject_notification"`

	// Set by the registry, never by the document's author.
	Author     string    `json:"author,omitempty" yaml:"-"`
	ApprovedBy string    `json:"approved_by,omitempty" yaml:"-"`
	CreatedAt  time.Time `json:"created_at,omitzero" yaml:"-"`
	UpdatedAt  time.Time `json:"updated_at,omitzero" yaml:"-"`
	// ApprovedSHA256 is the Digest the approving DPO named: the document
	// they were shown and bound themselves to.
	ApprovedSHA256 string `json:"approved_sha256,omitempty" yaml:"-"`
}

// Ref is the agreement's id@version, recorded on every exchange.
func (a *Agreement) Ref() string { return Ref(a.ID, a.Version) }

// Signatory is a person who signed the agreement for a party.
type Signatory struct {
	Party    string `json:"party" yaml:"party"`
	Name     string `json:"name" yaml:"name"`
	Role     string `json:"role" yaml:"role"`
	SignedOn Date   `json:"signed_on,omitzero" yaml:"signed_on,omitempty"`
}

// DPIA records the data protection impact assessment done before sharing.
type DPIA struct {
	Reference string `json:"reference" yaml:"reference"`
	Completed Date   `json:"completed" yaml:"completed"`
	// Outcome is approved, approved-with-mitigations or rejected.
	Outcome  string `json:"outcome" yaml:"outcome"`
	Approver string `json:"approver" yaml:"approver"`
}

// DPIA outcomes.
const (
	DPIAApproved                = "approved"
	DPIAApprovedWithMitigations = "approved-with-mitigations"
	DPIARejected                = "rejected"
)

// Complete reports whether the assessment was completed, with an outcome
// that allows sharing, by now.
func (d *DPIA) Complete(now time.Time) bool {
	if d == nil || d.Reference == "" || d.Completed.IsZero() || d.Completed.Start().After(now) {
		return false
	}
	return d.Outcome == DPIAApproved || d.Outcome == DPIAApprovedWithMitigations
}

// LapsesAt is when the assessment lapses, interval after its completion; the
// zero time if it never does (no interval, or no completion date).
func (d *DPIA) LapsesAt(interval time.Duration) time.Time {
	if d == nil || d.Completed.IsZero() || interval <= 0 {
		return time.Time{}
	}
	return d.Completed.Start().Add(interval)
}

// Lapsed reports whether the assessment is older than interval at now: the
// decision then refuses sharing (agreement.dpia-complete) and the agreements
// export lists it as dpia-lapsed, by this one rule.
func (d *DPIA) Lapsed(now time.Time, interval time.Duration) bool {
	at := d.LapsesAt(interval)
	return !at.IsZero() && !now.Before(at)
}

// Notification is the agreement's default for telling data subjects.
type Notification struct {
	// Default is notify or withhold.
	Default string `json:"default" yaml:"default"`
	// Reason is why notification is withheld by default.
	Reason string `json:"reason,omitempty" yaml:"reason,omitempty"`
	// ReviewAfter is when a withheld notification must be looked at again.
	ReviewAfter Duration `json:"review_after,omitzero" yaml:"review_after,omitempty"`
}

// Flow is one permitted direction of sharing within an agreement.
type Flow struct {
	// Regime is the law that governs the flow: uk-gdpr (the default: UK GDPR
	// with DPA 2018 Sch 1 and 2) or dpa-part-3 (law-enforcement processing by
	// a competent authority under DPA 2018 Part 3).
	Regime      string   `json:"regime,omitempty" yaml:"regime,omitempty"`
	From        []string `json:"from" yaml:"from"`
	To          []string `json:"to" yaml:"to"`
	Purposes    []string `json:"purposes" yaml:"purposes"`
	LawfulBases []string `json:"lawful_bases" yaml:"lawful_bases"`
	// SpecialCategory lists Art 9(2) and DPA Sch 1 condition codes that
	// permit special-category data on this flow.
	SpecialCategory []string `json:"special_category,omitempty" yaml:"special_category,omitempty"`
	// CriminalOffence lists the Art 10 and Sch 1 condition codes that permit
	// criminal-offence data on this flow.
	CriminalOffence []string     `json:"criminal_offence,omitempty" yaml:"criminal_offence,omitempty"`
	Exemptions      []string     `json:"exemptions,omitempty" yaml:"exemptions,omitempty"`
	Instruments     []Instrument `json:"instruments,omitempty" yaml:"instruments,omitempty"`
	DataCategories  []string     `json:"data_categories" yaml:"data_categories"`
	Fields          *FieldPolicy `json:"fields,omitempty" yaml:"fields,omitempty"`
	// MaxSubjects per exchange; zero means no limit (bulk).
	MaxSubjects int `json:"max_subjects,omitempty" yaml:"max_subjects,omitempty"`
	// DailyVolume is the most exchanges per day on this flow; zero means no limit.
	DailyVolume          int  `json:"daily_volume,omitempty" yaml:"daily_volume,omitempty"`
	RequiresNamedSubject bool `json:"requires_named_subject,omitempty" yaml:"requires_named_subject,omitempty"`
	// AuthoriserRank is the rank an authorising officer must hold, for each
	// kind of organisation whose officers may authorise on the flow.
	AuthoriserRank RankRequirements `json:"authoriser_rank,omitempty" yaml:"authoriser_rank,omitempty"`
	// Handler is the council service that answers inbound requests on this flow.
	Handler           string `json:"handler,omitempty" yaml:"handler,omitempty"`
	EmergencyOverride bool   `json:"emergency_override,omitempty" yaml:"emergency_override,omitempty"`
}

// Instrument is a statutory power or other legal instrument for a flow.
type Instrument struct {
	Code  string `json:"code,omitempty" yaml:"code,omitempty"`
	Title string `json:"title" yaml:"title"`
}

// FieldPolicy minimises structured payloads on a flow.
type FieldPolicy struct {
	Allow        []string `json:"allow,omitempty" yaml:"allow,omitempty"`
	Pseudonymise []string `json:"pseudonymise,omitempty" yaml:"pseudonymise,omitempty"`
	// OnExtra is strip (drop fields outside Allow) or refuse.
	OnExtra string `json:"on_extra,omitempty" yaml:"on_extra,omitempty"`
	// Subject names the field that identifies the data subject of a record
	// (its name is also the subject identifier type, e.g. nino): structured
	// payloads are counted in distinct subjects by it, in records without it.
	Subject string `json:"subject,omitempty" yaml:"subject,omitempty"`
}

// Regimes.
const (
	RegimeUKGDPR = "uk-gdpr"
	RegimePart3  = "dpa-part-3"
)

// RegimeOf is the flow's regime, uk-gdpr where it names none.
func (f *Flow) RegimeOf() string {
	if f.Regime == "" {
		return RegimeUKGDPR
	}
	return f.Regime
}

// Sends reports whether party may send on this flow.
func (f *Flow) Sends(party string) bool { return slices.Contains(f.From, party) }

// Receives reports whether party may receive on this flow.
func (f *Flow) Receives(party string) bool { return slices.Contains(f.To, party) }

// InForce reports whether a version with this status has taken effect: it is
// or was the version that governs sharing.
func (s Status) InForce() bool {
	switch s {
	case StatusActive, StatusSuspended, StatusTerminated, StatusExpired:
		return true
	}
	return false
}
