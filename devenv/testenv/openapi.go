package testenv

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/gatehouse-gw/gatehouse/api"
)

// maxCheckedBody bounds the JSON answers held for checking; no answer of
// the API comes near it.
const maxCheckedBody = 16 << 20

// openAPIRouter finds the operation of a request in api/openapi.yaml,
// whatever host and port the test gateway listens on.
var openAPIRouter = sync.OnceValues(func() (routers.Router, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(api.OpenAPIYAML)
	if err != nil {
		return nil, fmt.Errorf("api/openapi.yaml: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("api/openapi.yaml: %w", err)
	}
	doc.Servers = openapi3.Servers{{URL: "/"}}
	return gorillamux.NewRouter(doc)
})

// OpenAPICheck wraps base (nil: http.DefaultTransport) so that every answer
// it carries is checked against api/openapi.yaml: the operation exists, the
// status is documented for it, the media type is one it documents, and a
// JSON body (problems included) matches its schema. A mismatch fails t; the
// answer is passed on unchanged either way.
func OpenAPICheck(t testing.TB, base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &openAPICheck{t: t, base: base}
}

type openAPICheck struct {
	t    testing.TB
	base http.RoundTripper
}

func (c *openAPICheck) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	if err := checkAnswer(req, resp); err != nil {
		c.t.Errorf("%s %s answered %d, which api/openapi.yaml does not describe: %v", req.Method, req.URL.Path, resp.StatusCode, err)
	}
	return resp, nil
}

// checkAnswer checks resp against the operation of req. A JSON body is
// read and put back for the caller.
func checkAnswer(req *http.Request, resp *http.Response) error {
	router, err := openAPIRouter()
	if err != nil {
		return err
	}
	route, params, err := router.FindRoute(req)
	if err != nil {
		if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed {
			return nil // a route the API does not have, refused as such
		}
		return fmt.Errorf("no such operation: %w", err)
	}
	mediaType, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode == http.StatusNotFound && mediaType != api.MediaProblem {
		// Not a refusal of the API's but a listener that serves no such
		// path (admin.metrics_listen serves /metrics alone).
		return nil
	}
	isJSON := mediaType == api.MediaJSON || mediaType == api.MediaProblem
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true, ExcludeResponseBody: !isJSON},
	}
	if isJSON && resp.Body != nil && req.Method != http.MethodHead {
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxCheckedBody+1))
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("reading the answer: %w", err)
		}
		if len(b) > maxCheckedBody {
			return fmt.Errorf("a JSON answer of more than %d bytes", maxCheckedBody)
		}
		resp.Body = io.NopCloser(bytes.NewReader(b))
		in.SetBodyBytes(b)
	} else {
		in.SetBodyBytes(nil)
	}
	if err := openapi3filter.ValidateResponse(req.Context(), in); err != nil {
		return err
	}
	if isJSON || mediaType == "" {
		return nil
	}
	// Not a JSON body: its media type must still be one the status documents.
	r := route.Operation.Responses.Status(resp.StatusCode)
	if r == nil {
		r = route.Operation.Responses.Default()
	}
	if r == nil || r.Value == nil || r.Value.Content == nil {
		return fmt.Errorf("a %s body where none is documented", mediaType)
	}
	for documented := range r.Value.Content {
		if documented == mediaType || strings.HasSuffix(documented, "/*") && strings.HasPrefix(mediaType, strings.TrimSuffix(documented, "*")) {
			return nil
		}
	}
	return fmt.Errorf("media type %s is not documented for status %s", mediaType, strconv.Itoa(resp.StatusCode))
}
