package public

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

var errKind = errors.New("exchange is not in a state that allows this")

func TestMessage(t *testing.T) {
	cases := map[string]struct {
		err  error
		want string
	}{
		"public":                {Errorf(errKind, "exchange is %s", "fetched"), "exchange is not in a state that allows this: exchange is fetched"},
		"public/no-detail":      {Errorf(errKind, ""), "exchange is not in a state that allows this"},
		"wrapped/context-kept":  {fmt.Errorf("store: save exchange x1: %w", Errorf(errKind, "exchange is %s", "expired")), "exchange is not in a state that allows this: exchange is expired"},
		"private/sentinel-only": {fmt.Errorf("%w: open /var/lib/db: permission denied", errKind), ""},
		"private/other":         {errors.New("pq: password authentication failed"), ""},
		"nil":                   {nil, ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, tc.want, Message(tc.err))
			if tc.err != nil && tc.want != "" {
				require.ErrorIs(t, tc.err, errKind)
			}
		})
	}
}
