package exchange

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/internal/logkey"
	"github.com/gatehouse-gw/gatehouse/internal/metrics"
)

// Orphans. An upload stores the sealed payload first and records it in the
// exchange's row second: a gateway killed (or a database lost) in between
// leaves an object that no exchange records. Nobody can read it — its data
// key was only ever in the envelope that was never committed — so the
// reconciler deletes it once it is older than a grace period (longer than
// any upload's commit can take), audited like every deletion. An object
// still under an Object Lock is kept and reported until the lock ends: the
// gateway never bypasses a lock for an object the database does not know,
// because a database restored from a backup does not know the exchanges
// delivered after it, and their payloads are kept until their retention.

// PayloadPrefix is where sealed payloads are stored: PayloadPrefix + the
// exchange id + "/" + a random name.
const PayloadPrefix = "payloads/"

// StoredObject is one stored version of an object.
type StoredObject struct {
	Key      string
	Version  string
	Size     int64
	Modified time.Time
}

// ObjectRef is the payload object an exchange's row records.
type ObjectRef struct {
	Key     string
	Version string
}

// Orphan is a stored payload object that no exchange records.
type Orphan struct {
	Object   StoredObject
	Exchange string // the exchange its key names
	FoundAt  time.Time
	SeenAt   time.Time
	// LockMode and LockedUntil are its Object Lock retention, if any.
	LockMode    string
	LockedUntil time.Time
	// DeletedAt is when its deletion was recorded, if it was.
	DeletedAt time.Time
}

// Action is what the reconciler does with an orphan.
func (o *Orphan) Action(now time.Time, deleting bool) string {
	switch {
	case !o.DeletedAt.IsZero():
		return "deleted"
	case o.LockedUntil.After(now):
		return "kept-locked"
	case !deleting:
		return "kept-report-only"
	}
	return "deleted"
}

// Inventory lists and removes stored payload versions.
type Inventory interface {
	// PayloadVersions lists stored versions (no delete markers) of keys
	// under PayloadPrefix after the key after, in key order, at least limit
	// of them (every version of the last key listed) unless the listing
	// ends; next is the last key listed, or "" at the end.
	PayloadVersions(ctx context.Context, after string, limit int) (objs []StoredObject, next string, err error)
	// Retention returns a version's Object Lock mode and retain-until date
	// ("" and zero if none).
	Retention(ctx context.Context, key, version string) (mode string, until time.Time, err error)
	// RemoveVersion deletes one version, never bypassing a lock.
	RemoveVersion(ctx context.Context, key, version string) error
}

// OrphanStore is what the reconciler needs of the database.
type OrphanStore interface {
	// RecordedObjects returns the payload object each of the exchanges
	// records; exchanges with no row are missing from the map.
	RecordedObjects(ctx context.Context, ids []string) (map[string]ObjectRef, error)
	// NoteOrphan records (or refreshes) an orphan kept in the store.
	NoteOrphan(ctx context.Context, o *Orphan) error
	// ClaimOrphan records the deletion of an orphan together with its
	// audit entry, unless it is recorded already; it reports whether this
	// call recorded it.
	ClaimOrphan(ctx context.Context, o *Orphan, entry *audit.Entry) (bool, error)
}

// Reconciler finds payload objects no exchange records and deletes them,
// or reports them while a lock holds them. Each run covers a bounded part
// of the bucket and the next one carries on from there; one pass over the
// whole bucket takes as many runs as it needs.
type Reconciler struct {
	Store     OrphanStore
	Inventory Inventory
	// Grace is how old an object must be before it counts as an orphan.
	Grace time.Duration
	// Delete deletes orphans that no lock holds; false only reports them.
	Delete bool
	Log    *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu     sync.Mutex
	cursor string
	held   int // orphans kept during the current pass
}

// ReconcileReport is what one run found and did.
type ReconcileReport struct {
	Scanned  int // object versions looked at
	Orphans  int // of which no exchange records and older than the grace
	Deleted  int
	Kept     int // under a lock, or reported only
	Failed   int // whose deletion failed; tried again next run
	PassDone bool
}

