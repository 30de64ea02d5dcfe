package gateway

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/internal/metrics"
)

// StrictFraming wraps a listener (the TLS one: it reads the plaintext) so
// that every HTTP/1.1 request on its connections is framed one way only
// before fasthttp reads a byte of it. fasthttp 1.78 answers a request that
// has both Content-Length and Transfer-Encoding (closing the connection
// after), accepts folded header lines, and waits on a head whose lines end
// in a bare LF; another reader in front of or behind the gateway could
// frame such a request differently, and a request hidden in it would be
// served. Here each request head is held back until it is complete and
// checked: lines end in CRLF, no line is folded, header names are tokens,
// no control characters, at most one Content-Length (digits), at most one
// Transfer-Encoding and then only "chunked" and never with Content-Length
// or HTTP/1.0. The body is followed by its framing (Content-Length bytes,
// or chunks whose size lines, ends and trailers are checked likewise) so
// the next head is found where fasthttp will look for it. A request that
// breaks a rule is never handed on: the client gets 400 (431 for a head
// over maxHead bytes) problem+json, code malformed-request, and the
// connection is closed.
func StrictFraming(ln net.Listener, maxHead int, listener string, log *slog.Logger) net.Listener {
	return &framingListener{Listener: ln, maxHead: maxHead, listener: listener, log: log}
}

type framingListener struct {
	net.Listener
	maxHead  int
	listener string
	log      *slog.Logger
}

func (l *framingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &framingConn{Conn: c, l: l}, nil
}

// The states of a connection's framing.
type framingState uint8

const (
	inHead      framingState = iota // a request head, held back until complete
	inBody                          // Content-Length bytes still to come
	inChunkSize                     // a chunk-size line
	inChunkData                     // a chunk's bytes still to come
	inChunkEnd                      // the CRLF after a chunk's bytes
	inTrailer                       // trailer lines after the last chunk
)

const maxChunkLine = 1024

type framingConn struct {
	net.Conn
	l *framingListener

	st   framingState
	left int64 // bytes of body or chunk still to come

	head      []byte // the head so far (inHead), or the current line
	lineStart int
	lines     int // lines of this head, the request line first
	http10    bool
	cl, te    int // Content-Length and Transfer-Encoding lines seen
	clValue   []byte
	teValue   []byte
	cr        bool // the last byte was a CR (chunk lines, trailers)

	buf  []byte // read buffer for heads and chunk lines
	in   []byte // read, not yet checked
	out  []byte // checked, not yet handed to the reader
	rerr error  // the read error to report once in and out are drained

	fail     string // the broken rule, once found
	status   int
	rejected atomic.Bool
}

// Handshake and ConnectionState let fasthttp see the TLS connection
// underneath (its TLSConnectionState looks for these methods).
func (c *framingConn) Handshake() error {
	if t, ok := c.Conn.(*tls.Conn); ok {
		return t.Handshake()
	}
	return nil
}

func (c *framingConn) ConnectionState() tls.ConnectionState {
	if t, ok := c.Conn.(*tls.Conn); ok {
		return t.ConnectionState()
	}
	return tls.ConnectionState{}
}

// Write hands the answer on; once a request has been refused (and the
// connection closed) the server's own late answer to it is dropped.
func (c *framingConn) Write(p []byte) (int, error) {
	if c.rejected.Load() {
		return len(p), nil
	}
	return c.Conn.Write(p)
}

func (c *framingConn) Read(p []byte) (int, error) {
	for {
		if len(c.out) > 0 {
			n := copy(p, c.out)
			c.out = c.out[n:]
			return n, nil
		}
		if c.fail != "" {
			return 0, c.reject()
		}
		if len(c.in) > 0 {
			c.scan()
			continue
		}
		if c.rerr != nil {
			return 0, c.rerr
		}
		if (c.st == inBody || c.st == inChunkData) && c.left > 0 && len(p) > 0 {
			// Body bytes go straight to the reader, counted, not copied.
			n, err := c.Conn.Read(p[:min(int64(len(p)), c.left)])
			c.left -= int64(n)
			if c.left == 0 {
				c.bodyDone()
			}
			return n, err
		}
		if c.buf == nil {
			c.buf = make([]byte, 4096)
		}
		n, err := c.Conn.Read(c.buf)
		c.in, c.rerr = c.buf[:n], err
		if n == 0 && err == nil {
			return 0, nil
		}
	}
}

