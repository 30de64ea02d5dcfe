package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/compliance"
	"github.com/gatehouse-gw/gatehouse/exchange"
	"github.com/gatehouse-gw/gatehouse/store"
)

// testCompliance: an exchange's subjects, override review and notification
// decision are recorded with it; reviews, notifications, rectifications and
// notices change and read back the same on every backend.
func testCompliance(t *testing.T, db *store.DB) {
	ctx := context.Background()
	xs, cs := db.Exchanges(), db.Compliance()
	plain := newExchange("01-plain", "police.northshire", exchange.StateDelivered)
	plain.Meta.SubjectKeys = []string{"hmac-sha256:aa", "hmac-sha256:bb", "hmac-sha256:aa"}
	plain.DeliveredAt = t0
	plain.Notify = exchange.NotifyPlan{State: exchange.NotifyWithheld, Reason: "would prejudice", ReviewAt: t0.Add(24 * time.Hour), ConfirmBy: t0.Add(72 * time.Hour)}
	override := newExchange("01-override", "police.northshire", exchange.StateDeclared)
	override.Meta.SubjectKeys = []string{"hmac-sha256:aa"}
	override.Decision.Outcome, override.Decision.ReviewBy = agreements.AllowOverride, t0.Add(72*time.Hour)
	override.Notify = exchange.NotifyPlan{State: exchange.NotifyDue}
	for _, e := range []*exchange.Exchange{plain, override} {
		require.NoError(t, xs.Update(ctx, func(tx exchange.Tx) error { return tx.CreateExchange(ctx, e) }))
	}

	got, err := cs.SubjectExchanges(ctx, "hmac-sha256:aa")
	require.NoError(t, err)
	require.Len(t, got, 2, "each exchange once, however often it names the subject")
	got, err = cs.SubjectExchanges(ctx, "hmac-sha256:bb")
	require.NoError(t, err)
	require.Len(t, got, 1)

	os, err := cs.Overrides(ctx)
	require.NoError(t, err)
	require.Len(t, os, 1)
	require.Equal(t, "01-override", os[0].ExchangeID)
	require.Equal(t, compliance.OverrideAwaiting, os[0].State)
	require.True(t, os[0].ReviewBy.Equal(t0.Add(72*time.Hour).Truncate(time.Microsecond)))

	require.NoError(t, cs.Update(ctx, func(tx compliance.Tx) error {
		o, err := tx.LockOverride(ctx, "01-override")
		if err != nil {
			return err
		}
		o.State, o.Outcome, o.Reviewer, o.ReviewedAt = compliance.OverrideReviewed, compliance.OutcomeJustified, "dana", t0
		return tx.SaveOverride(ctx, o)
	}))
	os, err = cs.Overrides(ctx)
	require.NoError(t, err)
	require.Equal(t, compliance.OutcomeJustified, os[0].Outcome)
	require.False(t, os[0].ReviewedAt.IsZero())
	require.ErrorIs(t, cs.Update(ctx, func(tx compliance.Tx) error { _, err := tx.LockOverride(ctx, "01-plain"); return err }), compliance.ErrNotFound)

	ns, err := cs.Notifications(ctx, exchange.NotifyWithheld)
	require.NoError(t, err)
	require.Len(t, ns, 1)
	require.Equal(t, "would prejudice", ns[0].Reason)
	require.True(t, ns[0].ConfirmBy.Equal(t0.Add(72*time.Hour).Truncate(time.Microsecond)), "the sender's withholding awaits a DPO's confirmation")
	require.Empty(t, ns[0].ConfirmedBy)
	require.Equal(t, compliance.ConfirmationPending, ns[0].Confirmation(t0))
	require.NoError(t, cs.Update(ctx, func(tx compliance.Tx) error {
		n, err := tx.LockNotification(ctx, "01-plain")
		if err != nil {
			return err
		}
		n.ConfirmedBy, n.ConfirmedAt = "dana", t0.Add(time.Hour)
		return tx.SaveNotification(ctx, n)
	}))
	n, err := cs.Notification(ctx, "01-plain")
	require.NoError(t, err)
	require.Equal(t, "dana", n.ConfirmedBy)
	require.True(t, n.ConfirmedAt.Equal(t0.Add(time.Hour).Truncate(time.Microsecond)))
	require.Equal(t, compliance.ConfirmationConfirmed, n.Confirmation(t0.Add(100*time.Hour)))
	require.NoError(t, cs.Update(ctx, func(tx compliance.Tx) error {
		n, err := tx.LockNotification(ctx, "01-plain")
		if err != nil {
			return err
		}
		n.State, n.ReviewAt, n.UpdatedBy, n.UpdatedAt = exchange.NotifyTold, time.Time{}, "dana", t0
		return tx.SaveNotification(ctx, n)
	}))
	n, err = cs.Notification(ctx, "01-plain")
	require.NoError(t, err)
	require.Equal(t, exchange.NotifyTold, n.State)
	require.True(t, n.ReviewAt.IsZero())

	rect := &compliance.Rectification{ID: "r-1", SubjectKey: "hmac-sha256:aa", Action: compliance.ActionErased, Description: "erased", RecordedBy: "dana", CreatedAt: t0,
		Notices: []*compliance.Notice{{ID: "n-1", RectificationID: "r-1", Recipient: "police.northshire", Exchanges: []string{"01-plain", "01-override"}, SentAt: t0}}}
	require.NoError(t, cs.Update(ctx, func(tx compliance.Tx) error {
		if err := tx.AppendAudit(ctx, &audit.Entry{Time: t0, Type: compliance.AuditRectification, Actor: "dana"}); err != nil {
			return err
		}
		return tx.CreateRectification(ctx, rect)
	}))
	pending, err := cs.Notices(ctx, "police.northshire", true)
	require.NoError(t, err)
	require.Len(t, pending, 1)
	require.Equal(t, []string{"01-plain", "01-override"}, pending[0].Exchanges)
	require.Equal(t, compliance.ActionErased, pending[0].Action)
	require.NoError(t, cs.Update(ctx, func(tx compliance.Tx) error {
		n, err := tx.LockNotice(ctx, "n-1")
		if err != nil {
			return err
		}
		n.AcknowledgedAt = t0.Add(time.Hour)
		return tx.SaveNotice(ctx, n)
	}))
	pending, err = cs.Notices(ctx, "police.northshire", true)
	require.NoError(t, err)
	require.Empty(t, pending)
	rs, err := cs.Rectifications(ctx, "hmac-sha256:aa")
	require.NoError(t, err)
	require.Len(t, rs, 1)
	require.Len(t, rs[0].Notices, 1)
	require.False(t, rs[0].Notices[0].AcknowledgedAt.IsZero())
	one, err := cs.Rectification(ctx, "r-1")
	require.NoError(t, err)
	require.Equal(t, "erased", one.Description)
	rs, err = cs.Rectifications(ctx, "hmac-sha256:zz")
	require.NoError(t, err)
	require.Empty(t, rs)

	entries, err := cs.AuditEntries(ctx, compliance.AuditRectification, t0.Add(-time.Second), t0.Add(time.Second))
	require.NoError(t, err)
	require.Len(t, entries, 1)
	require.Equal(t, int64(1), entries[0].Seq)
	entries, err = cs.AuditEntries(ctx, compliance.AuditRectification, t0.Add(time.Second), t0.Add(time.Hour))
	require.NoError(t, err)
	require.Empty(t, entries)
}

