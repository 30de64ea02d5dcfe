package exchange

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/exchange/minimise"
	"github.com/gatehouse-gw/gatehouse/exchange/seal"
	"github.com/gatehouse-gw/gatehouse/internal/logkey"
	"github.com/gatehouse-gw/gatehouse/internal/metrics"
	"github.com/gatehouse-gw/gatehouse/internal/public"
	"github.com/gatehouse-gw/gatehouse/internal/valid"
)

// ErrRecipientKey: the recipient has no usable encryption key registered.
var ErrRecipientKey = errors.New("recipient has no usable encryption key registered")

// BodyError wraps a failure to read the request body (client went away).
type BodyError struct{ Err error }

func (e *BodyError) Error() string { return "reading payload: " + e.Err.Error() }
func (e *BodyError) Unwrap() error { return e.Err }

// Upload streams the payload of a declared exchange from body, sealing it for
// the recipient on the way into object storage. contentLength is the length
// the client announced, or -1 if it did not. The payload is never held in
// memory as a whole and never stored in clear; on any failure no object
// remains and the exchange can be uploaded again.
func (s *Service) Upload(ctx context.Context, caller, id string, body io.Reader, contentLength int64) (*Exchange, error) {
	a, err := s.admitUpload(ctx, caller, id, contentLength)
	if err != nil {
		return nil, err
	}
	return s.sealPayload(ctx, caller, a, body)
}

// uploadDeclared is Upload of the exchange e that Send has just declared
// (or found by its idempotency key), as it was stored: it is not read
// again. What could have changed since is checked again where Upload
// checks it, in the transaction that records the delivery.
func (s *Service) uploadDeclared(ctx context.Context, caller string, e *Exchange, body io.Reader) (*Exchange, error) {
	a, err := s.admit(ctx, caller, e, -1)
	if err != nil {
		return nil, err
	}
	return s.sealPayload(ctx, caller, a, body)
}

// CheckUpload runs every check Upload runs before it reads a byte of the
// body, recording a refused re-decision as Upload does: the gateway calls it
// when a client asks (Expect: 100-continue) whether to send the body at all.
func (s *Service) CheckUpload(ctx context.Context, caller, id string, contentLength int64) error {
	_, err := s.admitUpload(ctx, caller, id, contentLength)
	return err
}

// admitted is an upload that passed the checks made before the body is read.
type admitted struct {
	e        *Exchange
	reg      *agreements.Registry
	decision agreements.Decision
	now      time.Time
}

