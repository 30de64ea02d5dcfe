package exchange

import (
	"context"
	"errors"

	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/internal/logkey"
	"github.com/gatehouse-gw/gatehouse/internal/public"
)

// Audit entry types for an exchange's later life.
const (
	TypeAcknowledged   = "exchange.acknowledged"
	TypePayloadDeleted = "exchange.payload-deleted"
	// TypeReleased: a DPO let the recipient fetch what the state of its
	// agreement or parties held back.
	TypeReleased = "exchange.released"
)

// Acknowledge records that the recipient received the exchange. Acknowledging
// twice changes nothing.
func (s *Service) Acknowledge(ctx context.Context, caller, id string) (*Exchange, error) {
	var (
		out   *Exchange
		entry *audit.Entry
	)
	err := s.update(ctx, func(tx Tx) error {
		out, entry = nil, nil
		e, err := tx.LockExchange(ctx, id)
		if err != nil {
			return err
		}
		if e.Recipient != caller || !e.State.VisibleToRecipient() {
			return ErrNotFound
		}
		out = e
		switch e.State {
		case StateAcknowledged:
			return nil
		case StateDelivered, StateFetched:
		default:
			return public.Errorf(ErrState, "exchange is %s", e.State)
		}
		now := s.now().UTC()
		e.State, e.AcknowledgedAt, e.UpdatedAt = StateAcknowledged, now, now
		entry = &audit.Entry{
			Time: now, Type: TypeAcknowledged, Actor: caller, Exchange: e.ID,
			Agreement: e.AgreementRef(), Recipient: e.Recipient, PayloadDigest: s.payloadDigest(e.Payload.Digest),
		}
		if err := tx.AppendAudit(ctx, entry); err != nil {
			return err
		}
		return tx.SaveExchange(ctx, e)
	})
	if err != nil {
		return nil, err
	}
	out.Receipts = appendReceipt(nil, s.receipt(entry))
	return out, nil
}

// Sweep deletes the payloads whose retention has ended, up to limit of them,
// and returns how many it deleted. Each deletion is recorded before the
// object is removed (no record, no deletion); the exchange keeps its
// metadata and becomes expired. An object that cannot be removed now is
// tried again on the next sweep. Several nodes may sweep at once.
func (s *Service) Sweep(ctx context.Context, limit int) (int, error) {
	ids, err := s.store.Expired(ctx, s.now().UTC(), limit)
	if err != nil {
		return 0, unavailable(err)
	}
	deleted := 0
	for _, id := range ids {
		var key, version string
		err := s.update(ctx, func(tx Tx) error {
			e, err := tx.LockExchange(ctx, id)
			if err != nil {
				return err
			}
			key, version = e.Payload.ObjectKey, e.Payload.ObjectVersion
			if key == "" || e.State == StateExpired {
				return nil // another node has it, or the record is already made
			}
			now := s.now().UTC()
			if err := tx.AppendAudit(ctx, &audit.Entry{
				Time: now, Type: TypePayloadDeleted, Actor: "gatehouse", Exchange: e.ID,
				Agreement: e.AgreementRef(), Recipient: e.Recipient, Subjects: e.Meta.SubjectKeys,
				PayloadDigest: s.payloadDigest(e.Payload.Digest), PayloadSize: e.Payload.Size,
				Detail: map[string]string{"reason": "retention ended", "retention_ended": e.ExpiresAt.Format("2006-01-02T15:04:05Z07:00"), "object": key},
			}); err != nil {
				return err
			}
			e.State, e.UpdatedAt = StateExpired, now
			e.Envelope = nil // the data key goes with the payload
			return tx.SaveExchange(ctx, e)
		})
		if err != nil {
			return deleted, err
		}
		if key == "" {
			continue
		}
		if err := s.objects.Remove(ctx, key, version); err != nil && !errors.Is(err, ErrNotFound) {
			s.log.Warn("removing an expired payload failed; will retry", logkey.Exchange, id, logkey.Error, err)
			continue
		}
		err = s.update(ctx, func(tx Tx) error {
			e, err := tx.LockExchange(ctx, id)
			if err != nil {
				return err
			}
			e.Payload.ObjectKey, e.Payload.ObjectVersion = "", ""
			return tx.SaveExchange(ctx, e)
		})
		if err != nil {
			return deleted, err
		}
		deleted++
	}
	return deleted, nil
}
