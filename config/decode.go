package config

import (
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"go.yaml.in/yaml/v3"

	"github.com/gatehouse-gw/gatehouse/internal/valid"
)

// ByteSize is a size in bytes, written as a number or with a unit: 64GiB, 1MB.
type ByteSize int64

// UnmarshalYAML reads a size with an optional unit.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a size such as 64GiB", n.Line)
	}
	return b.UnmarshalText([]byte(n.Value))
}

// UnmarshalText reads a size with an optional unit.
func (b *ByteSize) UnmarshalText(t []byte) error {
	v, err := humanize.ParseBytes(string(t))
	if err != nil || v > 1<<62 {
		return fmt.Errorf("%q is not a size (want e.g. 64GiB or 1048576)", string(t))
	}
	*b = ByteSize(v)
	return nil
}

// MarshalYAML writes the size in IEC units.
func (b ByteSize) MarshalYAML() (any, error) { return humanize.IBytes(uint64(b)), nil }

var (
	durationType = reflect.TypeFor[time.Duration]()
	byteSizeType = reflect.TypeFor[ByteSize]()
	unmarshaler  = reflect.TypeFor[yaml.Unmarshaler]()
)

// decodeStrict decodes YAML into v, refusing unknown keys, and names the key
// path of every problem.
func decodeStrict(data []byte, v any) error {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return err
	}
	if len(root.Content) == 0 {
		return nil // empty file: all defaults
	}
	lines := map[int]string{}
	var problems valid.Errors
	walk(root.Content[0], reflect.TypeOf(v).Elem(), "", lines, &problems)
	if err := problems.Err(); err != nil {
		return err
	}
	if err := root.Content[0].Decode(v); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for _, msg := range te.Errors {
				path := "(document)"
				if m := lineRE.FindStringSubmatch(msg); m != nil {
					n, _ := strconv.Atoi(m[1])
					if p, ok := lines[n]; ok {
						path = p
					}
				}
				problems.Add(path, "type", "%s", msg)
			}
			return problems
		}
		return err
	}
	return nil
}

var lineRE = regexp.MustCompile(`^line (\d+):`)

// walk checks node against type t, recording unknown keys and the key path
// of every line so that decode errors can name it.
func walk(node *yaml.Node, t reflect.Type, path string, lines map[int]string, problems *valid.Errors) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	lines[node.Line] = path
	if node.Kind == yaml.ScalarNode || reflect.PointerTo(t).Implements(unmarshaler) || t == durationType {
		// A leaf: decode it alone so that every bad value is reported
		// with its path, not just the first.
		if err := node.Decode(reflect.New(t).Interface()); err != nil {
			problems.Add(path, "type", "%s", yamlMessage(err))
		}
		return
	}
	switch {
	case node.Kind == yaml.MappingNode && t.Kind() == reflect.Struct:
		for i := 0; i+1 < len(node.Content); i += 2 {
			key, val := node.Content[i], node.Content[i+1]
			childPath := joinPath(path, key.Value)
			field, ok := fieldByTag(t, key.Value)
			if !ok {
				problems.Add(childPath, "unknown-key", "is not a setting (line %d)", key.Line)
				continue
			}
			lines[key.Line] = childPath
			walk(val, field.Type, childPath, lines, problems)
		}
	case node.Kind == yaml.MappingNode && t.Kind() == reflect.Map:
		for i := 0; i+1 < len(node.Content); i += 2 {
			walk(node.Content[i+1], t.Elem(), joinPath(path, node.Content[i].Value), lines, problems)
		}
	case node.Kind == yaml.SequenceNode && t.Kind() == reflect.Slice:
		for i, item := range node.Content {
			walk(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), lines, problems)
		}
	case t.Kind() == reflect.Struct || t.Kind() == reflect.Map:
		problems.Add(path, "type", "want a mapping of settings (line %d)", node.Line)
	case t.Kind() == reflect.Slice:
		problems.Add(path, "type", "want a list (line %d)", node.Line)
	default:
		problems.Add(path, "type", "want a single value (line %d)", node.Line)
	}
}

// yamlMessage turns a yaml decode error into one readable line.
func yamlMessage(err error) string {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return strings.TrimPrefix(err.Error(), "yaml: ")
	}
	msgs := make([]string, len(te.Errors))
	for i, m := range te.Errors {
		if sub := lineRE.FindStringSubmatch(m); sub != nil {
			m = strings.TrimSpace(strings.TrimPrefix(m, sub[0])) + " (line " + sub[1] + ")"
		}
		msgs[i] = m
	}
	return strings.Join(msgs, "; ")
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func fieldByTag(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if name, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); name == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// EnvName returns the environment variable that overrides a key path.
func EnvName(path string) string {
	return EnvPrefix + strings.ToUpper(strings.NewReplacer(".", "_").Replace(path))
}

