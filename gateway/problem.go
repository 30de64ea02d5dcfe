package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/alerts"
	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/compliance"
	"github.com/gatehouse-gw/gatehouse/exchange"
	"github.com/gatehouse-gw/gatehouse/exchange/minimise"
	"github.com/gatehouse-gw/gatehouse/internal/idem"
	"github.com/gatehouse-gw/gatehouse/internal/logkey"
	"github.com/gatehouse-gw/gatehouse/internal/public"
	"github.com/gatehouse-gw/gatehouse/internal/valid"
)

// ProblemTypeBase prefixes every problem type URI; the fragment is the code,
// documented in docs/problems.md.
const ProblemTypeBase = "https://github.com/gatehouse-gw/gatehouse/blob/main/docs/problems.md#"

// Error is the gateway's one API error type: an HTTP status, a stable code,
// a public title and detail, and a cause that is logged but never sent.
type Error struct {
	Status   int
	Code     string
	Title    string
	Detail   string
	Fields   []api.FieldError
	Decision *api.Decision
	// Receipt is the signed receipt of the refusal's audit entry.
	Receipt string
	// RetryAfter, if set, is sent as Retry-After (seconds).
	RetryAfter int
	Cause      error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return e.Code + ": " + e.Cause.Error()
	}
	return e.Code + ": " + e.Title
}

func (e *Error) Unwrap() error { return e.Cause }

// problem returns an Error with the given status, code and title.
func problem(status int, code, title string) *Error {
	return &Error{Status: status, Code: code, Title: title}
}

func (e *Error) withDetail(detail string) *Error { e.Detail = detail; return e }
func (e *Error) withCause(err error) *Error      { e.Cause = err; return e }

// Stable problem codes.
const (
	CodeInvalidRequest   = "invalid-request"
	CodeInvalidJSON      = "invalid-json"
	CodeUnknownParty     = "party-unknown"
	CodeSuspendedParty   = "party-suspended"
	CodePendingParty     = "party-pending"
	CodeNoIdentity       = "identity-missing"
	CodeRevoked          = "certificate-revoked"
	CodeMalformedRequest = "malformed-request"
	CodeRefused          = "refused"
	CodeNotFound         = "not-found"
	CodeExchangeNotFound = "exchange-not-found"
	CodeExchangeState    = "exchange-state"
	CodeSizeMismatch     = "payload-size-mismatch"
	CodeTooLarge         = "payload-too-large"
	CodeDigestMismatch   = "payload-digest-mismatch"
	CodeInterrupted      = "payload-interrupted"
	CodeRange            = "range-not-satisfiable"
	CodeRecipientKey     = "recipient-key-missing"
	CodeMethodNotAllowed = "method-not-allowed"
	CodeUnsupportedMedia = "unsupported-media-type"
	CodeTokenMissing     = "token-missing"
	CodeTokenInvalid     = "token-invalid"
	CodeRoleForbidden    = "role-forbidden"
	CodeTwoPersonRule    = "two-person-rule"
	CodeAlreadyExists    = "already-registered"
	CodeLifecycle        = "lifecycle"
	CodeNeedsApproval    = "party-change-needs-approval"
	CodeChangeState      = "party-change-state"
	CodeChangeDigest     = "party-change-digest-mismatch"
	CodeAgreementDigest  = "agreement-digest-mismatch"
	CodeRequestNotFound  = "request-not-found"
	CodeKeyReused        = "idempotency-key-reused"
	CodeFieldsRefused    = "payload-fields-refused"
	CodeMalformed        = "payload-malformed"
	CodeFieldsAmbiguous  = "payload-fields-ambiguous"
	CodeFieldNested      = "payload-field-nested"
	CodeSubjectsExceeded = "payload-subjects-exceeded"
	CodeNotRequested     = "payload-subject-not-requested"
	CodeExpired          = "payload-expired"
	CodeStorageFull      = "storage-full"
	CodeRecordNotFound   = "record-not-found"
	CodeDeliveryNotFound = "delivery-not-found"
	CodeDeliveryState    = "delivery-state"
	CodeRecordState      = "record-state"
	CodeConsentExists    = "consent-exists"
	CodeUnavailable      = "unavailable"
	CodeInternal         = "internal"
)

