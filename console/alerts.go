package console

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/alerts"
)

// Outbox is what the console needs of the alerts outbox: the deliveries
// that have not gone, and a retry of one.
type Outbox interface {
	Deliveries(ctx context.Context, actor agreements.Actor, q alerts.Query) ([]alerts.Delivery, error)
	Retry(ctx context.Context, actor agreements.Actor, id int64) (alerts.Delivery, error)
}

// deliverySection is one table of the alerts page.
type deliverySection struct {
	Key, Heading string
	Rows         []alerts.Delivery
}

// alertsShown is how many deliveries of each state the page lists.
const alertsShown = 100

// alertsPage lists the alert deliveries that failed for good and those
// still being tried, with their last error, so that nobody has to read
// the metrics to learn that the DPO was never told.
func (c *Console) alertsPage(w http.ResponseWriter, r *http.Request, s *session) {
	c.alerts(w, r, s, http.StatusOK, nil, r.URL.Query().Get("done") == "retried")
}

func (c *Console) alerts(w http.ResponseWriter, r *http.Request, s *session, status int, errs []fieldError, done bool) {
	if !slices.ContainsFunc(s.Roles, func(r string) bool {
		return r == agreements.RoleAdmin || r == agreements.RoleDPO || r == agreements.RoleAuditor
	}) {
		c.forbidden(w, r, s, "Alert deliveries are read by administrators, DPOs and auditors.")
		return
	}
	var failed, pending []alerts.Delivery
	if c.opts.Outbox != nil {
		var err error
		if failed, err = c.opts.Outbox.Deliveries(r.Context(), s.actor(), alerts.Query{State: alerts.StateFailed, Limit: alertsShown}); err == nil {
			pending, err = c.opts.Outbox.Deliveries(r.Context(), s.actor(), alerts.Query{State: alerts.StatePending, Limit: alertsShown})
		}
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
	}
	msg := ""
	if done {
		msg = "The delivery will be tried again now."
	}
	c.render(w, r, status, "alerts", s, page{Title: "Alerts not delivered", Nav: "alerts", Errors: errs, Done: msg,
		Data: map[string]any{"Configured": c.opts.Outbox != nil, "Sections": []deliverySection{
			{"failed", "Failed for good", failed},
			{"pending", "Still being tried", pending},
		}}})
}

func (c *Console) retryAlert(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 || c.opts.Outbox == nil {
		c.fail(w, r, s, agreements.ErrNotFound)
		return
	}
	_, err = c.opts.Outbox.Retry(r.Context(), s.actor(), id)
	switch {
	case err == nil:
		http.Redirect(w, r, Prefix+"/alerts?done=retried", http.StatusSeeOther)
	case errors.Is(err, agreements.ErrForbidden):
		c.forbidden(w, r, s, "Only an administrator or a DPO can retry an alert.")
	case errors.Is(err, alerts.ErrNotFound):
		c.fail(w, r, s, agreements.ErrNotFound)
	case errors.Is(err, alerts.ErrState):
		c.alerts(w, r, s, http.StatusConflict, []fieldError{{"retry-" + r.PathValue("id"), "This alert has been delivered meanwhile"}}, false)
	default:
		c.fail(w, r, s, err)
	}
}
