package exchange

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/internal/public"
	"github.com/gatehouse-gw/gatehouse/internal/valid"
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

// admitFetch decides a fetch of what was delivered: the recipient must
// still be active and, under an agreement, the agreement active with a flow
// from the sender to the recipient. A suspension or termination (a breach
// by the recipient, say) thus holds back what was delivered and not yet
// fetched, until it is lifted or a DPO releases the exchange. A refusal is
// recorded with its checks (stage: what was asked for).
func (s *Service) admitFetch(ctx context.Context, e *Exchange, stage string) error {
	if e.Release != nil {
		return nil
	}
	reg, err := s.registry.Snapshot(ctx)
	if err != nil {
		return unavailable(err)
	}
	d := FetchDecision(reg, e)
	if d.Outcome.Allowed() {
		return nil
	}
	now := s.now().UTC()
	entry := decisionEntry(now, e.Recipient, e.Recipient, &e.Meta, &d)
	entry.Exchange = e.ID
	entry.Detail["stage"] = stage
	entry.Detail["sender"] = e.Sender
	if err := s.update(ctx, func(tx Tx) error { return tx.AppendAudit(ctx, entry) }); err != nil {
		return err
	}
	return &RefusedError{Decision: d, Receipt: s.receipt(entry)}
}

// FetchDecision decides whether the recipient of a delivered exchange may
// fetch it under the registry as it is now.
func FetchDecision(reg *agreements.Registry, e *Exchange) agreements.Decision {
	d := agreements.Decision{Outcome: agreements.Deny, Agreement: e.AgreementRef(), Flow: -1}
	ok := true
	check := func(code string, passed bool, msg string) {
		d.Checks = append(d.Checks, agreements.Check{Code: code, Passed: passed, Message: msg})
		ok = ok && passed
	}
	if reg.Party(e.Recipient).Active() {
		check(agreements.CheckRecipientActive, true, "the recipient is a registered, active party")
	} else {
		check(agreements.CheckRecipientActive, false, fmt.Sprintf("recipient %q is not a registered, active party: what was delivered to it is held back", e.Recipient))
	}
	if e.AgreementID != "" {
		a := reg.Agreement(e.AgreementID)
		switch {
		case a == nil:
			check(agreements.CheckAgreementActive, false, fmt.Sprintf("agreement %q is no longer registered", e.AgreementID))
		case a.Status != agreements.StatusActive:
			d.Agreement = a.Ref()
			check(agreements.CheckAgreementActive, false, fmt.Sprintf("agreement %s is %s: what was delivered under it is held back until it is active again or a DPO releases the exchange", a.Ref(), a.Status))
		default:
			d.Agreement = a.Ref()
			check(agreements.CheckAgreementActive, true, "the agreement is active")
			flow := slices.IndexFunc(a.Flows, func(f agreements.Flow) bool { return f.Sends(e.Sender) && f.Receives(e.Recipient) })
			if flow < 0 {
				check(agreements.CheckFlowPermitted, false, fmt.Sprintf("no flow in %s permits %s → %s any more", a.Ref(), e.Sender, e.Recipient))
			} else {
				d.Flow = flow
				check(agreements.CheckFlowPermitted, true, "a flow permits sender → recipient")
			}
		}
	}
	if ok {
		d.Outcome = agreements.Allow
	}
	return d
}

// Release lets the recipient fetch a delivered exchange that a suspension,
// a termination or a change of flows holds back: a DPO's decision, recorded
// with its reason. It holds for that exchange only.
func (s *Service) Release(ctx context.Context, actor agreements.Actor, id, reason string) (*Exchange, error) {
	if !actor.Has(agreements.RoleDPO) {
		return nil, public.Errorf(agreements.ErrForbidden, "needs role [%s]", agreements.RoleDPO)
	}
	var v valid.Errors
	if v.Required("reason", reason) && len(reason) > maxTextLength {
		v.Add("reason", "max-length", "is longer than %d characters", maxTextLength)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out *Exchange
	err := s.update(ctx, func(tx Tx) error {
		e, err := tx.LockExchange(ctx, id)
		if err != nil {
			return err
		}
		if !e.State.Readable() {
			return public.Errorf(ErrState, "exchange is %s; only a delivered exchange can be released", e.State)
		}
		if e.Release != nil {
			out = e // released already: nothing to change
			return nil
		}
		now := s.now().UTC()
		e.Release = &Release{By: actor.Subject, Name: actor.Name, Reason: reason, At: now}
		e.UpdatedAt = now
		detail := actor.AuditDetail()
		detail["reason"] = reason
		detail["sender"] = e.Sender
		if err := tx.AppendAudit(ctx, &audit.Entry{
			Time: now, Type: TypeReleased, Actor: actor.Subject, Exchange: e.ID,
			Agreement: e.AgreementRef(), Recipient: e.Recipient, Detail: detail,
		}); err != nil {
			return err
		}
		out = e
		return tx.SaveExchange(ctx, e)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Envelope returns the sealed manifest of an exchange to its recipient. The
// fetch is recorded first; if it cannot be recorded, nothing is returned.
func (s *Service) Envelope(ctx context.Context, caller, id string) (*Exchange, error) {
	e, err := s.readable(ctx, caller, id)
	if err != nil {
		return nil, err
	}
	if err := s.admitFetch(ctx, e, "envelope"); err != nil {
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
	if err := s.admitFetch(ctx, e, "payload"); err != nil {
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
	// Open first, record second: a fetch is recorded only once the object
	// is open, and nothing is handed over unless it is recorded.
	rc, err := s.objects.Get(ctx, e.Payload.ObjectKey, e.Payload.ObjectVersion, r.Offset, r.Length)
	if err != nil {
		return nil, Range{}, nil, unavailable(err)
	}
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
			PayloadDigest: s.payloadDigest(cur.Payload.Digest), PayloadSize: cur.Payload.Size,
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
		rc.Close()
		return nil, Range{}, nil, err
	}
	e.Receipts = appendReceipt(nil, s.receipt(entry))
	return e, r, rc, nil
}
