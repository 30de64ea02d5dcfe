package alerts

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/gatehouse-gw/gatehouse/internal/logkey"
)

// Due is something with a deadline that someone must meet.
type Due struct {
	// Kind is override, notification, notification-confirmation, request,
	// agreement-review, dpia or certificate.
	Kind     string
	ID       string
	Deadline time.Time
	// Party is who must act, for a request (its handler); else empty.
	Party string
}

// Kinds of Due.
const (
	DueOverride     = "override"
	DueNotification = "notification"
	// DueConfirmation: a withholding of the subjects' notification that the
	// sender made awaits a DPO's confirmation.
	DueConfirmation = "notification-confirmation"
	DueRequest      = "request"
	DueReview       = "agreement-review"
	DueDPIA         = "dpia"
	DueCertificate  = "certificate"
)

// DueSource lists what falls due before a time (overdue included).
type DueSource interface {
	DueBefore(ctx context.Context, before time.Time) ([]Due, error)
}

// Reminders writes the events of deadlines: an override's review due in
// 24 hours and overdue, a request's deadline near (24 hours) and passed,
// a notification falling due, an agreement review or DPIA due within
// Within and lapsed; and once a day at DigestAt, the digest of all that
// is due within Within. Each event's id is derived from what it reminds
// of, so that every node may run Reminders and each reminder is written
// once.
type Reminders struct {
	Source DueSource
	Store  Store
	Within time.Duration
	// DigestAt is the digest's time of day in Europe/London (zero hour and
	// minute: midnight); Digest false sends none.
	DigestAt time.Duration
	Digest   bool
	// Stale, if set, reports whether the audit record's checkpoints are
	// stale; Broken whether the record fails verification, run at most
	// once every VerifyEvery.
	Stale       func(context.Context) error
	Broken      func(context.Context) error
	VerifyEvery time.Duration
	// CertWarnDays are the days before a certificate expires at which its
	// party and the operators are told (the smallest threshold crossed).
	CertWarnDays []int
	Log          *slog.Logger
	Now          func() time.Time

	lastVerify time.Time
}

