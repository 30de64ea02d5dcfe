package alerts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/internal/logkey"
)

// Delivery states.
const (
	// StatePending: not yet delivered; tried again at NextAt.
	StatePending = "pending"
	// StateDelivered: the endpoint or mail server accepted it.
	StateDelivered = "delivered"
	// StateFailed: every attempt failed; it waits for a manual retry.
	StateFailed = "failed"
)

// Channels.
const (
	ChannelWebhook = "webhook"
	ChannelEmail   = "email"
)

// Target is where one delivery of an event goes: a webhook endpoint's
// name or a mailbox.
type Target struct {
	Channel string
	Target  string
}

// Routing is one event's deliveries, as the dispatcher routes it.
type Routing struct {
	Event   string
	Targets []Target
}

// Delivery is one event on its way to one target.
type Delivery struct {
	ID          int64
	Event       Event
	Channel     string
	Target      string
	State       string
	Attempts    int
	NextAt      time.Time
	LastAt      time.Time
	LastError   string
	DeliveredAt time.Time
	CreatedAt   time.Time
}

// Query selects deliveries to list.
type Query struct {
	// State is pending, delivered or failed; empty means any.
	State string
	// Before is the id of the last delivery of the previous page (newest first); 0 starts at the newest.
	Before int64
	Limit  int
}

// Depth is how much the outbox holds that is not delivered.
type Depth struct {
	// Unrouted events have no deliveries written yet.
	Unrouted int
	// Pending deliveries wait for their next attempt, by channel.
	Pending map[string]int
	// Failed deliveries gave up and wait for a manual retry, by channel.
	Failed map[string]int
}

// ErrNotFound is returned for a delivery that does not exist.
var ErrNotFound = errors.New("no such delivery")

// ErrState is returned when a delivery's state does not allow the change
// (retrying one that was delivered).
var ErrState = errors.New("the delivery's state does not allow this")

// Store keeps the outbox. Events are written by the changes that cause
// them (in their transactions) or by Emit; the dispatcher routes, claims
// and finishes deliveries.
type Store interface {
	// Emit writes events on their own; an event whose id is already
	// written is left as it is.
	Emit(ctx context.Context, evs []Event) error
	// Unrouted returns up to limit events whose deliveries are not written.
	Unrouted(ctx context.Context, limit int) ([]Event, error)
	// Route writes the deliveries of events, due at now, and marks each
	// routed, all in one transaction (one commit for a whole poll's events,
	// not one each); a delivery already written is left as it is.
	Route(ctx context.Context, rs []Routing, now time.Time) error
	// Claim leases up to limit due deliveries to holder until the given
	// time: no other holder claims them before then.
	Claim(ctx context.Context, holder string, now, until time.Time, limit int) ([]Delivery, error)
	// Finish records an attempt by holder: delivered if errText is empty,
	// else pending again at next, or failed if next is zero. It releases
	// the lease; an attempt whose lease was lost changes nothing.
	Finish(ctx context.Context, id int64, holder string, now time.Time, errText string, next time.Time) error
	// Deliveries lists deliveries, newest first.
	Deliveries(ctx context.Context, q Query) ([]Delivery, error)
	// Retry makes a failed or pending delivery due at now, with entry
	// appended to the audit record in the same transaction.
	Retry(ctx context.Context, id int64, now time.Time, entry *audit.Entry) (Delivery, error)
	// Depth counts what is not delivered.
	Depth(ctx context.Context) (Depth, error)
}

// Channel delivers to one kind of target.
type Channel interface {
	Send(ctx context.Context, d *Delivery) error
}

// PermanentError marks a failure that trying again cannot mend (a target
// no longer configured, a mailbox the mail server refuses): the delivery
// fails at once and waits for a manual retry.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Dispatcher delivers the outbox: it routes new events to their targets,
// claims due deliveries under a lease, sends them and records each
// attempt. Several nodes may run one each: a lease keeps each delivery
// with one node at a time.
type Dispatcher struct {
	Store    Store
	Channels map[string]Channel
	// Route returns an event's targets.
	Route func(Event) []Target
	// Holder names this node in leases.
	Holder string
	// Poll is how often the outbox is read.
	Poll time.Duration
	// Lease is how long a claimed delivery stays with this node: longer
	// than any attempt takes.
	Lease time.Duration
	// RetryMin and RetryMax bound the backoff between attempts: RetryMin
	// after the first failure, doubling up to RetryMax.
	RetryMin, RetryMax time.Duration
	// MaxAttempts is how many attempts a delivery gets before it fails.
	MaxAttempts int
	// Batch is the most deliveries claimed at once.
	Batch int
	Log   *slog.Logger
	// Attempted is told of every attempt's outcome, for metrics.
	Attempted func(channel string, err error, gaveUp bool)
	Now       func() time.Time

	wake chan struct{}
	once sync.Once
}

func (d *Dispatcher) now() time.Time {
	if d.Now != nil {
		return d.Now().UTC()
	}
	return time.Now().UTC()
}

