package strictjson_test

import (
	v1 "encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/internal/strictjson"
)

// day parses itself, as agreements.Date does.
type day string

func (d *day) UnmarshalText(b []byte) error {
	if _, err := time.Parse(time.DateOnly, string(b)); err != nil {
		return fmt.Errorf("%s is not a date (want YYYY-MM-DD)", strictjson.Quote(string(b)))
	}
	*d = day(b)
	return nil
}

type subject struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

type officer struct {
	Name string `json:"name"`
	Rank string `json:"rank,omitempty"`
}

// declaration has the shapes the API's request documents use.
type declaration struct {
	Agreement string          `json:"agreement"`
	Recipient string          `json:"recipient"`
	Codes     []string        `json:"codes,omitempty"`
	Subjects  []subject       `json:"subjects,omitempty"`
	Count     int             `json:"count,omitempty"`
	Size      int64           `json:"size"`
	Urgent    bool            `json:"urgent,omitempty"`
	Officer   *officer        `json:"authoriser,omitempty"`
	Deadline  *time.Time      `json:"deadline,omitempty"`
	Key       v1.RawMessage   `json:"key,omitempty"`
	On        day             `json:"on,omitempty"`
	Ratio     float64         `json:"ratio,omitempty"`
	Labels    map[string]bool `json:"labels,omitempty"`
}

type check struct {
	Sender      string      `json:"sender"`
	Declaration declaration `json:"declaration"`
}

func TestDecode(t *testing.T) {
	deep := strings.Repeat(`{"a":`, strictjson.MaxDepth) + "1" + strings.Repeat("}", strictjson.MaxDepth)
	tests := []struct {
		name, body  string
		field, rule string
		syntax      bool
		want        check
	}{
		{name: "ok/nested", body: `{"sender":"dwp","declaration":{"agreement":"a","recipient":"hmrc","subjects":[{"type":"nino","value":"QQ"}],"on":"2026-01-02"}}`,
			want: check{Sender: "dwp", Declaration: declaration{Agreement: "a", Recipient: "hmrc", Subjects: []subject{{"nino", "QQ"}}, On: "2026-01-02"}}},
		{name: "ok/nulls-are-absent", body: `{"sender":null,"declaration":{"authoriser":null,"codes":null}}`},
		{name: "deny/duplicate-key", body: `{"sender":"dwp","declaration":{"recipient":"dwp","recipient":"police.northshire"}}`, field: "declaration.recipient", rule: strictjson.RuleDuplicate},
		{name: "deny/duplicate-in-array", body: `{"declaration":{"subjects":[{"type":"a","type":"b"}]}}`, field: "declaration.subjects[0].type", rule: strictjson.RuleDuplicate},
		{name: "deny/duplicate-in-raw-value", body: `{"declaration":{"key":{"kid":"a","kid":"b"}}}`, field: "declaration.key.kid", rule: strictjson.RuleDuplicate},
		{name: "deny/duplicate-top", body: `{"sender":"a","sender":"b"}`, field: "sender", rule: strictjson.RuleDuplicate},
		{name: "deny/case-variant", body: `{"declaration":{"Recipient":"police.northshire"}}`, field: "declaration.Recipient", rule: strictjson.RuleCaseVariant},
		{name: "deny/case-variant-upper", body: `{"SENDER":"dwp"}`, field: "SENDER", rule: strictjson.RuleCaseVariant},
		{name: "deny/unknown", body: `{"declaration":{"recipients":"x"}}`, field: "declaration.recipients", rule: strictjson.RuleUnknown},
		{name: "deny/unknown-hostile-key-quoted", body: `{"a\u001b[31m` + strings.Repeat("x", 100) + `":1}`, field: `"a\x1b[31m` + strings.Repeat("x", 58) + `"…`, rule: strictjson.RuleUnknown},
		{name: "deny/type-string", body: `{"declaration":{"authoriser":{"name":5}}}`, field: "declaration.authoriser.name", rule: strictjson.RuleType},
		{name: "deny/type-int", body: `{"declaration":{"count":"five"}}`, field: "declaration.count", rule: strictjson.RuleType},
		{name: "deny/type-fraction", body: `{"declaration":{"count":1.5}}`, field: "declaration.count", rule: strictjson.RuleType},
		{name: "deny/type-array", body: `{"declaration":{"codes":"A6-1-e"}}`, field: "declaration.codes", rule: strictjson.RuleType},
		{name: "deny/format-custom", body: `{"declaration":{"on":"2026-13-01"}}`, field: "declaration.on", rule: strictjson.RuleFormat},
		{name: "deny/format-time", body: `{"declaration":{"deadline":"tomorrow"}}`, field: "declaration.deadline", rule: strictjson.RuleFormat},
		{name: "deny/not-an-object", body: `[1]`, field: "(body)", rule: strictjson.RuleType},
		{name: "deny/two-values", body: `{"sender":"a"} {"sender":"b"}`, syntax: true},
		{name: "deny/trailing-garbage", body: `{"sender":"a"}x`, syntax: true},
		{name: "deny/cut-short", body: `{"sender":"a"`, syntax: true},
		{name: "deny/empty", body: ``, syntax: true},
		{name: "deny/invalid-utf8", body: "{\"sender\":\"\xff\"}", syntax: true},
		{name: "deny/lone-surrogate", body: `{"sender":"\ud800"}`, syntax: true},
		{name: "deny/too-deep", body: `{"declaration":` + deep + `}`, syntax: true},
		{name: "deny/comment", body: `{"sender":"a" /* c */}`, syntax: true},
		{name: "deny/single-quotes", body: `{'sender':'a'}`, syntax: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got check
			err := strictjson.Decode([]byte(tt.body), &got)
			if tt.field == "" && !tt.syntax {
				require.NoError(t, err)
				require.Equal(t, tt.want, got)
				return
			}
			var e *strictjson.Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, tt.syntax, e.Syntax(), "%v", e)
			require.Equal(t, tt.field, e.Field)
			require.Equal(t, tt.rule, e.Rule)
			require.NotEmpty(t, e.Message)
			require.LessOrEqual(t, len(e.Message), 240)
		})
	}
}

