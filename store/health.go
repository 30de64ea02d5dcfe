package store

import (
	"context"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/gatehouse-gw/gatehouse/internal/health"
	"github.com/gatehouse-gw/gatehouse/internal/logkey"
	"github.com/gatehouse-gw/gatehouse/internal/metrics"
)

// Writes is the outcome of the database's last commit: every transaction
// records it, and the heartbeat (ProbeWrites) does when nothing else has
// written for a while.
func (d *DB) Writes() *health.Writes { return d.writes }

// CheckWrites reports whether the database takes writes: the outcome of the
// last commit if it is less than window old, else that of a heartbeat.
func (d *DB) CheckWrites(ctx context.Context, window time.Duration) error {
	return d.writes.Check(ctx, window, d.ProbeWrites)
}

// ProbeWrites commits a heartbeat through the group committer: it takes the
// audit chain's head as every writer does, checks that an entry could be
// appended (inside a savepoint it rolls back: the chain gains nothing), and
// rewrites the head row unchanged. The commit is real — it writes the
// journal, needs disk space and a writable file, and on PostgreSQL a
// primary — but changes no value.
func (d *DB) ProbeWrites(ctx context.Context) error {
	return d.update(ctx, func(t *tx) error {
		if err := t.loadHead(ctx); err != nil {
			return err
		}
		if _, err := t.tx.ExecContext(ctx, "SAVEPOINT heartbeat"); err != nil {
			return err
		}
		_, err := t.tx.ExecContext(ctx, "INSERT INTO audit_log (seq, time, type, body, hash) VALUES ($1, $2, $3, $4, $5)",
			-1, utc(time.Now()), "readiness-probe", "{}", "")
		if _, rbErr := t.tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT heartbeat"); rbErr != nil && err == nil {
			err = rbErr
		}
		if err != nil {
			return fmt.Errorf("store: the audit chain cannot be written: %w", err)
		}
		if _, err := t.tx.ExecContext(ctx, "RELEASE SAVEPOINT heartbeat"); err != nil {
			return err
		}
		_, err = t.exec(ctx, "UPDATE audit_head SET seq = seq WHERE id = 1")
		return err
	})
}

// Backoff of the writes that reconnect after a fault.
const (
	recoverFirst = 100 * time.Millisecond
	recoverMax   = 5 * time.Second
)

// writeFailed handles a write that failed for a reason that may heal: the
// pool's idle connections are closed (the failed one already is), and one
// background loop commits heartbeats with exponential backoff until one
// succeeds, so that the database is reconnected, and readiness comes back,
// whether or not traffic arrives meanwhile.
func (d *DB) writeFailed(cause error) {
	d.flushIdle()
	if !d.recovering.CompareAndSwap(false, true) {
		return
	}
	failedAt := time.Now()
	d.log.Warn("database writes failing; reconnecting with backoff", logkey.Component, "store", logkey.Error, cause)
	metrics.StoreErrors.WithLabelValues("sql", "write").Inc()
	d.recoverWG.Go(func() {
		defer d.recovering.Store(false)
		b := &backoff.ExponentialBackOff{
			InitialInterval: recoverFirst, Multiplier: 2, MaxInterval: recoverMax, RandomizationFactor: 0.2,
		}
		b.Reset()
		for attempt := 1; ; attempt++ {
			timer := time.NewTimer(b.NextBackOff())
			select {
			case <-d.closing:
				timer.Stop()
				return
			case <-timer.C:
			}
			if at, err := d.writes.Last(); err == nil && at.After(failedAt) {
				// A commit of the traffic's got there first.
				d.log.Info("database writes recovered", logkey.Component, "store", logkey.Duration, time.Since(failedAt).Round(time.Millisecond).String(), "attempts", attempt-1)
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := d.ProbeWrites(ctx)
			cancel()
			if err == nil {
				d.log.Info("database writes recovered", logkey.Component, "store", logkey.Duration, time.Since(failedAt).Round(time.Millisecond).String(), "attempts", attempt)
				return
			}
			d.log.Debug("database writes still failing", logkey.Component, "store", "attempt", attempt, logkey.Error, err)
		}
	})
}

// flushIdle closes the pool's idle connections: connections opened while
// the fault lasted may carry it (an SQLite file opened read-only).
func (d *DB) flushIdle() {
	d.db.SetMaxIdleConns(0)
	d.db.SetMaxIdleConns(maxIdleConns)
}

// maxIdleConns is how many idle connections the pool keeps.
const maxIdleConns = 4
