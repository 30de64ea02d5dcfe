package health

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestWrites(t *testing.T) {
	t.Parallel()
	refused := errors.New("refused")
	ctx := context.Background()
	tests := []struct {
		name string
		// before is what was recorded before the check (nil: nothing);
		// age is how long ago.
		before    *error
		age       time.Duration
		probe     error
		want      error
		probed    bool
		changesBy uint64 // how much the board's generation moves in all
	}{
		{name: "ok/no-write-yet-probes", probe: nil, want: nil, probed: true, changesBy: 1},
		{name: "deny/no-write-yet-probe-fails", probe: refused, want: refused, probed: true, changesBy: 1},
		{name: "ok/fresh-success-no-probe", before: ptr(nil), age: 0, probe: refused, want: nil, changesBy: 1},
		{name: "deny/fresh-failure-no-probe", before: ptr(refused), age: 0, probe: nil, want: refused, changesBy: 1},
		{name: "ok/stale-failure-probe-succeeds", before: ptr(refused), age: time.Minute, probe: nil, want: nil, probed: true, changesBy: 2},
		{name: "deny/stale-success-probe-fails", before: ptr(nil), age: time.Minute, probe: refused, want: refused, probed: true, changesBy: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := &Board{}
			w := NewWrites("test-" + tc.name)
			w.Watch(b)
			if tc.before != nil {
				w.Record(*tc.before)
				w.mu.Lock()
				w.at = w.at.Add(-tc.age)
				w.mu.Unlock()
			}
			probed := false
			err := w.Check(ctx, 2*time.Second, func(context.Context) error { probed = true; return tc.probe })
			require.Equal(t, tc.want, err)
			require.Equal(t, tc.probed, probed)
			require.Equal(t, tc.changesBy, b.Generation())
			_, last := w.Last()
			require.Equal(t, tc.want, last)
		})
	}
}

func ptr(err error) *error { return &err }
