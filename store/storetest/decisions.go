package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/exchange"
	"github.com/gatehouse-gw/gatehouse/store"
)

// testDecisions: the decisions of the record, selected by party,
// agreement (any version), outcome and period, newest first, paged.
func testDecisions(t *testing.T, db *store.DB) {
	ctx := context.Background()
	decided := func(typ, actor, recipient, agreement, outcome string, at time.Duration) *audit.Entry {
		return &audit.Entry{Time: t0.Add(at), Type: typ, Actor: actor, Recipient: recipient, Agreement: agreement, Outcome: outcome}
	}
	require.NoError(t, appendAll(ctx, db.Exchanges(),
		decided(audit.TypeExchangeDecided, "council.fraud", "cabinet-office.nfi", "nfi@1", "allow", 0),
		decided(audit.TypeExchangeDecided, "council.revenues", "police.northshire", "police-crime@2", "deny", time.Hour),
		&audit.Entry{Time: t0.Add(90 * time.Minute), Type: audit.TypeExchangeSealed, Actor: "council.fraud", Agreement: "nfi@1"},
		decided(exchange.TypeRequestDecided, "police.northshire", "council.legal", "police-crime@2", "allow", 2*time.Hour),
		decided(audit.TypeExchangeDecided, "council.social-care", "police.northshire", "", "allow-override", 3*time.Hour),
		decided(audit.TypeExchangeDecided, "council.fraud", "cabinet-office.nfi", "nfi-extra@1", "allow", 4*time.Hour),
	))
	day := store.DecisionQuery{From: t0.Add(-time.Hour), To: t0.Add(24 * time.Hour), Limit: 10}
	actors := func(q store.DecisionQuery) []string {
		t.Helper()
		es, err := db.Decisions(ctx, q)
		require.NoError(t, err)
		out := []string{}
		for _, e := range es {
			out = append(out, e.Actor+" "+e.Outcome)
		}
		return out
	}
	require.Equal(t, []string{"council.fraud allow", "council.social-care allow-override", "police.northshire allow",
		"council.revenues deny", "council.fraud allow"}, actors(day), "decisions only, newest first")

	q := day
	q.Party = "police.northshire"
	require.Equal(t, []string{"council.social-care allow-override", "police.northshire allow", "council.revenues deny"}, actors(q),
		"a party is matched as the one asking or the one decided about")
	q = day
	q.Agreement = "nfi"
	require.Equal(t, []string{"council.fraud allow"}, actors(q), "an agreement id matches its versions, not another id that starts the same")
	q = day
	q.Agreement, q.Outcome = "police-crime", "deny"
	require.Equal(t, []string{"council.revenues deny"}, actors(q))
	q = day
	q.From, q.To = t0.Add(time.Hour), t0.Add(3*time.Hour)
	require.Equal(t, []string{"police.northshire allow", "council.revenues deny"}, actors(q), "the period includes its start, not its end")
	q = day
	q.Limit, q.Offset = 2, 2
	require.Equal(t, []string{"police.northshire allow", "council.revenues deny"}, actors(q))

	es, err := db.Decisions(ctx, day)
	require.NoError(t, err)
	e, err := db.Decision(ctx, es[0].Seq)
	require.NoError(t, err)
	require.Equal(t, "nfi-extra@1", e.Agreement)
	_, err = db.Decision(ctx, 3) // the sealing, not a decision
	require.ErrorIs(t, err, store.ErrNoDecision)
	_, err = db.Decision(ctx, 99)
	require.ErrorIs(t, err, store.ErrNoDecision)
}
