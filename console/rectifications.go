package console

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/compliance"
	"github.com/gatehouse-gw/gatehouse/internal/valid"
)

// noticeDue is how long a recipient has to acknowledge a rectification
// notice before the console shows it overdue: the month UK GDPR Art 12(3)
// gives a controller to act on a request.
const noticeDue = 30 * 24 * time.Hour

// rectificationsShown bounds the rectifications listed, newest first.
const rectificationsShown = 200

var rectificationActions = []struct{ Code, Name, Hint string }{
	{compliance.ActionCorrected, "Corrected", "The data was wrong and has been put right"},
	{compliance.ActionErased, "Erased", "The data has been deleted"},
	{compliance.ActionRestricted, "Restricted", "The data is kept but may not be used"},
}

// rectificationForm is what the DPO typed, kept when the form is shown
// again with errors.
type rectificationForm struct {
	Type, Value, Action, Description string
}

// noticeView is one recipient's notice, for the page.
type noticeView struct {
	*compliance.Notice
	RecipientName string
	Overdue       bool
	DaysWaiting   int
}

type rectificationView struct {
	*compliance.Rectification
	ActionName string
	Views      []noticeView
	Awaiting   int
}

// overdue says whether an unacknowledged notice has waited past noticeDue,
// and for how many whole days it has waited.
func overdue(n *compliance.Notice, now time.Time) (bool, int) {
	if !n.AcknowledgedAt.IsZero() {
		return false, 0
	}
	waited := now.Sub(n.SentAt)
	return waited > noticeDue, int(math.Floor(waited.Hours() / 24))
}

// rectificationsPage lists the rectifications sent (Art 19) with each
// recipient's acknowledgement, overdue ones first marked, beside the form
// that sends one. For the DPO alone, as the service decides.
func (c *Console) rectificationsPage(w http.ResponseWriter, r *http.Request, s *session) {
	msg := ""
	if r.URL.Query().Get("done") == "sent" {
		msg = "Rectification recorded. Every party that received the person's data has been sent a notice."
	}
	c.rectifications(w, r, s, http.StatusOK, nil, rectificationForm{}, msg)
}

func (c *Console) rectifications(w http.ResponseWriter, r *http.Request, s *session, status int, errs []fieldError, form rectificationForm, done string) {
	if !slices.Contains(s.Roles, agreements.RoleDPO) {
		c.forbidden(w, r, s, "Rectifications are sent and followed by the DPO.")
		return
	}
	rects, err := c.opts.Records.Rectifications(r.Context(), "")
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	names := map[string]string{}
	if ps, err := c.opts.Registry.Parties(r.Context(), s.actor()); err == nil {
		for _, p := range ps {
			names[p.ID] = p.Name
		}
	}
	slices.SortFunc(rects, func(a, b *compliance.Rectification) int { return b.CreatedAt.Compare(a.CreatedAt) })
	if len(rects) > rectificationsShown {
		rects = rects[:rectificationsShown]
	}
	now := c.now()
	views := make([]rectificationView, 0, len(rects))
	overdueCount := 0
	for _, rc := range rects {
		v := rectificationView{Rectification: rc, ActionName: rc.Action}
		for _, a := range rectificationActions {
			if a.Code == rc.Action {
				v.ActionName = a.Name
			}
		}
		for _, n := range rc.Notices {
			late, days := overdue(n, now)
			if late {
				overdueCount++
			}
			if n.AcknowledgedAt.IsZero() {
				v.Awaiting++
			}
			v.Views = append(v.Views, noticeView{Notice: n, RecipientName: names[n.Recipient], Overdue: late, DaysWaiting: days})
		}
		views = append(views, v)
	}
	c.render(w, r, status, "rectifications", s, page{Title: "Rectifications", Nav: "rectifications", Errors: errs, Done: done,
		Data: map[string]any{"Rectifications": views, "Overdue": overdueCount, "Form": form, "Types": subjectTypes,
			"Actions": rectificationActions, "DueDays": int(noticeDue.Hours() / 24), "Key": randomToken()}})
}

// sendRectification records a rectification of one person's data and sends
// a notice to every party that received it. The identifier is posted, never
// in an address; the form's own idempotency key makes a double submit one
// rectification.
func (c *Console) sendRectification(w http.ResponseWriter, r *http.Request, s *session) {
	form := rectificationForm{Type: strings.TrimSpace(r.PostFormValue("subject-type")), Value: strings.TrimSpace(r.PostFormValue("subject-value")),
		Action: r.PostFormValue("action"), Description: strings.TrimSpace(r.PostFormValue("description"))}
	var errs []fieldError
	if !slices.ContainsFunc(subjectTypes, func(t struct{ Code, Name string }) bool { return t.Code == form.Type }) {
		errs = append(errs, fieldError{"subject-type", "Select the kind of identifier"})
	}
	switch {
	case form.Value == "":
		errs = append(errs, fieldError{"subject-value", "Enter the person's identifier"})
	case len(form.Value) > maxSubjectValue:
		errs = append(errs, fieldError{"subject-value", fmt.Sprintf("The identifier must be %d characters or fewer", maxSubjectValue)})
	}
	if !slices.ContainsFunc(rectificationActions, func(a struct{ Code, Name, Hint string }) bool { return a.Code == form.Action }) {
		errs = append(errs, fieldError{"action", "Select what was done to the data"})
	}
	switch {
	case form.Description == "":
		errs = append(errs, fieldError{"description", "Describe what was changed, so that each recipient can change it too"})
	case len(form.Description) > 4096:
		errs = append(errs, fieldError{"description", "The description must be 4096 characters or fewer"})
	}
	key := r.PostFormValue("idempotency-key")
	if len(key) > 64 {
		key = ""
	}
	status := http.StatusUnprocessableEntity
	if len(errs) == 0 {
		_, err := c.opts.Compliance.Rectify(r.Context(), s.actor(), &api.RectificationRequest{
			Subject: &api.Subject{Type: form.Type, Value: form.Value}, Action: form.Action, Description: form.Description}, key)
		if err == nil {
			http.Redirect(w, r, Prefix+"/rectifications?done=sent", http.StatusSeeOther)
			return
		}
		if errors.Is(err, agreements.ErrForbidden) {
			status = http.StatusForbidden
		}
		ve, ok := valid.As(err)
		if !ok && !errors.Is(err, agreements.ErrForbidden) {
			c.fail(w, r, s, err)
			return
		}
		for _, p := range ve {
			field := "subject-value"
			switch p.Path {
			case "action":
				field = "action"
			case "description":
				field = "description"
			}
			errs = append(errs, fieldError{field, p.Path + ": " + p.Message})
		}
		if !ok {
			errs = append(errs, fieldError{"subject-value", publicError(err)})
		}
	}
	// The identifier is not shown again: it is typed again.
	form.Value = ""
	c.rectifications(w, r, s, status, errs, form, "")
}
