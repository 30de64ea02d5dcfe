// Package valid collects validation problems, each naming the full path of
// the field and the rule it broke, so that every problem is reported at once.
package valid

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Problem is one invalid field.
type Problem struct {
	// Path is the full key path, e.g. flows[1].purposes[0].
	Path string
	// Rule is a stable, machine-readable rule name, e.g. required.
	Rule string
	// Message says what is wrong in words.
	Message string
}

func (p Problem) String() string { return p.Path + ": " + p.Message }

// Errors is a list of problems; a non-empty list is an error.
type Errors []Problem

// Add records a problem at path.
func (e *Errors) Add(path, rule, format string, args ...any) {
	*e = append(*e, Problem{Path: path, Rule: rule, Message: fmt.Sprintf(format, args...)})
}

// Required records a required-field problem if v is empty.
func (e *Errors) Required(path, v string) bool {
	if strings.TrimSpace(v) == "" {
		e.Add(path, "required", "is required")
		return false
	}
	return true
}

// Err returns e as an error, or nil if there are no problems.
func (e Errors) Err() error {
	if len(e) == 0 {
		return nil
	}
	return e
}

func (e Errors) Error() string {
	lines := make([]string, len(e))
	for i, p := range e {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// As returns the problems in err, if it is (or wraps) Errors.
func As(err error) (Errors, bool) {
	var v Errors
	ok := errors.As(err, &v)
	return v, ok
}

// Path joins path elements: Path("flows", 1, "purposes") = flows[1].purposes.
func Path(parts ...any) string {
	var b strings.Builder
	for _, p := range parts {
		switch v := p.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", v)
		default:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			fmt.Fprint(&b, v)
		}
	}
	return b.String()
}

// Host reports whether s is a host name or IP address, with an optional
// port (a revocation host, for instance).
func Host(s string) bool {
	if s == "" || len(s) > 260 {
		return false
	}
	host, port := s, ""
	if h, p, err := net.SplitHostPort(s); err == nil {
		host, port = h, p
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return false
		}
	}
	if net.ParseIP(host) != nil {
		return true
	}
	if len(host) > 253 {
		return false
	}
	for _, label := range strings.Split(host, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i] | 0x20
			if !(c >= 'a' && c <= 'z' || label[i] >= '0' && label[i] <= '9' || label[i] == '-') {
				return false
			}
		}
	}
	return true
}
