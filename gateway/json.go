package gateway

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/internal/strictjson"
)

// readJSON strictly decodes the request body into dst: the body must be
// application/json, at most MaxJSONBody bytes, one object, and hold no key
// that dst does not define.
func (s *Server) readJSON(c *fiber.Ctx, dst any) error {
	if mt, _, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType)); err != nil || mt != api.MediaJSON {
		return problem(http.StatusUnsupportedMediaType, CodeUnsupportedMedia, "The request body must be application/json.")
	}
	limit := s.opts.MaxJSONBody
	if n := c.Request().Header.ContentLength(); n > int(limit) {
		return problem(http.StatusRequestEntityTooLarge, CodeTooLarge, "The request body is too large.").
			withDetail(fmt.Sprintf("at most %d bytes of JSON are accepted", limit))
	}
	body, err := io.ReadAll(io.LimitReader(c.Context().RequestBodyStream(), limit+1))
	if err != nil {
		return problem(http.StatusBadRequest, CodeInvalidJSON, "The request body could not be read.").withCause(err)
	}
	if int64(len(body)) > limit {
		return problem(http.StatusRequestEntityTooLarge, CodeTooLarge, "The request body is too large.").
			withDetail(fmt.Sprintf("at most %d bytes of JSON are accepted", limit))
	}
	return decodeStrict(body, dst)
}

// decodeStrict decodes one JSON value into dst with the one strict decoder
// (internal/strictjson): unknown, duplicate and case-variant keys, trailing
// data, invalid UTF-8 and deep nesting are refused, each naming the key;
// then every string is held to checkStrings' bounds.
func decodeStrict(body []byte, dst any) error {
	err := strictjson.Decode(body, dst)
	if err == nil {
		return checkStrings(dst)
	}
	var e *strictjson.Error
	if !errors.As(err, &e) || e.Syntax() {
		msg := err.Error()
		if e != nil {
			msg = e.Message
		}
		return problem(http.StatusBadRequest, CodeInvalidJSON, "The request body is not valid JSON.").withDetail(msg)
	}
	return fieldProblem(e.Field, e.Rule, e.Message)
}

func fieldProblem(field, rule, msg string) *Error {
	e := problem(http.StatusBadRequest, CodeInvalidRequest, "The request is not valid.").withDetail(field + ": " + msg)
	e.Fields = []api.FieldError{{Field: field, Rule: rule, Message: msg}}
	return e
}
