package minimise_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/exchange/minimise"
)

var key = minimise.PseudonymKey([]byte("0123456789abcdef0123456789abcdef"), "police-crime")

func policy(mode string) *minimise.Policy {
	return &minimise.Policy{Allow: []string{"nino", "name", "amount", "address"}, Pseudonymise: []string{"nino"}, OnExtra: mode, Key: key}
}

func TestFormat(t *testing.T) {
	for ct, want := range map[string]string{
		"application/json": "json", "application/json; charset=utf-8": "json", "application/vnd.nfi+json": "json",
		"text/csv": "csv", "text/csv; header=present": "csv", "application/pdf": "", "text/plain": "", "nonsense;;": "",
	} {
		require.Equal(t, want, minimise.Format(ct), ct)
	}
}

func TestPseudonymIsStablePerAgreement(t *testing.T) {
	master := []byte("0123456789abcdef0123456789abcdef")
	a := minimise.Pseudonym(minimise.PseudonymKey(master, "nfi"), "QQ123456C")
	require.Equal(t, a, minimise.Pseudonym(minimise.PseudonymKey(master, "nfi"), "QQ123456C"))
	require.NotEqual(t, a, minimise.Pseudonym(minimise.PseudonymKey(master, "police-crime"), "QQ123456C"))
	require.True(t, strings.HasPrefix(a, "hmac-sha256:"))
}

func TestJSONStrip(t *testing.T) {
	in := `[{"nino":"QQ123456C","name":"Ann","religion":"x","amount":12.50,"address":{"line1":"1 High St"}},
	        {"name":"Bob","nino":null,"health":"y"}]`
	var out bytes.Buffer
	rep, err := minimise.Copy(&out, strings.NewReader(in), minimise.JSON, policy(minimise.Strip))
	require.NoError(t, err)
	pn := minimise.Pseudonym(key, "QQ123456C")
	require.JSONEq(t, `[{"nino":"`+pn+`","name":"Ann","amount":12.50,"address":{"line1":"1 High St"}},{"name":"Bob","nino":null}]`, out.String())
	require.Equal(t, &minimise.Report{Format: "json", Mode: "strip", Records: 2, Stripped: []string{"health", "religion"}, Pseudonymised: []string{"nino"}}, rep)
	require.NotContains(t, out.String(), "QQ123456C")
	require.Contains(t, out.String(), `"amount":12.50`, "numbers are kept exactly")
}

func TestJSONSingleObjectAndNumbersPseudonymised(t *testing.T) {
	var out bytes.Buffer
	p := &minimise.Policy{Pseudonymise: []string{"id"}, Key: key}
	rep, err := minimise.Copy(&out, strings.NewReader(`{"id": 1234, "x": [1,2]}`+"\n"), minimise.JSON, p)
	require.NoError(t, err)
	require.JSONEq(t, `{"id":"`+minimise.Pseudonym(key, "1234")+`","x":[1,2]}`, out.String())
	require.Equal(t, int64(1), rep.Records)
	require.Empty(t, rep.Stripped, "an empty allowlist keeps every field")
}

func TestJSONRefuse(t *testing.T) {
	var out bytes.Buffer
	_, err := minimise.Copy(&out, strings.NewReader(`[{"nino":"a"},{"nino":"b","religion":"x"}]`), minimise.JSON, policy(minimise.Refuse))
	var refused *minimise.RefusedError
	require.True(t, errors.As(err, &refused))
	require.Equal(t, []string{"religion"}, refused.Fields)
}

func TestJSONMalformed(t *testing.T) {
	for name, in := range map[string]string{
		"empty":            ``,
		"scalar":           `42`,
		"array of scalars": `[1,2]`,
		"unclosed":         `[{"nino":"a"}`,
		"syntax":           `[{"nino":}]`,
		"trailing":         `{"a":1} {"b":2}`,
		"nested array":     `[[{"a":1}]]`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := minimise.Copy(&bytes.Buffer{}, strings.NewReader(in), minimise.JSON, policy(minimise.Strip))
			require.ErrorIs(t, err, minimise.ErrFormat)
		})
	}
}

