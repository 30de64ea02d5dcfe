package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/gatehouse-gw/gatehouse/internal/metrics"
)

// Group commit. Every change goes through one committer per DB: while one
// transaction commits, the changes that arrive meanwhile queue up, and the
// next transaction runs them all, each inside its own savepoint, with one
// commit (one fsync) for the lot. A change that fails is rolled back to its
// savepoint alone; the others commit. A failed commit fails them all. Every
// caller gets its own result only once its transaction is durable, so "no
// audit record, no action" holds per change.

// maxBatch bounds how many changes share one transaction.
const maxBatch = 256

type unit struct {
	ctx  context.Context
	fn   func(*tx) error
	done chan error
}

type committer struct {
	d     *DB
	queue chan *unit
	stop  chan struct{}
	wg    sync.WaitGroup
}

// errClosed is returned for changes submitted after Close.
var errClosed = errors.New("store: closed")

func newCommitter(d *DB) *committer {
	c := &committer{d: d, queue: make(chan *unit, maxBatch), stop: make(chan struct{})}
	c.wg.Add(1)
	go c.loop()
	return c
}

func (c *committer) close() {
	close(c.stop)
	c.wg.Wait()
}

// submit queues fn and waits for its transaction to commit or fail.
func (c *committer) submit(ctx context.Context, fn func(*tx) error) error {
	u := &unit{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case c.queue <- u:
	case <-c.stop:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once queued, the change runs (or is skipped if its context ends first)
	// and the caller learns the outcome: never a change that happened
	// without its caller knowing.
	return <-u.done
}

func (c *committer) loop() {
	defer c.wg.Done()
	batch := make([]*unit, 0, maxBatch)
	for {
		select {
		case <-c.stop:
			c.drain(errClosed)
			return
		case u := <-c.queue:
			batch = append(batch[:0], u)
		}
	more:
		for len(batch) < maxBatch {
			select {
			case u := <-c.queue:
				batch = append(batch, u)
			default:
				break more
			}
		}
		c.run(batch)
	}
}

func (c *committer) drain(err error) {
	for {
		select {
		case u := <-c.queue:
			u.done <- err
		default:
			return
		}
	}
}

// run executes a batch in one transaction. Changes rarely fail, so the
// batch first runs without savepoints (each one costs a round trip on
// PostgreSQL). If a change fails, the transaction is rolled back, that
// change gets its error (it failed after the changes before it, as it
// would have in turn) and the batch runs again without it; after
// optimisticTries failures the rest runs with a savepoint around each
// change instead. A change may therefore run more than once, in
// transactions of which only the last commits: changes read what they need
// inside their transaction and keep no state outside it.
func (c *committer) run(batch []*unit) {
	results := make([]error, len(batch))
	live := make([]int, 0, len(batch)) // the changes still to commit
	for i := range batch {
		live = append(live, i)
	}
	var err error
	for try := 0; len(live) > 1 && try < optimisticTries; try++ {
		failed := -1
		err = c.d.transact(func(t *tx) error {
			for _, i := range live {
				u := batch[i]
				if results[i] = u.ctx.Err(); results[i] != nil {
					continue
				}
				if results[i] = u.fn(t); results[i] != nil {
					failed = i
					// The unit's own error shows through, so that a
					// write fault inside it is seen as one.
					return fmt.Errorf("%w: %w", errUnitFailed, results[i])
				}
			}
			return nil
		})
		if !errors.Is(err, errUnitFailed) || classify(err) != notAFault {
			// The transaction failed as a whole, or a change met a write
			// fault that every other change would meet too: none of them
			// committed, and none is tried again here.
			live = live[:0]
			break
		}
		live = slices.DeleteFunc(live, func(i int) bool { return i == failed })
		err = nil
	}
	if len(live) > 0 {
		sub := make([]*unit, len(live))
		subResults := make([]error, len(live))
		for k, i := range live {
			sub[k] = batch[i]
		}
		err = c.d.transact(func(t *tx) error { return c.runIsolated(t, sub, subResults) })
		for k, i := range live {
			results[i] = subResults[k]
		}
		if err != nil {
			// The transaction failed as a whole: none of these committed.
			for _, i := range live {
				if results[i] == nil {
					results[i] = err
				}
			}
		}
	} else if err != nil {
		for i := range results {
			if results[i] == nil {
				results[i] = err
			}
		}
	}
	metrics.CommitBatch.Observe(float64(len(batch)))
	for i, u := range batch {
		u.done <- results[i]
	}
}

// optimisticTries is how many failed changes a batch drops before it runs
// the rest with savepoints.
const optimisticTries = 3

// errUnitFailed aborts an optimistic batch in which a change failed.
var errUnitFailed = errors.New("store: a change in the batch failed")

// runIsolated runs each change of the batch inside a savepoint of its own:
// a change that fails is rolled back alone.
func (c *committer) runIsolated(t *tx, batch []*unit, results []error) error {
	single := len(batch) == 1
	for i, u := range batch {
		if err := u.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		if single {
			results[i] = u.fn(t)
			return results[i]
		}
		if _, err := t.tx.ExecContext(context.Background(), "SAVEPOINT unit"); err != nil {
			return err
		}
		head := t.head.snapshot()
		if results[i] = u.fn(t); results[i] != nil {
			if _, err := t.tx.ExecContext(context.Background(), "ROLLBACK TO SAVEPOINT unit"); err != nil {
				return err
			}
			// The chain head and the tree roll back with the unit's entries.
			pending := len(head.pending)
			t.head = head
			t.head.pending, t.head.nodes = t.head.pending[:pending], t.head.nodes[:pending]
		}
		if _, err := t.tx.ExecContext(context.Background(), "RELEASE SAVEPOINT unit"); err != nil {
			return err
		}
	}
	return nil
}

// transact runs fn in one database transaction and commits it. On
// PostgreSQL it first takes the audit chain's head row, so that every
// node's writers queue on the same lock in the same order: no deadlocks.
//
// Its outcome is the database's write health (DB.Writes). A transaction
// that failed on a read-only connection runs again at once on a fresh one:
// nothing of it was written, and the database may be writable again while
// the pool still holds connections opened when it was not (SQLite opens a
// connection read-only for good if its file cannot be written at that
// moment; PostgreSQL's may lead to a former primary, now a standby). Only
// when fresh connections fail too is the database taken to be failing.
func (d *DB) transact(fn func(*tx) error) error {
	for attempt := 0; ; attempt++ {
		kind, err := d.transactOnce(fn)
		switch {
		case err == nil:
			d.writes.Record(nil)
			return nil
		case kind == notAFault:
			return err
		case kind == readOnlyConn && attempt < readOnlyRetries:
			d.flushIdle() // the failed connection is closed already
			continue
		}
		d.writes.Record(err)
		d.writeFailed(err)
		return err
	}
}

// readOnlyRetries is how many fresh connections a transaction that met a
// read-only one tries: as many as SQLite's pool may hold, each failing at
// once while the database is still read-only.
const readOnlyRetries = sqliteMaxOpen

// transactOnce runs fn in one transaction on one connection. It returns
// what kind of fault the error is; a failure to begin, save or commit is
// always a write fault, and the connection is not reused after one.
func (d *DB) transactOnce(fn func(*tx) error) (kind faultKind, err error) {
	ctx := context.Background()
	start := time.Now()
	conn, err := d.db.Conn(ctx)
	if err != nil {
		metrics.StoreErrors.WithLabelValues("sql", "begin").Inc()
		return max(classify(err), writeFault), fmt.Errorf("store: connect: %w", err)
	}
	defer func() {
		if kind != notAFault {
			// Close the connection rather than return it to the pool.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		_ = conn.Close()
	}()
	sqlTx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		metrics.StoreErrors.WithLabelValues("sql", "begin").Inc()
		return max(classify(err), writeFault), fmt.Errorf("store: begin: %w", err)
	}
	t := &tx{d: d, tx: sqlTx}
	if d.driver == Postgres {
		if err := t.loadHead(ctx); err != nil {
			_ = sqlTx.Rollback()
			return max(classify(err), writeFault), err
		}
	}
	if err := fn(t); err != nil {
		_ = sqlTx.Rollback()
		return classify(err), err
	}
	if err := t.saveHead(ctx); err != nil {
		_ = sqlTx.Rollback()
		return max(classify(err), writeFault), err
	}
	err = sqlTx.Commit()
	if t.registryChanged {
		// Even a failed commit may have changed nothing or everything:
		// reread the registry either way.
		d.registryWrites.Add(1)
	}
	if err != nil {
		metrics.StoreErrors.WithLabelValues("sql", "commit").Inc()
		return max(classify(err), writeFault), fmt.Errorf("store: commit: %w", err)
	}
	metrics.CommitDuration.Observe(time.Since(start).Seconds())
	metrics.AuditAppends.Add(float64(len(t.head.pending)))
	return notAFault, nil
}
