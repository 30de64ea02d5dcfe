package alerts

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/audit"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, string(want), string(got), "%s is out of date: go test ./alerts -run TestGolden -update", path)
}

var goldenEvents = map[string]Event{
	"exchange-delivered": {ID: "evt_0193f1c2a7b87c3e9d0a6b1f4e2c5d70", Type: ExchangeDelivered, Party: "police.northshire",
		Time: time.Date(2026, 12, 1, 10, 0, 0, 123456000, time.UTC),
		Data: Data{Exchange: "0193f1c2-a7b8-7c3e-9d0a-6b1f4e2c5d70", Agreement: "police-crime@1", Party: "council.revenues", Action: "fetch the exchange from the inbox"}},
	"override-made": {ID: "evt_0193f1c2a7b87c3e9d0a6b1f4e2c5d71", Type: OverrideMade, Roles: []string{RoleDPO},
		Time: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC),
		Data: Data{Exchange: "0193f1c2-a7b8-7c3e-9d0a-6b1f4e2c5d71", Party: "council.social-care", Urgency: "emergency", Override: true,
			Deadline: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC), Action: "review the emergency override"}},
	"digest": {ID: "evt_5c1d0e0f4b3a29187766554433221100", Type: Digest, Roles: []string{RoleDPO, RoleAdmin},
		Time: time.Date(2026, 6, 1, 6, 0, 0, 0, time.UTC),
		Data: Data{Action: "deal with what is due", Items: []Item{
			{Type: DueOverride, ID: "0193f1c2-a7b8-7c3e-9d0a-6b1f4e2c5d71", Deadline: time.Date(2026, 6, 3, 10, 0, 0, 0, time.UTC), Action: "review the emergency override"},
			{Type: DueDPIA, ID: "nfi@1", Deadline: time.Date(2026, 6, 10, 0, 0, 0, 0, time.UTC), Action: "revisit the agreement's DPIA"},
		}}},
}

// The webhook bodies and the e-mails, byte for byte (one subtest each).
func TestGolden(t *testing.T) {
	link := ConsoleLink("https://gatehouse.council.example/console")
	for name, ev := range goldenEvents {
		t.Run(name, func(t *testing.T) {
			body, err := Render(ev, link(ev))
			require.NoError(t, err)
			var pretty json.RawMessage = body
			out, err := json.MarshalIndent(pretty, "", "  ")
			require.NoError(t, err)
			golden(t, "webhook-"+name+".json", append(out, '\n'))
			subject, text := Message(ev, link(ev), "gatehouse")
			golden(t, "mail-"+name+".txt", []byte("Subject: "+subject+"\n\n"+text))
		})
	}
}

func BenchmarkFromAudit(b *testing.B) {
	e := &audit.Entry{Type: audit.TypeExchangeSealed, Exchange: "ex", Recipient: "police.northshire", Outcome: "allow", Time: time.Now()}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := FromAudit(e, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSign(b *testing.B) {
	key := []byte("a key of at least twenty-four bytes")
	body, _ := Render(goldenEvents["exchange-delivered"], "")
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		Sign(key, "evt_1", now, body)
	}
}
