package gateway

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"

	"github.com/gatehouse-gw/gatehouse/api"
)

// framingServer is fasthttp behind StrictFraming on a loopback port; its
// handler answers with the path and the length of the body it read.
func framingServer(t *testing.T) string {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &fasthttp.Server{
		StreamRequestBody: true,
		ReadBufferSize:    4096,
		Handler: func(c *fasthttp.RequestCtx) {
			var n int64
			if s := c.RequestBodyStream(); s != nil {
				var err error
				if n, err = io.Copy(io.Discard, s); err != nil {
					c.Error(err.Error(), http.StatusBadRequest)
					return
				}
			}
			c.SetBodyString(string(c.Path()) + " " + strconv.FormatInt(n, 10))
		},
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(StrictFraming(raw, 4096, "test", nil)) }()
	t.Cleanup(func() { _ = srv.Shutdown(); <-done })
	return raw.Addr().String()
}

// converse writes raw to a new connection and reads every answer until the
// server closes it (or a second passes with nothing more).
func converse(t *testing.T, addr, raw string) (answers []*http.Response, bodies []string, closed bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	_, err = io.WriteString(c, raw)
	require.NoError(t, err)
	r := bufio.NewReader(c)
	for {
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return answers, bodies, false
			}
			return answers, bodies, true
		}
		b, _ := io.ReadAll(resp.Body)
		answers, bodies = append(answers, resp), append(bodies, string(b))
	}
}

func TestStrictFraming(t *testing.T) {
	addr := framingServer(t)
	const smuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
	for _, tc := range []struct {
		name   string
		raw    string
		served []string // the answers before the refusal (path and body length)
		status int      // the refusal's status, 0 for none
	}{
		{"ok/content-length", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", []string{"/a 5"}, 0},
		{"ok/pipelined", "GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /c HTTP/1.1\r\nHost: x\r\n\r\n", []string{"/a 0", "/b 3", "/c 0"}, 0},
		{"ok/chunked-with-trailer", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n3\r\nabc\r\n0\r\nX-Sum: 1\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n", []string{"/a 8", "/b 0"}, 0},
		{"ok/leading-empty-line", "\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n", []string{"/a 0"}, 0},
		{"refuse/cl-and-te", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled, nil, 400},
		{"refuse/te-and-cl", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + smuggled, nil, 400},
		{"refuse/te-not-chunked", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", nil, 400},
		{"refuse/two-te", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", nil, 400},
		{"refuse/te-http10", "POST /a HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", nil, 400},
		{"refuse/two-cl", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\na", nil, 400},
		{"refuse/cl-not-number", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: +1\r\n\r\na", nil, 400},
		{"refuse/bare-lf", "GET /a HTTP/1.1\nHost: x\n\n", nil, 400},
		{"refuse/bare-lf-in-one-line", "GET /a HTTP/1.1\r\nHost: x\nX-A: b\r\n\r\n", nil, 400},
		{"refuse/bare-cr", "GET /a HTTP/1.1\r\nHost: x\rX-A: b\r\n\r\n", nil, 400},
		{"refuse/folded", "GET /a HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", nil, 400},
		{"refuse/folded-tab", "GET /a HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\tb\r\n\r\n", nil, 400},
		{"refuse/space-before-colon", "GET /a HTTP/1.1\r\nHost : x\r\n\r\n", nil, 400},
		{"refuse/no-colon", "GET /a HTTP/1.1\r\nHost x\r\n\r\n", nil, 400},
		{"refuse/control-character", "GET /a HTTP/1.1\r\nHost: x\x00y\r\n\r\n", nil, 400},
		{"refuse/head-too-large", "GET /a HTTP/1.1\r\nHost: x\r\nX-A: " + strings.Repeat("a", 5000) + "\r\n\r\n", nil, 431},
		{"refuse/chunk-size-bare-lf", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\na\r\n0\r\n\r\n", nil, 400},
		{"refuse/chunk-size-not-hex", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0x1\r\na\r\n0\r\n\r\n", nil, 400},
		{"refuse/chunk-without-crlf", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\n", nil, 400},
		{"refuse/folded-trailer", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-A: a\r\n b\r\n\r\n", nil, 400},
		{"refuse/second-of-pipeline", "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\nHost: x\n\n", []string{"/a 0"}, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			answers, bodies, closed := converse(t, addr, tc.raw)
			want := len(tc.served)
			if tc.status != 0 {
				want++
			}
			require.Len(t, answers, want, "answers: %q", bodies)
			for i, s := range tc.served {
				require.Equal(t, http.StatusOK, answers[i].StatusCode)
				require.Equal(t, s, bodies[i])
			}
			if tc.status == 0 {
				require.False(t, closed, "a well-framed connection stays open")
				return
			}
			last := answers[len(answers)-1]
			require.Equal(t, tc.status, last.StatusCode, bodies[len(bodies)-1])
			require.Equal(t, api.MediaProblem, last.Header.Get("Content-Type"))
			var p api.Problem
			require.NoError(t, json.Unmarshal([]byte(bodies[len(bodies)-1]), &p))
			require.Equal(t, CodeMalformedRequest, p.Code)
			require.True(t, closed, "the connection is closed after a refusal")
			require.NotContains(t, strings.Join(bodies, "\n"), "/smuggled")
		})
	}
}

// A large body passes through counted, not scanned, byte for byte.
func TestStrictFramingLargeBody(t *testing.T) {
	addr := framingServer(t)
	body := bytes.Repeat([]byte("GET /x HTTP/1.1\n\r\n "), 64<<10)
	answers, bodies, _ := converse(t, addr, "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+string(body))
	require.Len(t, answers, 1)
	require.Equal(t, "/a "+strconv.Itoa(len(body)), bodies[0])
}

// FuzzStrictFraming: whatever arrives, the framing check hands on a prefix
// of it, unchanged, and never panics.
func FuzzStrictFraming(f *testing.F) {
	f.Add([]byte("POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n"), 7)
	f.Add([]byte("POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET /b HTTP/1.1\nX: y\n\n"), 1)
	f.Add([]byte("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n"), 3)
	f.Fuzz(func(t *testing.T, in []byte, step int) {
		step = max(1, step%64)
		c := &framingConn{l: &framingListener{maxHead: 512}}
		var got []byte
		for i := 0; i < len(in) && c.fail == ""; i += step {
			c.in = in[i:min(i+step, len(in))]
			c.scan()
			got = append(got, c.out...)
			c.out = c.out[:0]
		}
		if !bytes.HasPrefix(in, got) {
			t.Fatalf("handed on %q, not a prefix of %q", got, in)
		}
	})
}
