package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/alerts"
	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/compliance"
	"github.com/gatehouse-gw/gatehouse/exchange"
	"github.com/gatehouse-gw/gatehouse/store"
)

// sealed is the audit entry of a delivered exchange.
func sealed(id, recipient string) *audit.Entry {
	return &audit.Entry{Time: t0, Type: audit.TypeExchangeSealed, Actor: "council.revenues", Exchange: id,
		Agreement: "police-crime@1", Recipient: recipient, Outcome: "allow", Subjects: []string{"hmac-of-a-subject"}}
}

// The outbox: events are written with the change that causes them and
// only if it commits; a delivery is leased to one holder at a time.
func testOutbox(t *testing.T, db *store.DB) {
	ctx := context.Background()
	ob := db.Outbox()
	s := db.Exchanges()

	boom := errors.New("boom")
	require.ErrorIs(t, s.Update(ctx, func(tx exchange.Tx) error {
		if err := tx.AppendAudit(ctx, sealed("ex-rolled-back", "dwp")); err != nil {
			return err
		}
		return boom
	}), boom)
	require.NoError(t, appendAll(ctx, s, sealed("ex-1", "police.northshire")))
	evs, err := ob.Unrouted(ctx, 10)
	require.NoError(t, err)
	require.Len(t, evs, 1, "only the change that committed has its event")
	ev := evs[0]
	require.Equal(t, alerts.ExchangeDelivered, ev.Type)
	require.Equal(t, "police.northshire", ev.Party)
	require.Equal(t, "ex-1", ev.Data.Exchange)
	require.Equal(t, t0.Truncate(time.Microsecond), ev.Time)

	// Emit is idempotent by id.
	again := alerts.Event{ID: alerts.KeyID("reminder-1"), Type: alerts.OverrideReviewDue, Time: t0, Roles: []string{alerts.RoleDPO}}
	require.NoError(t, ob.Emit(ctx, []alerts.Event{again}))
	require.NoError(t, ob.Emit(ctx, []alerts.Event{again}))
	evs, err = ob.Unrouted(ctx, 10)
	require.NoError(t, err)
	require.Len(t, evs, 2)

	targets := []alerts.Target{{Channel: alerts.ChannelWebhook, Target: "police"}, {Channel: alerts.ChannelEmail, Target: "dpo@council.example"}}
	require.NoError(t, ob.Route(ctx, []alerts.Routing{{Event: ev.ID, Targets: targets}, {Event: again.ID}}, t0))
	require.NoError(t, ob.Route(ctx, []alerts.Routing{{Event: ev.ID, Targets: targets}}, t0), "routing twice writes nothing twice")
	require.NoError(t, ob.Route(ctx, nil, t0))
	evs, err = ob.Unrouted(ctx, 10)
	require.NoError(t, err)
	require.Empty(t, evs)

	until := t0.Add(time.Minute)
	a, err := ob.Claim(ctx, "node-a", t0, until, 10)
	require.NoError(t, err)
	require.Len(t, a, 2)
	require.Equal(t, ev.ID, a[0].Event.ID)
	b, err := ob.Claim(ctx, "node-b", t0.Add(time.Second), until, 10)
	require.NoError(t, err)
	require.Empty(t, b, "leased deliveries are not claimed by another node")

	hook, mail := a[0], a[1]
	if hook.Channel != alerts.ChannelWebhook {
		hook, mail = mail, hook
	}
	// A failed attempt waits for its next time; node-b's finish of a
	// delivery it does not hold changes nothing.
	require.NoError(t, ob.Finish(ctx, hook.ID, "node-b", t0, "", time.Time{}))
	require.NoError(t, ob.Finish(ctx, hook.ID, "node-a", t0.Add(time.Second), "webhook police answered 500", t0.Add(30*time.Second)))
	require.NoError(t, ob.Finish(ctx, mail.ID, "node-a", t0.Add(time.Second), "", time.Time{}))
	b, err = ob.Claim(ctx, "node-b", t0.Add(10*time.Second), until, 10)
	require.NoError(t, err)
	require.Empty(t, b, "not due yet")
	b, err = ob.Claim(ctx, "node-b", t0.Add(30*time.Second), t0.Add(2*time.Minute), 10)
	require.NoError(t, err)
	require.Len(t, b, 1)
	require.Equal(t, hook.ID, b[0].ID)
	require.Equal(t, 1, b[0].Attempts)
	require.Equal(t, "webhook police answered 500", b[0].LastError)

	// It gives up: failed, listed, counted, and retried by hand.
	require.NoError(t, ob.Finish(ctx, hook.ID, "node-b", t0.Add(31*time.Second), "webhook police answered 500", time.Time{}))
	failed, err := ob.Deliveries(ctx, alerts.Query{State: alerts.StateFailed})
	require.NoError(t, err)
	require.Len(t, failed, 1)
	require.Equal(t, 2, failed[0].Attempts)
	depth, err := ob.Depth(ctx)
	require.NoError(t, err)
	require.Equal(t, map[string]int{alerts.ChannelWebhook: 1}, depth.Failed)
	require.Empty(t, depth.Pending)

	retried, err := ob.Retry(ctx, hook.ID, t0.Add(time.Hour), &audit.Entry{Time: t0.Add(time.Hour), Type: alerts.AuditRetried, Actor: "dana"})
	require.NoError(t, err)
	require.Equal(t, alerts.StatePending, retried.State)
	_, err = ob.Retry(ctx, mail.ID, t0.Add(time.Hour), &audit.Entry{Time: t0.Add(time.Hour), Type: alerts.AuditRetried, Actor: "dana"})
	require.ErrorIs(t, err, alerts.ErrState)
	_, err = ob.Retry(ctx, 999999, t0.Add(time.Hour), &audit.Entry{Time: t0.Add(time.Hour), Type: alerts.AuditRetried, Actor: "dana"})
	require.ErrorIs(t, err, alerts.ErrNotFound)
	require.Equal(t, int64(2), verifyAll(t, db), "the retry is in the audit record")
	all, err := ob.Deliveries(ctx, alerts.Query{})
	require.NoError(t, err)
	require.Len(t, all, 2)
	require.Greater(t, all[0].ID, all[1].ID, "newest first")
}

