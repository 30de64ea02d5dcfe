// Package exchange moves data between parties: it decides each disclosure,
// seals and stores the payload for its recipient, and records every step.
package exchange

import (
	"time"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/api"
)

// State is where an exchange is in its life.
type State string

// Exchange states: declared → delivered → fetched → acknowledged → expired,
// or failed (an upload that did not complete; it may be retried).
const (
	StateDeclared     State = "declared"
	StateDelivered    State = "delivered"
	StateFetched      State = "fetched"
	StateAcknowledged State = "acknowledged"
	StateExpired      State = "expired"
	StateFailed       State = "failed"
)

// Readable reports whether the recipient may fetch the payload.
func (s State) Readable() bool {
	return s == StateDelivered || s == StateFetched || s == StateAcknowledged
}

// VisibleToRecipient reports whether the recipient may know of the exchange:
// only once something was delivered to it.
func (s State) VisibleToRecipient() bool { return s.Readable() || s == StateExpired }

// Uploadable reports whether the sender may upload the payload.
func (s State) Uploadable() bool { return s == StateDeclared || s == StateFailed }

// Exchange is one disclosure from a sender to a recipient.
type Exchange struct {
	ID               string
	State            State
	Sender           string
	Recipient        string
	AgreementID      string
	AgreementVersion int
	Meta             Meta
	Decision         agreements.Decision
	Payload          Payload
	// Envelope is the manifest, signed and encrypted to the recipient.
	Envelope       []byte
	CreatedAt      time.Time
	UpdatedAt      time.Time
	DeliveredAt    time.Time
	AcknowledgedAt time.Time
	// ExpiresAt is when the payload's retention ends and it is deleted.
	ExpiresAt time.Time
	// RequestID is the inbound request this exchange answers, if any.
	RequestID string
	// Replayed is set (never stored) when a repeated Idempotency-Key returns
	// the exchange created the first time.
	Replayed bool
	// Receipts are the signed receipts (never stored) of the audit entries
	// the call that returned the exchange recorded, in order: one, or two
	// for the one-request form (the decision, then the delivery).
	Receipts []string
	// Release is set when a DPO released the exchange to its recipient
	// while its agreement or flow held it back.
	Release *Release
	// Notify is how the data subjects are to be told of the disclosure. It
	// is set when the exchange is created, and from then on kept (and
	// changed) by the compliance record, not by the exchange.
	Notify NotifyPlan
}

// Release is a DPO's decision to let the recipient fetch an exchange that
// the state of its agreement or parties holds back.
type Release struct {
	By     string    `json:"by"`
	Name   string    `json:"name,omitempty"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// Notification states in the compliance record.
const (
	// NotifyDue: the subjects are to be told; nobody has recorded it yet.
	NotifyDue = "due"
	// NotifyWithheld: telling them would prejudice the purpose (or is not
	// yet safe); to be looked at again by ReviewAt.
	NotifyWithheld = "withheld"
	// NotifyTold: somebody recorded that the subjects were told.
	NotifyTold = "told"
)

// NotifyPlan is the decision about telling the data subjects.
type NotifyPlan struct {
	State    string
	Reason   string
	ReviewAt time.Time
	// ConfirmBy is when a DPO must have confirmed a withholding the sender
	// made (at declaration, under an exemption or the agreement's
	// default): until then it is pending, and past it due.
	ConfirmBy time.Time
}

// DefaultNotificationReview is when a withheld notification comes back for
// review if neither the sender nor the agreement says.
const DefaultNotificationReview = 90 * 24 * time.Hour

// AgreementRef is the agreement id@version the exchange was decided under.
// It is empty for an emergency override under no agreement.
func (e *Exchange) AgreementRef() string {
	if e.AgreementID == "" {
		return ""
	}
	return agreements.Ref(e.AgreementID, e.AgreementVersion)
}

// Meta is what the sender declared, with subject identifiers replaced by
// their keyed HMACs: the gateway never stores who the data is about in clear.
type Meta struct {
	// AgreementVersion is the version the sender said it relies on (0: none named).
	AgreementVersion int               `json:"agreement_version,omitempty"`
	Purpose          string            `json:"purpose"`
	LawfulBasis      string            `json:"lawful_basis"`
	SpecialCategory  []string          `json:"special_category,omitempty"`
	CriminalOffence  []string          `json:"criminal_offence,omitempty"`
	Exemption        string            `json:"exemption,omitempty"`
	Instrument       string            `json:"instrument,omitempty"`
	DataCategories   []string          `json:"data_categories"`
	SubjectKeys      []string          `json:"subject_keys,omitempty"`
	SubjectCount     int               `json:"subject_count"`
	Justification    string            `json:"justification,omitempty"`
	RequestedBy      string            `json:"requested_by,omitempty"`
	Authoriser       *api.Authoriser   `json:"authoriser,omitempty"`
	Urgency          string            `json:"urgency,omitempty"`
	RequestRef       string            `json:"request_ref,omitempty"`
	ConsentRef       string            `json:"consent_ref,omitempty"`
	Notification     *api.Notification `json:"notification,omitempty"`
	ContentType      string            `json:"content_type"`
	DeclaredSize     int64             `json:"declared_size"`
	// DeclaredSHA256 is the keyed digest of the SHA-256 the sender
	// declared (a plain SHA-256 in declarations stored before).
	DeclaredSHA256 string `json:"declared_sha256,omitempty"`
	// SubjectConsentRefs are the consent records cited for named subjects,
	// one for each subject that cites one.
	SubjectConsentRefs []string `json:"subject_consent_refs,omitempty"`
}

// Payload is the stored, sealed payload.
type Payload struct {
	Size int64
	// SHA256 is the plaintext's SHA-256, never stored: set only on the
	// answer to the upload that sealed it (the recipient has it in the
	// manifest).
	SHA256 string
	// Digest is the keyed digest of SHA256 (audit.PayloadDigest), as stored.
	Digest         string
	CiphertextSize int64
	ObjectKey      string
	ObjectVersion  string
}
