package agreements_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/agreements"
)

// People are compared after white space, Unicode form and case are set
// aside: the two-person rule cannot be passed by writing one's id otherwise.
func TestSamePerson(t *testing.T) {
	for _, tt := range []struct {
		name string
		a, b string
		same bool
	}{
		{"same/exact", "alice", "alice", true},
		{"same/case", "alice", "ALICE", true},
		{"same/space", "alice", " Alice ", true},
		{"same/unicode-form", "ren\u00e9e", "rene\u0301e", true},
		{"same/fold", "strasse", "STRAßE", true},
		{"different/people", "alice", "dana", false},
		{"different/inner-space", "al ice", "alice", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.same, agreements.SamePerson(tt.a, tt.b))
		})
	}
}