// Reconcile looks at up to limit stored versions, after where the last run
// stopped.
func (r *Reconciler) Reconcile(ctx context.Context, limit int) (ReconcileReport, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var rep ReconcileReport
	now := time.Now().UTC()
	if r.Now != nil {
		now = r.Now().UTC()
	}
	objs, next, err := r.Inventory.PayloadVersions(ctx, r.cursor, limit)
	if err != nil {
		return rep, fmt.Errorf("listing payload objects: %w", err)
	}
	rep.Scanned = len(objs)
	ids := make([]string, 0, len(objs))
	for _, o := range objs {
		if id := exchangeOf(o.Key); id != "" {
			ids = append(ids, id)
		}
	}
	refs, err := r.Store.RecordedObjects(ctx, ids)
	if err != nil {
		return rep, err
	}
	for _, o := range objs {
		id := exchangeOf(o.Key)
		if ref, ok := refs[id]; ok && ref.Key == o.Key && (ref.Version == o.Version || ref.Version == "") {
			continue
		}
		if now.Sub(o.Modified) < r.Grace {
			continue // an upload whose commit may still be on its way
		}
		rep.Orphans++
		orphan := &Orphan{Object: o, Exchange: id, FoundAt: now, SeenAt: now}
		if err := r.handle(ctx, orphan, now, &rep); err != nil {
			rep.Failed++
			metrics.OrphanObjects.WithLabelValues("delete-failed").Inc()
			r.Log.Warn("removing an orphaned payload object failed; will retry", logkey.Exchange, id, "object", o.Key, "version", o.Version, logkey.Error, err)
		}
	}
	r.cursor = next
	if next == "" {
		rep.PassDone = true
		metrics.OrphanObjectsHeld.Set(float64(r.held + rep.Kept))
		r.held = 0
	} else {
		r.held += rep.Kept
	}
	if rep.Orphans > 0 {
		r.Log.Info("reconciled payload objects no exchange records", "scanned", rep.Scanned, "orphans", rep.Orphans,
			"deleted", rep.Deleted, "kept", rep.Kept, "failed", rep.Failed)
	}
	return rep, nil
}

func (r *Reconciler) handle(ctx context.Context, o *Orphan, now time.Time, rep *ReconcileReport) error {
	mode, until, err := r.Inventory.Retention(ctx, o.Object.Key, o.Object.Version)
	if err != nil {
		return fmt.Errorf("reading its retention: %w", err)
	}
	o.LockMode, o.LockedUntil = mode, until
	if action := o.Action(now, r.Delete); action != "deleted" {
		if err := r.Store.NoteOrphan(ctx, o); err != nil {
			return err
		}
		rep.Kept++
		metrics.OrphanObjects.WithLabelValues(action).Inc()
		return nil
	}
	entry := &audit.Entry{
		Time: now, Type: TypePayloadDeleted, Actor: "gatehouse", Exchange: o.Exchange,
		Detail: map[string]string{
			"reason": "orphaned: stored, but no exchange records it", "object": o.Object.Key,
			"object_version": o.Object.Version, "stored_at": o.Object.Modified.UTC().Format(time.RFC3339),
		},
	}
	// Audited first (once, whichever node gets there first), then removed;
	// a removal that fails is tried again by the next run.
	first, err := r.Store.ClaimOrphan(ctx, o, entry)
	if err != nil {
		return err
	}
	if err := r.Inventory.RemoveVersion(ctx, o.Object.Key, o.Object.Version); err != nil {
		return err
	}
	rep.Deleted++
	if first {
		metrics.OrphanObjects.WithLabelValues("deleted").Inc()
	}
	return nil
}

// exchangeOf is the exchange id a payload key names, or "".
func exchangeOf(key string) string {
	rest, ok := strings.CutPrefix(key, PayloadPrefix)
	if !ok {
		return ""
	}
	id, _, ok := strings.Cut(rest, "/")
	if !ok {
		return ""
	}
	return id
}