// admitUpload checks that caller may upload contentLength bytes (-1: not
// announced) to exchange id now, and decides the exchange again.
func (s *Service) admitUpload(ctx context.Context, caller, id string, contentLength int64) (*admitted, error) {
	e, err := s.store.Exchange(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.admit(ctx, caller, e, contentLength)
}

// admit is admitUpload of the exchange e as read.
func (s *Service) admit(ctx context.Context, caller string, e *Exchange, contentLength int64) (*admitted, error) {
	if e.Sender != caller {
		return nil, ErrNotFound
	}
	if !e.State.Uploadable() {
		return nil, public.Errorf(ErrState, "exchange is %s", e.State)
	}
	size := e.Meta.DeclaredSize
	if size > s.cfg.MaxPayloadSize {
		return nil, ErrTooLarge
	}
	if contentLength >= 0 && contentLength != size {
		return nil, public.Errorf(ErrSizeMismatch, "Content-Length is %d, declared size is %d", contentLength, size)
	}

	// Decide again: a suspension or a lapsed review takes effect on the next
	// request, and an upload is a request.
	reg, err := s.registry.Snapshot(ctx)
	if err != nil {
		return nil, unavailable(err)
	}
	now := s.now().UTC()
	decision, err := s.decide(ctx, reg, e.Sender, e.Recipient, e.AgreementID, e.ID, &e.Meta, now)
	if err != nil {
		return nil, err
	}
	decision = noWorseThan(e.Decision, decision)
	if !decision.Outcome.Allowed() {
		entry := decisionEntry(now, caller, e.Recipient, &e.Meta, &decision)
		entry.Exchange = e.ID
		entry.Detail["stage"] = "upload"
		if err := s.update(ctx, func(tx Tx) error { return tx.AppendAudit(ctx, entry) }); err != nil {
			return nil, err
		}
		return nil, &RefusedError{Decision: decision, Receipt: s.receipt(entry)}
	}
	// The flow may have gained field rules since the declaration.
	if err := minimisable(decidedFlow(reg, &decision), e.Meta.ContentType); err != nil {
		return nil, err
	}
	return &admitted{e: e, reg: reg, decision: decision, now: now}, nil
}

// noWorseThan holds a re-decision (at upload or fetch) to the declaration's
// outcome: one that is worse refuses, and is never turned into an override
// the declaration did not have, which would deliver data under an override
// that no DPO review and no export knows of. A re-decision as good as the
// declaration or better stands, but an override declared stays the
// override recorded (and reviewed) for the exchange.
func noWorseThan(declared, again agreements.Decision) agreements.Decision {
	switch {
	case !again.Outcome.Allowed():
		return again
	case declared.Outcome == agreements.Allow && again.Outcome == agreements.AllowOverride:
		refused := again
		refused.Outcome, refused.ReviewBy = agreements.Deny, time.Time{}
		refused.Checks = slices.DeleteFunc(slices.Clone(again.Checks), func(c agreements.Check) bool { return c.Code == agreements.CheckOverrideEmergency })
		refused.Checks = append(refused.Checks, agreements.Check{Code: agreements.CheckOverrideEmergency, Passed: false,
			Message: "the declaration was allowed without an override and the checks now fail: an override is decided at declaration, with its review, never at a later step; declare the exchange again"})
		return refused
	case declared.Outcome == agreements.AllowOverride:
		return declared
	}
	return again
}

// sealPayload streams an admitted upload's body into object storage and records
// the delivery.
func (s *Service) sealPayload(ctx context.Context, caller string, a *admitted, body io.Reader) (*Exchange, error) {
	sp, err := s.sealObject(ctx, a, body)
	if err != nil {
		if sp != nil && sp.failed {
			s.markFailed(ctx, a.e.ID, caller, err)
		}
		return nil, err
	}
	return s.recordDelivery(ctx, caller, a, sp, nil)
}

// sealedPayload is a payload sealed and stored whose delivery is not yet
// recorded.
type sealedPayload struct {
	res         *sealResult
	envelope    []byte
	retainUntil time.Time
	policy      *minimise.Policy
	// failed says, on an error, that the upload itself failed (the body, its
	// minimisation, its digest or the store): what the exchange records as
	// exchange.failed. The other errors leave it as it was.
	failed bool
}

// sealObject seals an admitted upload's body into a new object and the
// manifest for the recipient. On an error no object remains.
func (s *Service) sealObject(ctx context.Context, a *admitted, body io.Reader) (*sealedPayload, error) {
	e, reg, decision, now, size := a.e, a.reg, a.decision, a.now, a.e.Meta.DeclaredSize
	recipientKey, err := s.keys.parse(reg.Party(e.Recipient).EncryptionKey)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrRecipientKey, e.Recipient, err)
	}
	policy, format, err := s.minimisation(ctx, reg, &decision, e)
	if err != nil {
		return nil, err
	}
	retainUntil := now.Add(s.retention(reg, &decision))

	dataKey := seal.NewDataKey()
	defer seal.Wipe(dataKey)
	aad := seal.AAD(e.ID, decision.Agreement, e.Recipient)
	p := &pipeline{
		key: PayloadPrefix + e.ID + "/" + uuid.NewString(), size: size,
		dataKey: dataKey, aad: aad, policy: policy, format: format, retainUntil: retainUntil,
	}
	res, err := s.sealInto(ctx, p, body)
	if err != nil {
		return &sealedPayload{failed: true}, err
	}
	sp := &sealedPayload{res: res, retainUntil: retainUntil, policy: policy}
	if want := e.Meta.DeclaredSHA256; want != "" && want != res.rawDigest && want != s.payloadDigest(res.rawDigest) {
		s.removeObject(ctx, e.ID, res.info, "digest mismatch")
		sp.failed = true
		return sp, public.Errorf(ErrDigestMismatch, "got %s", res.rawDigest)
	}

	manifest := &seal.Manifest{
		Version:     seal.ManifestVersion,
		Issuer:      s.cfg.Issuer,
		IssuedAt:    now,
		Exchange:    e.ID,
		Agreement:   decision.Agreement,
		Sender:      e.Sender,
		Recipient:   e.Recipient,
		Purpose:     e.Meta.Purpose,
		ContentType: e.Meta.ContentType,
		RequestRef:  e.Meta.RequestRef,
		Minimised:   minimisation(res.report),
		Plaintext:   seal.Digest{Size: res.size, SHA256: res.digest},
		Ciphertext:  seal.Digest{Size: res.info.Size, SHA256: res.ctDigest},
		Object:      seal.Object{Bucket: res.info.Bucket, Key: res.info.Key, Version: res.info.Version},
		Encryption:  seal.NewEncryption(dataKey, aad),
	}
	if sp.envelope, err = s.signer.SealManifest(manifest, recipientKey); err != nil {
		s.removeObject(ctx, e.ID, res.info, "sealing manifest failed")
		return nil, fmt.Errorf("sealing manifest: %w", err)
	}
	return sp, nil
}

