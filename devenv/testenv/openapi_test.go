package testenv

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

// recorder is a testing.TB that keeps what Errorf reports.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// The check passes answers as the document describes them and reports
// every kind of drift: a body off its schema, an undocumented status, an
// undocumented media type, an operation the document does not have.
func TestOpenAPICheck(t *testing.T) {
	answers := map[string]struct {
		status      int
		contentType string
		body        string
	}{
		"/healthz":                 {200, "application/json", `{"status":"ok"}`},
		"/readyz":                  {200, "application/json", `{"status":"maybe"}`},
		"/pki/crl":                 {418, "application/pkix-crl", "crl"},
		"/openapi.json":            {200, "text/html", "<p>"},
		"/v1/whoami":               {200, "application/json", `{"party":"police.northshire","certificate_expires_at":"2027-01-01T00:00:00Z"}`},
		"/v1/exchanges/x/ack":      {200, "application/json", `{}`},
		"/no/such/route":           {404, "application/problem+json", `{}`},
		"/v1/exchanges/x/envelope": {500, "text/plain", "boom"},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := answers[r.URL.Path]
		w.Header().Set("Content-Type", a.contentType)
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, a.body)
	}))
	defer srv.Close()

	for path, wantErr := range map[string]bool{
		"/healthz": false, "/v1/whoami": false, "/no/such/route": false,
		"/readyz": true, "/pki/crl": true, "/openapi.json": true, "/v1/exchanges/x/envelope": true,
	} {
		t.Run(path, func(t *testing.T) {
			rec := &recorder{TB: t}
			hc := &http.Client{Transport: OpenAPICheck(rec, nil)}
			resp, err := hc.Get(srv.URL + path)
			require.NoError(t, err)
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			require.Equal(t, answers[path].body, string(b), "the body reaches the caller unchanged")
			if wantErr {
				require.Len(t, rec.errs, 1)
			} else {
				require.Empty(t, rec.errs)
			}
		})
	}
	// An operation the document has not got, under a path it has.
	rec := &recorder{TB: t}
	hc := &http.Client{Transport: OpenAPICheck(rec, nil)}
	resp, err := hc.Post(srv.URL+"/healthz", "application/json", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Len(t, rec.errs, 1)
}
