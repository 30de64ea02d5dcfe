// Package valid collects validation problems, each naming the full path of
// the field and the rule it broke, so that every problem is reported at once.
package valid

import (
	"errors"
	"fmt"
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