// removeObject removes the object of an upload whose delivery is not
// recorded; one it cannot remove is left to the orphan reconciler.
func (s *Service) removeObject(ctx context.Context, exchangeID string, info ObjectInfo, reason string) {
	if err := s.objects.Remove(context.WithoutCancel(ctx), info.Key, info.Version); err != nil {
		s.log.Error("removing payload object failed", logkey.Exchange, exchangeID, logkey.Reason, reason, logkey.Error, err)
	}
}

// recordDelivery records that the sealed payload sp of the admitted upload a
// was delivered: the exchange delivered, its exchange.sealed entry, and for
// an answer the request answered, in one transaction. With declare nil the
// exchange is stored already and is read again, under its lock, to check
// it can still take its payload; otherwise declare records the exchange's
// declaration, given the exchange as it is delivered, first in the same
// transaction (Send's one-request form). On an error the object is removed.
func (s *Service) recordDelivery(ctx context.Context, caller string, a *admitted, sp *sealedPayload, declare func(Tx, *Exchange) error) (*Exchange, error) {
	e, decision, now, res := a.e, a.decision, a.now, sp.res
	detail := map[string]string{"object": res.info.Key, "object_version": res.info.Version, "received_digest": s.payloadDigest(res.rawDigest)}
	digest := s.payloadDigest(res.digest)
	if res.report != nil {
		detail["minimised"] = res.report.Summary()
		detail["field_rules"] = sp.policy.Rules()
	}
	var (
		sealed *Exchange
		entry  *audit.Entry
	)
	err := s.update(ctx, func(tx Tx) error {
		sealed, entry = nil, nil
		var cur *Exchange
		if declare == nil {
			var err error
			if cur, err = tx.LockExchange(ctx, e.ID); err != nil {
				return err
			}
			if !cur.State.Uploadable() {
				return public.Errorf(ErrState, "exchange is %s", cur.State)
			}
		} else {
			// A change may run more than once: each run starts from the
			// exchange as declared.
			declared := *e
			cur = &declared
		}
		cur.AgreementID, cur.AgreementVersion = splitRef(decision.Agreement)
		cur.Decision = decision
		cur.State = StateDelivered
		cur.Payload = Payload{Size: res.size, Digest: digest, CiphertextSize: res.info.Size, ObjectKey: res.info.Key, ObjectVersion: res.info.Version}
		cur.Envelope = sp.envelope
		cur.UpdatedAt, cur.DeliveredAt, cur.ExpiresAt = now, now, sp.retainUntil
		entry = &audit.Entry{
			Time:          now,
			Type:          audit.TypeExchangeSealed,
			Actor:         caller,
			Exchange:      cur.ID,
			Agreement:     decision.Agreement,
			Recipient:     cur.Recipient,
			Outcome:       string(decision.Outcome),
			Purpose:       cur.Meta.Purpose,
			Categories:    cur.Meta.DataCategories,
			Subjects:      cur.Meta.SubjectKeys,
			PayloadDigest: digest,
			PayloadSize:   res.size,
			Detail:        detail,
		}
		if declare != nil {
			if err := declare(tx, cur); err != nil {
				return err
			}
			if err := tx.AppendAudit(ctx, entry); err != nil {
				return err
			}
		} else {
			if err := tx.AppendAudit(ctx, entry); err != nil {
				return err
			}
			if err := tx.SaveExchange(ctx, cur); err != nil {
				return err
			}
		}
		if cur.RequestID != "" {
			if err := markAnswered(ctx, tx, cur, now); err != nil {
				return err
			}
		}
		sealed = cur
		return nil
	})
	if err != nil {
		s.removeObject(ctx, e.ID, res.info, "recording delivery failed")
		return nil, err
	}
	metrics.BytesSealed.WithLabelValues(caller, sealed.AgreementID).Add(float64(res.size))
	sealed.Payload.SHA256 = res.digest // for the answer only
	sealed.Receipts = appendReceipt(nil, s.receipt(entry))
	return sealed, nil
}

