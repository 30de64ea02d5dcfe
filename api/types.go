// Package api defines the JSON documents of the gateway's HTTP API, shared by
// the gateway and the Go client. api/openapi.yaml describes the same shapes.
package api

import (
	"encoding/json"
	"time"
)

// Media types.
const (
	MediaJSON    = "application/json"
	MediaProblem = "application/problem+json"
	// MediaJOSE is the compact serialization of a JWE or JWS.
	MediaJOSE = "application/jose"
	// MediaMultipart is the one-request form of a disclosure: a
	// "declaration" part, then a "payload" part.
	MediaMultipart = "multipart/form-data"
)

// ReceiptHeader carries the receipt of an answer that has no JSON body of
// its own to carry it in: the envelope and the payload a recipient fetches.
const ReceiptHeader = "Gatehouse-Receipt"

// Subject identifies a person the data is about. Values never reach logs or
// the audit record; only their keyed HMAC is kept.
type Subject struct {
	// Type is the kind of identifier: nino, uprn, name-dob, council-ref, …
	Type  string `json:"type"`
	Value string `json:"value"`
	// ConsentRef cites this person's consent record, where the disclosure
	// relies on consent: a prohibited purpose (marketing, sale, commercial
	// use) needs one for every subject.
	ConsentRef string `json:"consent_ref,omitempty"`
}

// Authoriser is the officer who authorised a disclosure or request.
type Authoriser struct {
	Name string `json:"name"`
	Rank string `json:"rank,omitempty"`
}

// Notification is the sender's decision about telling the data subject.
type Notification struct {
	// Decision is notify or withhold.
	Decision string `json:"decision"`
	Reason   string `json:"reason,omitempty"`
	// ReviewAt is when a withheld notification must be reviewed.
	ReviewAt *time.Time `json:"review_at,omitempty"`
}

// ExchangeDeclaration is the body of POST /v1/exchanges: everything about a
// disclosure except the payload, decided before any data moves.
type ExchangeDeclaration struct {
	Agreement string `json:"agreement"`
	// AgreementVersion, if given, is the version of the agreement the
	// sender relies on; a version that is not the one in force is refused.
	AgreementVersion int    `json:"agreement_version,omitempty"`
	Recipient        string `json:"recipient"`
	Purpose          string `json:"purpose"`
	LawfulBasis      string `json:"lawful_basis"`
	// SpecialCategory lists the Art 9(2) and DPA Sch 1 conditions relied on
	// for special-category data, e.g. ["A9-2-b", "DPA-S1-P1-1"].
	SpecialCategory []string `json:"special_category,omitempty"`
	// CriminalOffence lists the Art 10 and Sch 1 conditions relied on for
	// criminal-offence data, e.g. ["A10", "DPA-S1-P2-10"].
	CriminalOffence []string `json:"criminal_offence,omitempty"`
	Exemption       string   `json:"exemption,omitempty"`
	// Instrument is the one statutory instrument of the flow the disclosure
	// relies on: its code (its title if it has none). Required when the flow
	// lists more than one, unless the exchange answers a request.
	Instrument     string    `json:"instrument,omitempty"`
	DataCategories []string  `json:"data_categories"`
	Subjects       []Subject `json:"subjects,omitempty"`
	// SubjectCount is how many people a bulk payload covers when they are
	// not named one by one.
	SubjectCount  int           `json:"subject_count,omitempty"`
	Justification string        `json:"justification,omitempty"`
	RequestedBy   string        `json:"requested_by,omitempty"`
	Authoriser    *Authoriser   `json:"authoriser,omitempty"`
	Urgency       string        `json:"urgency,omitempty"`
	RequestRef    string        `json:"request_ref,omitempty"`
	ConsentRef    string        `json:"consent_ref,omitempty"`
	Notification  *Notification `json:"notification,omitempty"`
	ContentType   string        `json:"content_type"`
	Size          int64         `json:"size"`
	// SHA256 is the optional lower-case hex SHA-256 of the payload; if given,
	// an upload with another digest is refused.
	SHA256 string `json:"sha256,omitempty"`
}

