package agreements

import (
	"bytes"
	"encoding"
	"encoding/json"
	"encoding/json/jsontext"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/gatehouse-gw/gatehouse/internal/strictjson"
	"github.com/gatehouse-gw/gatehouse/internal/valid"
)

// Bounds of an agreement or party document, whichever its format. A
// document is refused before any of its values is rendered into an error
// once it passes one of them, so that neither the work nor the answer grows
// with what aliases or repetition make of it.
const (
	// MaxDocumentNodes is the most values (mappings, sequences, scalars) a
	// document may hold, each alias counted as often as it is used. A
	// 20-flow agreement holds about 1,500.
	MaxDocumentNodes = 10_000
	// MaxEncoded is the most bytes the stored form (the canonical JSON
	// re-encoding) of a document may take.
	MaxEncoded = 256 << 10
	// MaxDocumentDepth is how deeply mappings and sequences may nest.
	MaxDocumentDepth = 16
	// MaxProblems is the most problems one answer lists; past it, one more
	// says that the list was cut.
	MaxProblems = 100
	// maxIndicators bounds the YAML and JSON indicators (`,:-?[{&*!|>` and
	// line ends) a document may hold before it is parsed: the parser builds
	// at most two values per indicator, so this bounds the parse tree
	// (FuzzDecodeYAML holds the parser to it).
	maxIndicators = 4 * MaxDocumentNodes
)

// Rules of decoding problems (besides strictjson's duplicate-key,
// case-variant, unknown-field, type and format).
const (
	RuleTooLarge = "too-large"
	RuleTag      = "tag"
	RuleSyntax   = "syntax"
	RuleMaximum  = "maximum"
	RuleControl  = "control-character"
	RuleMaxItems = "max-items"
)

// DecodeYAML decodes one agreement document written in YAML. Unknown,
// duplicate and case-variant keys, values of the wrong type, unknown tags
// (`!!python/object`), merge keys, strings over their bound (docs/agreements.md)
// and control characters are refused; every problem is reported with its
// path as a valid.Errors, together with what Validate finds in the values
// that did decode, so that one bad value hides no other problem.
func DecodeYAML(data []byte) (*Agreement, error) {
	var a Agreement
	if err := decodeDocument(data, false, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// DecodeJSON decodes one agreement document written in JSON, by the rules
// of DecodeYAML (and strictjson's: one value, valid UTF-8).
func DecodeJSON(data []byte) (*Agreement, error) {
	var a Agreement
	if err := decodeDocument(data, true, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// DecodePartiesYAML decodes a YAML list of parties by the rules of
// DecodeYAML.
func DecodePartiesYAML(data []byte) ([]*Party, error) {
	var ps []*Party
	if err := decodeDocument(data, false, &ps); err != nil {
		return nil, err
	}
	return ps, nil
}

// errStop ends a walk at a bound; the problem saying which is recorded.
var errStop = errors.New("stop")

func decodeDocument(data []byte, isJSON bool, dst any) error {
	if n := indicators(data); n > maxIndicators {
		return valid.Errors{{Path: "(document)", Rule: RuleTooLarge,
			Message: fmt.Sprintf("has more than %d values (at most %d)", MaxDocumentNodes, MaxDocumentNodes)}}
	}
	var (
		root *yaml.Node
		err  error
	)
	if isJSON {
		root, err = parseJSON(data)
	} else {
		root, err = parseYAML(data)
	}
	if err != nil {
		return err
	}
	d := &decoder{}
	if err := d.value(root, reflect.ValueOf(dst).Elem(), "", 0); err != nil {
		return d.problems
	}
	if len(d.problems) > 0 {
		if a, ok := dst.(*Agreement); ok && root.Kind == yaml.MappingNode {
			d.addValidation(a.Validate())
		}
		return d.problems
	}
	if b, err := json.Marshal(dst); err != nil || len(b) > MaxEncoded {
		return valid.Errors{{Path: "(document)", Rule: RuleTooLarge,
			Message: fmt.Sprintf("is more than %d KiB once stored", MaxEncoded>>10)}}
	}
	return nil
}

// indicators counts the bytes that can begin or separate a YAML or JSON
// value: an upper bound, counted before parsing, of half the values a parser
// can build from data.
func indicators(data []byte) int {
	n := 0
	for _, c := range data {
		switch c {
		case ',', ':', '-', '?', '[', '{', '&', '*', '!', '|', '>', '\n', '\r':
			n++
		}
	}
	return n
}

func parseYAML(data []byte) (*yaml.Node, error) {
	if !utf8.Valid(data) {
		return nil, valid.Errors{{Path: "(document)", Rule: RuleSyntax, Message: "is not valid UTF-8"}}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, valid.Errors{{Path: "(document)", Rule: "required", Message: "is empty"}}
		}
		return nil, valid.Errors{{Path: "(document)", Rule: RuleSyntax, Message: bounded(strings.TrimPrefix(err.Error(), "yaml: "))}}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, valid.Errors{{Path: "(document)", Rule: RuleSyntax, Message: "holds more than one YAML document"}}
	}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		return doc.Content[0], nil
	}
	return &doc, nil
}

// parseJSON reads one JSON value into the tree a YAML parser builds, so one
// walk decodes both formats. Duplicate names are kept for the walk to
// report, with the others, by path.
func parseJSON(data []byte) (*yaml.Node, error) {
	dec := jsontext.NewDecoder(bytes.NewReader(data), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(false))
	syntax := func(err error) error {
		msg := "the body is empty or cut short"
		var se *jsontext.SyntacticError
		if errors.As(err, &se) {
			msg = fmt.Sprintf("at byte %d: %s", se.ByteOffset, se.Err)
		}
		return valid.Errors{{Path: "(document)", Rule: RuleSyntax, Message: bounded(msg)}}
	}
	var read func(depth int) (*yaml.Node, error)
	read = func(depth int) (*yaml.Node, error) {
		if depth > MaxDocumentDepth {
			return nil, valid.Errors{{Path: "(document)", Rule: RuleTooLarge, Message: fmt.Sprintf("nests more than %d levels deep", MaxDocumentDepth)}}
		}
		tok, err := dec.ReadToken()
		if err != nil {
			return nil, syntax(err)
		}
		switch tok.Kind() {
		case '{', '[':
			n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			end := jsontext.Kind('}')
			if tok.Kind() == '[' {
				n.Kind, n.Tag, end = yaml.SequenceNode, "!!seq", ']'
			}
			for dec.PeekKind() != end {
				if dec.PeekKind() == 0 {
					_, err := dec.ReadToken()
					return nil, syntax(err)
				}
				c, err := read(depth + 1)
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, c)
			}
			if _, err := dec.ReadToken(); err != nil {
				return nil, syntax(err)
			}
			return n, nil
		case '"':
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: tok.String(), Style: yaml.DoubleQuotedStyle}, nil
		case '0':
			tag := "!!float"
			if _, err := strconv.ParseInt(tok.String(), 10, 64); err == nil {
				tag = "!!int"
			}
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: tok.String()}, nil
		case 't', 'f':
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: tok.String()}, nil
		case 'n':
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}, nil
		}
		return nil, syntax(fmt.Errorf("unexpected token"))
	}
	root, err := read(0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return nil, valid.Errors{{Path: "(document)", Rule: RuleSyntax, Message: "unexpected data after the document"}}
	}
	return root, nil
}

