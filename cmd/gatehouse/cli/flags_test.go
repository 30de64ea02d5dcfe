package cli

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/api"
)

func TestParseSubject(t *testing.T) {
	tests := []struct {
		name, in string
		want     api.Subject
		hint     bool
		err      bool
	}{
		{name: "ok/type-colon-value", in: "nino:QQ123456C", want: api.Subject{Type: "nino", Value: "QQ123456C"}},
		{name: "ok/value-with-spaces", in: "name-dob:Jane Doe 1990-04-01", want: api.Subject{Type: "name-dob", Value: "Jane Doe 1990-04-01"}},
		{name: "ok/value-with-colon", in: "ref:A:1", want: api.Subject{Type: "ref", Value: "A:1"}},
		{name: "ok/equals-with-a-hint", in: "nino=QQ123456C", want: api.Subject{Type: "nino", Value: "QQ123456C"}, hint: true},
		{name: "ok/equals-value-with-colon", in: "ref=A:1", want: api.Subject{Type: "ref", Value: "A:1"}, hint: true},
		{name: "deny/no-separator", in: "QQ123456C", err: true},
		{name: "deny/empty-value", in: "nino:", err: true},
		{name: "deny/upper-case-type", in: "NINO:QQ123456C", err: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var hints bytes.Buffer
			got, err := parseSubject(&hints, tc.in)
			if tc.err {
				require.ErrorContains(t, err, "TYPE:VALUE")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.hint, hints.Len() > 0, hints.String())
		})
	}
}

func TestParseDeadline(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	london, err := time.LoadLocation("Europe/London")
	require.NoError(t, err)
	tests := []struct {
		name, in string
		want     time.Time
		err      bool
	}{
		{name: "ok/days-from-now", in: "14d", want: now.AddDate(0, 0, 14)},
		{name: "ok/hours-from-now", in: "36h", want: now.Add(36 * time.Hour)},
		{name: "ok/date-is-the-end-of-that-day", in: "2026-12-24", want: time.Date(2026, 12, 24, 23, 59, 59, 0, london)},
		{name: "ok/rfc3339", in: "2026-12-24T12:00:00Z", want: time.Date(2026, 12, 24, 12, 0, 0, 0, time.UTC)},
		{name: "deny/negative", in: "-2d", err: true},
		{name: "deny/words", in: "next week", err: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseDeadline(tc.in, now)
			if tc.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.True(t, tc.want.Equal(got), "%s != %s", got, tc.want)
		})
	}
}
