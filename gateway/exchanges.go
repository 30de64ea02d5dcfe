package gateway

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/exchange"
	"github.com/gatehouse-gw/gatehouse/internal/idem"
)

// POST /v1/exchanges: declare a disclosure; the gateway decides at once.
// As multipart/form-data, the declaration brings its payload (sendExchange).
func (s *Server) declareExchange(c *fiber.Ctx) error {
	if isMultipart(c) {
		return s.sendExchange(c)
	}
	var d api.ExchangeDeclaration
	if err := s.readJSON(c, &d); err != nil {
		return err
	}
	p := caller(c)
	if wait, ok := s.limits.allow(p.ID, d.Agreement); !ok {
		return rateLimited(p.ID, "agreement "+d.Agreement, wait)
	}
	e, err := s.partner.Exchanges.Declare(c.UserContext(), p.ID, &d, c.Get(idem.Header))
	if err != nil {
		return err
	}
	if e.Replayed {
		c.Set(idem.ReplayedHeader, "true")
	}
	c.Location("/v1/exchanges/" + e.ID)
	return c.Status(http.StatusCreated).JSON(exchangeView(e, p.ID))
}

// POST /v1/exchanges/{id}/ack: the recipient records receipt.
func (s *Server) ackExchange(c *fiber.Ctx) error {
	p := caller(c)
	e, err := s.partner.Exchanges.Acknowledge(c.UserContext(), p.ID, c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(exchangeView(e, p.ID))
}

// checkIdempotencyKey refuses a malformed Idempotency-Key on any POST. The
// services that create something honour the key; the other POSTs are
// idempotent in themselves.
func checkIdempotencyKey(c *fiber.Ctx) error {
	if err := idempotencyKeyProblem(c); err != nil {
		return err
	}
	return c.Next()
}

// idempotencyKeyProblem refuses a malformed Idempotency-Key.
func idempotencyKeyProblem(c *fiber.Ctx) error {
	if k := c.Get(idem.Header); k != "" && !idem.Valid(k) {
		return fieldProblem(idem.Header, "format", "must be 1 to 255 printable ASCII characters")
	}
	return nil
}

// GET /v1/exchanges/{id}: the sender or recipient reads the exchange.
func (s *Server) getExchange(c *fiber.Ctx) error {
	p := caller(c)
	e, err := s.partner.Exchanges.Get(c.UserContext(), p.ID, c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(exchangeView(e, p.ID))
}

// PUT /v1/exchanges/{id}/payload: stream the payload; it is sealed on the way.
func (s *Server) uploadPayload(c *fiber.Ctx) error {
	p := caller(c)
	contentLength := int64(c.Request().Header.ContentLength())
	if contentLength < 0 {
		contentLength = -1 // chunked: the body's own end is checked against the declared size
	}
	body := &progressReader{r: c.Context().RequestBodyStream(), conn: c.Context().Conn(), idle: s.opts.Limits.TransferIdleTimeout}
	e, err := s.partner.Exchanges.Upload(c.UserContext(), p.ID, c.Params("id"), body, contentLength)
	if err != nil {
		// The body may be partly unread, and the client still sending it.
		// Closing at once would reset the connection and lose the answer:
		// send the answer, then read and discard what is still coming for
		// a while before closing (a lingering close, as web servers do).
		if body.done == nil {
			answerThenLinger(c.Context())
		}
		return err
	}
	return c.JSON(exchangeView(e, p.ID))
}

// setReceiptHeader sends the receipt of a fetch in the Gatehouse-Receipt
// header: the envelope and the payload are not JSON.
func setReceiptHeader(c *fiber.Ctx, e *exchange.Exchange) {
	if n := len(e.Receipts); n > 0 {
		c.Set(api.ReceiptHeader, e.Receipts[n-1])
	}
}

// Bounds of a lingering close.
const (
	lingerFor   = 5 * time.Second
	lingerBytes = 1 << 30
)

// answerThenLinger takes over the connection once the handler (and the
// error handler) are done: it writes the answer with Connection: close,
// then discards what the client still sends, for at most lingerFor or
// lingerBytes, and closes. fasthttp would otherwise close at once (with
// Connection: close it never calls a hijack handler), and a client still
// sending would see a reset instead of the answer.
func answerThenLinger(rc *fasthttp.RequestCtx) {
	rc.HijackSetNoResponse(true)
	rc.Hijack(func(conn net.Conn) {
		rc.Response.SetConnectionClose()
		_ = conn.SetWriteDeadline(time.Now().Add(lingerFor))
		bw := bufio.NewWriter(conn)
		if err := rc.Response.Write(bw); err != nil || bw.Flush() != nil {
			return
		}
		_ = conn.SetReadDeadline(time.Now().Add(lingerFor))
		_, _ = io.CopyN(io.Discard, conn, lingerBytes)
	})
}

// GET /v1/exchanges/{id}/envelope: the recipient's sealed manifest (JWE).
func (s *Server) getEnvelope(c *fiber.Ctx) error {
	e, err := s.partner.Exchanges.Envelope(c.UserContext(), caller(c).ID, c.Params("id"))
	if err != nil {
		return err
	}
	setReceiptHeader(c, e)
	c.Set(fiber.HeaderContentType, api.MediaJOSE)
	return c.Send(e.Envelope)
}

// GET /v1/exchanges/{id}/payload: stream the ciphertext; Range is supported
// so that an interrupted download can resume.
func (s *Server) downloadPayload(c *fiber.Ctx) error {
	var resolve func(size int64) (exchange.Range, error)
	if h := c.Get(fiber.HeaderRange); h != "" {
		resolve = func(size int64) (exchange.Range, error) {
			r, err := parseRange(h, size)
			if err != nil {
				c.Set(fiber.HeaderContentRange, "bytes */"+strconv.FormatInt(size, 10))
			}
			return r, err
		}
	}
	e, rng, body, err := s.partner.Exchanges.OpenPayload(c.UserContext(), caller(c).ID, c.Params("id"), resolve)
	if err != nil {
		return err
	}
	size := e.Payload.CiphertextSize
	length := size
	setReceiptHeader(c, e)
	c.Set(fiber.HeaderAcceptRanges, "bytes")
	c.Set(fiber.HeaderContentType, "application/octet-stream")
	c.Set(fiber.HeaderETag, `"`+e.ID+`"`)
	if rng != exchange.Full {
		length = rng.Length
		c.Set(fiber.HeaderContentRange, fmt.Sprintf("bytes %d-%d/%d", rng.Offset, rng.Offset+rng.Length-1, size))
		c.Status(http.StatusPartialContent)
	}
	c.Context().SetBodyStream(&bulkReader{ReadCloser: body, conn: c.Context().Conn(), idle: s.opts.Limits.TransferIdleTimeout}, int(length))
	return nil
}

// progressReader extends the connection's read deadline each time the
// upload makes progress: a slow client is cut off only when it stalls.
type progressReader struct {
	r    io.Reader
	conn net.Conn
	idle time.Duration
	// done records the end of the body: fasthttp's chunked stream would
	// wait on the connection if read again.
	done error
}

func (p *progressReader) Read(b []byte) (int, error) {
	if p.done != nil {
		return 0, p.done
	}
	if p.idle > 0 {
		_ = p.conn.SetReadDeadline(time.Now().Add(p.idle))
	}
	n, err := p.r.Read(b)
	if err != nil {
		p.done = err
	}
	return n, err
}

// bulkBuffers lends the buffers payload downloads are copied through.
var bulkBuffers = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// bulkReader copies a payload to the connection in 256 KiB writes: fasthttp
// would otherwise copy through a 4 KiB buffer, and each small write costs a
// TLS record and a system call. Each write extends the write deadline, so a
// client that stops reading is cut off, and one that keeps reading is not.
type bulkReader struct {
	io.ReadCloser
	conn net.Conn
	idle time.Duration
}

// WriteTo implements io.WriterTo, which fasthttp uses when it is offered.
func (r *bulkReader) WriteTo(w io.Writer) (_ int64, err error) {
	if r.idle > 0 {
		defer r.conn.SetWriteDeadline(time.Time{}) //nolint:errcheck // the next response sets its own
	}
	dw := deadlineWriter{w, r.conn, r.idle}
	// The TLS records of the body go to the socket in large writes.
	if cc := coalescing(r.conn); cc != nil {
		cc.gather()
		defer func() {
			if rerr := cc.release(); err == nil {
				err = rerr
			}
		}()
	}
	// A body that reads ahead of the writes (a large object from the
	// store) writes its own buffers, with no copy.
	if wt, ok := r.ReadCloser.(io.WriterTo); ok {
		return wt.WriteTo(dw)
	}
	bp := bulkBuffers.Get().(*[]byte)
	defer bulkBuffers.Put(bp)
	// Neither side may take over the copy with its own small buffer
	// (fasthttp's bufio.Writer implements ReaderFrom).
	return io.CopyBuffer(dw, struct{ io.Reader }{r.ReadCloser}, *bp)
}

type deadlineWriter struct {
	w    io.Writer
	conn net.Conn
	idle time.Duration
}

func (d deadlineWriter) Write(b []byte) (int, error) {
	if d.idle > 0 {
		_ = d.conn.SetWriteDeadline(time.Now().Add(d.idle))
	}
	return d.w.Write(b)
}

// parseRange parses a single "bytes=" range against size bytes.
func parseRange(h string, size int64) (exchange.Range, error) {
	bad := fmt.Errorf("%w: %q", exchange.ErrRange, h)
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return exchange.Range{}, bad
	}
	first, last, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return exchange.Range{}, bad
	}
	if first == "" { // suffix: the last n bytes
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n <= 0 {
			return exchange.Range{}, bad
		}
		n = min(n, size)
		return exchange.Range{Offset: size - n, Length: n}, nil
	}
	start, err := strconv.ParseInt(first, 10, 64)
	if err != nil || start < 0 || start >= size {
		return exchange.Range{}, bad
	}
	end := size - 1
	if last != "" {
		end, err = strconv.ParseInt(last, 10, 64)
		if err != nil || end < start {
			return exchange.Range{}, bad
		}
		end = min(end, size-1)
	}
	return exchange.Range{Offset: start, Length: end - start + 1}, nil
}

