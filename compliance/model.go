package compliance

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/exchange"
)

// Audit entry types for the compliance record.
const (
	AuditExportGenerated     = "compliance.export"
	AuditOverrideReviewed    = "compliance.override-reviewed"
	AuditNotificationUpdated = "compliance.notification-updated"
	// AuditNotificationConfirmed: a DPO confirmed a sender's withholding.
	AuditNotificationConfirmed = "compliance.notification-confirmed"
	AuditRectification         = "compliance.rectification"
	AuditNoticeAcknowledged    = "compliance.notice-acknowledged"
	// AuditConsentRecorded and AuditConsentWithdrawn: the consent register
	// changed (the subject as its keyed digest only).
	AuditConsentRecorded  = "consent.recorded"
	AuditConsentWithdrawn = "consent.withdrawn"
)

// Override review states and outcomes.
const (
	OverrideAwaiting = "awaiting"
	OverrideReviewed = "reviewed"

	OutcomeJustified    = "justified"
	OutcomeNotJustified = "not-justified"
)

// Rectification actions (UK GDPR Art 16 and 17, notified under Art 19).
const (
	ActionCorrected  = "corrected"
	ActionErased     = "erased"
	ActionRestricted = "restricted"
)

// Errors the service returns; the gateway maps them to problem+json.
var (
	ErrNotFound  = errors.New("not found")
	ErrForbidden = agreements.ErrForbidden
	// ErrState: the record is not in a state that allows the change.
	ErrState = errors.New("the record's state does not allow this")
	// ErrNoRecipients: nobody received data about the subject, so there is
	// nobody to notify.
	ErrNoRecipients = errors.New("no recipient received data about this subject")
	// ErrConsentExists: the party already holds a consent under that
	// reference for that subject.
	ErrConsentExists = errors.New("a consent under this reference is already recorded for this subject")
)

// Override is an emergency disclosure and its DPO review.
type Override struct {
	ExchangeID string    `json:"exchange_id"`
	ReviewBy   time.Time `json:"review_by"`
	State      string    `json:"state"`
	Outcome    string    `json:"outcome,omitempty"`
	Notes      string    `json:"notes,omitempty"`
	Reviewer   string    `json:"reviewer,omitempty"`
	ReviewedAt time.Time `json:"reviewed_at,omitzero"`
	CreatedAt  time.Time `json:"created_at"`
}

// Notification is the record of telling a disclosure's data subjects.
type Notification struct {
	ExchangeID string    `json:"exchange_id"`
	State      string    `json:"state"`
	Reason     string    `json:"reason,omitempty"`
	ReviewAt   time.Time `json:"review_at,omitzero"`
	UpdatedBy  string    `json:"updated_by"`
	UpdatedAt  time.Time `json:"updated_at"`
	// ConfirmBy is when a DPO must confirm a withholding the sender made;
	// ConfirmedBy and ConfirmedAt say who did and when (a DPO's own
	// withholding is confirmed as it is made).
	ConfirmBy   time.Time `json:"confirm_by,omitzero"`
	ConfirmedBy string    `json:"confirmed_by,omitempty"`
	ConfirmedAt time.Time `json:"confirmed_at,omitzero"`
}

// Confirmation states of a withheld notification.
const (
	ConfirmationPending   = "pending"
	ConfirmationOverdue   = "overdue"
	ConfirmationConfirmed = "confirmed"
)

// Confirmation is the confirmation state of a withheld notification:
// confirmed, pending (a DPO has until ConfirmBy) or overdue; "" for one
// that is not withheld.
func (n *Notification) Confirmation(now time.Time) string {
	switch {
	case n.State != exchange.NotifyWithheld:
		return ""
	case !n.ConfirmedAt.IsZero():
		return ConfirmationConfirmed
	case !n.ConfirmBy.IsZero() && now.Before(n.ConfirmBy):
		return ConfirmationPending
	}
	return ConfirmationOverdue
}

