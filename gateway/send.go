package gateway

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/exchange"
	"github.com/gatehouse-gw/gatehouse/internal/idem"
)

// The one-request form of a disclosure: POST /v1/exchanges as
// multipart/form-data, a "declaration" part (the JSON of the two-step form)
// first and a "payload" part last. The gateway reads and decides the
// declaration before it reads a byte of the payload part; a refusal is
// answered at once and the payload part is never read.
const (
	partDeclaration = "declaration"
	partPayload     = "payload"
	// partsOverhead bounds what a one-request body holds beyond the
	// declaration and the payload: boundaries and part headers.
	partsOverhead = 16 << 10
)

// CodeOneRequestTooLarge: the payload is over limits.one_request_max; send
// it in two steps.
const CodeOneRequestTooLarge = "one-request-too-large"

// errOneRequestBody stops a one-request body that runs past its bound.
var errOneRequestBody = errors.New("the request body is longer than the one-request form allows")

// isMultipart reports whether the request is the one-request form.
func isMultipart(c *fiber.Ctx) bool {
	mt, _, _ := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	return mt == api.MediaMultipart
}

// oneRequestBodyMax is the longest body of a one-request POST.
func (s *Server) oneRequestBodyMax() int64 {
	return int64(s.opts.Limits.OneRequestMax) + s.opts.MaxJSONBody + partsOverhead
}

func (s *Server) oneRequestTooLarge(cause error) *Error {
	return problem(http.StatusRequestEntityTooLarge, CodeOneRequestTooLarge, "The payload is too large to send with its declaration.").
		withDetail(fmt.Sprintf("at most %d payload bytes go in one request; declare with POST /v1/exchanges (application/json), then upload with PUT /v1/exchanges/{id}/payload",
			int64(s.opts.Limits.OneRequestMax))).withCause(cause)
}

// checkOneRequestHeaders checks what the headers of a one-request POST say:
// a boundary, and a length within the bound.
func (s *Server) checkOneRequestHeaders(c *fiber.Ctx) (boundary string, err error) {
	_, params, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if err != nil || params["boundary"] == "" {
		return "", fieldProblem(fiber.HeaderContentType, "format", "multipart/form-data needs a boundary parameter")
	}
	if n := int64(c.Request().Header.ContentLength()); n > s.oneRequestBodyMax() {
		return "", s.oneRequestTooLarge(nil)
	}
	return params["boundary"], nil
}

// POST /v1/exchanges with multipart/form-data: declare and send in one
// request.
func (s *Server) sendExchange(c *fiber.Ctx) error {
	boundary, err := s.checkOneRequestHeaders(c)
	if err != nil {
		return err
	}
	body := &progressReader{
		r:    &cappedReader{r: c.Context().RequestBodyStream(), left: s.oneRequestBodyMax()},
		conn: c.Context().Conn(), idle: s.opts.Limits.TransferIdleTimeout,
	}
	e, err := s.sendParts(c, multipart.NewReader(body, boundary))
	if errors.Is(err, errOneRequestBody) {
		err = s.oneRequestTooLarge(err)
	}
	if err != nil {
		if e != nil {
			// Allowed and declared, but not delivered: the exchange can be
			// uploaded with PUT, or the same request repeated with the same
			// Idempotency-Key.
			c.Location("/v1/exchanges/" + e.ID)
		}
		if body.done == nil {
			answerThenLinger(c.Context())
		}
		return err
	}
	if e.Replayed {
		c.Set(idem.ReplayedHeader, "true")
	}
	c.Location("/v1/exchanges/" + e.ID)
	return c.Status(http.StatusCreated).JSON(exchangeView(e, caller(c).ID))
}

// sendParts reads the declaration part, and hands the service the payload
// part to read only once the declaration is allowed.
func (s *Server) sendParts(c *fiber.Ctx, mr *multipart.Reader) (*exchange.Exchange, error) {
	d, err := readDeclarationPart(mr, s.opts.MaxJSONBody)
	if err != nil {
		return nil, err
	}
	p := caller(c)
	if wait, ok := s.limits.allow(p.ID, d.Agreement); !ok {
		return nil, rateLimited(p.ID, "agreement "+d.Agreement, wait)
	}
	e, err := s.partner.Exchanges.Send(c.UserContext(), p.ID, d, c.Get(idem.Header), func() (io.Reader, error) {
		return nextPart(mr, partPayload)
	})
	if err != nil {
		return e, err
	}
	// The payload is the last part: read the closing boundary, so that the
	// connection can carry the next request. What may follow is not read.
	if _, err := mr.NextPart(); err != nil && !errors.Is(err, io.EOF) {
		s.log.Debug("one-request body after the payload part", "error", err)
	}
	return e, nil
}

// readDeclarationPart reads the first part of a one-request body, which must
// be the declaration: JSON of at most limit bytes, strictly decoded. It
// reads nothing beyond that part.
func readDeclarationPart(mr *multipart.Reader, limit int64) (*api.ExchangeDeclaration, error) {
	part, err := nextPart(mr, partDeclaration)
	if err != nil {
		return nil, err
	}
	if ct := part.Header.Get(fiber.HeaderContentType); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != api.MediaJSON {
			return nil, problem(http.StatusUnsupportedMediaType, CodeUnsupportedMedia, "The declaration part must be application/json.")
		}
	}
	raw, err := io.ReadAll(io.LimitReader(part, limit+1))
	if err != nil {
		return nil, bodyProblem(err)
	}
	if int64(len(raw)) > limit {
		return nil, problem(http.StatusRequestEntityTooLarge, CodeTooLarge, "The declaration is too large.").
			withDetail(fmt.Sprintf("at most %d bytes of JSON are accepted", limit))
	}
	var d api.ExchangeDeclaration
	if err := decodeStrict(raw, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// nextPart returns the next part of a one-request body, which must be the
// named one.
func nextPart(mr *multipart.Reader, name string) (*multipart.Part, error) {
	part, err := mr.NextPart()
	switch {
	case errors.Is(err, io.EOF):
		return nil, fieldProblem(name, "required", "the "+name+" part is missing (parts: declaration, then payload)")
	case err != nil:
		return nil, bodyProblem(err)
	case part.FormName() != name:
		return nil, fieldProblem(name, "order", fmt.Sprintf("expected the %s part here, found %q (parts: declaration, then payload)", name, part.FormName()))
	}
	return part, nil
}

// bodyProblem is the answer to a one-request body that could not be read.
func bodyProblem(err error) error {
	if errors.Is(err, errOneRequestBody) {
		return err
	}
	return problem(http.StatusBadRequest, CodeInvalidRequest, "The request is not valid.").
		withDetail("the multipart body is malformed or cut short").withCause(err)
}

// cappedReader fails once more than left bytes are read.
type cappedReader struct {
	r    io.Reader
	left int64
}

func (c *cappedReader) Read(b []byte) (int, error) {
	if c.left < 0 {
		return 0, errOneRequestBody
	}
	if int64(len(b)) > c.left+1 {
		b = b[:c.left+1]
	}
	n, err := c.r.Read(b)
	c.left -= int64(n)
	if c.left < 0 {
		return n, errOneRequestBody
	}
	return n, err
}
