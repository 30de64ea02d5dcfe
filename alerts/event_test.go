package alerts

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/compliance"
	"github.com/gatehouse-gw/gatehouse/exchange"
)

type parties map[string][]string

func (p parties) AgreementParties(ref string) ([]string, error) { return p[ref], nil }

func TestFromAudit(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	review := now.Add(72 * time.Hour)
	look := parties{"police-crime@1": {"council.revenues", "police.northshire"}}
	type want struct {
		typ, party string
		roles      []string
	}
	for name, tc := range map[string]struct {
		entry audit.Entry
		want  []want
	}{
		"override/declared": {audit.Entry{Type: audit.TypeExchangeDecided, Exchange: "ex", Actor: "council.social-care", Outcome: "allow-override",
			Recipient: "police.northshire", Detail: map[string]string{"override_review_by": review.Format(time.RFC3339)}},
			[]want{{OverrideMade, "", []string{RoleDPO}}}},
		"override/refused-is-not-one":  {audit.Entry{Type: audit.TypeExchangeDecided, Outcome: "deny", Recipient: "police.northshire"}, nil},
		"allowed-declaration-is-quiet": {audit.Entry{Type: audit.TypeExchangeDecided, Exchange: "ex", Outcome: "allow"}, nil},
		"delivered": {audit.Entry{Type: audit.TypeExchangeSealed, Exchange: "ex", Recipient: "police.northshire", Outcome: "allow"},
			[]want{{ExchangeDelivered, "police.northshire", nil}}},
		"request/received": {audit.Entry{Type: exchange.TypeRequestDecided, Request: "rq", Actor: "police.northshire", Recipient: "council.legal", Outcome: "allow"},
			[]want{{RequestReceived, "council.legal", nil}}},
		"request/refused-is-quiet": {audit.Entry{Type: exchange.TypeRequestDecided, Actor: "police.northshire", Recipient: "council.legal", Outcome: "deny"}, nil},
		"request/answered": {audit.Entry{Type: exchange.TypeRequestAnswered, Request: "rq", Exchange: "ex", Recipient: "police.northshire"},
			[]want{{RequestAnswered, "police.northshire", nil}}},
		"request/declined": {audit.Entry{Type: exchange.TypeRequestDeclined, Request: "rq", Recipient: "police.northshire"},
			[]want{{RequestDeclined, "police.northshire", nil}}},
		"rectification": {audit.Entry{Type: compliance.AuditRectification, Subjects: []string{"hmac"},
			Detail: map[string]string{"rectification": "rc", "recipients": "dwp police.northshire"}},
			[]want{{RectificationNotice, "dwp", nil}, {RectificationNotice, "police.northshire", nil}}},
		"agreement/suspended": {audit.Entry{Type: agreements.AuditAgreementSuspended, Agreement: "police-crime@1"},
			[]want{{AgreementSuspended, "", []string{RoleAdmin, RoleDPO}}, {AgreementSuspended, "council.revenues", nil}, {AgreementSuspended, "police.northshire", nil}}},
		"agreement/draft": {audit.Entry{Type: agreements.AuditAgreementRegistered, Agreement: "police-crime@2"},
			[]want{{DraftAwaitingApprove, "", []string{RoleDPO}}}},
		"party/change-proposed": {audit.Entry{Type: agreements.AuditPartyChangeProposed, Recipient: "dwp", Detail: map[string]string{"fields": "encryption_key"}},
			[]want{{PartyChangeAwaiting, "", []string{RoleAdmin, RoleDPO}}}},
		"party/change-approved-is-quiet": {audit.Entry{Type: agreements.AuditPartyChangeApproved, Recipient: "dwp"}, nil},
		"fetch-is-quiet":                 {audit.Entry{Type: audit.TypeExchangeFetched, Exchange: "ex"}, nil},
	} {
		t.Run(name, func(t *testing.T) {
			tc.entry.Time = now
			evs, err := FromAudit(&tc.entry, look)
			require.NoError(t, err)
			var got []want
			for _, ev := range evs {
				got = append(got, want{ev.Type, ev.Party, ev.Roles})
				require.Equal(t, now, ev.Time)
				require.NotEmpty(t, ev.ID)
				if ev.Type == OverrideMade {
					require.Equal(t, review, ev.Data.Deadline)
				}
			}
			require.Equal(t, tc.want, got)
		})
	}
}

// A message says what, which ids, what to do and by when, and links to
// the console; it has nothing else to say.
func TestMessage(t *testing.T) {
	ev := Event{ID: "evt_1", Type: OverrideMade, Time: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), Roles: []string{RoleDPO},
		Data: Data{Exchange: "0193-ex", Agreement: "police-crime@1", Party: "council.social-care", Override: true,
			Deadline: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC), Action: "review the emergency override"}}
	link := ConsoleLink("https://gatehouse.council.example/console/")(ev)
	require.Equal(t, "https://gatehouse.council.example/console/overrides#override-0193-ex", link)
	subject, body := Message(ev, link, "gatehouse")
	require.Equal(t, "[gatehouse] Emergency override: DPO review needed by 4 Dec 10:00", subject)
	require.Contains(t, body, "0193-ex")
	require.Contains(t, body, "Fri 4 Dec 2026 10:00 GMT (2026-12-04T10:00:00Z)")
	require.Contains(t, body, "What needs doing: review the emergency override.")
	require.Contains(t, body, link)
	require.Empty(t, ConsoleLink("https://x.example")(Event{Party: "dwp", Data: Data{Exchange: "e"}}), "partners use the API, not the console")
	require.Equal(t, "https://x.example/parties/dwp", ConsoleLink("https://x.example")(Event{Type: PartyChangeAwaiting, Data: Data{Party: "dwp"}}))
}
