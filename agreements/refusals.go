package agreements

import (
	"context"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/internal/valid"
)

// Every refused approval, activation or rejection of an agreement version,
// a party change or a party registration is recorded, whatever the reason,
// so that nobody can probe or retry one without a trace. The entry's
// outcome is "refused" and detail.refused says why, as one of these codes.
const (
	// RefusedRole: the actor's roles do not allow it.
	RefusedRole = "role"
	// RefusedAuthor: the two-person rule; the approver wrote the version.
	RefusedAuthor = "author"
	// RefusedProposer: the two-person rule; the approver proposed the change.
	RefusedProposer = "proposer"
	// RefusedRegistrant: the two-person rule; the approver registered the party.
	RefusedRegistrant = "registrant"
	// RefusedState: the version, change or registration is not in a
	// status that allows it (or the party moved on since the proposal).
	RefusedState = "state"
	// RefusedDigest: the digest named is not that of what is approved.
	RefusedDigest = "digest"
	// RefusedChecks: what would result fails its checks (an activation's
	// DPIA, dates and parties; a changed party's validation).
	RefusedChecks = "checks"
)

// Audit entry types for refused rejections of a party change or
// registration (refused approvals have their own types: see
// AuditPartyChangeApprovalRefused and AuditPartyRegistrationApprovalRefused).
const (
	AuditPartyChangeRejectionRefused       = "admin.party.change-rejection-refused"
	AuditPartyRegistrationRejectionRefused = "admin.party.registration-rejection-refused"
)

// ErrUnavailable: a refusal could not be recorded, so it is not answered
// as a refusal; nothing was done.
var ErrUnavailable = errors.New("the registry's record is unavailable; nothing was done")

// refusalReason is the code of a refusal err, or "" if err is no refusal
// to record (not found, or the store failed).
func refusalReason(err error) string {
	switch {
	case errors.Is(err, ErrForbidden):
		return RefusedRole
	case errors.Is(err, ErrSamePerson):
		return RefusedAuthor
	case errors.Is(err, ErrSameProposer):
		return RefusedProposer
	case errors.Is(err, ErrSameRegistrant):
		return RefusedRegistrant
	case errors.Is(err, ErrTransition), errors.Is(err, ErrChangeState):
		return RefusedState
	case errors.Is(err, ErrAgreementDigest), errors.Is(err, ErrDigestMismatch):
		return RefusedDigest
	}
	if _, ok := valid.As(err); ok {
		return RefusedChecks
	}
	return ""
}

// refuse records e as the refusal err, with its reason, in a transaction of
// its own that changes nothing else, and returns err. If the refusal
// cannot be recorded, it returns ErrUnavailable instead: a refusal is
// answered only once it is in the record.
func (s *Service) refuse(ctx context.Context, e *audit.Entry, reason string, err error) error {
	e.Outcome = "refused"
	e.Detail["refused"] = reason
	if aerr := s.store.Update(ctx, func(tx Tx) error { return tx.AppendAudit(ctx, e) }); aerr != nil {
		return fmt.Errorf("%w: recording a refusal (%s): %v", ErrUnavailable, reason, aerr)
	}
	return err
}

// maxGiven bounds what a refused entry keeps of a value the caller gave
// (an id or digest not yet checked).
const maxGiven = 200

// given is s as the caller gave it, cut to maxGiven bytes on a rune
// boundary.
func given(s string) string {
	if len(s) <= maxGiven {
		return s
	}
	s = s[:maxGiven]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