// GET /v1/inbox: exchanges delivered to the caller, oldest first, and the
// information requests it is to handle that are still open or accepted.
func (s *Server) inbox(c *fiber.Ctx) error {
	q := exchange.InboxQuery{After: c.Query("after"), Limit: c.QueryInt("limit", 100)}
	if q.Limit < 1 || q.Limit > 500 {
		return fieldProblem("limit", "range", "must be between 1 and 500")
	}
	if st := c.Query("state"); st != "" {
		for _, v := range strings.Split(st, ",") {
			state := exchange.State(strings.TrimSpace(v))
			if !state.VisibleToRecipient() {
				return fieldProblem("state", "enum", fmt.Sprintf("%q is not one of delivered, fetched, acknowledged, expired", v))
			}
			q.States = append(q.States, state)
		}
	}
	p := caller(c)
	list, err := s.partner.Exchanges.Inbox(c.UserContext(), p.ID, q)
	if err != nil {
		return err
	}
	out := api.Inbox{Exchanges: make([]api.Exchange, len(list)), Requests: []api.Request{}, Notices: []api.Notice{}}
	for i, e := range list {
		out.Exchanges[i] = exchangeView(e, p.ID)
	}
	if len(list) == q.Limit {
		out.Next = list[len(list)-1].ID
	}
	if q.After == "" {
		reqs, err := s.partner.Exchanges.Requests(c.UserContext(), p.ID, true, []exchange.RequestState{exchange.RequestOpen, exchange.RequestAccepted}, "", 500)
		if err != nil {
			return err
		}
		for _, r := range reqs {
			out.Requests = append(out.Requests, requestView(r, s.now()))
		}
		ns, err := s.partner.Notices.Notices(c.UserContext(), p.ID, true)
		if err != nil {
			return err
		}
		for _, n := range ns {
			out.Notices = append(out.Notices, noticeView(n))
		}
	}
	return c.JSON(out)
}

// dryRun is POST /v1/decisions: would this disclosure be allowed?
func (s *Server) dryRun(c *fiber.Ctx) error {
	var d api.ExchangeDeclaration
	if err := s.readJSON(c, &d); err != nil {
		return err
	}
	dec, err := s.partner.Exchanges.Check(c.UserContext(), caller(c).ID, &d)
	if err != nil {
		return err
	}
	return c.JSON(decisionView(&dec))
}