// Run writes reminders every interval until ctx ends.
func (r *Reminders) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := r.Once(ctx); err != nil && ctx.Err() == nil {
			r.Log.Warn("writing reminders failed", logkey.Error, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Once writes the reminders due now.
func (r *Reminders) Once(ctx context.Context) error {
	now := time.Now().UTC()
	if r.Now != nil {
		now = r.Now().UTC()
	}
	dues, err := r.Source.DueBefore(ctx, now.Add(r.Within))
	if err != nil {
		return fmt.Errorf("alerts: what is due: %w", err)
	}
	var evs []Event
	add := func(key, typ, party string, roles []string, d Data) {
		evs = append(evs, Event{ID: KeyID(key), Type: typ, Time: now, Party: party, Roles: roles, Data: d})
	}
	day := 24 * time.Hour
	var items []Item
	for _, d := range dues {
		stamp := d.Deadline.UTC().Format(time.RFC3339)
		past := !now.Before(d.Deadline)
		switch d.Kind {
		case DueOverride:
			action := "review the emergency override"
			items = append(items, Item{Type: d.Kind, ID: d.ID, Deadline: d.Deadline, Action: action})
			data := Data{Exchange: d.ID, Override: true, Deadline: d.Deadline, Action: action}
			if past {
				add("override-overdue:"+d.ID+":"+stamp, OverrideOverdue, "", []string{RoleDPO}, data)
			} else if d.Deadline.Sub(now) <= day {
				add("override-due:"+d.ID+":"+stamp, OverrideReviewDue, "", []string{RoleDPO}, data)
			}
		case DueNotification:
			action := "tell the data subjects, or record why telling them stays withheld"
			items = append(items, Item{Type: d.Kind, ID: d.ID, Deadline: d.Deadline, Action: action})
			if past {
				add("notification-due:"+d.ID+":"+stamp, NotificationDue, "", []string{RoleDPO}, Data{Exchange: d.ID, Deadline: d.Deadline, Action: action})
			}
		case DueConfirmation:
			action := "confirm that telling the data subjects stays withheld, or tell them"
			items = append(items, Item{Type: d.Kind, ID: d.ID, Deadline: d.Deadline, Action: action})
			if past {
				add("notification-confirm:"+d.ID+":"+stamp, NotificationDue, "", []string{RoleDPO}, Data{Exchange: d.ID, Deadline: d.Deadline, Action: action})
			}
		case DueRequest:
			action := "answer or decline the request"
			items = append(items, Item{Type: d.Kind, ID: d.ID, Deadline: d.Deadline, Action: action})
			data := Data{Request: d.ID, Party: d.Party, Deadline: d.Deadline, Action: action}
			switch {
			case past:
				add("request-passed:"+d.ID+":"+stamp, RequestDeadlinePast, "", []string{RoleAdmin}, data)
				add("request-passed:"+d.ID+":"+stamp+":"+d.Party, RequestDeadlinePast, d.Party, nil, data)
			case d.Deadline.Sub(now) <= day:
				add("request-near:"+d.ID+":"+stamp, RequestDeadlineNear, "", []string{RoleAdmin}, data)
				add("request-near:"+d.ID+":"+stamp+":"+d.Party, RequestDeadlineNear, d.Party, nil, data)
			}
		case DueCertificate:
			left := d.Deadline.Sub(now)
			threshold := -1
			for _, days := range r.CertWarnDays {
				if left <= time.Duration(days)*day && (threshold < 0 || days < threshold) {
					threshold = days
				}
			}
			if threshold < 0 {
				continue
			}
			data := Data{Party: d.Party, Serial: d.ID, Deadline: d.Deadline, Action: "issue and install a new certificate before this one expires"}
			key := fmt.Sprintf("certificate:%s:%s:%d", d.Party, d.ID, threshold)
			add(key, CertificateExpiring, "", []string{RoleOperator}, data)
			add(key+":party", CertificateExpiring, d.Party, nil, data)
		case DueReview, DueDPIA:
			typ, lapsed, action := AgreementReviewDue, AgreementLapsed, "review the agreement"
			if d.Kind == DueDPIA {
				typ, lapsed, action = DPIADue, DPIALapsed, "revisit the agreement's DPIA"
			}
			items = append(items, Item{Type: d.Kind, ID: d.ID, Deadline: d.Deadline, Action: action})
			data := Data{Agreement: d.ID, Deadline: d.Deadline, Action: action}
			if past {
				add(lapsed+":"+d.ID+":"+stamp, lapsed, "", []string{RoleAdmin, RoleDPO}, data)
			} else {
				add(typ+":"+d.ID+":"+stamp, typ, "", []string{RoleAdmin, RoleDPO}, data)
			}
		}
	}
	hour := now.Format("2006-01-02T15")
	if r.Stale != nil {
		if err := r.Stale(ctx); err != nil {
			add("checkpoint-stale:"+hour, CheckpointStale, "", []string{RoleOperator}, Data{Action: "find out why the audit record's checkpoints are not being signed or archived"})
		}
	}
	if r.Broken != nil && now.Sub(r.lastVerify) >= r.VerifyEvery {
		r.lastVerify = now
		if err := r.Broken(ctx); err != nil {
			add("audit-broken:"+hour, AuditBroken, "", []string{RoleOperator, RoleDPO, RoleAuditor},
				Data{Action: "run gatehouse audit verify and find out what changed the audit record (" + err.Error() + ")"})
		}
	}
	if r.Digest && len(items) > 0 {
		local := now.In(london)
		midnight := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, london)
		if !local.Before(midnight.Add(r.DigestAt)) {
			add("digest:"+midnight.Format(time.DateOnly), Digest, "", []string{RoleDPO, RoleAdmin},
				Data{Items: items, Action: "deal with what is due"})
		}
	}
	return r.Store.Emit(ctx, evs)
}
