// Package logkey names the keys of the gateway's structured log, in one
// place, so that every line uses the same names. The operational log is not
// the audit record: it never carries subject identifiers, payloads or keys.
package logkey

// Log keys.
const (
	Error     = "err"
	ErrorID   = "error_id"
	RequestID = "request_id"
	Party     = "party"
	Exchange  = "exchange"
	Agreement = "agreement"
	Reason    = "reason"
	Method    = "method"
	Path      = "path"
	Status    = "status"
	Code      = "code"
	Duration  = "duration"
	Remote    = "remote"
	Addr      = "addr"
	Component = "component"
	Outcome   = "outcome"
	Bytes     = "bytes"
	Rule      = "rule"
	// Seq is an audit entry's sequence number.
	Seq = "seq"
)
