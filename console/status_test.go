package console

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/certs"
)

func TestAuditLines(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	london := func(t time.Time) string { return t.Format(time.RFC3339) }
	ok := AuditStatus{VerifiedAt: now.Add(-30 * time.Minute), VerifyEvery: time.Hour, LastCheckpoint: now.Add(-time.Minute),
		Unarchived: 10 * time.Second, StaleAfter: 3 * time.Minute}
	tests := []struct {
		name             string
		edit             func(*AuditStatus)
		verify, checkpnt string
	}{
		{"ok/verified-and-current", func(*AuditStatus) {}, stateGood, stateGood},
		{"red/does-not-verify", func(s *AuditStatus) { s.VerifyFailed = "entry 7: hash does not match" }, stateRed, stateGood},
		{"amber/not-yet-verified", func(s *AuditStatus) { s.VerifiedAt = time.Time{} }, stateAmber, stateGood},
		{"amber/verification-overdue", func(s *AuditStatus) { s.VerifiedAt = now.Add(-2*time.Hour - time.Minute) }, stateAmber, stateGood},
		{"ok/verified-twice-the-interval-ago", func(s *AuditStatus) { s.VerifiedAt = now.Add(-2 * time.Hour) }, stateGood, stateGood},
		{"amber/checkpoints-half-way-to-stale", func(s *AuditStatus) { s.Unarchived = 91 * time.Second }, stateGood, stateAmber},
		{"red/checkpoints-stale", func(s *AuditStatus) { s.Unarchived = 3*time.Minute + time.Second }, stateGood, stateRed},
		{"ok/no-checkpoint-yet-nothing-waiting", func(s *AuditStatus) { s.LastCheckpoint, s.Unarchived = time.Time{}, 0 }, stateGood, stateGood},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := ok
			tt.edit(&st)
			v, c := auditLines(st, now, london)
			require.Equal(t, tt.verify, v.Tag, v.Text)
			require.Equal(t, tt.checkpnt, c.Tag, c.Text)
			require.NotEmpty(t, v.Text)
			require.NotEmpty(t, c.Text)
		})
	}
	v, _ := auditLines(AuditStatus{VerifiedAt: now, VerifyFailed: "entry 7: hash does not match", VerifyEvery: time.Hour}, now, london)
	require.Contains(t, v.Text, "entry 7: hash does not match")
}

func TestExpiringCerts(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	seen := func(party string, left time.Duration) certs.SeenCertificate {
		return certs.SeenCertificate{Party: party, Serial: party, NotAfter: now.Add(left)}
	}
	list := []certs.SeenCertificate{
		seen("far", 31*24*time.Hour), seen("window", 30*24*time.Hour), seen("week", 8*24*time.Hour),
		seen("seven", 7*24*time.Hour), seen("hours", 5*time.Hour), seen("gone", -time.Hour),
	}
	got := expiringCerts(list, []int{30, 14, 7, 1}, now)
	var lines []string
	for _, e := range got {
		lines = append(lines, e.Party+" "+e.Tag+" "+e.Left)
	}
	require.Equal(t, []string{
		"gone " + stateRed + " expired",
		"hours " + stateRed + " less than a day left",
		"seven " + stateRed + " 7 days left",
		"week " + stateAmber + " 8 days left",
		"window " + stateAmber + " 30 days left",
	}, lines, "within the largest warning day, soonest first; red within a week")
	require.Len(t, expiringCerts(list, []int{60}, now), 6, "the window is the configured one")
	require.Len(t, expiringCerts(list, nil, now), 5, "30 days when none is configured")
}
