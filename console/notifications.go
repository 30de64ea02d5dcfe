package console

import (
	"errors"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/compliance"
	"github.com/gatehouse-gw/gatehouse/exchange"
	"github.com/gatehouse-gw/gatehouse/internal/valid"
)

// notificationsPage lists the disclosures whose subjects are to be told,
// and those whose telling is withheld, with the review date.
func (c *Console) notificationsPage(w http.ResponseWriter, r *http.Request, s *session) {
	c.notifications(w, r, s, http.StatusOK, nil, r.URL.Query().Get("done") == "recorded")
}

func (c *Console) notifications(w http.ResponseWriter, r *http.Request, s *session, status int, errs []fieldError, done bool) {
	if !slices.Contains(s.Roles, agreements.RoleDPO) && !slices.Contains(s.Roles, agreements.RoleAuditor) {
		c.forbidden(w, r, s, "Telling data subjects is decided by the DPO and read by auditors.")
		return
	}
	ns, err := c.opts.Records.Notifications(r.Context(), exchange.NotifyDue, exchange.NotifyWithheld)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	sort.Slice(ns, func(i, j int) bool { return ns[i].UpdatedAt.Before(ns[j].UpdatedAt) })
	msg := ""
	if done {
		msg = "Recorded."
	}
	c.render(w, r, status, "notifications", s, page{Title: "Telling data subjects", Nav: "notifications", Errors: errs, Done: msg,
		Data: map[string]any{"Notifications": ns, "Today": c.now().In(c.loc).Format(time.DateOnly)}})
}

func (c *Console) recordNotification(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	u := &api.NotificationUpdate{Action: r.PostFormValue("action"), Reason: strings.TrimSpace(r.PostFormValue("reason"))}
	var errs []fieldError
	if v := r.PostFormValue("review-at"); v != "" {
		d, err := time.ParseInLocation(time.DateOnly, v, c.loc)
		if err != nil {
			errs = append(errs, fieldError{"review-at-" + id, "Enter a real date"})
		} else {
			u.ReviewAt = &d
		}
	}
	if u.Action == compliance.NotificationConfirm {
		u.ReviewAt = nil // the withholding stands as the sender set it
	} else if u.Action != compliance.NotificationTold && u.Action != compliance.NotificationWithhold {
		errs = append(errs, fieldError{"action-" + id, "Select whether the subjects were told or telling them is withheld"})
	}
	status := http.StatusUnprocessableEntity
	if len(errs) == 0 {
		_, err := c.opts.Compliance.RecordNotification(r.Context(), s.actor(), id, u)
		if err == nil {
			http.Redirect(w, r, Prefix+"/notifications?done=recorded", http.StatusSeeOther)
			return
		}
		if errors.Is(err, agreements.ErrForbidden) {
			status = http.StatusForbidden
		}
		if ve, ok := valid.As(err); ok {
			for _, p := range ve {
				field := "reason-" + id
				switch p.Path {
				case "review_at":
					field = "review-at-" + id
				case "action":
					field = "action-" + id
				}
				errs = append(errs, fieldError{field, p.Path + ": " + p.Message})
			}
		} else {
			errs = append(errs, fieldError{"action-" + id, publicError(err)})
		}
	}
	c.notifications(w, r, s, status, errs, false)
}
