// Package minimise cuts structured payloads (JSON and CSV) down to the fields
// a flow allows and replaces identifying fields with keyed pseudonyms, as a
// stream: one record in memory at a time.
package minimise

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"sort"
	"strings"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/gatehouse-gw/gatehouse/internal/public"
)

// Formats.
const (
	JSON = "json"
	CSV  = "csv"
)

// Modes: what a policy does to fields outside its allowlist (Strip, the
// default, or Refuse). A report's mode says what was applied, which is one
// of these only where there is an allowlist: None where there is none (every
// field kept, listed ones pseudonymised), CountOnly where the policy has no
// field rules at all (the payload passes unchanged; records and subjects are
// counted).
const (
	Strip     = "strip"
	Refuse    = "refuse"
	None      = "none"
	CountOnly = "count-only"
)

// MaxRecord bounds the size of one record, so that no payload can make the
// gateway hold more than this of it in memory.
const MaxRecord = 1 << 20

// ErrFormat is returned for a payload that is not the structure its content
// type claims.
var ErrFormat = errors.New("payload is not well-formed")

// RefusedError lists the fields outside the allowlist when the flow refuses them.
type RefusedError struct {
	Fields []string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("payload has fields outside the flow's allowlist: %s", strings.Join(e.Fields, ", "))
}

// AmbiguousError lists field names of one record that are the same name
// once normalised (NINO, Nino and nino; a composed and a decomposed é): the
// gateway cannot tell which of them a rule means, so it refuses the payload.
type AmbiguousError struct {
	Fields []string
}

func (e *AmbiguousError) Error() string {
	return fmt.Sprintf("payload has fields that are one name once case and Unicode form are set aside: %s", strings.Join(e.Fields, ", "))
}

// NestedError names a field whose value is an object or array holding a
// field the flow pseudonymises: only top-level fields are pseudonymised, so
// the payload is refused rather than let the nested value go in clear.
type NestedError struct {
	Field, Nested string
}

func (e *NestedError) Error() string {
	return fmt.Sprintf("field %q holds a nested field %q that this flow pseudonymises; send it as a top-level field", e.Field, e.Nested)
}

// SubjectsError: a structured payload is about more people than the
// declaration or the flow allows, or (an answer to a request) about someone
// the request did not name.
type SubjectsError struct {
	// Limit is the most subjects allowed; Record the record that passed it
	// or named someone not asked about.
	Limit  int
	Record int64
	// Unrequested is set when the record is about a subject the request did
	// not name.
	Unrequested bool
}

func (e *SubjectsError) Error() string {
	if e.Unrequested {
		return fmt.Sprintf("record %d is about a subject the request did not name", e.Record)
	}
	return fmt.Sprintf("the payload is about more than %d subjects (record %d is subject %d)", e.Limit, e.Record, e.Limit+1)
}

// FieldName is the form field names are compared in: white space trimmed,
// Unicode NFC, then case folded. "NINO", " Nino" and "nino" are one name.
func FieldName(name string) string {
	return cases.Fold().String(norm.NFC.String(strings.TrimSpace(name)))
}

// Policy says what to keep and what to pseudonymise.
type Policy struct {
	// Allow lists the fields to keep; empty keeps every field.
	Allow []string
	// Pseudonymise lists fields whose values become keyed pseudonyms.
	Pseudonymise []string
	// OnExtra is Strip (default) or Refuse.
	OnExtra string
	// Key is the pseudonym key (see PseudonymKey).
	Key []byte
	// Subject is the field that identifies a record's data subject; ""
	// counts every record as a subject of its own.
	Subject string
	// MaxSubjects is the most distinct subjects the payload may be about;
	// zero: not counted.
	MaxSubjects int
	// Requested, if set, says whether a subject identifier value is one a
	// request named; a record about anyone else is refused.
	Requested func(value string) bool

	// allow and pseudo hold Allow and Pseudonymise by FieldName.
	allow, pseudo map[string]bool
	subject       string
	seen          map[[32]byte]struct{}
}

// applied is the mode a report gives for the policy: what it actually does.
func (p *Policy) applied() string {
	switch {
	case len(p.Allow) > 0:
		return p.OnExtra
	case len(p.Pseudonymise) > 0:
		return None
	}
	return CountOnly
}

// counts reports whether the policy looks at who each record is about.
func (p *Policy) counts() bool { return p.MaxSubjects > 0 || p.Requested != nil }

// subjectOf notes the subject of record n: its identifier value, or none
// (found false: a record of its own). At most MaxSubjects+1 distinct
// subjects are ever held.
func (p *Policy) subjectOf(n int64, value string, found bool) error {
	if !p.counts() {
		return nil
	}
	if p.Requested != nil && (!found || !p.Requested(value)) {
		return &SubjectsError{Record: n, Unrequested: true}
	}
	if p.MaxSubjects <= 0 {
		return nil
	}
	var id [32]byte
	if found {
		id = sha256.Sum256([]byte(value))
	} else {
		id = sha256.Sum256(fmt.Appendf(nil, "\x00record %d", n))
	}
	if _, ok := p.seen[id]; ok {
		return nil
	}
	if len(p.seen) >= p.MaxSubjects {
		return &SubjectsError{Limit: p.MaxSubjects, Record: n}
	}
	p.seen[id] = struct{}{}
	return nil
}

// isSubject reports whether field is the subject identifier field.
func (p *Policy) isSubject(field string) bool {
	return p.subject != "" && FieldName(field) == p.subject
}

