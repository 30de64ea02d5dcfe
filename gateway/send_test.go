package gateway

import (
	"bytes"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const testBoundary = "gatehouse-test-boundary"

func oneRequestBody(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		b.WriteString("--" + testBoundary + "\r\n" + p)
	}
	b.WriteString("--" + testBoundary + "--\r\n")
	return b.String()
}

const (
	declarationOK = "Content-Disposition: form-data; name=\"declaration\"\r\nContent-Type: application/json\r\n\r\n{\"agreement\":\"nfi\",\"size\":4}\r\n"
	payloadOK     = "Content-Disposition: form-data; name=\"payload\"\r\n\r\ndata\r\n"
)

func TestReadDeclarationPart(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		status int
		code   string
		field  string
	}{
		{name: "ok/declaration-then-payload", body: oneRequestBody(declarationOK, payloadOK)},
		{name: "ok/declaration-without-content-type", body: oneRequestBody("Content-Disposition: form-data; name=\"declaration\"\r\n\r\n{}\r\n", payloadOK)},
		{name: "deny/payload-first", body: oneRequestBody(payloadOK, declarationOK), status: http.StatusBadRequest, code: CodeInvalidRequest, field: "declaration"},
		{name: "deny/empty", body: oneRequestBody(), status: http.StatusBadRequest, code: CodeInvalidRequest, field: "declaration"},
		{name: "deny/declaration-as-text", body: oneRequestBody("Content-Disposition: form-data; name=\"declaration\"\r\nContent-Type: text/plain\r\n\r\n{}\r\n"), status: http.StatusUnsupportedMediaType, code: CodeUnsupportedMedia},
		{name: "deny/unknown-field", body: oneRequestBody("Content-Disposition: form-data; name=\"declaration\"\r\n\r\n{\"colour\":1}\r\n"), status: http.StatusBadRequest, code: CodeInvalidRequest, field: "colour"},
		// The declaration part goes through the one strict JSON decoder.
		{name: "deny/duplicate-key", body: oneRequestBody("Content-Disposition: form-data; name=\"declaration\"\r\n\r\n{\"agreement\":\"nfi\",\"agreement\":\"hmrc-tax\"}\r\n"), status: http.StatusBadRequest, code: CodeInvalidRequest, field: "agreement"},
		{name: "deny/case-variant-key", body: oneRequestBody("Content-Disposition: form-data; name=\"declaration\"\r\n\r\n{\"Agreement\":\"nfi\"}\r\n"), status: http.StatusBadRequest, code: CodeInvalidRequest, field: "Agreement"},
		{name: "deny/trailing-data", body: oneRequestBody("Content-Disposition: form-data; name=\"declaration\"\r\n\r\n{} {}\r\n"), status: http.StatusBadRequest, code: CodeInvalidJSON},
		{name: "deny/declaration-too-large", body: oneRequestBody("Content-Disposition: form-data; name=\"declaration\"\r\n\r\n{\"justification\":\"" + strings.Repeat("x", 2000) + "\"}\r\n"), status: http.StatusRequestEntityTooLarge, code: CodeTooLarge},
		{name: "deny/cut-short", body: "--" + testBoundary + "\r\n" + "Content-Disposition: form-data; name=\"declaration\"\r\n\r\n{\"agr", status: http.StatusBadRequest, code: CodeInvalidRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mr := multipart.NewReader(strings.NewReader(tc.body), testBoundary)
			d, err := readDeclarationPart(mr, 1024)
			if tc.code == "" {
				require.NoError(t, err)
				require.NotNil(t, d)
				return
			}
			var e *Error
			require.True(t, errors.As(err, &e), "%v", err)
			require.Equal(t, tc.status, e.Status)
			require.Equal(t, tc.code, e.Code)
			if tc.field != "" {
				require.Equal(t, tc.field, e.Fields[0].Field)
			}
		})
	}
}

// Reading the declaration never reads the payload part.
func TestReadDeclarationPartLeavesThePayload(t *testing.T) {
	body := oneRequestBody(declarationOK, payloadOK)
	r := strings.NewReader(body)
	mr := multipart.NewReader(r, testBoundary)
	_, err := readDeclarationPart(mr, 1024)
	require.NoError(t, err)
	p, err := nextPart(mr, partPayload)
	require.NoError(t, err)
	got, err := io.ReadAll(p)
	require.NoError(t, err)
	require.Equal(t, "data", string(got))
}

func TestCappedReader(t *testing.T) {
	r := &cappedReader{r: strings.NewReader("0123456789"), left: 10}
	b, err := io.ReadAll(r)
	require.NoError(t, err)
	require.Equal(t, "0123456789", string(b))
	r = &cappedReader{r: strings.NewReader("0123456789x"), left: 10}
	_, err = io.ReadAll(r)
	require.ErrorIs(t, err, errOneRequestBody)
}

func FuzzReadDeclarationPart(f *testing.F) {
	f.Add([]byte(oneRequestBody(declarationOK, payloadOK)))
	f.Add([]byte(oneRequestBody(payloadOK)))
	f.Add([]byte("--" + testBoundary + "\r\nContent-Disposition: form-data; name=\"declaration\"\r\n\r\n{"))
	f.Fuzz(func(t *testing.T, body []byte) {
		mr := multipart.NewReader(&cappedReader{r: bytes.NewReader(body), left: 4096}, testBoundary)
		d, err := readDeclarationPart(mr, 1024)
		if errors.Is(err, errOneRequestBody) {
			return
		}
		if err != nil {
			var e *Error
			require.True(t, errors.As(err, &e), "%v", err)
			require.NotEmpty(t, e.Code)
			require.Nil(t, d)
			return
		}
		require.NotNil(t, d)
	})
}
