// Package strictjson is the one JSON decoder for every request body of
// both listeners: one value, known keys only, each key once and spelled
// exactly, bounded in depth, valid UTF-8. Two readers of the same body can
// then never see different values (Go's encoding/json takes the last of two
// duplicate keys and matches keys whatever their case).
package strictjson

import (
	"bytes"
	"encoding/json/jsontext"
	"encoding/json/v2"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
)

// MaxDepth is how deeply objects and arrays may nest in a body; no request
// document of the API nests more than a few levels.
const MaxDepth = 32

// Rules of a field error.
const (
	RuleDuplicate   = "duplicate-key"
	RuleCaseVariant = "case-variant"
	RuleUnknown     = "unknown-field"
	RuleType        = "type"
	RuleFormat      = "format"
)

// Error is why a body was refused. A syntax error (Field empty) says where
// the body stops being one valid JSON value; a field error names the key
// path (subjects[0].type) and the rule it broke.
type Error struct {
	// Offset is the byte offset of a syntax error.
	Offset  int64
	Field   string
	Rule    string
	Message string
}

func (e *Error) Error() string {
	if e.Field == "" {
		return "invalid JSON: " + e.Message
	}
	return e.Field + ": " + e.Message
}

// Syntax reports whether the body is not one valid JSON value (as opposed
// to a valid value that does not fit the document).
func (e *Error) Syntax() bool { return e.Field == "" }

var options = json.JoinOptions(
	json.RejectUnknownMembers(true),
	json.MatchCaseInsensitiveNames(false),
	jsontext.AllowDuplicateNames(false),
	jsontext.AllowInvalidUTF8(false),
)

// open is options for documents that may hold members dst does not name
// (a JWK, whose other members another library reads).
var open = json.JoinOptions(options, json.RejectUnknownMembers(false))

// Decode decodes exactly one JSON value from body into dst (a pointer),
// refusing what the package doc lists. Every error is an *Error.
func Decode(body []byte, dst any) error { return decode(body, dst, options) }

// DecodeOpen is Decode for a document that may hold members dst does not
// name; duplicate keys, exact case, one value and depth still hold.
func DecodeOpen(body []byte, dst any) error { return decode(body, dst, open) }

func decode(body []byte, dst any, options json.Options) error {
	if d := depth(body); d > MaxDepth {
		return &Error{Message: fmt.Sprintf("nested %d levels deep (at most %d)", d, MaxDepth)}
	}
	dec := jsontext.NewDecoder(bytes.NewReader(body), options)
	if err := json.UnmarshalDecode(dec, dst, options); err != nil {
		return describe(err, dst)
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return &Error{Offset: dec.InputOffset(), Message: "unexpected data after the JSON value"}
	}
	return nil
}

// depth is how deeply arrays and objects nest in body, counted without
// decoding (strings are skipped, escapes included).
func depth(body []byte) int {
	d, deepest, inString := 0, 0, false
	for i := 0; i < len(body); i++ {
		c := body[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			d++
			deepest = max(deepest, d)
		case '}', ']':
			d--
		}
	}
	return deepest
}

func describe(err error, dst any) error {
	var (
		syn *jsontext.SyntacticError
		sem *json.SemanticError
	)
	switch {
	case errors.As(err, &syn) && errors.Is(syn.Err, jsontext.ErrDuplicateName):
		return &Error{Field: Path(syn.JSONPointer), Rule: RuleDuplicate, Message: "appears more than once in its object; each key may be given once"}
	case errors.As(err, &syn):
		return &Error{Offset: syn.ByteOffset, Message: syntaxMessage(syn)}
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return &Error{Message: "the body is empty or cut short"}
	case errors.As(err, &sem) && errors.Is(sem.Err, json.ErrUnknownName):
		field := Path(sem.JSONPointer)
		name := lastToken(sem.JSONPointer)
		if known := caseVariant(sem.GoType, name); known != "" {
			return &Error{Field: field, Rule: RuleCaseVariant, Message: fmt.Sprintf("is not a field of this document: keys are case-sensitive (the field is %q)", known)}
		}
		return &Error{Field: field, Rule: RuleUnknown, Message: "is not a field of this document"}
	case errors.As(err, &sem):
		field := Path(sem.JSONPointer)
		if field == "" {
			field = "(body)"
		}
		if sem.Err != nil && !errors.Is(sem.Err, strconv.ErrSyntax) && !errors.Is(sem.Err, strconv.ErrRange) && sem.GoType != nil && isCustom(sem.GoType) {
			// A type's own parser (dates, durations) says what it wants.
			return &Error{Field: field, Rule: RuleFormat, Message: bounded(sem.Err.Error())}
		}
		return &Error{Field: field, Rule: RuleType, Message: typeMessage(sem)}
	}
	return &Error{Message: bounded(err.Error())}
}

