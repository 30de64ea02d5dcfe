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

	// FramingRefused counts requests refused for malformed or ambiguous
	// HTTP framing, before the server read them.
	FramingRefused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gatehouse", Name: "http_framing_refused_total",
		Help: "Requests refused for malformed or ambiguous HTTP framing (Content-Length with Transfer-Encoding, bare LF, folded headers), by listener.",
	}, []string{"listener"})

	// RateLimited counts requests refused by rate limits.
	RateLimited = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gatehouse", Name: "rate_limited_total",
		Help: "Requests refused with 429, by party and limit (party or agreement).",
	}, []string{"party", "limit"})
)

var (
	// Decisions counts decisions on disclosures and information requests.
	Decisions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gatehouse", Name: "decisions_total",
		Help: "Decisions by kind (exchange, request), outcome (allow, allow-override, deny), party and agreement.",
	}, []string{"kind", "outcome", "party", "agreement"})

	// BytesSealed counts plaintext bytes sealed into object storage.
	BytesSealed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gatehouse", Name: "sealed_bytes_total",
		Help: "Plaintext bytes sealed and stored, by sending party and agreement.",
	}, []string{"party", "agreement"})

	// HTTPDuration is the latency of every request, by route template.
	HTTPDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "gatehouse", Name: "http_request_duration_seconds",
		Help:    "Request latency by listener (partner, admin), method, route and status.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 120},
	}, []string{"listener", "method", "route", "status"})

	// CommitDuration is how long each group commit's transaction takes.
	CommitDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "gatehouse", Name: "store_commit_duration_seconds",
		Help:    "Duration of each durable transaction (a group commit of one or more changes and their audit entries).",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	})

	// CommitBatch is how many changes share one transaction.
	CommitBatch = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "gatehouse", Name: "store_commit_batch_size",
		Help:    "Changes committed together by one group commit.",
		Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256},
	})

	// AuditAppends counts audit entries committed.
	AuditAppends = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "gatehouse", Name: "audit_entries_total",
		Help: "Audit entries committed to the chain.",
	})

	// AuditCheckpoints counts signed checkpoints and the entries they covered.
	AuditCheckpoints = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "gatehouse", Name: "audit_checkpoints_total",
		Help: "Checkpoints signed and archived by this node.",
	})

	// AuditCheckpointFailures counts failed checkpoint rounds (signing or
	// archiving), and AuditCheckpointFailing is how many failed in a row.
	AuditCheckpointFailures = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "gatehouse", Name: "audit_checkpoint_failures_total",
		Help: "Checkpoint rounds (sign, archive, record) that failed on this node.",
	})
	AuditCheckpointFailing = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "gatehouse", Name: "audit_checkpoint_consecutive_failures",
		Help: "Checkpoint rounds in a row that failed on this node (0 once one succeeds).",
	})

	// AuditUnarchivedAge is how old the oldest entry not yet in a signed,
	// archived checkpoint is: checkpoints are stale when it passes twice
	// audit.checkpoint_interval and a minute.
	AuditUnarchivedAge = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "gatehouse", Name: "audit_unarchived_age_seconds",
		Help: "Age of the oldest audit entry not yet covered by a signed, archived checkpoint (0 when none).",
	})

	// StoreErrors counts failed database and object-store operations.
	StoreErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gatehouse", Name: "store_errors_total",
		Help: "Failed storage operations by store (sql, objects) and operation.",
	}, []string{"store", "op"})

	// StoreWritable is 1 while the last write to a store succeeded, 0
	// while it failed: database, objects or audit-archive.
	StoreWritable = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "gatehouse", Name: "store_writable",
		Help: "1 if the last write (real or readiness probe) to the store succeeded, 0 if it failed, by store (database, objects, audit-archive).",
	}, []string{"store"})

	// OrphanObjects counts payload objects that no exchange records, found
	// by the reconciler, by what it did: deleted, or kept because a lock
	// still holds them.
	OrphanObjects = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gatehouse", Name: "orphan_objects_total",
		Help: "Payload objects no exchange records, found by the reconciler, by action (deleted, kept-locked, kept-report-only, delete-failed).",
	}, []string{"action"})

	// OrphanObjectsHeld is how many orphaned payload objects the last
	// reconciliation left in the store, under a lock or in report-only mode.
	OrphanObjectsHeld = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "gatehouse", Name: "orphan_objects_held",
		Help: "Orphaned payload objects recorded and not yet deleted (under an Object Lock, or kept by retention.delete_orphans: false).",
	})
)

var (
	// OverridesAwaiting is how many emergency overrides await the DPO's review.
	OverridesAwaiting = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "gatehouse", Name: "overrides_awaiting_review",
		Help: "Emergency overrides that await the DPO's review.",
	})

	// OutboxDepth is what the outbox holds that is not delivered, by
	// state (unrouted events; pending and failed deliveries) and channel.
	OutboxDepth = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "gatehouse", Name: "outbox_depth",
		Help: "Alerts not yet delivered: events not routed yet (state unrouted), deliveries waiting for an attempt (pending) and deliveries that gave up (failed), by channel (webhook, email).",
	}, []string{"state", "channel"})

	// AlertAttempts counts delivery attempts by channel and outcome
	// (delivered, failed, gave-up).
	AlertAttempts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gatehouse", Name: "alert_attempts_total",
		Help: "Alert delivery attempts by channel (webhook, email) and outcome (delivered, failed, gave-up).",
	}, []string{"channel", "outcome"})

	// AlertDeliveriesFailed counts deliveries that gave up after their last
	// attempt, by channel.
	AlertDeliveriesFailed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gatehouse", Name: "alert_deliveries_failed_total",
		Help: "Alert deliveries that failed for good (every attempt failed) and wait for a manual retry, by channel.",
	}, []string{"channel"})
)

func init() {
	Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		HandshakesRefused, CertificateExpiryDays, RateLimited, FramingRefused,
		Decisions, BytesSealed, HTTPDuration, CommitDuration, CommitBatch, AuditAppends, AuditCheckpoints, StoreErrors,
		AuditCheckpointFailures, AuditCheckpointFailing, AuditUnarchivedAge,
		StoreWritable, OrphanObjects, OrphanObjectsHeld,
		OverridesAwaiting, OutboxDepth, AlertAttempts, AlertDeliveriesFailed,
	)
}