// decoder walks a document's tree into a Go value, collecting problems.
type decoder struct {
	problems valid.Errors
	nodes    int
	encoded  int
	cut      bool
}

func (d *decoder) add(path, rule, format string, args ...any) {
	if path == "" {
		path = "(document)"
	}
	if len(d.problems) >= MaxProblems {
		if !d.cut {
			d.cut = true
			d.problems = append(d.problems, valid.Problem{Path: "(document)", Rule: RuleTooLarge, Message: fmt.Sprintf("has more problems than the %d listed", MaxProblems)})
		}
		return
	}
	d.problems.Add(path, rule, format, args...)
}

// stop records a bound passed and ends the walk with it as the only problem.
func (d *decoder) stop(rule, format string, args ...any) error {
	d.problems = valid.Errors{{Path: "(document)", Rule: rule, Message: fmt.Sprintf(format, args...)}}
	return errStop
}

// addValidation adds what Validate found at paths that decoding did not
// already report (a field that failed to decode is zero, and Validate would
// only call it missing).
func (d *decoder) addValidation(err error) {
	v, _ := valid.As(err)
	reported := map[string]bool{}
	for _, p := range d.problems {
		reported[p.Path] = true
	}
	for _, p := range v {
		if reported[p.Path] || reportedBelow(reported, p.Path) {
			continue
		}
		d.add(p.Path, p.Rule, "%s", p.Message)
	}
}

// reportedBelow reports whether a problem was reported inside path (a list
// or mapping that Validate might otherwise call missing or wrong).
func reportedBelow(reported map[string]bool, path string) bool {
	for r := range reported {
		if strings.HasPrefix(r, path+".") || strings.HasPrefix(r, path+"[") {
			return true
		}
	}
	return false
}

var (
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
	dateType        = reflect.TypeFor[Date]()
	durationType    = reflect.TypeFor[Duration]()
)

