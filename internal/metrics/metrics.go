// Package metrics holds the gateway's Prometheus metrics, served at /metrics
// on the admin listener. Labels carry party and agreement ids, never subject
// identifiers.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Registry is the gateway's metric registry.
var Registry = prometheus.NewRegistry()

var (
	// HandshakesRefused counts refused client certificates by reason.
	HandshakesRefused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gatehouse", Name: "handshakes_refused_total",
		Help: "Client certificates refused during the TLS handshake, by reason.",
	}, []string{"reason"})

	// CertificateExpiryDays is the days left on each party certificate seen.
	CertificateExpiryDays = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "gatehouse", Name: "party_certificate_expiry_days",
		Help: "Days until each party certificate the gateway has seen expires.",
	}, []string{"party", "serial"})

	// RateLimited counts requests refused by rate limits.
	RateLimited = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gatehouse", Name: "rate_limited_total",
		Help: "Requests refused with 429, by party and limit (party or agreement).",
	}, []string{"party", "limit"})
)

func init() {
	Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		HandshakesRefused, CertificateExpiryDays, RateLimited,
	)
}