// minimisation returns what is done to a structured payload record by
// record, and its format: the flow's field rules, the count of distinct
// subjects (by the flow's subject field, else records) against the
// declared count and the flow's limit, and, for an answer to a request, that
// every record is about a subject the request named. Nil when none applies
// or the payload is not structured (refused before the body is read if the
// flow has field rules).
func (s *Service) minimisation(ctx context.Context, reg *agreements.Registry, d *agreements.Decision, e *Exchange) (*minimise.Policy, string, error) {
	format := minimise.Format(e.Meta.ContentType)
	f := decidedFlow(reg, d)
	if format == "" {
		return nil, "", nil
	}
	p := &minimise.Policy{MaxSubjects: subjectLimit(f, &e.Meta)}
	if f != nil && f.Fields != nil {
		id, _ := splitRef(d.Agreement)
		p.Allow, p.Pseudonymise, p.OnExtra, p.Subject = f.Fields.Allow, f.Fields.Pseudonymise, f.Fields.OnExtra, f.Fields.Subject
		p.Key = minimise.PseudonymKey(s.cfg.PseudonymKey, id)
	}
	if e.RequestID != "" && p.Subject != "" {
		q, err := s.store.Request(ctx, e.RequestID)
		if err != nil {
			return nil, "", unavailable(err)
		}
		typ, key := p.Subject, s.cfg.SubjectKey
		p.Requested = func(value string) bool {
			return slices.Contains(q.Meta.SubjectKeys, audit.SubjectKey(key, typ, value))
		}
	}
	if !hasFieldRules(f) && p.MaxSubjects == 0 && p.Requested == nil {
		return nil, "", nil
	}
	return p, format, nil
}

// subjectLimit is the most distinct subjects a payload may be about: the
// declared count, and the flow's limit if lower; zero if neither is set.
func subjectLimit(f *agreements.Flow, m *Meta) int {
	limit := m.SubjectCount
	if f != nil && f.MaxSubjects > 0 && (limit == 0 || f.MaxSubjects < limit) {
		limit = f.MaxSubjects
	}
	return limit
}

// hasFieldRules reports whether a flow keeps only some fields or
// pseudonymises some: such a flow takes only payloads it can minimise.
func hasFieldRules(f *agreements.Flow) bool {
	return f != nil && f.Fields != nil && (len(f.Fields.Allow) > 0 || len(f.Fields.Pseudonymise) > 0)
}

