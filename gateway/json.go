package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-gw/gatehouse/api"
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

// decodeStrict decodes one JSON value into dst, refusing unknown keys and
// trailing data, and names the field of any type error.
func decodeStrict(body []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	if err == nil {
		if _, tokErr := dec.Token(); tokErr != io.EOF {
			return problem(http.StatusBadRequest, CodeInvalidJSON, "The request body is not valid JSON.").
				withDetail("unexpected data after the JSON object")
		}
		return nil
	}
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syntax):
		return problem(http.StatusBadRequest, CodeInvalidJSON, "The request body is not valid JSON.").
			withDetail(fmt.Sprintf("at byte %d: %v", syntax.Offset, syntax))
	case errors.As(err, &typ):
		field := jsonPath(typ.Field)
		if field == "" {
			field = "(body)"
		}
		return fieldProblem(field, "type", fmt.Sprintf("must be %s, not %s", jsonKind(typ.Type.Kind().String()), typ.Value))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return fieldProblem(field, "unknown-field", "is not a field of this request")
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return problem(http.StatusBadRequest, CodeInvalidJSON, "The request body is not valid JSON.").withDetail("the body is empty or cut short")
	}
	// Errors from custom unmarshalers (dates, durations) name their rule.
	return problem(http.StatusBadRequest, CodeInvalidJSON, "The request body is not valid JSON.").withDetail(err.Error())
}

// jsonPath writes encoding/json's dotted field path ("subjects.0.type") the
// way validation errors name fields: "subjects[0].type".
func jsonPath(dotted string) string {
	if dotted == "" {
		return ""
	}
	var b strings.Builder
	for i, part := range strings.Split(dotted, ".") {
		if _, err := strconv.Atoi(part); err == nil && i > 0 {
			b.WriteString("[" + part + "]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(part)
	}
	return b.String()
}

func fieldProblem(field, rule, msg string) *Error {
	e := problem(http.StatusBadRequest, CodeInvalidRequest, "The request is not valid.").withDetail(field + ": " + msg)
	e.Fields = []api.FieldError{{Field: field, Rule: rule, Message: msg}}
	return e
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "int", "int64", "int32", "uint", "uint64", "float64":
		return "a number"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "struct", "map", "ptr":
		return "an object"
	}
	return goKind
}
