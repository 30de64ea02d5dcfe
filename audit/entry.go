// Package audit keeps the tamper-evident record of what the gateway decided
// and did: a hash chain of entries, each bound to the one before it.
package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// Entry types.
const (
	TypeExchangeDecided = "exchange.decided"
	TypeExchangeSealed  = "exchange.sealed"
	TypeExchangeFailed  = "exchange.failed"
	TypeExchangeFetched = "exchange.fetched"
	TypeEnvelopeFetched = "exchange.envelope-fetched"
)

// GenesisHash is the previous hash of the first entry.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// Entry is one record in the chain. Subject identifiers appear only as keyed
// HMACs (see SubjectKey). Field order is the canonical order.
type Entry struct {
	Seq       int64     `json:"seq"`
	Time      time.Time `json:"time"`
	Type      string    `json:"type"`
	Actor     string    `json:"actor"`
	Exchange  string    `json:"exchange,omitempty"`
	Request   string    `json:"request,omitempty"`
	Agreement string    `json:"agreement,omitempty"`
	Recipient string    `json:"recipient,omitempty"`
	Outcome   string    `json:"outcome,omitempty"`
	// Failed lists the codes of the checks that did not pass.
	Failed      []string `json:"failed,omitempty"`
	Purpose     string   `json:"purpose,omitempty"`
	LawfulBasis string   `json:"lawful_basis,omitempty"`
	Conditions  []string `json:"conditions,omitempty"`
	Exemption   string   `json:"exemption,omitempty"`
	Categories  []string `json:"categories,omitempty"`
	Subjects    []string `json:"subjects,omitempty"`
	// PayloadHash is the plaintext SHA-256 entries carried before the
	// keyed PayloadDigest replaced it; new entries leave it out.
	PayloadHash string `json:"payload_sha256,omitempty"`
	// PayloadDigest is the payload's keyed digest (PayloadDigest).
	PayloadDigest string `json:"payload_digest,omitempty"`
	PayloadSize   int64  `json:"payload_size,omitempty"`
	// Detail holds further facts as strings; keys are encoded sorted.
	Detail map[string]string `json:"detail,omitempty"`
	Prev   string            `json:"prev"`
}

// Record is an entry as stored: its canonical encoding and hash.
type Record struct {
	Seq  int64
	Time time.Time
	Type string
	Body []byte
	Hash string
}

// Encode returns the canonical encoding of e and its hash, the lower-case
// hex SHA-256 of that encoding. The encoding is JSON with fields in the
// order of Entry, times in UTC RFC 3339 with nanoseconds, map keys sorted
// and no insignificant whitespace.
func Encode(e *Entry) (body []byte, hash string, err error) {
	c := *e
	c.Time = c.Time.UTC()
	body, err = json.Marshal(&c)
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(body)
	return body, hex.EncodeToString(sum[:]), nil
}

// Chain links e to the head of the chain: it sets Seq and Prev, and returns
// the record to store.
func Chain(e *Entry, headSeq int64, headHash string) (*Record, error) {
	if headSeq == 0 {
		headHash = GenesisHash
	}
	e.Seq = headSeq + 1
	e.Prev = headHash
	if e.Time.IsZero() {
		return nil, errors.New("audit: entry has no time")
	}
	e.Time = e.Time.UTC()
	body, hash, err := Encode(e)
	if err != nil {
		return nil, err
	}
	return &Record{Seq: e.Seq, Time: e.Time, Type: e.Type, Body: body, Hash: hash}, nil
}

// Appender appends entries to the chain inside the transaction that makes
// the change they record. If Append fails the change must not happen.
type Appender interface {
	AppendAudit(ctx context.Context, e *Entry) error
}

// SubjectKeyPrefix starts every subject key.
const SubjectKeyPrefix = "hmac-sha256:"

// SubjectKey returns the keyed HMAC that stands for a subject identifier in
// the audit record, under key as the first key version:
// "hmac-sha256:v2:" and the lower-case hex HMAC-SHA256 of the identifier's
// canonical form (subject.Canonical), so "qq 12 34 56 c" and "QQ123456C"
// give the same key, as do "JOSÉ NÚÑEZ" and "josé núñez". A keyring
// (SubjectKeyring) makes keys of later versions.
func SubjectKey(key []byte, typ, value string) string {
	return SubjectKeyV(key, FirstKeyVersion, typ, value)
}

// NormaliseSubjectValue removes white space and upper-cases v.
func NormaliseSubjectValue(v string) string {
	return strings.ToUpper(strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, v))
}

// ErrKeyTooShort is returned for an HMAC key under 32 bytes.
var ErrKeyTooShort = errors.New("audit: subject key must be at least 32 bytes")

// CheckSubjectKey checks an HMAC key for subject identifiers.
func CheckSubjectKey(key []byte) error {
	if len(key) < 32 {
		return fmt.Errorf("%w (got %d)", ErrKeyTooShort, len(key))
	}
	return nil
}
