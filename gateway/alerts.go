package gateway

import (
	"context"
	"net/http"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/alerts"
	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/internal/valid"
)

// Outbox is what the admin API needs of the alerts' outbox.
type Outbox interface {
	Deliveries(ctx context.Context, actor agreements.Actor, q alerts.Query) ([]alerts.Delivery, error)
	Retry(ctx context.Context, actor agreements.Actor, id int64) (alerts.Delivery, error)
}

// GET /admin/v1/alerts/deliveries?state=&before=&limit=
func (s *Server) listDeliveries(c *fiber.Ctx) error {
	var v valid.Errors
	q := alerts.Query{State: c.Query("state"), Limit: 100}
	switch q.State {
	case "", alerts.StatePending, alerts.StateDelivered, alerts.StateFailed:
	default:
		v.Add("state", "enum", "%q is not one of pending, delivered, failed", q.State)
	}
	if b := c.Query("before"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n < 1 {
			v.Add("before", "format", "%q is not a delivery id", b)
		}
		q.Before = n
	}
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 500 {
			v.Add("limit", "range", "must be a whole number from 1 to 500")
		}
		q.Limit = n
	}
	if err := v.Err(); err != nil {
		return err
	}
	ds, err := s.admin.Outbox.Deliveries(c.UserContext(), actorOf(c), q)
	if err != nil {
		return err
	}
	out := api.AlertDeliveryList{Deliveries: make([]api.AlertDelivery, len(ds))}
	for i := range ds {
		out.Deliveries[i] = deliveryView(&ds[i])
	}
	if len(ds) == q.Limit {
		out.Next = ds[len(ds)-1].ID
	}
	return c.JSON(out)
}

// POST /admin/v1/alerts/deliveries/{id}/retry
func (s *Server) retryDelivery(c *fiber.Ctx) error {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil || id < 1 {
		return valid.Errors{{Path: "id", Rule: "format", Message: "is not a delivery id"}}
	}
	d, err := s.admin.Outbox.Retry(c.UserContext(), actorOf(c), id)
	if err != nil {
		return err
	}
	return c.Status(http.StatusOK).JSON(deliveryView(&d))
}

func deliveryView(d *alerts.Delivery) api.AlertDelivery {
	out := api.AlertDelivery{
		ID: d.ID, Event: d.Event.ID, EventType: d.Event.Type, EventTime: d.Event.Time,
		Channel: d.Channel, Target: d.Target, State: d.State, Attempts: d.Attempts,
		LastAt: d.LastAt, LastError: d.LastError, DeliveredAt: d.DeliveredAt, CreatedAt: d.CreatedAt,
	}
	if d.State == alerts.StatePending {
		out.NextAt = d.NextAt
	}
	return out
}
