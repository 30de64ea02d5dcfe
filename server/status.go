package server

import (
	"context"
	"sync"
	"time"

	"github.com/gatehouse-gw/gatehouse/console"
)

// verifyStatus is this node's last verification of the whole audit
// record (the reminders run it every alerts.verify_every).
type verifyStatus struct {
	mu  sync.Mutex
	at  time.Time
	err error
}

func (v *verifyStatus) record(at time.Time, err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.at, v.err = at, err
}

func (v *verifyStatus) last() (time.Time, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.at, v.err
}

// consoleStatus is the audit record's state, as the console's home page
// shows it.
type consoleStatus struct{ a *App }

var _ console.Status = consoleStatus{}

func (s consoleStatus) Audit(ctx context.Context) (console.AuditStatus, error) {
	st := console.AuditStatus{VerifyEvery: s.a.Config.Alerts.VerifyEvery, StaleAfter: s.a.Checkpointer.StaleAfter()}
	var err error
	st.VerifiedAt, err = s.a.verified.last()
	if err != nil {
		st.VerifyFailed = err.Error()
	}
	cp, ok, err := s.a.DB.LastAuditCheckpoint(ctx)
	if err != nil {
		return st, err
	}
	if ok {
		st.LastCheckpoint = cp.Time
	}
	if st.Unarchived, err = s.a.Checkpointer.UnarchivedAge(ctx); err != nil {
		return st, err
	}
	return st, nil
}
