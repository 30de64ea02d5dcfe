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
// exactly the checks and writes exactly the records of the two steps, in
// the same order. payload is not called for a refused or invalid
// declaration, so no payload byte is read before the decision.
//
// With an idempotency key, a repeat of a request whose payload was
// delivered returns that exchange (Replayed) without calling payload; a
// repeat after a failed upload uploads again (and is not a replay: this
// time the payload was delivered). If the declaration was
// allowed but the upload failed, the declared exchange is returned with the
// error, so that the caller can point the client at it.
func (s *Service) Send(ctx context.Context, caller string, d *api.ExchangeDeclaration, key string, payload func() (io.Reader, error)) (*Exchange, error) {
	if d.Size > s.cfg.OneRequestMax {
		return nil, public.Errorf(ErrOneRequestTooLarge, "%d bytes declared, at most %d in one request", d.Size, s.cfg.OneRequestMax)
	}
	e, err := s.Declare(ctx, caller, d, key)
	if err != nil {
		return nil, err
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
