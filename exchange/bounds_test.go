package exchange_test

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/exchange"
	"github.com/gatehouse-gw/gatehouse/internal/metrics"
	"github.com/gatehouse-gw/gatehouse/internal/valid"
)

// Every string of a declaration is bounded and free text carries no control
// or invisible formatting characters; a message quotes a hostile value cut
// short and escaped.
func TestDeclarationBoundsAndControlCharacters(t *testing.T) {
	t.Parallel()
	huge := strings.Repeat("a", 200<<10)
	for _, tc := range []struct {
		name, path, rule string
		edit             func(d *api.ExchangeDeclaration)
	}{
		{"agreement/huge", "agreement", "format", func(d *api.ExchangeDeclaration) { d.Agreement = huge }},
		{"agreement/65", "agreement", "format", func(d *api.ExchangeDeclaration) { d.Agreement = strings.Repeat("a", 65) }},
		{"recipient/huge", "recipient", "format", func(d *api.ExchangeDeclaration) { d.Recipient = huge }},
		{"subject-type/huge", "subjects[0].type", "format", func(d *api.ExchangeDeclaration) { d.Subjects[0].Type = huge }},
		{"justification/esc", "justification", "control-character", func(d *api.ExchangeDeclaration) { d.Justification = "risk \x1b[2J to a child" }},
		{"justification/bell", "justification", "control-character", func(d *api.ExchangeDeclaration) { d.Justification = "risk\a" }},
		{"justification/bidi", "justification", "control-character", func(d *api.ExchangeDeclaration) { d.Justification = "risk \u202e" }},
		{"requested-by/esc", "requested_by", "control-character", func(d *api.ExchangeDeclaration) { d.RequestedBy = "PC \x1bSmith" }},
		{"requested-by/newline", "requested_by", "control-character", func(d *api.ExchangeDeclaration) { d.RequestedBy = "PC Smith\nDI Jones" }},
		{"requested-by/long", "requested_by", "max-length", func(d *api.ExchangeDeclaration) { d.RequestedBy = strings.Repeat("a", 257) }},
		{"authoriser-name/bell", "authoriser.name", "control-character", func(d *api.ExchangeDeclaration) {
			d.Authoriser = &api.Authoriser{Name: "DI \aPatel", Rank: "inspector"}
		}},
		{"authoriser-name/long", "authoriser.name", "max-length", func(d *api.ExchangeDeclaration) {
			d.Authoriser = &api.Authoriser{Name: huge, Rank: "inspector"}
		}},
		{"authoriser-rank/long", "authoriser.rank", "max-length", func(d *api.ExchangeDeclaration) {
			d.Authoriser = &api.Authoriser{Name: "DI Patel", Rank: huge}
		}},
		{"notification-reason/esc", "notification.reason", "control-character", func(d *api.ExchangeDeclaration) {
			d.Notification = &api.Notification{Decision: "withhold", Reason: "tipping \x1boff"}
		}},
		{"notification-reason/long", "notification.reason", "max-length", func(d *api.ExchangeDeclaration) {
			d.Notification = &api.Notification{Decision: "withhold", Reason: huge}
		}},
		{"content-type/control", "content_type", "control-character", func(d *api.ExchangeDeclaration) { d.ContentType = "text/csv\x00" }},
		{"content-type/long", "content_type", "max-length", func(d *api.ExchangeDeclaration) { d.ContentType = "text/" + huge }},
		{"request-ref/long", "request_ref", "max-length", func(d *api.ExchangeDeclaration) { d.RequestRef = huge }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := policeDisclosure(10)
			tc.edit(d)
			err := exchange.ValidateDeclaration(d, 1<<20)
			requireProblem(t, err, tc.path, tc.rule)
			v, _ := valid.As(err)
			require.Less(t, len(v.Error()), 1024, "messages quote a value cut short")
		})
	}
	d := policeDisclosure(10)
	d.Justification = "Risk to a child.\nSeen at 10:00.\tUrgent."
	require.NoError(t, exchange.ValidateDeclaration(d, 1<<20), "the justification may hold line ends and tabs")
}

// An agreement the registry does not hold is counted as "unknown": what a
// request names never becomes a metric label.
func TestDecisionMetricLabelsUnknownAgreements(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	d := policeDisclosure(10)
	d.Agreement = "no-such-agreement-" + strings.Repeat("x", 40)
	before := testutil.ToFloat64(metrics.Decisions.WithLabelValues("exchange", "deny", revenues, "unknown"))
	_, err := r.svc.Declare(r.ctx, revenues, d, "")
	require.Error(t, err)
	require.Equal(t, before+1, testutil.ToFloat64(metrics.Decisions.WithLabelValues("exchange", "deny", revenues, "unknown")))
	n, err := testutil.GatherAndCount(metrics.Registry, "gatehouse_decisions_total")
	require.NoError(t, err)
	out, err := metrics.Registry.Gather()
	require.NoError(t, err)
	for _, mf := range out {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				require.NotContains(t, l.GetValue(), "no-such-agreement", "of %d series", n)
			}
		}
	}
}