// prepare indexes the policy's names in their compared form.
func (p *Policy) prepare() {
	p.allow, p.pseudo, p.seen = map[string]bool{}, map[string]bool{}, map[[32]byte]struct{}{}
	if p.Subject != "" {
		p.subject = FieldName(p.Subject)
	}
	for _, f := range p.Allow {
		p.allow[FieldName(f)] = true
	}
	for _, f := range p.Pseudonymise {
		p.pseudo[FieldName(f)] = true
	}
}

// Rules is a short text of what the policy applies, for the audit record.
func (p *Policy) Rules() string {
	var parts []string
	if len(p.Allow) > 0 {
		parts = append(parts, "allow "+strings.Join(p.Allow, ",")+" ("+p.OnExtra+" others)")
	}
	if len(p.Pseudonymise) > 0 {
		parts = append(parts, "pseudonymise "+strings.Join(p.Pseudonymise, ","))
	}
	return strings.Join(parts, "; ")
}

// Report says what minimisation did, for the manifest and the audit record.
type Report struct {
	Format string `json:"format"`
	// Mode is what was applied: Strip or Refuse (an allowlist), None (no
	// allowlist) or CountOnly (no field rules).
	Mode    string `json:"mode"`
	Records int64  `json:"records"`
	// Subjects is how many distinct subjects were counted (0: not counted).
	Subjects      int64    `json:"subjects,omitempty"`
	Stripped      []string `json:"stripped,omitempty"`
	Pseudonymised []string `json:"pseudonymised,omitempty"`
}

// Summary is a short text for the audit record.
func (r *Report) Summary() string {
	s := fmt.Sprintf("%s, %d records, %s", r.Format, r.Records, r.Mode)
	if r.Subjects > 0 {
		s += fmt.Sprintf(", %d subjects", r.Subjects)
	}
	if len(r.Stripped) > 0 {
		s += "; stripped " + strings.Join(r.Stripped, ",")
	}
	if len(r.Pseudonymised) > 0 {
		s += "; pseudonymised " + strings.Join(r.Pseudonymised, ",")
	}
	return s
}

// Format returns the structured format of a content type: json for
// application/json and any +json type, csv for text/csv, "" otherwise.
func Format(contentType string) string {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return ""
	}
	switch {
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		return JSON
	case mt == "text/csv" || mt == "application/csv":
		return CSV
	}
	return ""
}

// PseudonymKey derives the pseudonym key of an agreement from the
// gateway's master key: the same value under the same agreement always
// gives the same pseudonym, and pseudonyms cannot be linked across agreements.
func PseudonymKey(master []byte, agreementID string) []byte {
	m := hmac.New(sha256.New, master)
	m.Write([]byte("gatehouse/pseudonym/v1\x00" + agreementID))
	return m.Sum(nil)
}

// Pseudonym returns the keyed pseudonym of a value: "hmac-sha256:" and the
// hex HMAC-SHA256 of the value under key.
func Pseudonym(key []byte, value string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(value))
	return "hmac-sha256:" + hex.EncodeToString(m.Sum(nil))
}

// Copy minimises the payload in src, in format, onto dst.
func Copy(dst io.Writer, src io.Reader, format string, p *Policy) (*Report, error) {
	if p.OnExtra == "" {
		p.OnExtra = Strip
	}
	if p.OnExtra != Strip && p.OnExtra != Refuse {
		return nil, fmt.Errorf("minimise: unknown mode %q", p.OnExtra)
	}
	p.prepare()
	r := &report{Report: Report{Format: format, Mode: p.applied()}, stripped: map[string]bool{}, pseudonymised: map[string]bool{}}
	lim := &recordLimiter{r: src}
	var err error
	switch format {
	case JSON:
		err = copyJSON(dst, lim, p, r)
	case CSV:
		err = copyCSV(dst, lim, p, r)
	default:
		return nil, fmt.Errorf("minimise: unknown format %q", format)
	}
	if err != nil {
		return nil, err
	}
	r.Subjects = int64(len(p.seen))
	r.Stripped = sortedKeys(r.stripped)
	r.Pseudonymised = sortedKeys(r.pseudonymised)
	return &r.Report, nil
}

type report struct {
	Report
	stripped, pseudonymised map[string]bool
}

// keep decides a field: keep it, pseudonymise it, or drop it (or refuse).
// Names are compared by FieldName.
func (p *Policy) keep(field string) (keep, pseudo bool) {
	name := FieldName(field)
	if len(p.allow) > 0 && !p.allow[name] {
		return false, false
	}
	return true, p.pseudo[name]
}

// names notes the field names of one record and reports the first that is
// the same name as an earlier one once normalised.
type names map[string]string

func (n names) add(field string) error {
	key := FieldName(field)
	if prev, ok := n[key]; ok {
		return &AmbiguousError{Fields: []string{prev, field}}
	}
	n[key] = field
	return nil
}

func sortedKeys(m map[string]bool) []string {
	if len(m) == 0 {
		return nil
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// recordLimiter fails a read once more than MaxRecord (plus the decoders'
// read-ahead) has been read since the last record ended.
type recordLimiter struct {
	r       io.Reader
	pending int64
}

// errRecordTooLarge says a single record is over MaxRecord.
var errRecordTooLarge = public.Errorf(ErrFormat, "a record is larger than %d bytes", MaxRecord)

func (l *recordLimiter) Read(b []byte) (int, error) {
	if l.pending > MaxRecord+64<<10 {
		return 0, errRecordTooLarge
	}
	n, err := l.r.Read(b)
	l.pending += int64(n)
	return n, err
}

// next marks the end of a record.
func (l *recordLimiter) next() { l.pending = 0 }
