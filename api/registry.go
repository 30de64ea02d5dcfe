package api

import (
	"encoding/json"
	"time"
)

// AdminWhoAmI answers GET /admin/v1/whoami: the token's subject and roles.
type AdminWhoAmI struct {
	Subject string   `json:"subject"`
	Roles   []string `json:"roles"`
}

// Party is a registered party as the admin API shows it.
type Party struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	Name string `json:"name"`
	// Status is pending (registered, awaiting a second person's approval),
	// active, suspended or rejected (its registration refused).
	Status string `json:"status"`
	// TrustAnchors are the PEM CA certificates that issue the party's client
	// certificates; empty means the deployment's own CA.
	TrustAnchors string `json:"trust_anchors,omitempty"`
	// Identity, if set, binds by subject DN and issuing-CA fingerprint
	// instead of the URI SAN.
	Identity *IdentityRule `json:"identity,omitempty"`
	// RevocationHosts are the hosts the CRL and OCSP addresses in the
	// party's certificates may be fetched from.
	RevocationHosts []string `json:"revocation_hosts,omitempty"`
	// EncryptionKey is the public JWK payload manifests are sealed to.
	EncryptionKey json.RawMessage `json:"encryption_key,omitempty"`
	UpdatedAt     time.Time       `json:"updated_at,omitzero"`
	// RegisteredBy and RegisteredAt say who registered the party and when.
	RegisteredBy     string    `json:"registered_by,omitempty"`
	RegisteredByName string    `json:"registered_by_name,omitempty"`
	RegisteredAt     time.Time `json:"registered_at,omitzero"`
	// RegistrationSHA256 is the digest of the registration
	// (docs/parties.md) that its approval names.
	RegistrationSHA256 string `json:"registration_sha256,omitempty"`
	// DecidedBy and DecidedAt say who approved or rejected the
	// registration and when.
	DecidedBy     string    `json:"decided_by,omitempty"`
	DecidedByName string    `json:"decided_by_name,omitempty"`
	DecidedAt     time.Time `json:"decided_at,omitzero"`
}

// PartyApproval is the body of POST /admin/v1/parties/{id}/approve.
type PartyApproval struct {
	// SHA256 is the registration's digest as the approver was shown it.
	SHA256 string `json:"sha256"`
}

// PartyList answers GET /admin/v1/parties.
type PartyList struct {
	Parties []Party `json:"parties"`
}

// VersionBinding is the body of the approve and activate actions: the
// version acted on and the SHA-256 of its canonical document (the sha256 of
// Agreement, docs/agreements.md), as the person acting was shown it. Both
// are required; a digest that is not the version's is refused (409
// agreement-digest-mismatch).
type VersionBinding struct {
	Version int    `json:"version"`
	SHA256  string `json:"sha256"`
}

// Agreement is one version of a data-sharing agreement as the admin API
// shows it: the document its author registered (docs/agreements.md) and
// what the registry keeps about it. Dates are civil dates (YYYY-MM-DD);
// durations are written as 90d, 2w or 72h.
type Agreement struct {
	ID      string `json:"id"`
	Version int    `json:"version"`
	// Status is draft, approved, active, suspended, terminated, expired or
	// superseded.
	Status      string `json:"status"`
	Title       string `json:"title"`
	Controllers string `json:"controllers"`
	// Signatories, Flows and the slices inside them are null when the
	// document had none.
	Signatories               []Signatory `json:"signatories"`
	AppropriatePolicyDocument string      `json:"appropriate_policy_document,omitempty"`
	Flows                     []Flow      `json:"flows"`
	DPIA                      *DPIA       `json:"dpia,omitempty"`
	EffectiveFrom             string      `json:"effective_from"`
	ExpiresAt                 string      `json:"expires_at,omitempty"`
	ReviewBy                  string      `json:"review_by"`
	// Retention is how long delivered payloads are kept.
	Retention           string             `json:"retention"`
	SubjectNotification NotificationPolicy `json:"subject_notification"`

	// Set by the registry, never by the document's author.
	Author     string    `json:"author,omitempty"`
	ApprovedBy string    `json:"approved_by,omitempty"`
	CreatedAt  time.Time `json:"created_at,omitzero"`
	UpdatedAt  time.Time `json:"updated_at,omitzero"`
	// SHA256 is the digest of the version's canonical document: what an
	// approval or activation names (docs/agreements.md).
	SHA256 string `json:"sha256"`
	// ApprovedSHA256 is the digest its DPO approved, once approved.
	ApprovedSHA256 string `json:"approved_sha256,omitempty"`
	// EffectiveStatus is the status today: an active agreement past its
	// expiry date shows as expired.
	EffectiveStatus string `json:"effective_status"`
}

// Signatory is a person who signed an agreement for a party.
type Signatory struct {
	Party    string `json:"party"`
	Name     string `json:"name"`
	Role     string `json:"role"`
	SignedOn string `json:"signed_on,omitempty"`
}

// DPIA is the data protection impact assessment done before sharing.
type DPIA struct {
	Reference string `json:"reference"`
	Completed string `json:"completed"`
	// Outcome is approved, approved-with-mitigations or rejected.
	Outcome  string `json:"outcome"`
	Approver string `json:"approver"`
}

// NotificationPolicy is an agreement's default for telling data subjects.
type NotificationPolicy struct {
	// Default is notify or withhold.
	Default string `json:"default"`
	Reason  string `json:"reason,omitempty"`
	// ReviewAfter is when a withheld notification must be looked at again.
	ReviewAfter string `json:"review_after,omitempty"`
}