func (c *framingConn) bodyDone() {
	if c.st == inBody {
		c.st = inHead
	} else {
		c.st = inChunkEnd
	}
}

// scan checks the bytes in c.in, moving those that pass to c.out (or,
// within a head, to c.head until the head is complete).
func (c *framingConn) scan() {
	for len(c.in) > 0 && c.fail == "" {
		switch c.st {
		case inBody, inChunkData:
			n := min(int64(len(c.in)), c.left)
			c.out = append(c.out, c.in[:n]...)
			c.in = c.in[n:]
			if c.left -= n; c.left == 0 {
				c.bodyDone()
			}
			continue
		}
		b := c.in[0]
		c.in = c.in[1:]
		switch c.st {
		case inHead:
			c.headByte(b)
		case inChunkSize, inTrailer:
			// A byte is handed on only once it passes: the reader's own
			// chunk parser never sees the one that breaks a rule.
			if c.lineByte(b); c.fail == "" {
				c.out = append(c.out, b)
			}
		case inChunkEnd:
			switch {
			case !c.cr && b == '\r':
				c.cr = true
			case c.cr && b == '\n':
				c.cr = false
				c.st, c.head = inChunkSize, c.head[:0]
			default:
				c.broken("a chunk's data is not followed by CRLF")
			}
			if c.fail == "" {
				c.out = append(c.out, b)
			}
		}
	}
	if c.fail != "" {
		c.in = nil
	}
}

func (c *framingConn) broken(rule string) {
	if c.fail == "" {
		c.fail, c.status = rule, http.StatusBadRequest
	}
}

// headByte adds one byte to the head held back.
func (c *framingConn) headByte(b byte) {
	c.head = append(c.head, b)
	if len(c.head) > c.l.maxHead {
		c.fail, c.status = "the request head is over "+strconv.Itoa(c.l.maxHead)+" bytes", http.StatusRequestHeaderFieldsTooLarge
		return
	}
	n := len(c.head)
	if n >= 2 && c.head[n-2] == '\r' && b != '\n' {
		c.broken("a line of the head has a CR not followed by LF")
		return
	}
	switch {
	case b == '\n':
		if n < 2 || c.head[n-2] != '\r' {
			c.broken("a line of the head ends in a bare LF, not CRLF")
			return
		}
		c.headLine(c.head[c.lineStart : n-2])
		c.lineStart = len(c.head)
	case b == '\r', b == '\t':
	case b < 0x20 || b == 0x7f:
		c.broken("the head holds a control character")
	}
}

// headLine checks one complete line of a head (without its CRLF).
func (c *framingConn) headLine(line []byte) {
	if len(line) == 0 {
		if c.lines == 0 {
			// Empty lines before a request line are allowed (RFC 9112
			// §2.2); they are handed on as they are.
			c.out = append(c.out, c.head...)
			c.head, c.lineStart = c.head[:0], 0
			return
		}
		c.headDone()
		return
	}
	c.lines++
	if c.lines == 1 {
		c.http10 = bytes.HasSuffix(line, []byte(" HTTP/1.0"))
		return
	}
	if line[0] == ' ' || line[0] == '\t' {
		c.broken("a header line is folded (begins with white space)")
		return
	}
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		c.broken("a header line has no name and colon")
		return
	}
	name := line[:colon]
	for _, ch := range name {
		if !tokenChar(ch) {
			c.broken("a header name holds a character that is not a token character (white space before the colon, for instance)")
			return
		}
	}
	value := bytes.Trim(line[colon+1:], " \t")
	switch {
	case bytes.EqualFold(name, []byte("Content-Length")):
		c.cl++
		c.clValue = value
	case bytes.EqualFold(name, []byte("Transfer-Encoding")):
		c.te++
		c.teValue = value
	}
}