// applyEnv sets every field whose environment variable is present.
func applyEnv(c *Config, environ []string) error {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, EnvPrefix) {
			env[k] = v
		}
	}
	var problems valid.Errors
	eachLeaf(reflect.ValueOf(c).Elem(), "", func(path string, f reflect.Value) {
		raw, ok := env[EnvName(path)]
		if !ok {
			return
		}
		if err := setFromString(f, raw); err != nil {
			problems.Add(path, "type", "%s: %v", EnvName(path), err)
		}
	})
	return problems.Err()
}

// eachLeaf calls fn for every settable leaf field under v with its key path.
func eachLeaf(v reflect.Value, path string, fn func(string, reflect.Value)) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		p := joinPath(path, name)
		fv := v.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Type != byteSizeType {
			eachLeaf(fv, p, fn)
			continue
		}
		fn(p, fv)
	}
}

func setFromString(f reflect.Value, raw string) error {
	switch {
	case f.Type() == durationType:
		d, err := time.ParseDuration(raw)
		if err != nil {
			return err
		}
		f.SetInt(int64(d))
	case f.Type() == byteSizeType:
		var b ByteSize
		if err := b.UnmarshalText([]byte(raw)); err != nil {
			return err
		}
		f.SetInt(int64(b))
	case f.Kind() == reflect.String:
		f.SetString(raw)
	case f.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return fmt.Errorf("%q is not true or false", raw)
		}
		f.SetBool(b)
	case f.Kind() == reflect.Int || f.Kind() == reflect.Int64:
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", raw)
		}
		f.SetInt(n)
	case f.Kind() == reflect.Float64:
		x, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", raw)
		}
		f.SetFloat(x)
	case f.Kind() == reflect.Pointer && f.Type().Elem().Kind() == reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return fmt.Errorf("%q is not true or false", raw)
		}
		f.Set(reflect.ValueOf(&b))
	case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.Int:
		var items []int
		for s := range strings.SplitSeq(raw, ",") {
			if s = strings.TrimSpace(s); s == "" {
				continue
			}
			n, err := strconv.Atoi(s)
			if err != nil {
				return fmt.Errorf("%q is not a comma-separated list of whole numbers", raw)
			}
			items = append(items, n)
		}
		f.Set(reflect.ValueOf(items))
	case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.String:
		var items []string
		for s := range strings.SplitSeq(raw, ",") {
			if s = strings.TrimSpace(s); s != "" {
				items = append(items, s)
			}
		}
		f.Set(reflect.ValueOf(slices.Clip(items)))
	default:
		return fmt.Errorf("cannot be set from the environment")
	}
	return nil
}

// UnknownEnv lists GATEHOUSE_ variables in environ that override nothing,
// so that a misspelt override is noticed rather than silently ignored.
func UnknownEnv(environ []string) []string {
	known := map[string]bool{}
	eachLeaf(reflect.ValueOf(&Config{}).Elem(), "", func(path string, _ reflect.Value) {
		known[EnvName(path)] = true
	})
	var out []string
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, EnvPrefix) && !known[k] && !strings.HasPrefix(k, EnvPrefix+"CLIENT_") && k != EnvPrefix+"CONFIG" {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// Redacted returns a copy of c with secrets replaced, for printing.
func (c *Config) Redacted() *Config {
	r := *c
	r.TLS.ClientCAFiles = slices.Clone(c.TLS.ClientCAFiles)
	r.TLS.CRLFiles = slices.Clone(c.TLS.CRLFiles)
	eachLeaf(reflect.ValueOf(&r).Elem(), "", func(path string, f reflect.Value) {
		if f.Kind() == reflect.String && f.String() != "" && isSecret(path) {
			f.SetString("REDACTED")
		}
	})
	// A DSN is secret only for the password it may carry.
	r.Database.DSN = c.Database.DSN
	if u, err := url.Parse(c.Database.DSN); err == nil && u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "REDACTED")
			r.Database.DSN = u.String()
		}
	}
	return &r
}

func isSecret(path string) bool {
	t := reflect.TypeFor[Config]()
	var f reflect.StructField
	for part := range strings.SplitSeq(path, ".") {
		var ok bool
		if f, ok = fieldByTag(t, part); !ok {
			return false
		}
		t = f.Type
	}
	return f.Tag.Get("secret") == "true"
}
