// Package compliance makes the council's promises checkable: the disclosure
// register, subject access, emergency overrides and their review, telling
// data subjects, agreements due for review and Art 19 rectification
// notices. Every export is a table rendered as CSV or JSON and signed with
// a detached JWS by the gateway's audit key.
package compliance

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Export kinds.
const (
	KindDisclosures    = "disclosures"
	KindSubjectAccess  = "subject-access"
	KindOverrides      = "overrides"
	KindNotifications  = "notifications"
	KindAgreements     = "agreements"
	KindRectifications = "rectifications"
	KindReleases       = "releases"
)

// Kinds lists every export kind.
var Kinds = []string{KindDisclosures, KindSubjectAccess, KindOverrides, KindNotifications, KindAgreements, KindRectifications, KindReleases}

// Formats of an export.
const (
	FormatCSV  = "csv"
	FormatJSON = "json"
)

// Column is one column of an export.
type Column struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// Table is an export: what it is, when and for whom it was made, and its
// rows. A cell is a string, []string, int, int64, bool or time.Time (the
// zero time renders as empty).
type Table struct {
	Kind        string    `json:"export"`
	Title       string    `json:"title"`
	GeneratedAt time.Time `json:"generated_at"`
	GeneratedBy string    `json:"generated_by"`
	RequestedBy string    `json:"requested_by"`
	// RequestedByName is the display name of the person who asked for it.
	RequestedByName string            `json:"requested_by_name,omitempty"`
	Parameters      map[string]string `json:"parameters"`
	Columns         []Column          `json:"columns"`
	Rows            [][]any           `json:"-"`
}

// Render writes t in format (csv or json).
func (t *Table) Render(w io.Writer, format string) error {
	switch format {
	case FormatCSV:
		return t.CSV(w)
	case FormatJSON:
		return t.JSON(w)
	}
	return fmt.Errorf("compliance: format %q is not csv or json", format)
}

// Bytes renders t in format.
func (t *Table) Bytes(format string) ([]byte, error) {
	var b bytes.Buffer
	if err := t.Render(&b, format); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// CSV writes a header row of column names, then one row per record (RFC
// 4180, CRLF line ends). Lists are joined with "; ". Partners write some of
// this text, so every cell is made safe for a spreadsheet (Cell).
func (t *Table) CSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	head := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		head[i] = c.Name
	}
	if err := cw.Write(head); err != nil {
		return err
	}
	rec := make([]string, len(t.Columns))
	for _, row := range t.Rows {
		for i, v := range row {
			rec[i] = Cell(cellText(v))
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// Cell makes one CSV cell safe for a spreadsheet. Control characters
// (other than tab and newline), C1 controls, bidirectional overrides and
// zero-width characters are written as visible escapes (\x1b, \u202e), so
// that nothing hidden reaches the register. A cell whose first visible
// character could start a formula (= + - @ |, or their full-width and small
// forms), whatever white or invisible characters come before it, is
// prefixed with an apostrophe; a plain number such as -3.5 is data and is
// left alone.
func Cell(s string) string {
	s = escapeHidden(s)
	rest := strings.TrimLeftFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.Is(unicode.Cf, r) || unicode.IsControl(r)
	})
	// The escapes above begin with a backslash, which is not a trigger; an
	// escaped leading control character still counts as white space here.
	for {
		trimmed := trimEscape(rest)
		if trimmed == rest {
			break
		}
		rest = strings.TrimLeftFunc(trimmed, unicode.IsSpace)
	}
	r, _ := utf8.DecodeRuneInString(rest)
	if !strings.ContainsRune(formulaTriggers, r) {
		return s
	}
	if rest == s {
		if _, err := strconv.ParseFloat(s, 64); err == nil {
			return s
		}
	}
	return "'" + s
}

// formulaTriggers are the characters a spreadsheet may read as the start
// of a formula or command, with their full-width and small forms.
const formulaTriggers = "=+-@|\uFF1D\uFF0B\uFF0D\uFF20\uFF5C\uFE66\uFE62\uFE63\uFE6B\u2212"

// hidden reports whether r would be invisible or change how a cell reads.
func hidden(r rune) bool {
	switch {
	case r == '\t' || r == '\n':
		return false
	case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
		return true
	case r == utf8.RuneError:
		return true
	}
	return unicode.Is(unicode.Cf, r) // bidi controls, zero-width, BOM
}

func escapeHidden(s string) string {
	if !strings.ContainsFunc(s, hidden) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if !hidden(r) {
			b.WriteRune(r)
			continue
		}
		if r < 0x100 {
			fmt.Fprintf(&b, "\\x%02x", r)
		} else {
			fmt.Fprintf(&b, "\\u%04x", r)
		}
	}
	return b.String()
}

// trimEscape removes one leading escape written by escapeHidden.
func trimEscape(s string) string {
	switch {
	case len(s) >= 4 && s[0] == '\\' && s[1] == 'x' && isHex(s[2:4]):
		return s[4:]
	case len(s) >= 6 && s[0] == '\\' && s[1] == 'u' && isHex(s[2:6]):
		return s[6:]
	}
	return s
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune("0123456789abcdef", rune(s[i])) {
			return false
		}
	}
	return true
}

func cellText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []string:
		return strings.Join(x, "; ")
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case bool:
		if x {
			return "yes"
		}
		return "no"
	case time.Time:
		if x.IsZero() {
			return ""
		}
		return x.UTC().Format(time.RFC3339)
	}
	return fmt.Sprint(v)
}

func cellJSON(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case []string:
		if x == nil {
			return []string{}
		}
		return x
	case time.Time:
		if x.IsZero() {
			return nil
		}
		return x.UTC().Format(time.RFC3339)
	}
	return v
}

// JSON writes the export's description and its rows as objects keyed by
// column name, in column order, indented for a person to read.
func (t *Table) JSON(w io.Writer) error {
	head, err := json.Marshal(t)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	b.Write(head[:len(head)-1])
	fmt.Fprintf(&b, `,"count":%d,"rows":[`, len(t.Rows))
	for i, row := range t.Rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("\n{")
		for j, v := range row {
			if j > 0 {
				b.WriteByte(',')
			}
			k, _ := json.Marshal(t.Columns[j].Name)
			val, err := json.Marshal(cellJSON(v))
			if err != nil {
				return err
			}
			b.Write(k)
			b.WriteByte(':')
			b.Write(val)
		}
		b.WriteByte('}')
	}
	if len(t.Rows) > 0 {
		b.WriteByte('\n')
	}
	b.WriteString("]}")
	var out bytes.Buffer
	out.Grow(b.Len() * 5 / 4)
	if err := json.Indent(&out, b.Bytes(), "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err = w.Write(out.Bytes())
	return err
}