// FuzzStrictJSON: whatever the strict decoder accepts, encoding/json
// decodes to the same value; whatever it refuses is an *Error with a
// bounded message.
func FuzzStrictJSON(f *testing.F) {
	for _, s := range []string{
		`{"sender":"dwp","declaration":{"agreement":"a","recipient":"hmrc","codes":["x"],"subjects":[{"type":"nino","value":"QQ"}],"count":2,"size":10,"urgent":true,"authoriser":{"name":"n","rank":"r"},"deadline":"2026-01-02T03:04:05Z","key":{"kty":"EC"},"on":"2026-01-02","ratio":0.5,"labels":{"a":true}}}`,
		`{"sender":"a","sender":"b"}`, `{"Sender":"a"}`, `{"declaration":{"count":1e2}}`, `{"sender":"\u00e9\ud83d\ude00"}`,
		`{"declaration":{"deadline":"2026-01-02T03:04:05.999999999+01:00"}}`, `{"declaration":{"size":-0}}`, `null`, ` {"sender":""} `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var strict check
		err := strictjson.Decode(body, &strict)
		if err != nil {
			var e *strictjson.Error
			require.ErrorAs(t, err, &e)
			require.LessOrEqual(t, len(e.Message), 400)
			require.LessOrEqual(t, len(e.Field), 600)
			return
		}
		var loose check
		require.NoError(t, v1.Unmarshal(body, &loose), "encoding/json refuses what the strict decoder accepted")
		if !reflect.DeepEqual(strict, loose) {
			t.Fatalf("decoders disagree on %q:\nstrict %#v\nloose  %#v", body, strict, loose)
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	body := []byte(`{"sender":"council.revenues","declaration":{"agreement":"police-crime","recipient":"police.northshire","codes":["A6-1-e","DPA-S2-P1-2"],"subjects":[{"type":"nino","value":"QQ123456C"}],"size":1024,"authoriser":{"name":"Insp. A. Smith","rank":"inspector"},"deadline":"2026-01-02T03:04:05Z"}}`)
	b.ReportAllocs()
	for b.Loop() {
		var c check
		if err := strictjson.Decode(body, &c); err != nil {
			b.Fatal(err)
		}
	}
}