// toError turns any error from the domain into an API error. Internal
// detail stays in Cause.
func toError(err error) *Error {
	var (
		apiErr        *Error
		fiberE        *fiber.Error
		refused       *exchange.RefusedError
		body          *exchange.BodyError
		fieldsRefused *minimise.RefusedError
		ambiguous     *minimise.AmbiguousError
		nested        *minimise.NestedError
		mismatch      *agreements.DigestMismatchError
		subjects      *minimise.SubjectsError
	)
	if errors.As(err, &apiErr) {
		return apiErr
	}
	if v, ok := valid.As(err); ok {
		e := problem(http.StatusBadRequest, CodeInvalidRequest, "The request is not valid.").withCause(err)
		for _, p := range v {
			e.Fields = append(e.Fields, api.FieldError{Field: p.Path, Rule: p.Rule, Message: p.Message})
		}
		e.Detail = v[0].String()
		if len(v) > 1 {
			e.Detail += " (and " + strconv.Itoa(len(v)-1) + " more)"
		}
		return e
	}
	switch {
	case errors.As(err, &refused):
		e := problem(http.StatusForbidden, CodeRefused, "The disclosure is not allowed.").withCause(err)
		e.Decision = decisionView(&refused.Decision)
		e.Receipt = refused.Receipt
		if failed := refused.Decision.Failed(); len(failed) > 0 {
			e.Detail = failed[0].Code + ": " + failed[0].Message
		}
		return e
	case errors.Is(err, agreements.ErrNotFound):
		return problem(http.StatusNotFound, CodeNotFound, "Not found.").withDetail(publicDetail(err)).withCause(err)
	case errors.Is(err, agreements.ErrExists):
		return problem(http.StatusConflict, CodeAlreadyExists, "Already registered.").withDetail(publicDetail(err)).withCause(err)
	case errors.Is(err, agreements.ErrForbidden):
		return problem(http.StatusForbidden, CodeRoleForbidden, "Your role does not allow this.").withDetail(publicDetail(err)).withCause(err)
	case errors.Is(err, agreements.ErrSamePerson):
		return problem(http.StatusForbidden, CodeTwoPersonRule, "A DPO other than the agreement's author must approve it.").withCause(err)
	case errors.As(err, &mismatch):
		e := problem(http.StatusConflict, CodeAgreementDigest, "The agreement version is not the document you named; nothing was changed.").withDetail(mismatch.Error()).withCause(err)
		e.Fields = []api.FieldError{{Field: "sha256", Rule: "matches", Message: fmt.Sprintf("is %s; expected %s, the digest of %s", mismatch.Given, mismatch.Expected, mismatch.Ref)}}
		return e
	case errors.Is(err, agreements.ErrSameRegistrant):
		return problem(http.StatusForbidden, CodeTwoPersonRule, "Someone other than the party's registrant must approve its registration.").withCause(err)
	case errors.Is(err, agreements.ErrSameProposer):
		return problem(http.StatusForbidden, CodeTwoPersonRule, "Someone other than the change's proposer must approve it.").withCause(err)
	case errors.Is(err, agreements.ErrNeedsApproval):
		return problem(http.StatusConflict, CodeNeedsApproval, "This change to a party needs a second person's approval: propose it.").withDetail(publicDetail(err)).withCause(err)
	case errors.Is(err, agreements.ErrChangeState):
		return problem(http.StatusConflict, CodeChangeState, "The party change's status does not allow this.").withDetail(publicDetail(err)).withCause(err)
	case errors.Is(err, agreements.ErrDigestMismatch):
		return problem(http.StatusConflict, CodeChangeDigest, "The digest is not that of the proposed change.").withDetail(publicDetail(err)).withCause(err)
	case errors.Is(err, agreements.ErrTransition):
		return problem(http.StatusConflict, CodeLifecycle, "The agreement's status does not allow this.").withDetail(publicDetail(err)).withCause(err)
	case errors.Is(err, idem.ErrReused):
		return problem(http.StatusUnprocessableEntity, CodeKeyReused, "This Idempotency-Key was used for a different request.").withCause(err)
	case errors.Is(err, exchange.ErrRequestNotFound):
		return problem(http.StatusNotFound, CodeRequestNotFound, "No such request.").withCause(err)
	case errors.As(err, &fieldsRefused):
		e := problem(http.StatusUnprocessableEntity, CodeFieldsRefused, "The payload has fields this flow does not allow; nothing was stored.").withCause(err)
		e.Detail = "fields outside the allowlist: " + strings.Join(fieldsRefused.Fields, ", ")
		for _, f := range fieldsRefused.Fields {
			e.Fields = append(e.Fields, api.FieldError{Field: f, Rule: "allowlist", Message: "is not in the flow's field allowlist"})
		}
		return e
	case errors.As(err, &ambiguous):
		e := problem(http.StatusUnprocessableEntity, CodeFieldsAmbiguous, "The payload has fields whose names differ only in case or Unicode form; nothing was stored.").withCause(err)
		e.Detail = "ambiguous fields: " + strings.Join(ambiguous.Fields, ", ")
		for _, f := range ambiguous.Fields {
			e.Fields = append(e.Fields, api.FieldError{Field: f, Rule: "unambiguous", Message: "is the same name as another field of the record once case and Unicode form are set aside"})
		}
		return e
	case errors.As(err, &nested):
		e := problem(http.StatusUnprocessableEntity, CodeFieldNested, "The payload nests a field this flow pseudonymises; nothing was stored.").withCause(err)
		e.Detail = nested.Error()
		e.Fields = []api.FieldError{{Field: nested.Field, Rule: "top-level", Message: fmt.Sprintf("holds %q, which this flow pseudonymises only as a top-level field", nested.Nested)}}
		return e
	case errors.As(err, &subjects) && subjects.Unrequested:
		return problem(http.StatusUnprocessableEntity, CodeNotRequested, "The answer holds a record about someone the request did not name; nothing was stored.").withDetail(subjects.Error()).withCause(err)
	case errors.As(err, &subjects):
		return problem(http.StatusUnprocessableEntity, CodeSubjectsExceeded, "The payload is about more people than were declared or the flow allows; nothing was stored.").withDetail(subjects.Error()).withCause(err)
	case errors.Is(err, minimise.ErrFormat):
		return problem(http.StatusBadRequest, CodeMalformed, "The payload is not well-formed for its content type; nothing was stored.").withDetail(publicDetail(err)).withCause(err)
	case errors.Is(err, exchange.ErrExpired):
		return problem(http.StatusGone, CodeExpired, "The payload's retention has ended and it was deleted.").withCause(err)
	case errors.Is(err, exchange.ErrNotFound):
		return problem(http.StatusNotFound, CodeExchangeNotFound, "No such exchange.").withCause(err)
	case errors.Is(err, exchange.ErrState):
		return problem(http.StatusConflict, CodeExchangeState, "The exchange is not in a state that allows this.").withDetail(publicDetail(err)).withCause(err)
	case errors.Is(err, exchange.ErrSizeMismatch):
		return problem(http.StatusBadRequest, CodeSizeMismatch, "The payload is not the size that was declared; nothing was stored.").withDetail(publicDetail(err)).withCause(err)
	case errors.Is(err, exchange.ErrOneRequestTooLarge):
		return problem(http.StatusRequestEntityTooLarge, CodeOneRequestTooLarge, "The payload is too large to send with its declaration.").
			withDetail(publicDetail(err) + "; declare with POST /v1/exchanges (application/json), then upload with PUT /v1/exchanges/{id}/payload").withCause(err)
	case errors.Is(err, exchange.ErrTooLarge):
		return problem(http.StatusRequestEntityTooLarge, CodeTooLarge, "The payload is larger than this gateway accepts.").withCause(err)
	case errors.Is(err, exchange.ErrDigestMismatch):
		return problem(http.StatusBadRequest, CodeDigestMismatch, "The payload's SHA-256 is not the one declared; nothing was stored.").withDetail(publicDetail(err)).withCause(err)
	case errors.Is(err, exchange.ErrRange):
		return problem(http.StatusRequestedRangeNotSatisfiable, CodeRange, "The range is outside the payload.").withDetail(publicDetail(err)).withCause(err)
	case errors.Is(err, exchange.ErrRecipientKey):
		return problem(http.StatusConflict, CodeRecipientKey, "The recipient has no encryption key registered; ask the gateway's administrators.").withCause(err)
	case errors.As(err, &body):
		return problem(http.StatusBadRequest, CodeInterrupted, "The payload upload was interrupted; nothing was stored. Upload it again.").withCause(err)
	case errors.Is(err, exchange.ErrUnavailable), errors.Is(err, compliance.ErrUnavailable), errors.Is(err, agreements.ErrUnavailable):
		return unavailable(err)
	case errors.Is(err, exchange.ErrStorageFull):
		return problem(http.StatusInsufficientStorage, CodeStorageFull, "The object store is full or over its quota; nothing was stored.").withCause(err)
	case errors.Is(err, compliance.ErrNotFound):
		return problem(http.StatusNotFound, CodeRecordNotFound, "No such override, notification or notice.").withCause(err)
	case errors.Is(err, compliance.ErrConsentExists):
		return problem(http.StatusConflict, CodeConsentExists, "This consent is already recorded.").withDetail(publicDetail(err)).withCause(err)
	case errors.Is(err, compliance.ErrState):
		return problem(http.StatusConflict, CodeRecordState, "The record's state does not allow this.").withDetail(publicDetail(err)).withCause(err)
	case errors.Is(err, alerts.ErrNotFound):
		return problem(http.StatusNotFound, CodeDeliveryNotFound, "No such alert delivery.").withCause(err)
	case errors.Is(err, alerts.ErrState):
		return problem(http.StatusConflict, CodeDeliveryState, "The alert was delivered already.").withCause(err)
	case errors.As(err, &fiberE):
		switch fiberE.Code {
		case http.StatusNotFound:
			return problem(http.StatusNotFound, CodeNotFound, "No such resource.")
		case http.StatusMethodNotAllowed:
			return problem(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "That method is not allowed here.")
		case http.StatusRequestEntityTooLarge:
			return problem(http.StatusRequestEntityTooLarge, CodeTooLarge, "The request body is too large.")
		}
		return problem(fiberE.Code, "http-"+strconv.Itoa(fiberE.Code), http.StatusText(fiberE.Code)).withDetail(fiberE.Message)
	}
	return problem(http.StatusInternalServerError, CodeInternal, "Something went wrong inside the gateway; nothing was disclosed.").withCause(err)
}