// testComplianceBackfill: exchanges recorded before the compliance tables
// existed get their rows from migration 00006.
func testComplianceBackfill(t *testing.T, db *store.DB, upSQL string) {
	ctx := context.Background()
	xs, cs := db.Exchanges(), db.Compliance()
	legacy := newExchange("01-legacy", "police.northshire", exchange.StateDelivered)
	legacy.Meta.SubjectKeys = []string{"hmac-sha256:cc"}
	legacy.Meta.Notification = &api.Notification{Decision: "withhold", Reason: "prejudice"}
	override := newExchange("01-legacy-override", "police.northshire", exchange.StateDelivered)
	override.Decision.Outcome, override.Decision.ReviewBy = agreements.AllowOverride, t0.Add(72*time.Hour)
	told := newExchange("01-legacy-notify", "police.northshire", exchange.StateDelivered)
	told.Meta.Notification = &api.Notification{Decision: "notify"}
	for _, e := range []*exchange.Exchange{legacy, override, told} {
		require.NoError(t, xs.Update(ctx, func(tx exchange.Tx) error { return tx.CreateExchange(ctx, e) }))
	}
	// As they were before 00005: no compliance rows.
	for _, table := range []string{"exchange_subjects", "override_reviews", "notifications"} {
		_, err := db.SQL().ExecContext(ctx, "DELETE FROM "+table)
		require.NoError(t, err)
	}
	_, err := db.SQL().ExecContext(ctx, upSQL)
	require.NoError(t, err)

	got, err := cs.SubjectExchanges(ctx, "hmac-sha256:cc")
	require.NoError(t, err)
	require.Len(t, got, 1)
	os, err := cs.Overrides(ctx)
	require.NoError(t, err)
	require.Len(t, os, 1)
	require.WithinDuration(t, t0.Add(72*time.Hour), os[0].ReviewBy, time.Millisecond)
	n, err := cs.Notification(ctx, "01-legacy")
	require.NoError(t, err)
	require.Equal(t, exchange.NotifyWithheld, n.State)
	require.Equal(t, "prejudice", n.Reason)
	require.False(t, n.ReviewAt.IsZero())
	n, err = cs.Notification(ctx, "01-legacy-notify")
	require.NoError(t, err)
	require.Equal(t, exchange.NotifyDue, n.State)
	n, err = cs.Notification(ctx, "01-legacy-override")
	require.NoError(t, err)
	require.Equal(t, exchange.NotifyWithheld, n.State)
	require.True(t, n.ReviewAt.Equal(t0.Truncate(time.Microsecond)), "due for review at once: %s", n.ReviewAt)

	// Running it again changes nothing.
	_, err = db.SQL().ExecContext(ctx, upSQL)
	require.NoError(t, err)
	os, err = cs.Overrides(ctx)
	require.NoError(t, err)
	require.Len(t, os, 1)
}
