// Package health keeps the outcome of the gateway's last real write to each
// of its stores, so that readiness reports what writes do rather than what
// a probe that changes nothing would see.
package health

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-gw/gatehouse/internal/metrics"
)

// Board counts changes of any tracker between writable and failing, so that
// a cached readiness result can be dropped the moment one happens.
type Board struct{ gen atomic.Uint64 }

// Generation changes whenever a tracker watched by the board changes
// between writable and failing.
func (b *Board) Generation() uint64 { return b.gen.Load() }

// Writes tracks the outcome of the last write to one store: every real
// write records its outcome, and readiness reads it.
type Writes struct {
	name  string
	board atomic.Pointer[Board]

	mu  sync.Mutex
	at  time.Time
	err error

	// probing lets one probe run at a time.
	probing sync.Mutex
}

// NewWrites returns a tracker for the store called name (the label of the
// gatehouse_store_writable metric: database, objects or audit-archive).
func NewWrites(name string) *Writes { return &Writes{name: name} }

// Watch makes the tracker's changes count on b.
func (w *Writes) Watch(b *Board) { w.board.Store(b) }

// Record notes the outcome of a write that reached the store: nil for one
// that was stored durably, the error for one the store refused or could not
// take. Failures that are not the store's (a client that went away, a body
// that did not match its declaration) are not recorded.
func (w *Writes) Record(err error) {
	now := time.Now()
	w.mu.Lock()
	changed := w.at.IsZero() || (w.err == nil) != (err == nil)
	w.at, w.err = now, err
	w.mu.Unlock()
	if !changed {
		return
	}
	up := 0.0
	if err == nil {
		up = 1
	}
	metrics.StoreWritable.WithLabelValues(w.name).Set(up)
	if b := w.board.Load(); b != nil {
		b.gen.Add(1)
	}
}

// Last returns when the last write was recorded and its outcome (zero time:
// none yet).
func (w *Writes) Last() (time.Time, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.at, w.err
}

// Check returns the outcome of the last write if it was recorded less than
// window ago. Otherwise it runs probe, a real small write, records its
// outcome and returns it: a store that refuses writes is reported within
// one window whether or not traffic reaches it, and one that takes them
// again is reported ready by the first write that succeeds.
func (w *Writes) Check(ctx context.Context, window time.Duration, probe func(context.Context) error) error {
	w.probing.Lock()
	defer w.probing.Unlock()
	if at, err := w.Last(); !at.IsZero() && time.Since(at) < window {
		return err
	}
	err := probe(ctx)
	w.Record(err)
	return err
}