// minimisable refuses a content type the flow's field rules cannot be
// applied to: such a payload would go with every field, in clear.
func minimisable(f *agreements.Flow, contentType string) error {
	if !hasFieldRules(f) || minimise.Format(contentType) != "" {
		return nil
	}
	return valid.Errors{{Path: "content_type", Rule: "structured",
		Message: fmt.Sprintf("%q cannot be minimised: this flow keeps only listed fields or pseudonymises some, so send JSON or CSV", contentType)}}
}

// decidedFlow is the agreement flow a decision matched, or nil.
func decidedFlow(reg *agreements.Registry, d *agreements.Decision) *agreements.Flow {
	id, _ := splitRef(d.Agreement)
	a := reg.Agreement(id)
	if a == nil || d.Flow < 0 || d.Flow >= len(a.Flows) {
		return nil
	}
	return &a.Flows[d.Flow]
}

// retention is how long a delivered payload is kept: the agreement's
// retention, or the gateway's default for an emergency under no agreement.
func (s *Service) retention(reg *agreements.Registry, d *agreements.Decision) time.Duration {
	id, _ := splitRef(d.Agreement)
	if a := reg.Agreement(id); a != nil && a.Retention > 0 {
		return a.Retention.Std()
	}
	return s.cfg.DefaultRetention
}

// pipeline is one upload's sealing parameters.
type pipeline struct {
	key         string
	size        int64 // declared body size
	dataKey     []byte
	aad         []byte
	policy      *minimise.Policy
	format      string
	retainUntil time.Time
}

// sealResult is what an upload stored.
type sealResult struct {
	rawDigest string // SHA-256 of the body as received
	digest    string // SHA-256 of the plaintext sealed (after minimisation)
	size      int64  // size of the plaintext sealed
	ctDigest  string // SHA-256 of the ciphertext stored
	info      ObjectInfo
	report    *minimise.Report
}

// minimisation is the manifest's account of a minimisation report.
func minimisation(r *minimise.Report) *seal.Minimisation {
	if r == nil {
		return nil
	}
	return &seal.Minimisation{Format: r.Format, Mode: r.Mode, Records: r.Records, Subjects: r.Subjects, Stripped: r.Stripped, Pseudonymised: r.Pseudonymised}
}

// errPutEnded stops the encrypting copy once object storage stops reading.
var errPutEnded = errors.New("object store stopped reading")

// sealInto streams the body through SHA-256, minimisation (if any) and the
// streaming AEAD into a new object. Without minimisation the ciphertext size
// is known in advance and the store gets it exactly.
func (s *Service) sealInto(ctx context.Context, p *pipeline, body io.Reader) (*sealResult, error) {
	ctSize := int64(-1)
	if p.policy == nil {
		var err error
		if ctSize, err = seal.CiphertextSize(p.size); err != nil {
			return nil, err
		}
	}
	res := &sealResult{}
	pr, pw := io.Pipe()
	copied := make(chan error, 1)
	go func() {
		err := s.encryptBody(pw, body, p, res)
		pw.CloseWithError(err) // nil: the reader sees EOF
		copied <- err
	}()
	info, putErr := s.objects.Put(ctx, p.key, pr, ctSize, p.retainUntil)
	pr.CloseWithError(errPutEnded)
	copyErr := <-copied

	switch {
	case putErr == nil && copyErr == nil:
		res.info = info
		return res, nil
	case putErr == nil:
		// The store took the object but the body had more to give.
		_ = s.objects.Remove(context.WithoutCancel(ctx), info.Key, info.Version)
		if errors.Is(copyErr, errPutEnded) {
			copyErr = public.Errorf(ErrSizeMismatch, "body is longer than the declared %d bytes", p.size)
		}
		return nil, copyErr
	case copyErr != nil && !errors.Is(copyErr, errPutEnded):
		return nil, copyErr
	case errors.Is(putErr, ErrStorageFull):
		return nil, putErr
	}
	return nil, unavailable(putErr)
}