// Flow is one permitted direction of sharing within an agreement.
type Flow struct {
	// Regime is uk-gdpr or dpa-part-3 (law-enforcement processing).
	Regime          string       `json:"regime,omitempty"`
	From            []string     `json:"from"`
	To              []string     `json:"to"`
	Purposes        []string     `json:"purposes"`
	LawfulBases     []string     `json:"lawful_bases"`
	SpecialCategory []string     `json:"special_category,omitempty"`
	CriminalOffence []string     `json:"criminal_offence,omitempty"`
	Exemptions      []string     `json:"exemptions,omitempty"`
	Instruments     []Instrument `json:"instruments,omitempty"`
	DataCategories  []string     `json:"data_categories"`
	Fields          *FieldPolicy `json:"fields,omitempty"`
	// MaxSubjects per exchange; zero means no limit.
	MaxSubjects int `json:"max_subjects,omitempty"`
	// DailyVolume is the most exchanges per day on the flow; zero means no limit.
	DailyVolume          int  `json:"daily_volume,omitempty"`
	RequiresNamedSubject bool `json:"requires_named_subject,omitempty"`
	// AuthoriserRank is the rank an authorising officer must hold, by the
	// kind of organisation the officer belongs to, e.g.
	// {"police": "inspector", "council-service": "service-manager"}.
	AuthoriserRank map[string]string `json:"authoriser_rank,omitempty"`
	// Handler is the council service that answers inbound requests on the flow.
	Handler           string `json:"handler,omitempty"`
	EmergencyOverride bool   `json:"emergency_override,omitempty"`
}

// Instrument is a statutory power or other legal instrument for a flow.
type Instrument struct {
	Code  string `json:"code,omitempty"`
	Title string `json:"title"`
}

// FieldPolicy minimises structured payloads on a flow.
type FieldPolicy struct {
	Allow        []string `json:"allow,omitempty"`
	Pseudonymise []string `json:"pseudonymise,omitempty"`
	// OnExtra is strip (drop fields outside Allow) or refuse.
	OnExtra string `json:"on_extra,omitempty"`
	// Subject is the field that identifies a record's data subject.
	Subject string `json:"subject,omitempty"`
}

// AgreementList answers GET /admin/v1/agreements: the governing version of
// every agreement.
type AgreementList struct {
	Agreements []Agreement `json:"agreements"`
}

// AgreementVersions answers GET /admin/v1/agreements/{id}/versions.
type AgreementVersions struct {
	Versions []Agreement `json:"versions"`
}

// PartyChangeProposal is the body of POST /admin/v1/parties/{id}/changes:
// the trust fields to change (those absent stay as they are) and why.
// `"identity": {}` returns the party to the default URI SAN rule and
// `"trust_anchors": ""` to the deployment's own CA.
type PartyChangeProposal struct {
	Reason          string          `json:"reason"`
	Kind            *string         `json:"kind,omitempty"`
	TrustAnchors    *string         `json:"trust_anchors,omitempty"`
	Identity        *IdentityRule   `json:"identity,omitempty"`
	RevocationHosts *[]string       `json:"revocation_hosts,omitempty"`
	EncryptionKey   json.RawMessage `json:"encryption_key,omitempty"`
}

// PartyTrust is what a party change proposal changes: the fields that decide
// which certificates act as the party and whom its payloads are sealed to.
type PartyTrust struct {
	Kind         string `json:"kind"`
	TrustAnchors string `json:"trust_anchors"`
	// Identity is absent for the default URI SAN rule.
	Identity        *IdentityRule   `json:"identity,omitempty"`
	RevocationHosts []string        `json:"revocation_hosts"`
	EncryptionKey   json.RawMessage `json:"encryption_key"`
}

// PartyChange is a proposed change to a party's trust, and what became of
// it.
type PartyChange struct {
	ID    string `json:"id"`
	Party string `json:"party"`
	// Status is proposed, approved (and applied), rejected or withdrawn.
	Status string `json:"status"`
	Reason string `json:"reason"`
	// Fields names the fields the change changes.
	Fields []string `json:"fields"`
	// Before is the party's trust when the change was proposed; After is what
	// it is once the change is approved.
	Before         PartyTrust `json:"before"`
	After          PartyTrust `json:"after"`
	ProposedBy     string     `json:"proposed_by"`
	ProposedByName string     `json:"proposed_by_name,omitempty"`
	ProposedAt     time.Time  `json:"proposed_at"`
	// SHA256 is the digest of the proposal (docs/parties.md) that an
	// approval must name.
	SHA256         string    `json:"sha256"`
	DecidedBy      string    `json:"decided_by,omitempty"`
	DecidedByName  string    `json:"decided_by_name,omitempty"`
	DecidedAt      time.Time `json:"decided_at,omitzero"`
	DecisionReason string    `json:"decision_reason,omitempty"`
}

// PartyChangeList answers GET /admin/v1/party-changes and
// GET /admin/v1/parties/{id}/changes, newest first.
type PartyChangeList struct {
	Changes []PartyChange `json:"changes"`
}

// PartyChangeApproval is the body of POST
// /admin/v1/party-changes/{id}/approve.
type PartyChangeApproval struct {
	// SHA256 is the proposal's digest as the approver was shown it.
	SHA256 string `json:"sha256"`
}
