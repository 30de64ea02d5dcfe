package exchange

import (
	"context"
	"errors"
	"io"

	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/internal/public"
)

// ErrOneRequestTooLarge: the payload is over the limit of the one-request
// form; it must be declared first and then uploaded.
var ErrOneRequestTooLarge = errors.New("payload is too large to send with its declaration")

// Send is the one-request form of a disclosure: Declare, then, only if the
// declaration is allowed, Upload of the body that payload returns. It runs
// the checks of the two steps and writes their records, in the same order.
// payload is not called for a refused or invalid declaration, so no payload
// byte is read before the decision.
//
// An allowed declaration and its delivery are recorded in one transaction,
// after the payload is sealed and stored (sendAtOnce): the decision's entry
// and the delivery's, in that order, and the exchange as delivered. A flow
// with a daily limit takes the two steps, because its place in the day's
// volume must be reserved before the payload is read.
//
// With an idempotency key, a repeat of a request whose payload was
// delivered returns that exchange (Replayed) without calling payload; a
// repeat after a failed upload uploads again (and is not a replay: this
// time the payload was delivered). If the declaration was allowed but the
// upload failed, the declaration is recorded (with the failure, as the two
// steps record it) and the declared exchange is returned with the error, so
// that the caller can point the client at it.
func (s *Service) Send(ctx context.Context, caller string, d *api.ExchangeDeclaration, key string, payload func() (io.Reader, error)) (*Exchange, error) {
	if d.Size > s.cfg.OneRequestMax {
		return nil, public.Errorf(ErrOneRequestTooLarge, "%d bytes declared, at most %d in one request", d.Size, s.cfg.OneRequestMax)
	}
	p, err := s.decideDeclaration(ctx, caller, d, key)
	if err != nil {
		return nil, err
	}
	e := p.replayed
	if e == nil {
		if _, counted := volumeLimit(p.reg, &p.decision); !counted {
			return s.sendAtOnce(ctx, caller, p, payload)
		}
		if e, err = s.record(ctx, caller, p); err != nil {
			return nil, err
		}
	}
	if e.Replayed && !e.State.Uploadable() {
		return e, nil
	}
	body, err := payload()
	if err != nil {
		return e, err
	}
	sealed, err := s.uploadDeclared(ctx, caller, e, body)
	if err != nil {
		return e, err
	}
	sealed.Receipts = append(e.Receipts, sealed.Receipts...)
	return sealed, nil
}

// sendAtOnce seals and stores the payload of the allowed declaration p, then
// records the declaration and the delivery in one transaction. The
// decision is not taken again for the upload: it was taken in this same
// request, on the same registry.
func (s *Service) sendAtOnce(ctx context.Context, caller string, p *declaration, payload func() (io.Reader, error)) (*Exchange, error) {
	e := newExchange(p.reg, caller, p.d, &p.meta, p.decision, p.requestID, p.now)
	entry := e.declaredEntry()
	declare := func(tx Tx, delivered *Exchange) error {
		return declareIn(ctx, tx, p.reg, delivered, entry, p.key, p.fingerprint)
	}
	// declaredOnly records the declaration alone when the upload did not
	// complete, as the two steps would have, and the failure if it was the
	// upload's (failed).
	declaredOnly := func(cause error, failed bool) (*Exchange, error) {
		if err := s.update(ctx, func(tx Tx) error { return declare(tx, e) }); err != nil {
			return s.lostClaim(ctx, caller, p, err)
		}
		e.Receipts = appendReceipt(nil, s.receipt(entry))
		if failed {
			s.markFailed(ctx, e.ID, caller, cause)
		}
		return e, cause
	}
	body, err := payload()
	if err != nil {
		return declaredOnly(err, false)
	}
	a := &admitted{e: e, reg: p.reg, decision: p.decision, now: s.now().UTC()}
	sp, err := s.sealObject(ctx, a, body)
	if err != nil {
		return declaredOnly(err, sp != nil && sp.failed)
	}
	sealed, err := s.recordDelivery(ctx, caller, a, sp, declare)
	if err != nil {
		return s.lostClaim(ctx, caller, p, err)
	}
	sealed.Receipts = append(appendReceipt(nil, s.receipt(entry)), sealed.Receipts...)
	return sealed, nil
}