// Nodes claiming at once never get the same delivery.
func testOutboxConcurrentClaims(t *testing.T, db *store.DB) {
	ctx := context.Background()
	ob := db.Outbox()
	const events = 60
	for i := range events {
		ev := alerts.Event{ID: fmt.Sprintf("evt-%03d", i), Type: alerts.Test, Time: t0, Roles: []string{alerts.RoleOperator}}
		require.NoError(t, ob.Emit(ctx, []alerts.Event{ev}))
		require.NoError(t, ob.Route(ctx, []alerts.Routing{{Event: ev.ID, Targets: []alerts.Target{{Channel: alerts.ChannelWebhook, Target: "ops"}}}}, t0))
	}
	var (
		mu   sync.Mutex
		seen = map[int64]string{}
		wg   sync.WaitGroup
	)
	for n := range 4 {
		holder := fmt.Sprintf("node-%d", n)
		wg.Go(func() {
			for range 10 {
				ds, err := ob.Claim(ctx, holder, t0, t0.Add(time.Hour), 4)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, d := range ds {
					if prev, dup := seen[d.ID]; dup {
						t.Errorf("delivery %d claimed by %s and %s", d.ID, prev, holder)
					}
					seen[d.ID] = holder
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Len(t, seen, events)
}

// What falls due: overrides awaiting review, notifications due or
// withheld until a review, open requests with a deadline.
func testDueBefore(t *testing.T, db *store.DB) {
	ctx := context.Background()
	s := db.Exchanges()
	ov := newExchange("01-override", "police.northshire", exchange.StateDelivered)
	ov.Decision = agreements.Decision{Outcome: agreements.AllowOverride, ReviewBy: t0.Add(72 * time.Hour)}
	told := newExchange("01-notify", "police.northshire", exchange.StateDelivered)
	told.Notify = exchange.NotifyPlan{State: exchange.NotifyWithheld, Reason: "would prejudice", ReviewAt: t0.Add(48 * time.Hour), ConfirmBy: t0.Add(60 * time.Hour)}
	r := &exchange.Request{
		ID: "01-request", State: exchange.RequestOpen, Requester: "police.northshire", Handler: "council.legal",
		AgreementID: "police-crime", AgreementVersion: 1, Decision: agreements.Decision{Outcome: agreements.Allow},
		Deadline: t0.Add(24 * time.Hour), CreatedAt: t0, UpdatedAt: t0,
	}
	require.NoError(t, s.Update(ctx, func(tx exchange.Tx) error {
		if err := tx.CreateExchange(ctx, ov); err != nil {
			return err
		}
		if err := tx.CreateExchange(ctx, told); err != nil {
			return err
		}
		return tx.CreateRequest(ctx, r)
	}))
	kinds := func(before time.Time) map[string]string {
		due, err := db.DueBefore(ctx, before)
		require.NoError(t, err)
		out := map[string]string{}
		for _, d := range due {
			out[d.Kind] = d.ID + " " + d.Deadline.Format(time.RFC3339) + " " + d.Party
		}
		return out
	}
	require.Empty(t, kinds(t0))
	require.Equal(t, map[string]string{alerts.DueRequest: "01-request " + t0.Add(24*time.Hour).Truncate(time.Second).Format(time.RFC3339) + " council.legal"},
		kinds(t0.Add(25*time.Hour)))
	require.Equal(t, "01-notify "+t0.Add(60*time.Hour).Truncate(time.Second).Format(time.RFC3339)+" ", kinds(t0.Add(61 * time.Hour))[alerts.DueConfirmation],
		"a sender's withholding no DPO has confirmed is due at its confirm_by")
	require.Len(t, kinds(t0.Add(73*time.Hour)), 4)

	// Once a DPO confirms it, it is no longer due for confirmation.
	require.NoError(t, db.Compliance().Update(ctx, func(tx compliance.Tx) error {
		n, err := tx.LockNotification(ctx, "01-notify")
		if err != nil {
			return err
		}
		n.ConfirmedBy, n.ConfirmedAt = "dana", t0.Add(time.Hour)
		return tx.SaveNotification(ctx, n)
	}))
	require.NotContains(t, kinds(t0.Add(73*time.Hour)), alerts.DueConfirmation)
}
