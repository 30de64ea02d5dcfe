package exchange

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/exchange/seal"
	"github.com/gatehouse-gw/gatehouse/internal/logkey"
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
	e, err := s.store.Exchange(ctx, id)
	if err != nil {
		return nil, err
	}
	if e.Sender != caller {
		return nil, ErrNotFound
	}
	if !e.State.Uploadable() {
		return nil, fmt.Errorf("%w: exchange is %s", ErrState, e.State)
	}
	size := e.Meta.DeclaredSize
	if size > s.cfg.MaxPayloadSize {
		return nil, ErrTooLarge
	}
	if contentLength >= 0 && contentLength != size {
		return nil, fmt.Errorf("%w: Content-Length is %d, declared size is %d", ErrSizeMismatch, contentLength, size)
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
	if !decision.Outcome.Allowed() {
		entry := decisionEntry(now, caller, e.Recipient, &e.Meta, &decision)
		entry.Exchange = e.ID
		entry.Detail = map[string]string{"stage": "upload"}
		if err := s.update(ctx, func(tx Tx) error { return tx.AppendAudit(ctx, entry) }); err != nil {
			return nil, err
		}
		return nil, &RefusedError{Decision: decision}
	}
	recipientKey, err := seal.ParseKey(reg.Party(e.Recipient).EncryptionKey)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrRecipientKey, e.Recipient, err)
	}

	dataKey := seal.NewDataKey()
	defer seal.Wipe(dataKey)
	aad := seal.AAD(e.ID, decision.Agreement, e.Recipient)
	ctSize, err := seal.CiphertextSize(size)
	if err != nil {
		return nil, err
	}
	objectKey := "payloads/" + e.ID + "/" + uuid.NewString()

	digest, info, err := s.sealInto(ctx, objectKey, body, size, ctSize, dataKey, aad)
	if err != nil {
		s.markFailed(ctx, e.ID, caller, err)
		return nil, err
	}
	removeObject := func(reason string) {
		if rmErr := s.objects.Remove(context.WithoutCancel(ctx), info.Key, info.Version); rmErr != nil {
			s.log.Error("removing payload object failed", logkey.Exchange, e.ID, logkey.Reason, reason, logkey.Error, rmErr)
		}
	}
	if want := e.Meta.DeclaredSHA256; want != "" && want != digest {
		removeObject("digest mismatch")
		err := fmt.Errorf("%w: got %s", ErrDigestMismatch, digest)
		s.markFailed(ctx, e.ID, caller, err)
		return nil, err
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
		Plaintext:   seal.Digest{Size: size, SHA256: digest},
		Ciphertext:  seal.Digest{Size: ctSize},
		Object:      seal.Object{Bucket: info.Bucket, Key: info.Key, Version: info.Version},
		Encryption:  seal.NewEncryption(dataKey, aad),
	}
	envelope, err := s.signer.SealManifest(manifest, recipientKey)
	if err != nil {
		removeObject("sealing manifest failed")
		return nil, fmt.Errorf("sealing manifest: %w", err)
	}

	var sealed *Exchange
	err = s.update(ctx, func(tx Tx) error {
		cur, err := tx.LockExchange(ctx, e.ID)
		if err != nil {
			return err
		}
		if !cur.State.Uploadable() {
			return fmt.Errorf("%w: exchange is %s", ErrState, cur.State)
		}
		cur.AgreementID, cur.AgreementVersion = splitRef(decision.Agreement)
		cur.Decision = decision
		cur.State = StateDelivered
		cur.Payload = Payload{Size: size, SHA256: digest, CiphertextSize: ctSize, ObjectKey: info.Key, ObjectVersion: info.Version}
		cur.Envelope = envelope
		cur.UpdatedAt, cur.DeliveredAt = now, now
		if err := tx.AppendAudit(ctx, &audit.Entry{
			Time:        now,
			Type:        audit.TypeExchangeSealed,
			Actor:       caller,
			Exchange:    cur.ID,
			Agreement:   decision.Agreement,
			Recipient:   cur.Recipient,
			Outcome:     string(decision.Outcome),
			Purpose:     cur.Meta.Purpose,
			Categories:  cur.Meta.DataCategories,
			Subjects:    cur.Meta.SubjectKeys,
			PayloadHash: digest,
			PayloadSize: size,
			Detail:      map[string]string{"object": info.Key, "object_version": info.Version},
		}); err != nil {
			return err
		}
		if err := tx.SaveExchange(ctx, cur); err != nil {
			return err
		}
		sealed = cur
		return nil
	})
	if err != nil {
		removeObject("recording delivery failed")
		return nil, err
	}
	return sealed, nil
}

// errPutEnded stops the encrypting copy once object storage stops reading.
var errPutEnded = errors.New("object store stopped reading")

// sealInto streams body through SHA-256 and the streaming AEAD into a new
// object of exactly ctSize bytes. The body must hold exactly size bytes.
func (s *Service) sealInto(ctx context.Context, key string, body io.Reader, size, ctSize int64, dataKey, aad []byte) (string, ObjectInfo, error) {
	h := sha256.New()
	pr, pw := io.Pipe()
	copied := make(chan error, 1)
	go func() {
		err := encryptBody(pw, io.TeeReader(body, h), size, dataKey, aad)
		pw.CloseWithError(err) // nil: the reader sees EOF
		copied <- err
	}()
	info, putErr := s.objects.Put(ctx, key, pr, ctSize)
	pr.CloseWithError(errPutEnded)
	copyErr := <-copied

	if putErr == nil && copyErr == nil {
		return hex.EncodeToString(h.Sum(nil)), info, nil
	}
	if putErr == nil {
		// The store took ctSize bytes but the body had more to give.
		_ = s.objects.Remove(context.WithoutCancel(ctx), info.Key, info.Version)
		if errors.Is(copyErr, errPutEnded) {
			copyErr = fmt.Errorf("%w: body is longer than the declared %d bytes", ErrSizeMismatch, size)
		}
		return "", ObjectInfo{}, copyErr
	}
	if copyErr != nil && !errors.Is(copyErr, errPutEnded) {
		return "", ObjectInfo{}, copyErr
	}
	return "", ObjectInfo{}, unavailable(putErr)
}

// encryptBody encrypts exactly size bytes of body into w.
func encryptBody(w io.Writer, body io.Reader, size int64, dataKey, aad []byte) error {
	enc, err := seal.Encrypt(w, dataKey, aad)
	if err != nil {
		return err
	}
	n, err := io.Copy(enc, io.LimitReader(body, size+1))
	switch {
	case errors.Is(err, errPutEnded):
		return err
	case err != nil:
		return &BodyError{Err: err}
	case n > size:
		return fmt.Errorf("%w: body is longer than the declared %d bytes", ErrSizeMismatch, size)
	case n < size:
		return fmt.Errorf("%w: body has %d bytes, declared size is %d", ErrSizeMismatch, n, size)
	}
	return enc.Close()
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
	var be *BodyError
	switch {
	case errors.Is(err, ErrSizeMismatch):
		return "size-mismatch"
	case errors.Is(err, ErrDigestMismatch):
		return "digest-mismatch"
	case errors.As(err, &be):
		return "body-interrupted"
	case errors.Is(err, ErrUnavailable):
		return "storage-unavailable"
	default:
		return "error"
	}
}

// decisionEntry is the audit entry for a decision on an exchange.
func decisionEntry(now time.Time, actor, recipient string, m *Meta, d *agreements.Decision) *audit.Entry {
	return &audit.Entry{
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
}
