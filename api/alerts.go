package api

import "time"

// AlertDelivery is one alert on its way to one webhook endpoint or
// mailbox: what GET /admin/v1/alerts/deliveries lists and
// POST /admin/v1/alerts/deliveries/{id}/retry answers.
type AlertDelivery struct {
	ID int64 `json:"id"`
	// Event is the event's id: the webhook-id its webhooks carry.
	Event     string    `json:"event"`
	EventType string    `json:"event_type"`
	EventTime time.Time `json:"event_time"`
	// Channel is webhook or email; Target the endpoint's name or the mailbox.
	Channel string `json:"channel"`
	Target  string `json:"target"`
	// State is pending, delivered or failed (every attempt failed: it
	// waits for a manual retry).
	State       string    `json:"state"`
	Attempts    int       `json:"attempts"`
	NextAt      time.Time `json:"next_attempt_at,omitzero"`
	LastAt      time.Time `json:"last_attempt_at,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	DeliveredAt time.Time `json:"delivered_at,omitzero"`
	CreatedAt   time.Time `json:"created_at"`
}

// AlertDeliveryList is a page of deliveries, newest first; Next is the
// before= value of the next page (absent on the last).
type AlertDeliveryList struct {
	Deliveries []AlertDelivery `json:"deliveries"`
	Next       int64           `json:"next,omitempty"`
}