// counter counts bytes written through it.
type counter struct{ n int64 }

func (c *counter) Write(b []byte) (int, error) { c.n += int64(len(b)); return len(b), nil }

// encryptBody reads exactly p.size bytes of body, minimises them if the flow
// says so, and encrypts the result into w, recording sizes and digests in res.
func (s *Service) encryptBody(w io.Writer, body io.Reader, p *pipeline, res *sealResult) error {
	ctHash := sha256.New()
	enc, err := seal.Encrypt(io.MultiWriter(w, ctHash), p.dataKey, p.aad)
	if err != nil {
		return err
	}
	rawHash, rawCount := sha256.New(), &counter{}
	raw := &bodyReader{r: io.TeeReader(io.LimitReader(body, p.size+1), io.MultiWriter(rawHash, rawCount))}
	var plainHash hash.Hash = rawHash
	plainCount := rawCount
	out := io.Writer(enc)
	if p.policy != nil {
		plainHash, plainCount = sha256.New(), &counter{}
		out = io.MultiWriter(enc, plainHash, plainCount)
		res.report, err = minimise.Copy(out, raw, p.format, p.policy)
		if err == nil {
			// The decoder may stop before the body's end; what follows must
			// be nothing, and the body exactly its declared size.
			_, err = io.Copy(io.Discard, raw)
		}
	} else {
		bp := copyBuffers.Get().(*[]byte)
		_, err = io.CopyBuffer(out, raw, *bp)
		copyBuffers.Put(bp)
	}
	switch {
	case errors.Is(err, errPutEnded):
		return err
	case raw.err != nil:
		return &BodyError{Err: raw.err}
	case rawCount.n > p.size:
		return public.Errorf(ErrSizeMismatch, "body is longer than the declared %d bytes", p.size)
	case err != nil:
		return err // minimisation refused or found the payload malformed
	case rawCount.n < p.size:
		return public.Errorf(ErrSizeMismatch, "body has %d bytes, declared size is %d", rawCount.n, p.size)
	}
	if err := enc.Close(); err != nil {
		return err
	}
	res.rawDigest = hex.EncodeToString(rawHash.Sum(nil))
	res.digest = hex.EncodeToString(plainHash.Sum(nil))
	res.size = plainCount.n
	res.ctDigest = hex.EncodeToString(ctHash.Sum(nil))
	return nil
}

// copyBuffers lends the buffers uploads are copied through.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// bodyReader remembers a read error from the request body, so that a client
// that went away is told apart from a malformed payload.
type bodyReader struct {
	r   io.Reader
	err error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		b.err = err
	}
	return n, err
}

// markFailed records that an upload did not complete. The exchange stays
// uploadable; failing to record this is logged, not fatal, because nothing
// was delivered.
func (s *Service) markFailed(ctx context.Context, id, actor string, cause error) {
	ctx = context.WithoutCancel(ctx)
	err := s.update(ctx, func(tx Tx) error {
		e, err := tx.LockExchange(ctx, id)
		if err != nil {
			return err
		}
		if !e.State.Uploadable() {
			return nil
		}
		now := s.now().UTC()
		e.State, e.UpdatedAt = StateFailed, now
		if err := tx.AppendAudit(ctx, &audit.Entry{
			Time: now, Type: audit.TypeExchangeFailed, Actor: actor, Exchange: id,
			Agreement: e.AgreementRef(), Recipient: e.Recipient,
			Detail: map[string]string{"reason": failureReason(cause)},
		}); err != nil {
			return err
		}
		return tx.SaveExchange(ctx, e)
	})
	if err != nil {
		s.log.Warn("recording failed upload", slog.String(logkey.Exchange, id), slog.Any(logkey.Error, err))
	}
}