// syntaxMessage is the syntax error without the pointer and offset the
// problem document carries on its own.
func syntaxMessage(e *jsontext.SyntacticError) string {
	msg := e.Err.Error()
	if msg == "" {
		msg = e.Error()
	}
	return bounded(fmt.Sprintf("at byte %d: %s", e.ByteOffset, msg))
}

func typeMessage(e *json.SemanticError) string {
	want := "a value of another type"
	if e.GoType != nil {
		want = kind(e.GoType)
	}
	got := "a " + jsonKind(e.JSONKind)
	if e.JSONKind == '0' {
		got = "a number"
		if e.GoType != nil && isInt(e.GoType) {
			return "must be " + want + " (a whole number in range)"
		}
	}
	return "must be " + want + ", not " + got
}

func jsonKind(k jsontext.Kind) string {
	switch k {
	case 'n':
		return "null"
	case 't', 'f':
		return "boolean"
	case '"':
		return "string"
	case '0':
		return "number"
	case '{':
		return "object"
	case '[':
		return "array"
	}
	return "value"
}

func isInt(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

func kind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if isCustom(t) {
		return "a string"
	}
	switch {
	case isInt(t):
		return "a whole number"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "a value of another type"
}

// isCustom reports whether t parses itself from JSON (a date, a duration).
func isCustom(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	return p.Implements(reflect.TypeFor[interface{ UnmarshalText([]byte) error }]()) ||
		p.Implements(reflect.TypeFor[interface{ UnmarshalJSON([]byte) error }]())
}

// caseVariant returns the field of struct type t whose JSON name equals
// name but for case, or "".
func caseVariant(t reflect.Type, name string) string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return ""
	}
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() || f.Anonymous {
			continue
		}
		n, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if n == "-" {
			continue
		}
		if n == "" {
			n = f.Name
		}
		if strings.EqualFold(n, name) && n != name {
			return n
		}
	}
	return ""
}

func lastToken(p jsontext.Pointer) string {
	last := ""
	for t := range p.Tokens() {
		last = t
	}
	return last
}

// Path writes a JSON pointer the way validation errors name fields:
// /subjects/0/type is subjects[0].type. A key that is not a plain name is
// quoted and cut short, so that a hostile key never reaches an answer or a
// log line whole.
func Path(p jsontext.Pointer) string {
	var b strings.Builder
	for t := range p.Tokens() {
		if n, err := strconv.Atoi(t); err == nil && n >= 0 && b.Len() > 0 {
			b.WriteString("[" + t + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		if plainName(t) {
			b.WriteString(t)
		} else {
			b.WriteString(Quote(t))
		}
	}
	return b.String()
}

func plainName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// QuoteMax is the most characters of a value an error message quotes.
const QuoteMax = 64

// Quote quotes s for an error message (Go syntax, so control and invisible
// characters show as escapes), cut to QuoteMax characters.
func Quote(s string) string {
	r := []rune(s)
	if len(r) > QuoteMax {
		return strconv.QuoteToASCII(string(r[:QuoteMax])) + "…"
	}
	return strconv.QuoteToASCII(s)
}

// bounded cuts a message from a parser to a length fit for an answer.
func bounded(s string) string {
	const max = 200
	if len(s) <= max {
		return s
	}
	r := []rune(s[:max])
	return string(r[:len(r)-1]) + "…"
}
