package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/agreements"
)

// A refusal that could not be recorded is answered as the record being
// unavailable (503, Retry-After), never as the refusal it would have been.
func TestUnrecordedRefusalIsUnavailable(t *testing.T) {
	err := fmt.Errorf("%w: recording a refusal (role): %v", agreements.ErrUnavailable, errors.New("database unreachable"))
	e := toError(err)
	require.Equal(t, http.StatusServiceUnavailable, e.Status)
	require.Equal(t, CodeUnavailable, e.Code)
	require.Equal(t, 5, e.RetryAfter)
	require.Equal(t, http.StatusForbidden, toError(agreements.ErrSameProposer).Status, "recorded, the refusal is answered as before")
}
