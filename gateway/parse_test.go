package gateway

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/exchange"
)

func TestParseRange(t *testing.T) {
	const size = 1000
	ok := map[string]exchange.Range{
		"bytes=0-99":     {Offset: 0, Length: 100},
		"bytes=900-":     {Offset: 900, Length: 100},
		"bytes=-10":      {Offset: 990, Length: 10},
		"bytes=-5000":    {Offset: 0, Length: 1000},
		"bytes=990-5000": {Offset: 990, Length: 10},
		"bytes=999-999":  {Offset: 999, Length: 1},
	}
	for h, want := range ok {
		got, err := parseRange(h, size)
		require.NoError(t, err, h)
		require.Equal(t, want, got, h)
	}
	for _, h := range []string{"", "bytes=", "bytes=1000-", "bytes=5-4", "bytes=-0", "bytes=0-1,5-6", "items=0-1", "bytes=a-b", "bytes=-", "bytes=--1"} {
		_, err := parseRange(h, size)
		require.ErrorIs(t, err, exchange.ErrRange, h)
	}
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-99", "bytes=-10", "bytes=5-", "bytes=9-1"} {
		f.Add(s, int64(1000))
	}
	f.Fuzz(func(t *testing.T, h string, size int64) {
		if size <= 0 {
			return
		}
		r, err := parseRange(h, size)
		if err != nil {
			return
		}
		require.GreaterOrEqual(t, r.Offset, int64(0))
		require.Greater(t, r.Length, int64(0))
		require.LessOrEqual(t, r.Offset+r.Length, size)
	})
}

func TestDecodeStrict(t *testing.T) {
	var d api.ExchangeDeclaration
	require.NoError(t, decodeStrict([]byte(`{"agreement":"nfi","size":3}`), &d))
	require.Equal(t, "nfi", d.Agreement)

	cases := map[string]struct{ body, code, field, rule string }{
		"unknown field": {`{"agreement":"nfi","sender":"dwp"}`, CodeInvalidRequest, "sender", "unknown-field"},
		"wrong type":    {`{"size":"big"}`, CodeInvalidRequest, "size", "type"},
		"nested type":   {`{"subjects":[{"type":1}]}`, CodeInvalidRequest, "subjects[0].type", "type"},
		"syntax":        {`{"agreement":`, CodeInvalidJSON, "", ""},
		"trailing data": {`{"agreement":"nfi"} {}`, CodeInvalidJSON, "", ""},
		"empty":         {``, CodeInvalidJSON, "", ""},
		"not an object": {`[]`, CodeInvalidRequest, "(body)", "type"},
		"duplicate key": {`{"recipient":"dwp","size":1,"recipient":"police.northshire"}`, CodeInvalidRequest, "recipient", "duplicate-key"},
		"case variant":  {`{"Recipient":"police.northshire"}`, CodeInvalidRequest, "Recipient", "case-variant"},
		"bad utf-8":     {"{\"recipient\":\"\xff\"}", CodeInvalidJSON, "", ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var d api.ExchangeDeclaration
			err := decodeStrict([]byte(tc.body), &d)
			var e *Error
			require.True(t, errors.As(err, &e), "%v", err)
			require.Equal(t, tc.code, e.Code)
			require.Equal(t, 400, e.Status)
			if tc.field != "" {
				require.Len(t, e.Fields, 1)
				require.Equal(t, tc.field, e.Fields[0].Field)
				require.Equal(t, tc.rule, e.Fields[0].Rule)
			}
		})
	}
}

// FuzzDeclaration: any body either fails with a 4xx problem or decodes into
// a declaration that validation accepts or rejects, never a panic or 5xx.
func FuzzDeclaration(f *testing.F) {
	f.Add([]byte(`{"agreement":"police-crime","recipient":"police.northshire","purpose":"crime-prevention-detection","lawful_basis":"A6-1-e","data_categories":["identity"],"subjects":[{"type":"nino","value":"QQ123456C"}],"content_type":"text/plain","size":5}`))
	f.Add([]byte(`{"subjects":[{"type":"","value":""}],"size":-1,"sha256":"zz"}`))
	f.Add([]byte(`{"notification":{"decision":"withhold"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var d api.ExchangeDeclaration
		if err := decodeStrict(body, &d); err != nil {
			e := toError(err)
			require.Less(t, e.Status, 500)
			return
		}
		if err := exchange.ValidateDeclaration(&d, 1<<30); err != nil {
			e := toError(err)
			require.GreaterOrEqual(t, e.Status, 400)
			require.Less(t, e.Status, 500)
		}
	})
}