func (d *decoder) value(n *yaml.Node, v reflect.Value, path string, depth int) error {
	if depth > MaxDocumentDepth {
		return d.stop(RuleTooLarge, "nests more than %d levels deep", MaxDocumentDepth)
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return d.stop(RuleSyntax, "an alias names no anchor")
		}
		n = n.Alias
	}
	if d.nodes++; d.nodes > MaxDocumentNodes {
		return d.stop(RuleTooLarge, "has more than %d values once its aliases are expanded (at most %d)", MaxDocumentNodes, MaxDocumentNodes)
	}
	if d.encoded += len(n.Value) + 4; d.encoded > MaxEncoded {
		return d.stop(RuleTooLarge, "is more than %d KiB once stored", MaxEncoded>>10)
	}
	tag := n.ShortTag()
	switch tag {
	case "!!str", "!!int", "!!float", "!!bool", "!!null", "!!timestamp", "!!seq", "!!map":
	default:
		d.add(path, RuleTag, "the tag %s is not allowed (only plain YAML values)", strictjson.Quote(tag))
		return nil
	}
	if tag == "!!null" {
		v.SetZero()
		return nil
	}
	t := v.Type()
	if t.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		return d.value(n, v.Elem(), path, depth)
	}
	if reflect.PointerTo(t).Implements(textUnmarshaler) {
		return d.text(n, v, path)
	}
	switch t.Kind() {
	case reflect.Struct:
		return d.mapping(n, v, path, depth)
	case reflect.Slice:
		return d.sequence(n, v, path, depth)
	case reflect.Map:
		return d.dict(n, v, path, depth)
	case reflect.String:
		if s, ok := d.scalar(n, path, "a string", "!!str", "!!timestamp"); ok {
			v.SetString(s)
		}
	case reflect.Int:
		s, ok := d.scalar(n, path, "a whole number", "!!int", "!!float", "!!str")
		if !ok {
			return nil
		}
		i, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 0, 32)
		switch {
		case tag == "!!str":
			d.add(path, strictjson.RuleType, "%s is not a number", strictjson.Quote(s))
		case tag == "!!float":
			d.add(path, strictjson.RuleType, "%s is not a whole number", strictjson.Quote(s))
		case err != nil:
			d.add(path, strictjson.RuleType, "%s is not a whole number in range", strictjson.Quote(s))
		default:
			v.SetInt(i)
		}
	case reflect.Bool:
		if s, ok := d.scalar(n, path, "true or false", "!!bool"); ok {
			v.SetBool(strings.EqualFold(s, "true"))
		}
	default:
		d.add(path, strictjson.RuleType, "cannot be decoded")
	}
	return nil
}

// scalar returns a scalar's value if its tag is one of tags, within its
// bound and free of control characters.
func (d *decoder) scalar(n *yaml.Node, path, want string, tags ...string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.add(path, strictjson.RuleType, "must be %s, not %s", want, kindOf(n))
		return "", false
	}
	tag := n.ShortTag()
	ok := false
	for _, t := range tags {
		ok = ok || t == tag
	}
	if !ok {
		d.add(path, strictjson.RuleType, "must be %s, not %s %s", want, kindOf(n), strictjson.Quote(n.Value))
		return "", false
	}
	if max := maxLen(path); utf8.RuneCountInString(n.Value) > max {
		d.add(path, RuleMaximum, "is longer than %d characters", max)
		return "", false
	}
	if i := valid.ControlAt(n.Value, multiline(path)); i >= 0 {
		d.add(path, RuleControl, "%s", valid.ControlMessage(n.Value, i))
		return "", false
	}
	return n.Value, true
}

func (d *decoder) text(n *yaml.Node, v reflect.Value, path string) error {
	s, ok := d.scalar(n, path, "a string", "!!str", "!!timestamp", "!!int", "!!float")
	if !ok {
		return nil
	}
	err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s))
	switch {
	case err == nil:
	case v.Type() == dateType:
		d.add(path, strictjson.RuleFormat, "%s is not a date (want YYYY-MM-DD)", strictjson.Quote(s))
	case v.Type() == durationType:
		d.add(path, strictjson.RuleFormat, "%s is not a duration (want e.g. 90d, 2w or 72h)", strictjson.Quote(s))
	default:
		d.add(path, strictjson.RuleFormat, "%s is not valid here", strictjson.Quote(s))
	}
	return nil
}

