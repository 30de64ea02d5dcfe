package exchange

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/internal/public"
)

// readable returns the exchange if caller is its recipient and it has a
// payload to read. Anyone else is told it does not exist.
func (s *Service) readable(ctx context.Context, caller, id string) (*Exchange, error) {
	e, err := s.store.Exchange(ctx, id)
	if err != nil {
		return nil, err
	}
	if e.Recipient != caller || !e.State.VisibleToRecipient() {
		return nil, ErrNotFound
	}
	if e.State == StateExpired {
		return nil, fmt.Errorf("%w on %s", ErrExpired, e.ExpiresAt.Format("2006-01-02"))
	}
	if !e.State.Readable() {
		return nil, public.Errorf(ErrState, "exchange is %s", e.State)
	}
	return e, nil
}

// Envelope returns the sealed manifest of an exchange to its recipient. The
// fetch is recorded first; if it cannot be recorded, nothing is returned.
func (s *Service) Envelope(ctx context.Context, caller, id string) (*Exchange, error) {
	e, err := s.readable(ctx, caller, id)
	if err != nil {
		return nil, err
	}
	entry := &audit.Entry{
		Time: s.now().UTC(), Type: audit.TypeEnvelopeFetched, Actor: caller,
		Exchange: e.ID, Agreement: e.AgreementRef(), Recipient: e.Recipient,
	}
	if err := s.update(ctx, func(tx Tx) error { return tx.AppendAudit(ctx, entry) }); err != nil {
		return nil, err
	}
	e.Receipts = appendReceipt(nil, s.receipt(entry))
	return e, nil
}

// Range is a byte range of the ciphertext; Length < 0 means to the end.
type Range struct {
	Offset int64
	Length int64
}

// Full is the whole ciphertext.
var Full = Range{Offset: 0, Length: -1}

// OpenPayload records the fetch and opens the ciphertext for the recipient.
// resolve, if not nil, picks a byte range once the ciphertext size is known
// (to resume a download). The first fetch moves the exchange to fetched.
func (s *Service) OpenPayload(ctx context.Context, caller, id string, resolve func(size int64) (Range, error)) (*Exchange, Range, io.ReadCloser, error) {
	e, err := s.readable(ctx, caller, id)
	if err != nil {
		return nil, Range{}, nil, err
	}
	size := e.Payload.CiphertextSize
	r := Full
	if resolve != nil {
		if r, err = resolve(size); err != nil {
			return nil, Range{}, nil, err
		}
		if r.Offset < 0 || r.Length < 0 || r.Offset+r.Length > size {
			return nil, Range{}, nil, public.Errorf(ErrRange, "range %d+%d outside %d bytes", r.Offset, r.Length, size)
		}
	}
	var entry *audit.Entry
	err = s.update(ctx, func(tx Tx) error {
		entry = nil
		cur, err := tx.LockExchange(ctx, id)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		entry = &audit.Entry{
			Time: now, Type: audit.TypeExchangeFetched, Actor: caller,
			Exchange: cur.ID, Agreement: cur.AgreementRef(), Recipient: cur.Recipient,
			PayloadHash: cur.Payload.SHA256, PayloadSize: cur.Payload.Size,
		}
		if r != Full {
			entry.Detail = map[string]string{"range": strconv.FormatInt(r.Offset, 10) + "+" + strconv.FormatInt(r.Length, 10)}
		}
		if err := tx.AppendAudit(ctx, entry); err != nil {
			return err
		}
		if cur.State == StateDelivered {
			cur.State, cur.UpdatedAt = StateFetched, now
			return tx.SaveExchange(ctx, cur)
		}
		return nil
	})
	if err != nil {
		return nil, Range{}, nil, err
	}
	rc, err := s.objects.Get(ctx, e.Payload.ObjectKey, e.Payload.ObjectVersion, r.Offset, r.Length)
	if err != nil {
		return nil, Range{}, nil, unavailable(err)
	}
	e.Receipts = appendReceipt(nil, s.receipt(entry))
	return e, r, rc, nil
}
