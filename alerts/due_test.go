package alerts_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/alerts"
	"github.com/gatehouse-gw/gatehouse/store"
)

type dues []alerts.Due

func (d dues) DueBefore(_ context.Context, before time.Time) ([]alerts.Due, error) {
	var out []alerts.Due
	for _, x := range d {
		if x.Deadline.Before(before) || x.Kind == alerts.DueCertificate {
			out = append(out, x)
		}
	}
	return out, nil
}

// Reminders write one event per deadline reached, however often they run
// and on however many nodes, and a digest once a day.
func TestReminders(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, store.SQLite, filepath.Join(t.TempDir(), "gatehouse.db"), nil)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC) // 09:00 in London
	h := time.Hour
	src := dues{
		{Kind: alerts.DueOverride, ID: "ex-soon", Deadline: now.Add(20 * h)},
		{Kind: alerts.DueOverride, ID: "ex-later", Deadline: now.Add(60 * h)},
		{Kind: alerts.DueOverride, ID: "ex-late", Deadline: now.Add(-h)},
		{Kind: alerts.DueRequest, ID: "rq-near", Party: "council.legal", Deadline: now.Add(2 * h)},
		{Kind: alerts.DueNotification, ID: "ex-tell", Deadline: now.Add(-h)},
		{Kind: alerts.DueDPIA, ID: "nfi@1", Deadline: now.Add(10 * 24 * h)},
		{Kind: alerts.DueCertificate, ID: "0a1b", Party: "dwp", Deadline: now.Add(6 * 24 * h)},
		{Kind: alerts.DueCertificate, ID: "ffee", Party: "hmrc", Deadline: now.Add(300 * 24 * h)},
	}
	broken := errors.New("audit chain broken at seq 3 (hash): edited")
	r := func() *alerts.Reminders {
		return &alerts.Reminders{
			Source: src, Store: db.Outbox(), Within: 14 * 24 * h, Digest: true, DigestAt: 7 * h,
			CertWarnDays: []int{30, 14, 7, 1}, VerifyEvery: h,
			Broken: func(context.Context) error { return broken },
			Now:    func() time.Time { return now },
		}
	}
	node1, node2 := r(), r()
	for range 3 {
		require.NoError(t, node1.Once(ctx))
		require.NoError(t, node2.Once(ctx))
	}
	evs, err := db.Outbox().Unrouted(ctx, 100)
	require.NoError(t, err)
	var got []string
	for _, ev := range evs {
		s := ev.Type + " " + ev.Party
		switch {
		case ev.Data.Exchange != "":
			s += " " + ev.Data.Exchange
		case ev.Data.Request != "":
			s += " " + ev.Data.Request
		case ev.Data.Agreement != "":
			s += " " + ev.Data.Agreement
		case ev.Data.Serial != "":
			s += " " + ev.Data.Serial
		}
		got = append(got, s)
	}
	slices.Sort(got)
	require.Equal(t, []string{
		"agreement.dpia-due  nfi@1",
		"audit.verification-broken ",
		"certificate.expiring  0a1b",
		"certificate.expiring dwp 0a1b",
		"digest.daily ",
		"notification.due  ex-tell",
		"override.review-due  ex-soon",
		"override.review-overdue  ex-late",
		"request.deadline-near  rq-near",
		"request.deadline-near council.legal rq-near",
	}, got)
	for _, ev := range evs {
		if ev.Type == alerts.Digest {
			require.Len(t, ev.Data.Items, 6, "everything due within 14 days but the certificates")
			require.ElementsMatch(t, []string{alerts.RoleDPO, alerts.RoleAdmin}, ev.Roles)
		}
	}

	// Before the digest's hour there is none.
	early := now.Add(-3 * h) // 06:00
	db2, err := store.Open(ctx, store.SQLite, filepath.Join(t.TempDir(), "gatehouse.db"), nil)
	require.NoError(t, err)
	t.Cleanup(func() { db2.Close() })
	r2 := &alerts.Reminders{Source: src, Store: db2.Outbox(), Within: 14 * 24 * h, Digest: true, DigestAt: 7 * h, Now: func() time.Time { return early }}
	require.NoError(t, r2.Once(ctx))
	evs, err = db2.Outbox().Unrouted(ctx, 100)
	require.NoError(t, err)
	for _, ev := range evs {
		require.NotEqual(t, alerts.Digest, ev.Type)
	}
}