// headDone checks the framing a complete head asks for, hands the head on
// and follows its body.
func (c *framingConn) headDone() {
	switch {
	case c.cl > 0 && c.te > 0:
		c.broken("Content-Length together with Transfer-Encoding")
	case c.cl > 1:
		c.broken("Content-Length is given more than once")
	case c.te > 1:
		c.broken("Transfer-Encoding is given more than once")
	case c.te == 1 && !bytes.EqualFold(c.teValue, []byte("chunked")):
		c.broken("Transfer-Encoding other than chunked")
	case c.te == 1 && c.http10:
		c.broken("Transfer-Encoding in an HTTP/1.0 request")
	}
	var length int64
	if c.fail == "" && c.cl == 1 {
		if len(c.clValue) == 0 || len(c.clValue) > 18 {
			c.broken("Content-Length is not a number")
		}
		for _, ch := range c.clValue {
			if ch < '0' || ch > '9' {
				c.broken("Content-Length is not a number")
				break
			}
			length = length*10 + int64(ch-'0')
		}
	}
	if c.fail != "" {
		return
	}
	c.out = append(c.out, c.head...)
	switch {
	case c.te == 1:
		c.st = inChunkSize
	case length > 0:
		c.st, c.left = inBody, length
	default:
		c.st = inHead
	}
	c.head, c.lineStart, c.lines, c.http10, c.cl, c.te, c.cr = c.head[:0], 0, 0, false, 0, 0, false
}

// lineByte adds one byte of a chunk-size or trailer line.
func (c *framingConn) lineByte(b byte) {
	if c.cr && b != '\n' {
		c.broken("a chunk line has a CR not followed by LF")
		return
	}
	switch {
	case b == '\r':
		c.cr = true
		return
	case b == '\n':
		if !c.cr {
			c.broken("a chunk line ends in a bare LF, not CRLF")
			return
		}
		c.cr = false
		c.chunkLine(c.head)
		c.head = c.head[:0]
		return
	case b < 0x20 && b != '\t' || b == 0x7f:
		c.broken("a chunk line holds a control character")
		return
	}
	if c.st == inChunkSize && bytes.IndexByte(c.head, ';') < 0 && b != ';' && !hexDigit(b) {
		c.broken("a chunk size is not a hexadecimal number")
		return
	}
	c.head = append(c.head, b)
	if len(c.head) > maxChunkLine {
		c.broken("a chunk line is over " + strconv.Itoa(maxChunkLine) + " bytes")
	}
}

func (c *framingConn) chunkLine(line []byte) {
	if c.st == inTrailer {
		switch {
		case len(line) == 0:
			c.st = inHead
		case line[0] == ' ' || line[0] == '\t':
			c.broken("a trailer line is folded (begins with white space)")
		case bytes.IndexByte(line, ':') <= 0:
			c.broken("a trailer line has no name and colon")
		}
		return
	}
	size := line
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		size = line[:i]
	}
	if len(size) == 0 || len(size) > 15 {
		c.broken("a chunk size is not a hexadecimal number")
		return
	}
	var n int64
	for _, ch := range size {
		var d byte
		switch {
		case ch >= '0' && ch <= '9':
			d = ch - '0'
		case ch >= 'a' && ch <= 'f':
			d = ch - 'a' + 10
		case ch >= 'A' && ch <= 'F':
			d = ch - 'A' + 10
		default:
			c.broken("a chunk size is not a hexadecimal number")
			return
		}
		n = n<<4 | int64(d)
	}
	if n == 0 {
		c.st = inTrailer
		return
	}
	c.st, c.left = inChunkData, n
}

func hexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func tokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// errFramingRefused ends the reader's use of a connection whose framing
// broke a rule; the client has had its answer.
var errFramingRefused = errors.New("request refused: malformed HTTP framing")

// reject answers the request that broke a rule, once, and closes the
// connection. Bytes of it were never handed to the reader; everything
// before it was, and answered first (fasthttp flushes its answers before it
// reads again).
func (c *framingConn) reject() error {
	if c.rejected.Swap(true) {
		return errFramingRefused
	}
	body, _ := json.Marshal(&api.Problem{
		Type:   ProblemTypeBase + CodeMalformedRequest,
		Title:  "The request's HTTP framing is malformed or ambiguous.",
		Status: c.status,
		Detail: c.fail + "; the connection is closed",
		Code:   CodeMalformedRequest,
	})
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 " + strconv.Itoa(c.status) + " " + http.StatusText(c.status) + "\r\n")
	b.WriteString("Content-Type: " + api.MediaProblem + "\r\nConnection: close\r\nCache-Control: no-store\r\n")
	b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n")
	b.Write(body)
	_ = c.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, _ = c.Conn.Write(b.Bytes())
	_ = c.Conn.Close()
	metrics.FramingRefused.WithLabelValues(c.l.listener).Inc()
	if c.l.log != nil {
		c.l.log.Info("request refused: malformed HTTP framing", "listener", c.l.listener, "rule", c.fail, "status", c.status)
	}
	if c.st == inHead {
		return io.EOF // nothing of this request reached the reader
	}
	return errFramingRefused
}