// unavailable is the fail-closed answer when storage or the audit record
// cannot be reached.
func unavailable(cause error) *Error {
	e := problem(http.StatusServiceUnavailable, CodeUnavailable, "Storage is unavailable; nothing was done. Try again shortly.").withCause(cause)
	e.RetryAfter = 5
	return e
}

// publicDetail is the client-safe message a domain error carries
// (public.Errorf); a chain without one shows no detail, so the text of a
// wrapped cause never reaches a client.
func publicDetail(err error) string { return public.Message(err) }

// errorHandler renders every error as RFC 9457 problem+json and logs it
// once, with the same id the client sees.
func (s *Server) errorHandler(c *fiber.Ctx, err error) error {
	e := toError(err)
	id := requestID(c)
	level := slog.LevelInfo
	if e.Status >= 500 {
		level = slog.LevelError
	}
	attrs := []any{logkey.ErrorID, id, logkey.Code, e.Code, logkey.Status, e.Status,
		logkey.Method, clip(c.Method(), 16), logkey.Path, clip(c.Path(), maxInstance)}
	if p := callerParty(c); p != "" {
		attrs = append(attrs, logkey.Party, p)
	}
	if e.Cause != nil {
		attrs = append(attrs, logkey.Error, clip(e.Cause.Error(), maxDetail))
	}
	s.log.Log(c.UserContext(), level, "request failed", attrs...)

	body := api.Problem{
		Type:     ProblemTypeBase + e.Code,
		Title:    e.Title,
		Status:   e.Status,
		Detail:   clip(e.Detail, maxDetail),
		Instance: clip(c.OriginalURL(), maxInstance),
		Code:     e.Code,
		ErrorID:  id,
		Errors:   clipFields(e.Fields),
		Decision: e.Decision,
		Receipt:  e.Receipt,
	}
	b, mErr := json.Marshal(&body)
	if mErr != nil {
		return mErr
	}
	if e.RetryAfter > 0 {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(e.RetryAfter))
	}
	c.Set(fiber.HeaderContentType, api.MediaProblem)
	return c.Status(e.Status).Send(b)
}

// Caps of a problem document and its log line, whatever the request held:
// an answer stays well under 64 KiB and a log line under a few KiB.
const (
	maxDetail   = 1024
	maxInstance = 256
	maxFields   = 100
	maxFieldMsg = 300
)

// clip cuts s to at most n bytes, on a character boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n - len("…")
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

func clipFields(fs []api.FieldError) []api.FieldError {
	if len(fs) > maxFields {
		fs = fs[:maxFields]
	}
	out := make([]api.FieldError, len(fs))
	for i, f := range fs {
		out[i] = api.FieldError{Field: clip(f.Field, maxInstance), Rule: clip(f.Rule, 64), Message: clip(f.Message, maxFieldMsg)}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
