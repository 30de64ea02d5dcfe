package gateway

import (
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/gatehouse-gw/gatehouse/internal/valid"
)

// Bounds every JSON body of both listeners is held to, whatever its
// endpoint checks besides (docs/problems.md): a string is at most
// maxString characters (trust_anchors, PEM, at most 64 KiB) and holds no
// control or invisible formatting character but line ends and tabs.
const (
	maxString       = 4096
	maxTrustAnchors = 64 << 10
	maxBodyProblems = 100
)

// checkStrings walks a decoded body and reports each string past its
// bound or holding a refused character, by its JSON path.
func checkStrings(dst any) error {
	var v valid.Errors
	walkStrings(reflect.ValueOf(dst), "", &v)
	return v.Err()
}

func walkStrings(rv reflect.Value, path string, v *valid.Errors) {
	if len(*v) >= maxBodyProblems {
		return
	}
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !rv.IsNil() {
			walkStrings(rv.Elem(), path, v)
		}
	case reflect.Struct:
		t := rv.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			p := name
			if path != "" {
				p = path + "." + name
			}
			if f.Anonymous {
				p = path
			}
			walkStrings(rv.Field(i), p, v)
		}
	case reflect.Slice, reflect.Array:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			return // raw JSON (a JWK), checked where it is parsed
		}
		for i := range rv.Len() {
			walkStrings(rv.Index(i), valid.Path(path, i), v)
		}
	case reflect.Map:
		it := rv.MapRange()
		for it.Next() {
			walkStrings(it.Value(), path+"."+it.Key().String(), v)
		}
	case reflect.String:
		s := rv.String()
		max := maxString
		if strings.HasSuffix(path, "trust_anchors") {
			max = maxTrustAnchors
		}
		if utf8.RuneCountInString(s) > max {
			v.Add(path, "max-length", "is longer than %d characters", max)
		} else if i := valid.ControlAt(s, true); i >= 0 {
			v.Add(path, "control-character", "%s", valid.ControlMessage(s, i))
		}
	}
}
