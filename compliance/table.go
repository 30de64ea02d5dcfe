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
)

// Export kinds.
const (
	KindDisclosures    = "disclosures"
	KindSubjectAccess  = "subject-access"
	KindOverrides      = "overrides"
	KindNotifications  = "notifications"
	KindAgreements     = "agreements"
	KindRectifications = "rectifications"
)

// Kinds lists every export kind.
var Kinds = []string{KindDisclosures, KindSubjectAccess, KindOverrides, KindNotifications, KindAgreements, KindRectifications}

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
	Kind        string            `json:"export"`
	Title       string            `json:"title"`
	GeneratedAt time.Time         `json:"generated_at"`
	GeneratedBy string            `json:"generated_by"`
	RequestedBy string            `json:"requested_by"`
	Parameters  map[string]string `json:"parameters"`
	Columns     []Column          `json:"columns"`
	Rows        [][]any           `json:"-"`
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
// 4180, CRLF line ends). Lists are joined with "; ". A cell that a
// spreadsheet would take for a formula (it starts with =, +, -, @, tab or
// carriage return) is prefixed with an apostrophe: partners write some of
// this text.
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
			rec[i] = defuse(cellText(v))
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func defuse(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		// A negative number is data, not a formula.
		if _, err := strconv.ParseFloat(s, 64); err != nil {
			return "'" + s
		}
	}
	return s
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
// column name, in column order, one row per line.
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
	b.WriteString("]}\n")
	_, err = w.Write(b.Bytes())
	return err
}
