package minimise

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"

	"github.com/gatehouse-gw/gatehouse/internal/public"
)

// copyJSON minimises a JSON payload: an array of objects, or one object. Each
// object is a record; its top-level fields are kept, pseudonymised or
// stripped. Field order is kept.
func copyJSON(dst io.Writer, lim *recordLimiter, p *Policy, r *report) error {
	w := bufio.NewWriterSize(dst, 64<<10)
	dec := json.NewDecoder(lim)
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return jsonErr(err, "the payload is empty or not JSON")
	}
	switch tok {
	case json.Delim('['):
		w.WriteByte('[')
		for first := true; dec.More(); first = false {
			if !first {
				w.WriteByte(',')
			}
			if err := copyObject(w, dec, p, r); err != nil {
				return err
			}
			lim.next()
		}
		if _, err := dec.Token(); err != nil { // ]
			return jsonErr(err, "the array is not closed")
		}
		w.WriteByte(']')
	case json.Delim('{'):
		if err := copyFields(w, dec, p, r); err != nil {
			return err
		}
	default:
		return public.Errorf(ErrFormat, "JSON payloads must be an object or an array of objects")
	}
	// Only white space may follow.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return public.Errorf(ErrFormat, "unexpected data after the JSON value")
	}
	return w.Flush()
}

func jsonErr(err error, msg string) error {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return public.Errorf(ErrFormat, "JSON syntax error at byte %d: %s", syn.Offset, syn.Error())
	}
	if errors.Is(err, errRecordTooLarge) {
		return err
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return public.Errorf(ErrFormat, "%s", msg)
	}
	return err // a read error from the body
}

// copyObject expects an object next in dec and minimises it.
func copyObject(w *bufio.Writer, dec *json.Decoder, p *Policy, r *report) error {
	tok, err := dec.Token()
	if err != nil {
		return jsonErr(err, "a record is cut short")
	}
	if tok != json.Delim('{') {
		return public.Errorf(ErrFormat, "record %d is not a JSON object", r.Records+1)
	}
	return copyFields(w, dec, p, r)
}

// copyFields copies the fields of an object whose '{' was just read.
func copyFields(w *bufio.Writer, dec *json.Decoder, p *Policy, r *report) error {
	r.Records++
	w.WriteByte('{')
	wrote := false
	seen := names{}
	subject, found := "", false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return jsonErr(err, "a record is cut short")
		}
		name, _ := tok.(string)
		if err := seen.add(name); err != nil {
			return err
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return jsonErr(err, "a record is cut short")
		}
		if p.isSubject(name) && !bytes.Equal(raw, []byte("null")) {
			subject, found = scalarText(raw), true
		}
		keep, pseudo := p.keep(name)
		if keep && !pseudo && len(p.pseudo) > 0 {
			if nested := nestedPseudonymised(raw, p); nested != "" {
				return &NestedError{Field: name, Nested: nested}
			}
		}
		if !keep {
			if p.OnExtra == Refuse {
				return &RefusedError{Fields: []string{name}}
			}
			r.stripped[name] = true
			continue
		}
		if wrote {
			w.WriteByte(',')
		}
		wrote = true
		key, _ := json.Marshal(name)
		w.Write(key)
		w.WriteByte(':')
		if pseudo && !bytes.Equal(raw, []byte("null")) {
			r.pseudonymised[name] = true
			v, _ := json.Marshal(Pseudonym(p.Key, scalarText(raw)))
			w.Write(v)
			continue
		}
		w.Write(raw)
	}
	if _, err := dec.Token(); err != nil { // }
		return jsonErr(err, "a record is cut short")
	}
	if err := p.subjectOf(r.Records, subject, found); err != nil {
		return err
	}
	return w.WriteByte('}')
}

// nestedPseudonymised returns the first field name, at any depth inside an
// object or array value, that the policy pseudonymises; "" if none.
func nestedPseudonymised(raw json.RawMessage, p *Policy) string {
	if len(raw) == 0 || (raw[0] != '{' && raw[0] != '[') {
		return ""
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return ""
	}
	var walk func(v any) string
	walk = func(v any) string {
		switch t := v.(type) {
		case map[string]any:
			for k, sub := range t {
				if p.pseudo[FieldName(k)] {
					return k
				}
				if n := walk(sub); n != "" {
					return n
				}
			}
		case []any:
			for _, sub := range t {
				if n := walk(sub); n != "" {
					return n
				}
			}
		}
		return ""
	}
	return walk(v)
}

// scalarText is the text a pseudonym is computed from: a string's value, or
// any other JSON value's compact text.
func scalarText(raw json.RawMessage) string {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err == nil {
		return buf.String()
	}
	return string(raw)
}