// InformationRequest is the body of POST /v1/requests: a partner asks the
// council for information, e.g. a police request under DPA 2018 Sch 2 para 2.
// It is decided like a disclosure, then routed to the agreement's handler.
type InformationRequest struct {
	Agreement string `json:"agreement"`
	// AgreementVersion, if given, is the version relied on, as for a
	// declaration.
	AgreementVersion int `json:"agreement_version,omitempty"`
	// To is the council service that handles it; empty means the flow's handler.
	To              string   `json:"to,omitempty"`
	Purpose         string   `json:"purpose"`
	LawfulBasis     string   `json:"lawful_basis"`
	SpecialCategory []string `json:"special_category,omitempty"`
	CriminalOffence []string `json:"criminal_offence,omitempty"`
	Exemption       string   `json:"exemption,omitempty"`
	// DataCategories and DataSought say what information is asked for.
	DataCategories []string  `json:"data_categories"`
	DataSought     string    `json:"data_sought"`
	Subjects       []Subject `json:"subjects,omitempty"`
	// Offence under investigation, or WouldPrejudice: not disclosing would
	// prejudice the prevention or detection of crime.
	Offence        string      `json:"offence,omitempty"`
	WouldPrejudice bool        `json:"would_prejudice,omitempty"`
	StatutoryPower string      `json:"statutory_power,omitempty"`
	Necessity      string      `json:"necessity"`
	Authoriser     *Authoriser `json:"authoriser,omitempty"`
	Urgency        string      `json:"urgency,omitempty"`
	Deadline       *time.Time  `json:"deadline,omitempty"`
	// Reference is the requester's own reference.
	Reference string `json:"reference,omitempty"`
}

// Request is an information request as its requester or handler sees it.
type Request struct {
	ID             string      `json:"id"`
	State          string      `json:"state"`
	Requester      string      `json:"requester"`
	Handler        string      `json:"handler"`
	Agreement      string      `json:"agreement"`
	Purpose        string      `json:"purpose"`
	LawfulBasis    string      `json:"lawful_basis"`
	Exemption      string      `json:"exemption,omitempty"`
	DataCategories []string    `json:"data_categories"`
	DataSought     string      `json:"data_sought"`
	Subjects       int         `json:"subjects"`
	Offence        string      `json:"offence,omitempty"`
	WouldPrejudice bool        `json:"would_prejudice,omitempty"`
	StatutoryPower string      `json:"statutory_power,omitempty"`
	Necessity      string      `json:"necessity"`
	Authoriser     *Authoriser `json:"authoriser,omitempty"`
	Urgency        string      `json:"urgency"`
	Reference      string      `json:"reference,omitempty"`
	Deadline       *time.Time  `json:"deadline,omitempty"`
	Overdue        bool        `json:"overdue,omitempty"`
	// Reason is the handler's reason for declining, or note on accepting.
	Reason string `json:"reason,omitempty"`
	// Exchanges are the disclosures that answer the request.
	Exchanges []string  `json:"exchanges,omitempty"`
	Decision  *Decision `json:"decision,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Receipt is the signed receipt of the audit entry this answer
	// recorded (the decision, an acceptance or a refusal by the handler).
	Receipt string `json:"receipt,omitempty"`
}

// RequestList is a page of requests.
type RequestList struct {
	Requests []Request `json:"requests"`
	Next     string    `json:"next,omitempty"`
}

// Inbox answers GET /v1/inbox: what was delivered to the caller and the
// requests it is to handle.
type Inbox struct {
	Exchanges []Exchange `json:"exchanges"`
	Requests  []Request  `json:"requests"`
	// Notices are rectification notices not yet acknowledged (Art 19).
	Notices []Notice `json:"notices"`
	// Next is the cursor for the following page of exchanges.
	Next string `json:"next,omitempty"`
}

// PartyRegistration is the body of POST /admin/v1/parties (and PUT
// /admin/v1/parties/{id}).
type PartyRegistration struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	Name string `json:"name"`
	// TrustAnchors are PEM CA certificates that issue the party's client
	// certificates; empty means the deployment's own CA.
	TrustAnchors string `json:"trust_anchors,omitempty"`
	// Identity binds by subject DN and issuing-CA fingerprint instead of URI SAN.
	Identity *IdentityRule `json:"identity,omitempty"`
	// RevocationHosts are the hosts (name or name:port) that the CRL and
	// OCSP addresses in the party's certificates may be fetched from.
	RevocationHosts []string `json:"revocation_hosts,omitempty"`
	// EncryptionKey is the public P-256 JWK payloads are sealed to.
	EncryptionKey json.RawMessage `json:"encryption_key"`
}

// IdentityRule binds certificates to a party by subject DN.
type IdentityRule struct {
	SubjectDN         string `json:"subject_dn,omitempty"`
	IssuerFingerprint string `json:"issuer_fingerprint,omitempty"`
}

// Reason is the body of decline, suspend and similar actions.
type Reason struct {
	Reason string `json:"reason"`
}

// Check is one test a decision ran.
type Check struct {
	Code    string `json:"code"`
	Passed  bool   `json:"passed"`
	Message string `json:"message"`
}

// Decision is the gateway's ruling on a declaration or request.
type Decision struct {
	// Outcome is allow, deny or allow-override.
	Outcome   string `json:"outcome"`
	Agreement string `json:"agreement,omitempty"`
	// Regime is the law the decision applied: uk-gdpr or dpa-part-3.
	Regime string  `json:"regime,omitempty"`
	Checks []Check `json:"checks"`
	// ReviewBy is when the DPO must review an emergency override.
	ReviewBy *time.Time `json:"review_by,omitempty"`
}

// DecisionCheck is the body of the admin API's POST /admin/v1/decisions: a
// dry run of a declaration as the named sender would make it.
type DecisionCheck struct {
	Sender      string              `json:"sender"`
	Declaration ExchangeDeclaration `json:"declaration"`
}

// Payload describes a delivered payload.
type Payload struct {
	ContentType    string `json:"content_type"`
	Size           int64  `json:"size"`
	SHA256         string `json:"sha256,omitempty"`
	CiphertextSize int64  `json:"ciphertext_size,omitempty"`
}

// Exchange is a disclosure as the sender or recipient sees it.
type Exchange struct {
	ID          string   `json:"id"`
	State       string   `json:"state"`
	Sender      string   `json:"sender"`
	Recipient   string   `json:"recipient"`
	Agreement   string   `json:"agreement"`
	Purpose     string   `json:"purpose"`
	LawfulBasis string   `json:"lawful_basis"`
	Categories  []string `json:"data_categories"`
	Subjects    int      `json:"subjects"`
	Urgency     string   `json:"urgency,omitempty"`
	RequestRef  string   `json:"request_ref,omitempty"`
	// Override is set on an emergency override, shown to sender and
	// recipient alike; OverrideReviewBy is when the sender's DPO must have
	// reviewed it.
	Override         bool       `json:"override,omitempty"`
	OverrideReviewBy *time.Time `json:"override_review_by,omitempty"`
	Payload          Payload    `json:"payload"`
	Decision         *Decision  `json:"decision,omitempty"`
	CreatedAt        time.Time  `json:"created_at"`
	UpdatedAt        time.Time  `json:"updated_at"`
	DeliveredAt      time.Time  `json:"delivered_at,omitzero"`
	AcknowledgedAt   time.Time  `json:"acknowledged_at,omitzero"`
	// ExpiresAt is when the payload is deleted (its retention ends).
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// RequestID is the information request this exchange answers.
	RequestID string `json:"request_id,omitempty"`
	// Links are the next things a client may do with the exchange.
	Links map[string]string `json:"links,omitempty"`
	// Receipt is the signed receipt (a compact JWS, docs/audit.md) of the
	// audit entry this answer recorded: the decision, the delivery or the
	// acknowledgement. Absent from answers that recorded nothing (a read,
	// a replay).
	Receipt string `json:"receipt,omitempty"`
	// Receipts are every receipt of the answer, in order, when it recorded
	// more than one entry (the one-request form: the decision, then the
	// delivery); Receipt is then the last.
	Receipts []string `json:"receipts,omitempty"`
}

// ExchangeList is a page of exchanges.
type ExchangeList struct {
	Exchanges []Exchange `json:"exchanges"`
	// Next is the cursor for the following page, empty on the last page.
	Next string `json:"next,omitempty"`
}

// WhoAmI answers GET /v1/whoami.
type WhoAmI struct {
	Party             string    `json:"party"`
	Kind              string    `json:"kind"`
	Name              string    `json:"name"`
	CertificateSerial string    `json:"certificate_serial"`
	CertificateExpiry time.Time `json:"certificate_expires_at"`
}

// Health answers GET /healthz and GET /readyz.
type Health struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks,omitempty"`
}

