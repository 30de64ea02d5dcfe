package compliance_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/compliance"
	"github.com/gatehouse-gw/gatehouse/devenv/demo"
)

// A DPIA lapses by one rule: the agreements export lists it as dpia-lapsed
// exactly when the decision refuses sharing on agreement.dpia-complete.
func TestDPIALapseIsOneRule(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	const interval = 365 * 24 * time.Hour
	policy := agreements.DefaultPolicy
	policy.DPIAReview = interval
	tests := []struct {
		name      string
		completed time.Time
		lapsed    bool
	}{
		{name: "ok/completed-last-month", completed: now.AddDate(0, -1, 0)},
		{name: "ok/lapses-tomorrow", completed: now.Add(-interval).AddDate(0, 0, 1)},
		{name: "deny/lapsed-today", completed: now.Add(-interval), lapsed: true},
		{name: "deny/lapsed-long-ago", completed: now.AddDate(-3, 0, 0), lapsed: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ag *agreements.Agreement
			for _, a := range demo.AgreementsAt(now) {
				if a.ID == "hmrc-tax" {
					ag = a
				}
			}
			ag.Version, ag.Status = 1, agreements.StatusActive
			ag.DPIA.Completed = agreements.NewDate(tc.completed)
			reg := agreements.NewRegistryWithPolicy(demo.Parties(), []*agreements.Agreement{ag}, policy)
			d := agreements.Decide(&agreements.Request{
				Sender: "council.revenues", Recipient: "hmrc", Agreement: "hmrc-tax", Purpose: "tax-assessment-collection",
				LawfulBasis: "A6-1-c", DataCategories: []string{"identity"}, NamedSubjects: 1,
			}, reg, now)
			var dpiaFailed bool
			for _, c := range d.Checks {
				if c.Code == agreements.CheckAgreementDPIA {
					dpiaFailed = !c.Passed
				}
			}
			var due compliance.Table
			compliance.AgreementsDue(&due, []*agreements.Agreement{ag}, 0, interval, now)
			listed := false
			for _, row := range due.Rows {
				listed = listed || row[3] == "dpia-lapsed"
			}
			require.Equal(t, tc.lapsed, dpiaFailed, "decision")
			require.Equal(t, tc.lapsed, listed, "export")
		})
	}
}
