package api

import "time"

// Override is an emergency disclosure and the DPO's review of it, the answer
// to POST /admin/v1/overrides/{id}/review.
type Override struct {
	ExchangeID string    `json:"exchange_id"`
	ReviewBy   time.Time `json:"review_by"`
	// State is awaiting or reviewed.
	State string `json:"state"`
	// Outcome is justified or not-justified, once reviewed.
	Outcome    string    `json:"outcome,omitempty"`
	Notes      string    `json:"notes,omitempty"`
	Reviewer   string    `json:"reviewer,omitempty"`
	ReviewedAt time.Time `json:"reviewed_at,omitzero"`
	CreatedAt  time.Time `json:"created_at"`
}

// NotificationRecord is the record of telling a disclosure's data subjects,
// the answer to POST /admin/v1/notifications/{id}.
type NotificationRecord struct {
	ExchangeID string `json:"exchange_id"`
	// State is due, withheld or told.
	State     string    `json:"state"`
	Reason    string    `json:"reason,omitempty"`
	ReviewAt  time.Time `json:"review_at,omitzero"`
	UpdatedBy string    `json:"updated_by"`
	UpdatedAt time.Time `json:"updated_at"`
	// ConfirmBy is when a DPO must confirm the withholding the sender made
	// at declaration; ConfirmedBy and ConfirmedAt say who did and when (a
	// DPO's own withholding is confirmed as made).
	ConfirmBy   time.Time `json:"confirm_by,omitzero"`
	ConfirmedBy string    `json:"confirmed_by,omitempty"`
	ConfirmedAt time.Time `json:"confirmed_at,omitzero"`
}

// Rectification records that a subject's data was corrected, erased or
// restricted, and the notices sent to everyone who received it: the answer
// to POST /admin/v1/rectifications.
type Rectification struct {
	ID         string `json:"id"`
	SubjectKey string `json:"subject_key"`
	// Action is corrected, erased or restricted.
	Action      string                `json:"action"`
	Description string                `json:"description"`
	RecordedBy  string                `json:"recorded_by"`
	CreatedAt   time.Time             `json:"created_at"`
	Notices     []RectificationNotice `json:"notices"`
}

// RectificationNotice is a notice as the sender's DPO sees it: which
// recipient was told, about which of the exchanges it received.
type RectificationNotice struct {
	ID              string    `json:"id"`
	RectificationID string    `json:"rectification_id"`
	Recipient       string    `json:"recipient"`
	Exchanges       []string  `json:"exchanges"`
	SentAt          time.Time `json:"sent_at"`
	AcknowledgedAt  time.Time `json:"acknowledged_at,omitzero"`
	Action          string    `json:"action"`
	Description     string    `json:"description"`
}