// Problem is an RFC 9457 problem details document. Code is the stable,
// machine-readable identifier of the problem; ErrorID also appears in the
// gateway's log line for the failure.
type Problem struct {
	Type     string       `json:"type"`
	Title    string       `json:"title"`
	Status   int          `json:"status"`
	Detail   string       `json:"detail,omitempty"`
	Instance string       `json:"instance,omitempty"`
	Code     string       `json:"code"`
	ErrorID  string       `json:"error_id,omitempty"`
	Errors   []FieldError `json:"errors,omitempty"`
	Decision *Decision    `json:"decision,omitempty"`
	// Receipt is the signed receipt of a refusal's audit entry (on a 403
	// that records the decision).
	Receipt string `json:"receipt,omitempty"`
}

// FieldError names one invalid field and the rule it broke.
type FieldError struct {
	Field   string `json:"field"`
	Rule    string `json:"rule"`
	Message string `json:"message"`
}

// Error makes a Problem usable as a Go error on the client side.
func (p *Problem) Error() string {
	s := p.Code + ": " + p.Title
	if p.Detail != "" {
		s += ": " + p.Detail
	}
	for _, fe := range p.Errors {
		s += "\n  " + fe.Field + ": " + fe.Message
	}
	if p.Decision != nil {
		for _, c := range p.Decision.Checks {
			if !c.Passed {
				s += "\n  " + c.Code + ": " + c.Message
			}
		}
	}
	return s
}

