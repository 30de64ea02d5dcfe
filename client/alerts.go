package client

import (
	"context"
	"net/url"
	"strconv"

	"github.com/gatehouse-gw/gatehouse/api"
)

// AlertDeliveries lists alert deliveries (webhooks and e-mail), newest
// first: all of them, or those in state (pending, delivered, failed).
func (a *Admin) AlertDeliveries(ctx context.Context, state string) ([]api.AlertDelivery, error) {
	var out api.AlertDeliveryList
	path := "/admin/v1/alerts/deliveries?limit=500"
	if state != "" {
		path += "&state=" + url.QueryEscape(state)
	}
	return out.Deliveries, a.getJSON(ctx, path, &out)
}

// RetryAlert makes a pending or failed delivery due now.
func (a *Admin) RetryAlert(ctx context.Context, id int64) (*api.AlertDelivery, error) {
	var out api.AlertDelivery
	return &out, a.postJSON(ctx, "/admin/v1/alerts/deliveries/"+strconv.FormatInt(id, 10)+"/retry", nil, &out)
}
