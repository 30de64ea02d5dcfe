package certs

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// SeenCertificate is a party certificate the gateway has accepted.
type SeenCertificate struct {
	Fingerprint string    `json:"sha256"`
	Party       string    `json:"party"`
	Serial      string    `json:"serial"`
	Subject     string    `json:"subject"`
	Issuer      string    `json:"issuer"`
	NotAfter    time.Time `json:"not_after"`
	FirstSeen   time.Time `json:"first_seen"`
	LastSeen    time.Time `json:"last_seen"`
	DaysLeft    int       `json:"days_left"`
}

// SeenStore keeps the certificates seen, across nodes.
type SeenStore interface {
	SaveSeenCertificate(ctx context.Context, c SeenCertificate) error
	SeenCertificates(ctx context.Context) ([]SeenCertificate, error)
}

// ExpiryTracker watches the party certificates in use: it reports days to
// expiry to a gauge, warns in the log as each threshold is crossed, and
// records each certificate (at most once an hour) so that administrators can
// list what is about to expire.
type ExpiryTracker struct {
	store    SeenStore
	warnDays []int
	log      *slog.Logger
	gauge    func(party, serial string, days float64)

	mu    sync.Mutex
	seen  map[string]*seenState
	queue chan SeenCertificate
}

type seenState struct {
	saved  time.Time
	warned int // smallest threshold already warned about
}

// NewExpiryTracker returns a tracker; gauge may be nil.
func NewExpiryTracker(store SeenStore, warnDays []int, log *slog.Logger, gauge func(party, serial string, days float64)) *ExpiryTracker {
	days := slices.Clone(warnDays)
	slices.Sort(days)
	return &ExpiryTracker{store: store, warnDays: days, log: log, gauge: gauge, seen: map[string]*seenState{}, queue: make(chan SeenCertificate, 256)}
}

// Seen records that party connected with leaf. It never blocks a request.
func (t *ExpiryTracker) Seen(party string, leaf *x509.Certificate, now time.Time) {
	fp := fingerprint(leaf)
	serial := fmt.Sprintf("%x", leaf.SerialNumber)
	days := leaf.NotAfter.Sub(now).Hours() / 24
	if t.gauge != nil {
		t.gauge(party, serial, days)
	}
	t.mu.Lock()
	st := t.seen[fp]
	if st == nil {
		st = &seenState{warned: 1 << 30}
		t.seen[fp] = st
	}
	for _, d := range t.warnDays {
		if days <= float64(d) && d < st.warned {
			st.warned = d
			t.log.Warn("a party certificate expires soon", "party", party, "serial", serial,
				"expires", leaf.NotAfter.UTC().Format(time.RFC3339), "days_left", int(days))
			break
		}
	}
	save := now.Sub(st.saved) > time.Hour
	if save {
		st.saved = now
	}
	t.mu.Unlock()
	if save {
		select {
		case t.queue <- SeenCertificate{Fingerprint: fp, Party: party, Serial: serial, Subject: leaf.Subject.String(),
			Issuer: leaf.Issuer.String(), NotAfter: leaf.NotAfter.UTC(), FirstSeen: now, LastSeen: now}:
		default: // the store is behind; the next sighting saves it
			t.mu.Lock()
			st.saved = time.Time{}
			t.mu.Unlock()
		}
	}
}

// Run saves sightings until ctx ends.
func (t *ExpiryTracker) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case c := <-t.queue:
			if err := t.store.SaveSeenCertificate(ctx, c); err != nil {
				t.log.Warn("recording a party certificate failed", "party", c.Party, "err", err)
			}
		}
	}
}

// List returns the certificates seen, soonest to expire first.
func (t *ExpiryTracker) List(ctx context.Context, now time.Time) ([]SeenCertificate, error) {
	list, err := t.store.SeenCertificates(ctx)
	if err != nil {
		return nil, err
	}
	for i := range list {
		list[i].DaysLeft = int(list[i].NotAfter.Sub(now).Hours() / 24)
	}
	slices.SortFunc(list, func(a, b SeenCertificate) int { return a.NotAfter.Compare(b.NotAfter) })
	return list, nil
}
