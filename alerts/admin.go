package alerts

import (
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/internal/public"
)

// AuditRetried is the audit entry of a manual retry.
const AuditRetried = "admin.alert.retried"

// Admin is what people may do with the outbox: list deliveries (admin,
// dpo, auditor) and retry one that failed (admin, dpo).
type Admin struct {
	Store Store
	// Wake tells the local dispatcher to look at once.
	Wake func()
	Now  func() time.Time
}

func need(actor agreements.Actor, roles ...string) error {
	for _, r := range actor.Roles {
		if slices.Contains(roles, r) {
			return nil
		}
	}
	return public.Errorf(agreements.ErrForbidden, "this needs one of the roles %v", roles)
}

// Deliveries lists deliveries, newest first.
func (a *Admin) Deliveries(ctx context.Context, actor agreements.Actor, q Query) ([]Delivery, error) {
	if err := need(actor, RoleAdmin, RoleDPO, RoleAuditor); err != nil {
		return nil, err
	}
	return a.Store.Deliveries(ctx, q)
}

// Retry makes a delivery due now (audited).
func (a *Admin) Retry(ctx context.Context, actor agreements.Actor, id int64) (Delivery, error) {
	if err := need(actor, RoleAdmin, RoleDPO); err != nil {
		return Delivery{}, err
	}
	now := time.Now().UTC()
	if a.Now != nil {
		now = a.Now().UTC()
	}
	d, err := a.Store.Retry(ctx, id, now, &audit.Entry{
		Time: now, Type: AuditRetried, Actor: actor.Subject,
		Detail: map[string]string{"delivery": strconv.FormatInt(id, 10)},
	})
	if err == nil && a.Wake != nil {
		a.Wake()
	}
	return d, err
}
