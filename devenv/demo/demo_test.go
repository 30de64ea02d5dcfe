package demo_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/compliance"
	"github.com/gatehouse-gw/gatehouse/devenv/demo"
)

func TestDemoData(t *testing.T) {
	require.Len(t, demo.Parties(), 9)
	ags := demo.Agreements()
	require.Len(t, ags, 5)
	ids := map[string]bool{}
	for _, a := range ags {
		ids[a.ID] = true
		require.NotEmpty(t, a.Flows, a.ID)
		require.NotNil(t, a.DPIA, a.ID)
	}
	for _, id := range []string{"police-crime", "nfi", "dwp-benefits", "hmrc-tax", "court-orders"} {
		require.True(t, ids[id], id)
	}
}

// Whenever the demo is loaded, every agreement is in force, its DPIA current
// and its review ahead, for the decision and for the agreements export
// alike: nothing is due within 90 days.
func TestDemoDatesAreRelativeToToday(t *testing.T) {
	for _, now := range []time.Time{time.Now(), time.Date(2031, 7, 1, 0, 0, 0, 0, time.UTC)} {
		ags := demo.AgreementsAt(now)
		var parties []*agreements.Party
		parties = append(parties, demo.Parties()...)
		for _, a := range ags {
			a.Version, a.Status = 1, agreements.StatusActive
		}
		reg := agreements.NewRegistry(parties, ags)
		for _, a := range ags {
			require.NoError(t, a.CheckActivation(reg, now), a.ID)
			require.False(t, a.DPIA.Lapsed(now, agreements.DefaultPolicy.DPIAReview), a.ID)
			require.True(t, a.EffectiveFrom.Start().Before(now), a.ID)
			require.True(t, a.ReviewBy.Start().After(now.Add(90*24*time.Hour)), a.ID)
		}
		var due compliance.Table
		compliance.AgreementsDue(&due, ags, 90*24*time.Hour, agreements.DefaultPolicy.DPIAReview, now)
		require.Empty(t, due.Rows, "the agreements export finds nothing due")
	}
}
