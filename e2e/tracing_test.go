package e2e

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	collector "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/gatehouse-gw/gatehouse/config"
	"github.com/gatehouse-gw/gatehouse/devenv/testenv"
)

// With tracing.endpoint set, every request and object-store transfer is a
// span sent over OTLP/HTTP, continuing a trace the caller started.
func TestTracing(t *testing.T) {
	var (
		mu    sync.Mutex
		spans = map[string][]byte{} // name → trace id
	)
	otlp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req collector.ExportTraceServiceRequest
		if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		mu.Lock()
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					spans[s.Name] = s.TraceId
				}
			}
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(nil)
	}))
	defer otlp.Close()

	gw := testenv.StartGateway(t, testenv.GatewayOptions{Configure: func(c *config.Config) {
		c.Tracing.Endpoint = otlp.URL
	}})
	ctx := context.Background()
	// The two steps of a disclosure: a declaration, then its upload.
	council := gw.Client(t, "council.revenues")
	e, err := council.Declare(ctx, policeDisclosure(64))
	require.NoError(t, err)
	_, err = council.Upload(ctx, e.ID, bytes.NewReader(randomBytes(t, 64)), 64)
	require.NoError(t, err)

	// A partner that started a trace of its own.
	req, err := http.NewRequest(http.MethodGet, gw.URL+"/v1/whoami", nil)
	require.NoError(t, err)
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	resp, err := testenv.PartyHTTPClient(t, gw, "council.revenues").Do(req)
	require.NoError(t, err)
	resp.Body.Close()

	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	require.NoError(t, gw.App.Shutdown(sctx), "shutting down flushes the spans")
	mu.Lock()
	defer mu.Unlock()
	for _, name := range []string{"POST /v1/exchanges", "PUT /v1/exchanges/:id/payload", "objects.put", "GET /v1/whoami"} {
		require.Contains(t, spans, name)
	}
	require.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", hexOf(spans["GET /v1/whoami"]), "the caller's trace continues")
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}
