package server

import (
	"context"
	"time"

	"github.com/gatehouse-gw/gatehouse/internal/logkey"
	"github.com/gatehouse-gw/gatehouse/store/objectstore"
)

// staleUpload is how old an unfinished multipart upload must be before the
// sweeper aborts it: older than any upload still in progress could be.
const staleUpload = 24 * time.Hour

// orphanBatch bounds how many stored payload versions one sweep looks at
// for orphans; the next sweep carries on where it stopped.
const orphanBatch = 5000

// SweepOnce runs one sweep: expired payloads, payload objects no exchange
// records (orphans), multipart uploads abandoned when the store was
// unreachable (in both buckets: a readiness probe whose abort failed leaves
// one), then old idempotency keys and the console's ended sessions and
// expired exports.
func (a *App) SweepOnce(ctx context.Context) {
	for {
		n, err := a.Service.Sweep(ctx, 100)
		if err != nil {
			a.Log.Warn("retention sweep failed", logkey.Error, err)
			break
		}
		if n > 0 {
			a.Log.Info("deleted payloads whose retention ended", "count", n)
		}
		if n < 100 {
			break
		}
	}
	if _, err := a.Orphans.Reconcile(ctx, orphanBatch); err != nil {
		a.Log.Warn("reconciling payload objects failed", logkey.Error, err)
	}
	for _, st := range []*objectstore.Store{a.Objects, a.AuditArchive} {
		if n, err := st.AbortStale(ctx, time.Now().Add(-staleUpload)); err != nil {
			a.Log.Warn("aborting abandoned multipart uploads failed", "bucket", st.Bucket(), logkey.Error, err)
		} else if n > 0 {
			a.Log.Info("aborted abandoned multipart uploads", "bucket", st.Bucket(), "count", n)
		}
	}
	if _, err := a.DB.ForgetKeys(ctx, time.Now().Add(-a.Config.Retention.IdempotencyKeys)); err != nil {
		a.Log.Warn("forgetting old idempotency keys failed", logkey.Error, err)
	}
	if sessions, exports, err := a.DB.ForgetConsoleState(ctx, time.Now()); err != nil {
		a.Log.Warn("forgetting ended console sessions failed", logkey.Error, err)
	} else if sessions+exports > 0 {
		a.Log.Info("forgot ended console sessions and expired exports", "sessions", sessions, "exports", exports)
	}
}

// startBackground starts the sweeper (every retention.sweep_interval), the
// certificate and CRL watcher (every tls.reload_interval) and the expiry
// tracker's writer.
func (a *App) startBackground() {
	a.bgMu.Lock()
	defer a.bgMu.Unlock()
	if a.bgCancel != nil || a.stopped {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.bgCancel = cancel
	a.bgDone.Go(func() { a.TLS.Watch(ctx, a.Config.TLS.ReloadInterval) })
	a.bgDone.Go(func() { a.Expiry.Run(ctx) })
	a.bgDone.Go(func() { a.Checkpointer.Run(ctx, checkpointPoll(a.Config.Audit.CheckpointInterval)) })
	a.bgDone.Go(func() { a.Alerts.Run(ctx) })
	a.bgDone.Go(func() { a.Reminders.Run(ctx, reminderEvery(a.Config.Alerts.Poll)) })
	a.bgDone.Go(func() {
		t := time.NewTicker(alertGauges)
		defer t.Stop()
		for {
			a.gaugeAlerts(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
	if every := a.Config.Retention.SweepInterval; every > 0 {
		a.bgDone.Go(func() {
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					a.SweepOnce(ctx)
				}
			}
		})
	}
}

func (a *App) stopBackground() {
	a.bgMu.Lock()
	defer a.bgMu.Unlock()
	a.stopped = true // a Serve that has not started its jobs yet will not
	if a.bgCancel != nil {
		a.bgCancel()
		a.bgDone.Wait()
		a.bgCancel = nil
	}
}

// alertGauges is how often the outbox and override gauges are read.
const alertGauges = 10 * time.Second

// reminderEvery is how often reminders are looked for: every minute, or
// as often as the outbox is read if that is rarer.
func reminderEvery(poll time.Duration) time.Duration { return max(min(20*poll, time.Minute), poll) }

// checkpointPoll is how often the checkpointer looks at the chain.
func checkpointPoll(interval time.Duration) time.Duration {
	return min(max(interval/10, 100*time.Millisecond), time.Second)
}
