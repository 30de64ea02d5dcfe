package demo_test

import (
	"testing"

	"github.com/stretchr/testify/require"

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