func (d *decoder) sequence(n *yaml.Node, v reflect.Value, path string, depth int) error {
	if n.Kind != yaml.SequenceNode {
		d.add(path, strictjson.RuleType, "must be a list, not %s", kindOf(n))
		return nil
	}
	if max := maxItems(path); len(n.Content) > max {
		d.add(path, RuleMaxItems, "has %d items (at most %d)", len(n.Content), max)
		return nil
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, c := range n.Content {
		if err := d.value(c, s.Index(i), valid.Path(path, i), depth+1); err != nil {
			return err
		}
	}
	v.Set(s)
	return nil
}

func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string, depth int) error {
	if n.Kind != yaml.MappingNode {
		d.add(path, strictjson.RuleType, "must be a mapping of fields, not %s", kindOf(n))
		return nil
	}
	fields := fieldsOf(v.Type())
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.AliasNode && k.Alias != nil {
			k = k.Alias
		}
		if d.nodes++; d.nodes > MaxDocumentNodes {
			return d.stop(RuleTooLarge, "has more than %d values once its aliases are expanded (at most %d)", MaxDocumentNodes, MaxDocumentNodes)
		}
		if k.Kind != yaml.ScalarNode {
			d.add(path, strictjson.RuleType, "has a key that is not a name")
			continue
		}
		if k.ShortTag() == "!!merge" {
			d.add(path, RuleTag, "merge keys (<<) are not allowed: write each field out")
			continue
		}
		name := k.Value
		fpath := keyPath(path, name)
		idx, ok := fields[name]
		if !ok {
			if known := caseVariant(fields, name); known != "" {
				d.add(fpath, strictjson.RuleCaseVariant, "is not a field of this document: keys are case-sensitive (the field is %q)", known)
			} else {
				d.add(fpath, strictjson.RuleUnknown, "is not a field of this document")
			}
			continue
		}
		if seen[name] {
			d.add(fpath, strictjson.RuleDuplicate, "appears more than once in its mapping; each key may be given once")
			continue
		}
		seen[name] = true
		if err := d.value(val, v.Field(idx), fpath, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// dict decodes a mapping of names to values (authoriser_rank: a kind of
// party to a rank).
func (d *decoder) dict(n *yaml.Node, v reflect.Value, path string, depth int) error {
	if n.Kind != yaml.MappingNode {
		if fieldName(path) == "authoriser_rank" {
			d.add(path, strictjson.RuleType, "names the rank required for each kind of authoriser, e.g. {police: inspector, council-service: service-manager}")
			return nil
		}
		d.add(path, strictjson.RuleType, "must be a mapping, not %s", kindOf(n))
		return nil
	}
	if max := maxItems(path); len(n.Content)/2 > max {
		d.add(path, RuleMaxItems, "has %d entries (at most %d)", len(n.Content)/2, max)
		return nil
	}
	t := v.Type()
	if v.IsNil() {
		v.Set(reflect.MakeMapWithSize(t, len(n.Content)/2))
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.AliasNode && k.Alias != nil {
			k = k.Alias
		}
		if d.nodes++; d.nodes > MaxDocumentNodes {
			return d.stop(RuleTooLarge, "has more than %d values once its aliases are expanded (at most %d)", MaxDocumentNodes, MaxDocumentNodes)
		}
		name, ok := d.scalar(k, path, "a name", "!!str")
		if !ok {
			continue
		}
		key := reflect.New(t.Key()).Elem()
		key.SetString(name)
		kpath := keyPath(path, name)
		if v.MapIndex(key).IsValid() {
			d.add(kpath, strictjson.RuleDuplicate, "appears more than once in its mapping; each key may be given once")
			continue
		}
		elem := reflect.New(t.Elem()).Elem()
		if err := d.value(val, elem, kpath, depth+1); err != nil {
			return err
		}
		v.SetMapIndex(key, elem)
	}
	return nil
}

// fieldsOf maps the document names of a struct's fields (their yaml names;
// fields named "-" are not part of the document) to their index.
func fieldsOf(t reflect.Type) map[string]int {
	m := map[string]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		m[name] = i
	}
	return m
}

func caseVariant(fields map[string]int, name string) string {
	for f := range fields {
		if strings.EqualFold(f, name) {
			return f
		}
	}
	return ""
}

func keyPath(path, name string) string {
	if !plainKey(name) {
		name = strictjson.Quote(name)
	}
	if path == "" {
		return name
	}
	return path + "." + name
}

func plainKey(s string) bool {
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

func kindOf(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.ShortTag() {
	case "!!int", "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	case "!!timestamp":
		return "a date"
	}
	return "a string"
}

// bounded cuts a parser's message to a length fit for an answer.
func bounded(s string) string {
	const max = 200
	if len(s) <= max {
		return s
	}
	r := []rune(s[:max])
	return string(r[:len(r)-1]) + "…"
}
