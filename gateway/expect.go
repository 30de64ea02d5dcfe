package gateway

import (
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/internal/logkey"
	"github.com/gatehouse-gw/gatehouse/internal/metrics"
)

// expectContinue answers "Expect: 100-continue" on the routes that take a
// payload. It runs the checks the handler would make before reading the
// body; if one fails, the client gets that answer (problem+json, the
// connection then closed) instead of "100 Continue", and never sends the
// body. Anything else continues, and the handler decides as usual: the
// checks here are a subset of its own, never a different rule.
func (s *Server) expectContinue(rc *fasthttp.RequestCtx) int {
	route, check := s.preflight(rc)
	if check == nil {
		return fasthttp.StatusContinue
	}
	c := s.app.AcquireCtx(rc)
	defer s.app.ReleaseCtx(c)
	start := time.Now()
	err := s.checkBeforeBody(c, check)
	if err == nil {
		return fasthttp.StatusContinue
	}
	// The handler will not run: answer as requestLog and the error handler
	// would, with a request id, the security headers, a log line and metrics.
	id := newRequestID()
	c.Locals(requestIDKey{}, id)
	c.Set("X-Request-Id", id)
	c.Set(fiber.HeaderStrictTransportSecurity, "max-age=31536000")
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderCacheControl, "no-store")
	if herr := s.errorHandler(c, err); herr != nil {
		s.log.Error("rendering an early answer", logkey.Error, herr)
		c.Status(http.StatusInternalServerError)
	}
	status := c.Response().StatusCode()
	metrics.HTTPDuration.WithLabelValues(s.listener, strings.Clone(c.Method()), route, strconv.Itoa(status)).Observe(time.Since(start).Seconds())
	attrs := []any{logkey.RequestID, id, logkey.Method, c.Method(), logkey.Path, c.Path(),
		logkey.Status, status, logkey.Duration, time.Since(start).String(), "expect", "100-continue refused"}
	if p := callerParty(c); p != "" {
		attrs = append(attrs, logkey.Party, p)
	}
	s.log.Info("request", attrs...)
	return status
}

// preflight returns the route a request with a body is for and the check
// to run before its body is sent, or nil for requests it leaves to the
// handler.
func (s *Server) preflight(rc *fasthttp.RequestCtx) (route string, check func(c *fiber.Ctx) error) {
	path := string(rc.Path())
	switch {
	case rc.IsPost() && strings.TrimSuffix(path, "/") == "/v1/exchanges":
		return "/v1/exchanges", s.checkDeclarationHeaders
	case rc.IsPut() && strings.HasPrefix(path, "/v1/exchanges/") && strings.HasSuffix(path, "/payload"):
		id := strings.TrimSuffix(strings.TrimPrefix(path, "/v1/exchanges/"), "/payload")
		if id == "" || strings.Contains(id, "/") {
			return "", nil
		}
		return "/v1/exchanges/:id/payload", func(c *fiber.Ctx) error {
			n := int64(c.Request().Header.ContentLength())
			if n < 0 {
				n = -1
			}
			return s.partner.Exchanges.CheckUpload(c.UserContext(), caller(c).ID, id, n)
		}
	}
	return "", nil
}

// checkBeforeBody takes the registry snapshot and identifies the caller, as
// every partner route does (snapshot, identify), and runs check.
func (s *Server) checkBeforeBody(c *fiber.Ctx, check func(c *fiber.Ctx) error) error {
	reg, err := s.partner.Registry.Snapshot(c.UserContext())
	if err != nil {
		return unavailable(err)
	}
	c.SetUserContext(agreements.ContextWithRegistry(c.UserContext(), reg))
	p, err := s.party(c)
	if err != nil {
		return err
	}
	c.Locals(callerKey{}, p)
	if err := idempotencyKeyProblem(c); err != nil {
		return err
	}
	return check(c)
}

// checkDeclarationHeaders checks the headers of POST /v1/exchanges: a JSON
// declaration within max_json_body, or a one-request body within its bound.
func (s *Server) checkDeclarationHeaders(c *fiber.Ctx) error {
	mt, _, _ := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	switch mt {
	case api.MediaMultipart:
		_, err := s.checkOneRequestHeaders(c)
		return err
	case api.MediaJSON:
		if n := c.Request().Header.ContentLength(); n > int(s.opts.MaxJSONBody) {
			return problem(http.StatusRequestEntityTooLarge, CodeTooLarge, "The request body is too large.").
				withDetail("at most " + strconv.FormatInt(s.opts.MaxJSONBody, 10) + " bytes of JSON are accepted")
		}
		return nil
	}
	return problem(http.StatusUnsupportedMediaType, CodeUnsupportedMedia, "The declaration must be application/json, or multipart/form-data with its payload.")
}