// Rectification records that a subject's data was corrected, erased or
// restricted, and the notices sent to everyone who received it.
type Rectification struct {
	ID          string    `json:"id"`
	SubjectKey  string    `json:"subject_key"`
	Action      string    `json:"action"`
	Description string    `json:"description"`
	RecordedBy  string    `json:"recorded_by"`
	CreatedAt   time.Time `json:"created_at"`
	Notices     []*Notice `json:"notices"`
}

// Notice tells one recipient which of the exchanges it received carried
// the rectified data.
type Notice struct {
	ID              string    `json:"id"`
	RectificationID string    `json:"rectification_id"`
	Recipient       string    `json:"recipient"`
	Exchanges       []string  `json:"exchanges"`
	SentAt          time.Time `json:"sent_at"`
	AcknowledgedAt  time.Time `json:"acknowledged_at,omitzero"`
	// From the rectification, for the recipient's view.
	Action      string `json:"action"`
	Description string `json:"description"`
}

// Store is what the compliance service reads and changes.
type Store interface {
	// AuditEntries returns the entries of the given type recorded in
	// [from, to), in chain order, with their sequence numbers.
	AuditEntries(ctx context.Context, typ string, from, to time.Time) ([]audit.Entry, error)
	Exchange(ctx context.Context, id string) (*exchange.Exchange, error)
	Request(ctx context.Context, id string) (*exchange.Request, error)
	// SubjectExchanges returns the exchanges that concern the subject key.
	SubjectExchanges(ctx context.Context, subjectKey string) ([]*exchange.Exchange, error)
	Parties(ctx context.Context) ([]*agreements.Party, error)
	AgreementVersions(ctx context.Context, id string) ([]*agreements.Agreement, error)
	Overrides(ctx context.Context) ([]*Override, error)
	// Notifications returns the notifications in the given states.
	Notifications(ctx context.Context, states ...string) ([]*Notification, error)
	Notification(ctx context.Context, exchangeID string) (*Notification, error)
	// Rectifications returns every rectification (with its notices) or, with
	// a subject key, that subject's.
	Rectifications(ctx context.Context, subjectKey string) ([]*Rectification, error)
	// Rectification returns one rectification with its notices.
	Rectification(ctx context.Context, id string) (*Rectification, error)
	// Notices returns a recipient's notices, only unacknowledged ones if pending.
	Notices(ctx context.Context, recipient string, pending bool) ([]*Notice, error)
	// Consents lists the consent register, or one party's part of it.
	Consents(ctx context.Context, party string) ([]*exchange.Consent, error)
	Consent(ctx context.Context, id string) (*exchange.Consent, error)
	// KeyResource returns what an idempotency key created (idem.ErrUnknown if nothing).
	KeyResource(ctx context.Context, scope, key string) (fingerprint, resource string, err error)
	Update(ctx context.Context, fn func(Tx) error) error
}

// Tx is a store transaction; the audit entries it appends commit with it.
type Tx interface {
	audit.Appender
	LockOverride(ctx context.Context, exchangeID string) (*Override, error)
	SaveOverride(ctx context.Context, o *Override) error
	LockNotification(ctx context.Context, exchangeID string) (*Notification, error)
	SaveNotification(ctx context.Context, n *Notification) error
	CreateRectification(ctx context.Context, r *Rectification) error
	LockNotice(ctx context.Context, id string) (*Notice, error)
	SaveNotice(ctx context.Context, n *Notice) error
	// CreateConsent records a consent (ErrConsentExists for a second one of
	// a party under one reference for one subject).
	CreateConsent(ctx context.Context, c *exchange.Consent) error
	LockConsent(ctx context.Context, id string) (*exchange.Consent, error)
	WithdrawConsent(ctx context.Context, c *exchange.Consent) error
	// ClaimKey claims an idempotency key for what this transaction creates.
	ClaimKey(ctx context.Context, scope, key, fingerprint, resource string, now time.Time) error
}