func TestRecordSizeIsBounded(t *testing.T) {
	huge := `[{"name":"` + strings.Repeat("a", 3<<20) + `"}]`
	_, err := minimise.Copy(&bytes.Buffer{}, strings.NewReader(huge), minimise.JSON, policy(minimise.Strip))
	require.ErrorIs(t, err, minimise.ErrFormat)
	require.ErrorContains(t, err, "larger than")

	// Many small records are fine, however many.
	var b strings.Builder
	b.WriteString("[")
	for i := range 20000 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"name":"` + strings.Repeat("b", 200) + `"}`)
	}
	b.WriteString("]")
	rep, err := minimise.Copy(&bytes.Buffer{}, strings.NewReader(b.String()), minimise.JSON, policy(minimise.Strip))
	require.NoError(t, err)
	require.Equal(t, int64(20000), rep.Records)
}

func TestCSVStrip(t *testing.T) {
	in := "\ufeffnino,name,religion,amount\r\nQQ123456C,\"Ann, Jr\",x,12.50\r\n,Bob,y,3\r\n"
	var out bytes.Buffer
	rep, err := minimise.Copy(&out, strings.NewReader(in), minimise.CSV, policy(minimise.Strip))
	require.NoError(t, err)
	rows, err := csv.NewReader(&out).ReadAll()
	require.NoError(t, err)
	require.Equal(t, [][]string{
		{"\ufeffnino", "name", "amount"},
		{minimise.Pseudonym(key, "QQ123456C"), "Ann, Jr", "12.50"},
		{"", "Bob", "3"},
	}, rows)
	require.Equal(t, &minimise.Report{Format: "csv", Mode: "strip", Records: 2, Stripped: []string{"religion"}, Pseudonymised: []string{"nino"}}, rep)
}

func TestCSVRefuseDecidedFromHeader(t *testing.T) {
	_, err := minimise.Copy(&bytes.Buffer{}, strings.NewReader("nino,religion,health\n"), minimise.CSV, policy(minimise.Refuse))
	var refused *minimise.RefusedError
	require.True(t, errors.As(err, &refused))
	require.Equal(t, []string{"religion", "health"}, refused.Fields)
}

func TestCSVMalformed(t *testing.T) {
	for name, in := range map[string]string{
		"empty":     "",
		"ragged":    "a,b\n1,2,3\n",
		"bad quote": "a,b\n\"1,2\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := minimise.Copy(&bytes.Buffer{}, strings.NewReader(in), minimise.CSV, policy(minimise.Strip))
			require.ErrorIs(t, err, minimise.ErrFormat)
		})
	}
}

// FuzzJSON: any input either fails as malformed or refused, or gives valid
// JSON holding only allowed fields and no raw value of a pseudonymised one.
func FuzzJSON(f *testing.F) {
	f.Add(`[{"nino":"QQ123456C","name":"Ann","religion":"x"}]`)
	f.Add(`{"nino":1,"amount":{"a":[1,{"b":null}]}}`)
	f.Add(`[{}, {"name":"\u00e9"}]`)
	f.Fuzz(func(t *testing.T, in string) {
		var out bytes.Buffer
		_, err := minimise.Copy(&out, strings.NewReader(in), minimise.JSON, policy(minimise.Strip))
		if err != nil {
			return
		}
		require.True(t, json.Valid(out.Bytes()), "output is not JSON: %q", out.String())
		var v any
		require.NoError(t, json.Unmarshal(out.Bytes(), &v))
		records, ok := v.([]any)
		if !ok {
			records = []any{v}
		}
		for _, r := range records {
			for k, val := range r.(map[string]any) {
				require.Contains(t, []string{"nino", "name", "amount", "address"}, k)
				if s, ok := val.(string); ok && k == "nino" {
					require.True(t, strings.HasPrefix(s, "hmac-sha256:"))
				}
			}
		}
	})
}

// FuzzCSV: any input either fails, or gives CSV with only allowed columns.
func FuzzCSV(f *testing.F) {
	f.Add("nino,name,religion\nQQ1,Ann,x\n")
	f.Add("a\n\"q\"\"\"\n")
	f.Fuzz(func(t *testing.T, in string) {
		var out bytes.Buffer
		_, err := minimise.Copy(&out, strings.NewReader(in), minimise.CSV, policy(minimise.Strip))
		if err != nil {
			return
		}
		rows, err := csv.NewReader(&out).ReadAll()
		require.NoError(t, err)
		if len(rows) == 0 {
			return // every column stripped
		}
		for _, h := range rows[0] {
			require.Contains(t, []string{"nino", "name", "amount", "address"}, strings.TrimPrefix(strings.TrimSpace(h), "\ufeff"))
		}
	})
}

// Field names are one name whatever their case, surrounding white space or
// Unicode form: a rule for "nino" applies to "NINO" and " Nino"; a rule for
// "prénom" to its decomposed spelling.
func TestFieldNamesNormalised(t *testing.T) {
	decomposed := "pre\u0301nom"
	p := func() *minimise.Policy {
		return &minimise.Policy{Allow: []string{"nino", "prénom"}, Pseudonymise: []string{"nino", "prénom"}, OnExtra: minimise.Strip, Key: key}
	}
	tests := []struct {
		name, format, in string
	}{
		{"ok/json-upper", minimise.JSON, `[{"NINO":"QQ123456C","` + decomposed + `":"Zoë","Phone":"0700"}]`},
		{"ok/json-mixed", minimise.JSON, `{"Nino":"QQ123456C","PRÉNOM":"Zoë"}`},
		{"ok/csv-header", minimise.CSV, " NINO ,Prénom,phone\nQQ123456C,Zoë,0700\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			rep, err := minimise.Copy(&out, strings.NewReader(tt.in), tt.format, p())
			require.NoError(t, err)
			require.NotContains(t, out.String(), "QQ123456C")
			require.NotContains(t, out.String(), "Zoë")
			require.NotContains(t, out.String(), "0700")
			require.Contains(t, out.String(), minimise.Pseudonym(key, "QQ123456C"))
			require.Len(t, rep.Pseudonymised, 2)
		})
	}
	require.Equal(t, minimise.FieldName("NINO"), minimise.FieldName(" nino "))
	require.Equal(t, minimise.FieldName("prénom"), minimise.FieldName(decomposed))
}

// Two fields of one record that are one name once normalised are refused:
// nobody can tell which one a rule means.
func TestAmbiguousFieldsRefused(t *testing.T) {
	p := func() *minimise.Policy {
		return &minimise.Policy{Pseudonymise: []string{"nino"}, Key: key}
	}
	for name, in := range map[string]struct{ format, body string }{
		"deny/json-case":      {minimise.JSON, `[{"nino":"AB","NINO":"QQ123456C"}]`},
		"deny/json-duplicate": {minimise.JSON, `{"nino":"AB","nino":"QQ123456C"}`},
		"deny/json-unicode":   {minimise.JSON, `{"caf\u00e9":"1","cafe\u0301":"2"}`},
		"deny/csv-header":     {minimise.CSV, "nino,Nino\nAB,QQ123456C\n"},
	} {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			_, err := minimise.Copy(&out, strings.NewReader(in.body), in.format, p())
			var amb *minimise.AmbiguousError
			require.ErrorAs(t, err, &amb)
			require.Len(t, amb.Fields, 2)
		})
	}
}

// A field the flow pseudonymises, nested in another field's value, is
// refused rather than let through in clear.
func TestNestedPseudonymisedFieldRefused(t *testing.T) {
	p := &minimise.Policy{Pseudonymise: []string{"nino"}, Key: key}
	var out bytes.Buffer
	_, err := minimise.Copy(&out, strings.NewReader(`[{"person":{"name":"Ann","ids":[{"NINO":"QQ123456C"}]}}]`), minimise.JSON, p)
	var nested *minimise.NestedError
	require.ErrorAs(t, err, &nested)
	require.Equal(t, "person", nested.Field)
	require.Equal(t, "NINO", nested.Nested)

	out.Reset()
	_, err = minimise.Copy(&out, strings.NewReader(`[{"person":{"name":"Ann"},"nino":{"v":"QQ123456C"}}]`), minimise.JSON, p)
	require.NoError(t, err, "a pseudonymised field's own value may be structured")
	require.NotContains(t, out.String(), "QQ123456C")
}

// Structured payloads are counted in distinct subjects: by the subject
// field where there is one (several records about one person count once),
// else one per record; one past the limit refuses the payload.
func TestSubjectsCounted(t *testing.T) {
	rows := func(values ...string) string {
		s := "nino,amount\n"
		for _, v := range values {
			s += v + ",1\n"
		}
		return s
	}
	tests := []struct {
		name    string
		subject string
		limit   int
		in      string
		want    int64 // subjects counted; -1: refused
	}{
		{"ok/one-person-many-rows", "nino", 1, rows("QQ123456C", "QQ123456C", "QQ123456C"), 1},
		{"ok/at-the-limit", "NINO", 2, rows("QQ123456C", "AB123456C", "QQ123456C"), 2},
		{"deny/past-the-limit", "nino", 2, rows("QQ123456C", "AB123456C", "CD123456C"), -1},
		{"deny/records-without-subject-field", "", 2, rows("QQ123456C", "QQ123456C", "QQ123456C"), -1},
		{"deny/record-missing-its-subject", "nino", 2, rows("QQ123456C", "", ""), -1},
		{"ok/no-limit", "nino", 0, rows("QQ123456C", "AB123456C", "CD123456C"), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			p := &minimise.Policy{Subject: tt.subject, MaxSubjects: tt.limit, Key: key}
			rep, err := minimise.Copy(&out, strings.NewReader(tt.in), minimise.CSV, p)
			if tt.want < 0 {
				var se *minimise.SubjectsError
				require.ErrorAs(t, err, &se)
				require.Equal(t, tt.limit, se.Limit)
				require.EqualValues(t, 3, se.Record)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, rep.Subjects)
		})
	}

	// JSON alike, and an answer holds only the subjects its request named.
	p := &minimise.Policy{Subject: "nino", MaxSubjects: 5, Key: key, Requested: func(v string) bool { return v == "QQ123456C" }}
	var out bytes.Buffer
	_, err := minimise.Copy(&out, strings.NewReader(`[{"Nino":"QQ123456C"},{"nino":"QQ123456C","x":1}]`), minimise.JSON, p)
	require.NoError(t, err)
	p = &minimise.Policy{Subject: "nino", MaxSubjects: 5, Key: key, Requested: func(v string) bool { return v == "QQ123456C" }}
	_, err = minimise.Copy(&out, strings.NewReader(`[{"nino":"QQ123456C"},{"nino":"AB123456C"}]`), minimise.JSON, p)
	var se *minimise.SubjectsError
	require.ErrorAs(t, err, &se)
	require.True(t, se.Unrequested)
	require.EqualValues(t, 2, se.Record)
}

// A report's mode says what was applied: the allowlist's mode where there
// is one, none where only fields are pseudonymised, count-only where the
// policy has no field rules and only counts subjects.
func TestReportModeSaysWhatWasApplied(t *testing.T) {
	in := `[{"nino":"QQ123456C","name":"Ann"},{"nino":"QQ123456C","name":"Ann"}]`
	tests := []struct {
		name   string
		policy minimise.Policy
		mode   string
	}{
		{"allowlist-strip", minimise.Policy{Allow: []string{"nino"}}, minimise.Strip},
		{"allowlist-refuse", minimise.Policy{Allow: []string{"nino", "name"}, OnExtra: minimise.Refuse}, minimise.Refuse},
		{"pseudonymise-only", minimise.Policy{Pseudonymise: []string{"nino"}, Key: key}, minimise.None},
		{"count-only", minimise.Policy{Subject: "nino", MaxSubjects: 1}, minimise.CountOnly},
		{"count-only/records", minimise.Policy{MaxSubjects: 2}, minimise.CountOnly},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			rep, err := minimise.Copy(&out, strings.NewReader(in), minimise.JSON, &tt.policy)
			require.NoError(t, err)
			require.Equal(t, tt.mode, rep.Mode)
			if tt.mode == minimise.CountOnly {
				require.JSONEq(t, in, out.String(), "counted, not changed")
				require.Empty(t, rep.Stripped)
				require.Empty(t, rep.Pseudonymised)
			}
		})
	}
}