// Notice tells a recipient that data it received about a person has been
// corrected, erased or restricted (UK GDPR Art 19). The recipient should
// act on it and acknowledge it: POST /v1/notices/{id}/ack.
type Notice struct {
	ID string `json:"id"`
	// Action is corrected, erased or restricted.
	Action      string `json:"action"`
	Description string `json:"description"`
	// Exchanges are the exchanges the recipient received that carried the data.
	Exchanges      []string  `json:"exchanges"`
	SentAt         time.Time `json:"sent_at"`
	AcknowledgedAt time.Time `json:"acknowledged_at,omitzero"`
}

// Notices is the body of GET /v1/notices.
type Notices struct {
	Notices []Notice `json:"notices"`
}

// SubjectAccessRequest is the body of POST /admin/v1/exports/subject-access:
// the subject by identifier, or by the key the audit record uses.
type SubjectAccessRequest struct {
	Subject    *Subject `json:"subject,omitempty"`
	SubjectKey string   `json:"subject_key,omitempty"`
	// Subjects and SubjectKeys are more identifiers (a NINO, a council
	// reference, a name and date of birth) and keys of the same person:
	// the export is the union of what was shared under any of them.
	Subjects    []Subject `json:"subjects,omitempty"`
	SubjectKeys []string  `json:"subject_keys,omitempty"`
	// Format is csv or json (default json).
	Format string `json:"format,omitempty"`
}

// OverrideReview is the body of POST /admin/v1/overrides/{id}/review.
type OverrideReview struct {
	// Outcome is justified or not-justified.
	Outcome string `json:"outcome"`
	Notes   string `json:"notes"`
}

// ExchangeRelease is the body of POST /admin/v1/exchanges/{id}/release: a
// DPO lets the recipient fetch what the state of its agreement or parties
// holds back.
type ExchangeRelease struct {
	Reason string `json:"reason"`
}

// Released is the answer to a release: who released the exchange, when and why.
type Released struct {
	ExchangeID string    `json:"exchange_id"`
	Recipient  string    `json:"recipient"`
	Agreement  string    `json:"agreement,omitempty"`
	State      string    `json:"state"`
	ReleasedBy string    `json:"released_by"`
	Reason     string    `json:"reason"`
	ReleasedAt time.Time `json:"released_at"`
}

// NotificationUpdate is the body of POST /admin/v1/notifications/{id}:
// the subjects were told, telling them is withheld again until ReviewAt, or
// the withholding the sender made is confirmed (Reason, if given, is the
// DPO's note).
type NotificationUpdate struct {
	// Action is told, withhold or confirm.
	Action   string     `json:"action"`
	Reason   string     `json:"reason,omitempty"`
	ReviewAt *time.Time `json:"review_at,omitempty"`
}

// RectificationRequest is the body of POST /admin/v1/rectifications.
type RectificationRequest struct {
	Subject    *Subject `json:"subject,omitempty"`
	SubjectKey string   `json:"subject_key,omitempty"`
	// Action is corrected, erased or restricted.
	Action      string `json:"action"`
	Description string `json:"description"`
}

// AuditCheckpoint is the latest signed tree head of the audit record: the
// C2SP tlog-checkpoint note (signed by the checkpoint key of
// /.well-known/gatehouse-checkpoint-key) and what it says.
type AuditCheckpoint struct {
	Origin   string `json:"origin"`
	TreeSize uint64 `json:"tree_size"`
	// Root is the tree's root hash, standard base64.
	Root string `json:"root"`
	// Note is the signed note, as off-the-shelf verifiers read it.
	Note string    `json:"note"`
	Time time.Time `json:"time"`
}

// InclusionProof proves that the entry at Index (its seq less one) is in
// the tree of TreeSize entries (RFC 9162 §2.1.3).
type InclusionProof struct {
	Index    uint64 `json:"index"`
	TreeSize uint64 `json:"tree_size"`
	// LeafHash is SHA-256(0x00 || the entry), standard base64.
	LeafHash string `json:"leaf_hash"`
	// Hashes are the proof's hashes, from the leaf up, standard base64.
	Hashes []string `json:"hashes"`
}

// ConsistencyProof proves that the tree of To entries extends the tree of
// From entries (RFC 9162 §2.1.4).
type ConsistencyProof struct {
	From uint64 `json:"from"`
	To   uint64 `json:"to"`
	// Hashes are the proof's hashes, standard base64.
	Hashes []string `json:"hashes"`
}
