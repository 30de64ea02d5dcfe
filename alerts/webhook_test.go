package alerts

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The example of the Standard Webhooks specification and its reference
// libraries: the same secret, id, timestamp and body give this signature.
func TestSignKnownAnswer(t *testing.T) {
	key, err := ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	require.NoError(t, err)
	ts := time.Unix(1614265330, 0)
	body := []byte(`{"test": 2432232314}`)
	require.Equal(t, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", Sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", ts, body))
}

func TestVerify(t *testing.T) {
	key, err := ParseSecret(NewSecret())
	require.NoError(t, err)
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"type":"exchange.delivered"}`)
	h := func(id string, ts time.Time, sig string) http.Header {
		return http.Header{"Webhook-Id": {id}, "Webhook-Timestamp": {strconv.FormatInt(ts.Unix(), 10)}, "Webhook-Signature": {sig}}
	}
	good := Sign(key, "evt_1", now, body)
	for name, tc := range map[string]struct {
		header http.Header
		body   []byte
		ok     bool
	}{
		"ok":                    {h("evt_1", now, good), body, true},
		"ok/one-of-several":     {h("evt_1", now, "v1,bm90IGl0 "+good), body, true},
		"deny/body-changed":     {h("evt_1", now, good), []byte(`{"type":"exchange.delivered "}`), false},
		"deny/id-changed":       {h("evt_2", now, good), body, false},
		"deny/replayed-late":    {h("evt_1", now.Add(-6*time.Minute), Sign(key, "evt_1", now.Add(-6*time.Minute), body)), body, false},
		"deny/from-the-future":  {h("evt_1", now.Add(6*time.Minute), Sign(key, "evt_1", now.Add(6*time.Minute), body)), body, false},
		"deny/no-signature":     {h("evt_1", now, ""), body, false},
		"deny/other-secret-key": {h("evt_1", now, Sign([]byte("another key of twenty-four bytes"), "evt_1", now, body)), body, false},
	} {
		t.Run(name, func(t *testing.T) {
			err := Verify(key, tc.header, tc.body, now)
			if tc.ok {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
			}
		})
	}
}

func TestParseSecret(t *testing.T) {
	for name, s := range map[string]string{
		"deny/no-prefix":  "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		"deny/not-base64": "whsec_not base64!",
		"deny/too-short":  "whsec_c2hvcnQ=",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseSecret(s)
			require.Error(t, err)
		})
	}
}

func FuzzVerify(f *testing.F) {
	key := []byte("a key of at least twenty-four bytes")
	f.Add("evt_1", "1800000000", "v1,abc", []byte("{}"))
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		h := http.Header{"Webhook-Id": {id}, "Webhook-Timestamp": {ts}, "Webhook-Signature": {sig}}
		_ = Verify(key, h, body, time.Unix(1_800_000_000, 0)) // must not panic
	})
}

func TestBackoff(t *testing.T) {
	d := &Dispatcher{RetryMin: 10 * time.Second, RetryMax: time.Minute}
	var got []time.Duration
	for n := 1; n <= 5; n++ {
		got = append(got, d.Backoff(n))
	}
	require.Equal(t, []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, time.Minute, time.Minute}, got)
}

func TestRoutes(t *testing.T) {
	r := &Routes{
		Webhooks: []RouteWebhook{
			{Name: "police-cms", Party: "police.northshire"},
			{Name: "dpo-desk", Role: RoleDPO},
			{Name: "police-deliveries", Party: "police.northshire", Events: []string{ExchangeDelivered}},
		},
		PartyMail: map[string][]string{"police.northshire": {"duty@police.example"}},
		RoleMail:  map[string][]string{RoleDPO: {"dpo@council.example"}, RoleAdmin: {"ig@council.example", "dpo@council.example"}},
	}
	require.Equal(t, []Target{
		{ChannelWebhook, "police-cms"}, {ChannelWebhook, "police-deliveries"}, {ChannelEmail, "duty@police.example"},
	}, r.Targets(Event{Type: ExchangeDelivered, Party: "police.northshire"}))
	require.Equal(t, []Target{{ChannelWebhook, "police-cms"}, {ChannelEmail, "duty@police.example"}},
		r.Targets(Event{Type: RequestDeclined, Party: "police.northshire"}))
	require.Equal(t, []Target{{ChannelWebhook, "dpo-desk"}, {ChannelEmail, "dpo@council.example"}, {ChannelEmail, "ig@council.example"}},
		r.Targets(Event{Type: AgreementSuspended, Roles: []string{RoleAdmin, RoleDPO}}), "one mail per mailbox")
	require.Empty(t, r.Targets(Event{Type: ExchangeDelivered, Party: "dwp"}))
}
