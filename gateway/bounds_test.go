package gateway

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/api"
)

// Every JSON body is held to one bound on strings and one rule on control
// characters, whatever its endpoint checks besides.
func TestBodyStringsBounded(t *testing.T) {
	body := func(v any) []byte {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		return b
	}
	for _, tc := range []struct {
		name        string
		raw         []byte
		dst         any
		field, rule string
	}{
		{"reason/escape", body(api.Reason{Reason: "suspended \x1b[31mnow"}), &api.Reason{}, "reason", "control-character"},
		{"reason/bell", body(api.Reason{Reason: "ring\a"}), &api.Reason{}, "reason", "control-character"},
		{"reason/bidi", body(api.Reason{Reason: "\u202etxt.exe"}), &api.Reason{}, "reason", "control-character"},
		{"reason/long", body(api.Reason{Reason: strings.Repeat("a", 4097)}), &api.Reason{}, "reason", "max-length"},
		{"release/zero-width", body(api.ExchangeRelease{Reason: "ok\u200b"}), &api.ExchangeRelease{}, "reason", "control-character"},
		{"rectification/nested", body(api.RectificationRequest{Subject: &api.Subject{Type: "nino", Value: "QQ\x00"}, Action: "corrected"}), &api.RectificationRequest{}, "subject.value", "control-character"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := decodeStrict(tc.raw, tc.dst)
			e := toError(err)
			require.Equal(t, CodeInvalidRequest, e.Code, "%v", err)
			require.Equal(t, tc.field, e.Fields[0].Field)
			require.Equal(t, tc.rule, e.Fields[0].Rule)
		})
	}
	var r api.Reason
	require.NoError(t, decodeStrict(body(api.Reason{Reason: "Two lines:\nthe second.\tTabbed."}), &r), "line ends and tabs are text")
}
