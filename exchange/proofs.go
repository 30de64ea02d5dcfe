package exchange

import (
	"context"
	"errors"
	"strings"

	"github.com/gatehouse-gw/gatehouse/audit"
)

// Concerns reports whether an audit entry is about one of caller's own
// exchanges or requests, so that caller may have proofs about it: an
// exchange it sent, or one delivered to it; a request it made or handles;
// or a decision it asked for that was refused (and so names no exchange or
// request), by caller as the actor. Nothing else of the record is a
// party's business.
func (s *Service) Concerns(ctx context.Context, caller string, e *audit.Entry) (bool, error) {
	switch {
	case e.Exchange != "":
		_, err := s.Get(ctx, caller, e.Exchange)
		if errors.Is(err, ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	case e.Request != "":
		_, err := s.GetRequest(ctx, caller, e.Request)
		if errors.Is(err, ErrRequestNotFound) {
			return false, nil
		}
		return err == nil, err
	}
	return e.Actor == caller && (strings.HasPrefix(e.Type, "exchange.") || strings.HasPrefix(e.Type, "request.")), nil
}
