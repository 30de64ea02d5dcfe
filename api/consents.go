package api

import "time"

// ConsentRecord records a data subject's consent in the consent register:
// the body of POST /admin/v1/consents. The subject is given as its
// identifier (turned into its keyed digest at once, never stored) or as the
// digest itself.
type ConsentRecord struct {
	// Party is the sending party the consent was given to.
	Party string `json:"party"`
	// ConsentRef is the reference a disclosure cites (subjects[].consent_ref).
	ConsentRef string   `json:"consent_ref"`
	Subject    *Subject `json:"subject,omitempty"`
	SubjectKey string   `json:"subject_key,omitempty"`
	// Purposes are the purpose codes the consent covers.
	Purposes []string `json:"purposes"`
	// GivenAt is when the subject gave it; absent: now.
	GivenAt time.Time `json:"given_at,omitzero"`
}

// Consent is one entry of the consent register.
type Consent struct {
	ID          string    `json:"id"`
	Party       string    `json:"party"`
	ConsentRef  string    `json:"consent_ref"`
	SubjectKey  string    `json:"subject_key"`
	Purposes    []string  `json:"purposes"`
	GivenAt     time.Time `json:"given_at"`
	WithdrawnAt time.Time `json:"withdrawn_at,omitzero"`
	WithdrawnBy string    `json:"withdrawn_by,omitempty"`
	RecordedBy  string    `json:"recorded_by"`
	RecordedAt  time.Time `json:"recorded_at"`
}

// Consents is the answer to GET /admin/v1/consents.
type Consents struct {
	Consents []Consent `json:"consents"`
}

// ConsentWithdrawal records that a subject withdrew a consent: the body of
// POST /admin/v1/consents/{id}/withdraw.
type ConsentWithdrawal struct {
	// WithdrawnAt is when the subject withdrew it; absent: now. It may not
	// lie in the future.
	WithdrawnAt time.Time `json:"withdrawn_at,omitzero"`
}