func (d *Dispatcher) init() {
	d.once.Do(func() { d.wake = make(chan struct{}, 1) })
}

// Wake asks the dispatcher to read the outbox now rather than at its next
// poll.
func (d *Dispatcher) Wake() {
	d.init()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Backoff is how long a delivery waits after its n-th failed attempt.
func (d *Dispatcher) Backoff(n int) time.Duration {
	wait := d.RetryMin
	for i := 1; i < n && wait < d.RetryMax; i++ {
		wait *= 2
	}
	return min(wait, d.RetryMax)
}

// Run delivers until ctx ends.
func (d *Dispatcher) Run(ctx context.Context) {
	d.init()
	t := time.NewTicker(d.Poll)
	defer t.Stop()
	for {
		for {
			n, err := d.Once(ctx)
			if err != nil && ctx.Err() == nil {
				d.Log.Warn("delivering alerts failed", logkey.Error, err)
			}
			if err != nil || n < d.batch() {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.wake:
		}
	}
}

func (d *Dispatcher) batch() int {
	if d.Batch > 0 {
		return d.Batch
	}
	return 32
}

// Once routes new events and makes one attempt at each due delivery it
// claims; it returns how many it attempted.
func (d *Dispatcher) Once(ctx context.Context) (int, error) {
	evs, err := d.Store.Unrouted(ctx, 100)
	if err != nil {
		return 0, fmt.Errorf("alerts: read outbox: %w", err)
	}
	if len(evs) > 0 {
		rs := make([]Routing, len(evs))
		for i, ev := range evs {
			rs[i] = Routing{Event: ev.ID, Targets: d.Route(ev)}
		}
		if err := d.Store.Route(ctx, rs, d.now()); err != nil {
			return 0, fmt.Errorf("alerts: route %d events: %w", len(rs), err)
		}
	}
	now := d.now()
	ds, err := d.Store.Claim(ctx, d.Holder, now, now.Add(d.Lease), d.batch())
	if err != nil {
		return 0, fmt.Errorf("alerts: claim deliveries: %w", err)
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range ds {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			d.attempt(ctx, &ds[i])
		})
	}
	wg.Wait()
	return len(ds), nil
}

func (d *Dispatcher) attempt(ctx context.Context, del *Delivery) {
	ch := d.Channels[del.Channel]
	var err error
	if ch == nil {
		err = &PermanentError{Err: fmt.Errorf("channel %s is not configured", del.Channel)}
	} else {
		sctx, cancel := context.WithTimeout(ctx, d.Lease/2)
		err = ch.Send(sctx, del)
		cancel()
	}
	if ctx.Err() != nil {
		return // stopping: the lease runs out and the delivery is tried again
	}
	now := d.now()
	var (
		errText string
		next    time.Time
		perm    *PermanentError
	)
	gaveUp := false
	if err != nil {
		errText = err.Error()
		if len(errText) > 500 {
			errText = errText[:500]
		}
		if n := del.Attempts + 1; n < d.MaxAttempts && !errors.As(err, &perm) {
			next = now.Add(d.Backoff(n))
		} else {
			gaveUp = true
		}
		d.Log.Warn("alert delivery failed", "delivery", del.ID, "event", del.Event.ID, "event_type", del.Event.Type,
			"channel", del.Channel, "attempt", del.Attempts+1, "gave_up", gaveUp, logkey.Error, errText)
	}
	if d.Attempted != nil {
		d.Attempted(del.Channel, err, gaveUp)
	}
	if ferr := d.Store.Finish(context.WithoutCancel(ctx), del.ID, d.Holder, now, errText, next); ferr != nil {
		d.Log.Warn("recording an alert delivery failed", "delivery", del.ID, logkey.Error, ferr)
	}
}

// Routes are the deployment's targets for events: webhook endpoints and
// mailboxes, by party and by role.
type Routes struct {
	Webhooks []RouteWebhook
	// Mail lists mailboxes by party id and by role.
	PartyMail map[string][]string
	RoleMail  map[string][]string
}

// RouteWebhook is a webhook endpoint's name and what it receives.
type RouteWebhook struct {
	Name  string
	Party string
	Role  string
	// Events limits the endpoint to these event types; empty means all.
	Events []string
}

// Targets returns where an event goes.
func (r *Routes) Targets(ev Event) []Target {
	var out []Target
	for _, w := range r.Webhooks {
		if len(w.Events) > 0 && !slices.Contains(w.Events, ev.Type) {
			continue
		}
		if (w.Party != "" && w.Party == ev.Party) || (w.Role != "" && slices.Contains(ev.Roles, w.Role)) {
			out = append(out, Target{Channel: ChannelWebhook, Target: w.Name})
		}
	}
	var mail []string
	if ev.Party != "" {
		mail = append(mail, r.PartyMail[ev.Party]...)
	}
	for _, role := range ev.Roles {
		mail = append(mail, r.RoleMail[role]...)
	}
	slices.Sort(mail)
	for _, m := range slices.Compact(mail) {
		out = append(out, Target{Channel: ChannelEmail, Target: m})
	}
	return out
}