// failureReason is a short, stable reason for the audit record; it never
// includes payload content.
func failureReason(err error) string {
	var (
		be        *BodyError
		refused   *minimise.RefusedError
		ambiguous *minimise.AmbiguousError
		nested    *minimise.NestedError
		subjects  *minimise.SubjectsError
	)
	switch {
	case errors.Is(err, ErrSizeMismatch):
		return "size-mismatch"
	case errors.Is(err, ErrDigestMismatch):
		return "digest-mismatch"
	case errors.As(err, &refused):
		return "fields-refused: " + fmt.Sprint(refused.Fields)
	case errors.As(err, &ambiguous):
		return "fields-ambiguous"
	case errors.As(err, &nested):
		return "field-nested"
	case errors.As(err, &subjects) && subjects.Unrequested:
		return "subject-not-requested"
	case errors.As(err, &subjects):
		return "subjects-exceeded"
	case errors.Is(err, minimise.ErrFormat):
		return "malformed-payload"
	case errors.As(err, &be):
		return "body-interrupted"
	case errors.Is(err, ErrUnavailable):
		return "storage-unavailable"
	case errors.Is(err, ErrStorageFull):
		return "storage-full"
	default:
		return "error"
	}
}

// DecisionReasons says in words why a decision came out as it did: the
// failed checks' messages for a refusal, the override's for an emergency.
func DecisionReasons(d *agreements.Decision) string {
	var out []string
	for _, c := range d.Checks {
		if !c.Passed || (d.Outcome == agreements.AllowOverride && c.Code == agreements.CheckOverrideEmergency) {
			out = append(out, c.Message)
		}
	}
	if len(out) == 0 && d.Outcome.Allowed() {
		return "every check passed"
	}
	return strings.Join(out, "; ")
}

// decisionEntry is the audit entry for a decision on an exchange.
func decisionEntry(now time.Time, actor, recipient string, m *Meta, d *agreements.Decision) *audit.Entry {
	e := &audit.Entry{
		Time:        now,
		Type:        audit.TypeExchangeDecided,
		Actor:       actor,
		Agreement:   d.Agreement,
		Recipient:   recipient,
		Outcome:     string(d.Outcome),
		Failed:      d.FailedCodes(),
		Purpose:     m.Purpose,
		LawfulBasis: m.LawfulBasis,
		Conditions:  slices.Concat(m.SpecialCategory, m.CriminalOffence),
		Exemption:   m.Exemption,
		Categories:  m.DataCategories,
		Subjects:    m.SubjectKeys,
	}
	// What the disclosure register needs beyond the entry's own fields.
	detail := map[string]string{
		"justification": m.Justification,
		"requested_by":  m.RequestedBy,
		"urgency":       m.Urgency,
		"request_ref":   m.RequestRef,
		"instrument":    m.Instrument,
		"consent_ref":   strings.TrimSpace(strings.Join(append([]string{m.ConsentRef}, m.SubjectConsentRefs...), " ")),
		"content_type":  m.ContentType,
	}
	if m.Authoriser != nil {
		detail["authoriser"], detail["authoriser_rank"] = m.Authoriser.Name, m.Authoriser.Rank
	}
	// Conditions holds both kinds; this says which are Art 10 ones.
	detail["criminal_offence"] = strings.Join(m.CriminalOffence, " ")
	if m.SubjectCount > 0 {
		detail["subject_count"] = strconv.Itoa(m.SubjectCount)
	}
	if !d.ReviewBy.IsZero() {
		detail["override_review_by"] = d.ReviewBy.UTC().Format(time.RFC3339)
	}
	if d.Flow >= 0 {
		detail["flow"] = strconv.Itoa(d.Flow)
	}
	if d.Regime != "" {
		detail["regime"] = d.Regime
	}
	detail["reasons"] = DecisionReasons(d)
	// A refusal stores nothing but this entry: it keeps the checks that
	// passed too, so that the record shows every check the decision ran.
	var passed []string
	for _, c := range d.Checks {
		if c.Passed {
			passed = append(passed, c.Code)
		}
	}
	detail["passed"] = strings.Join(passed, " ")
	maps.DeleteFunc(detail, func(_, v string) bool { return v == "" })
	if len(detail) > 0 {
		e.Detail = detail
	}
	return e
}
