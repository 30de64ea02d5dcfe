package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/config"
	"github.com/gatehouse-gw/gatehouse/devenv"
	"github.com/gatehouse-gw/gatehouse/devenv/testenv"
)

// /metrics on the admin listener says what the gateway decided and how
// fast it answered, committed and sealed, with party and agreement labels
// and never a subject identifier.
func TestMetrics(t *testing.T) {
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	council := gw.Client(t, "council.revenues")
	_, err := council.Send(ctx, policeDisclosure(1000), bytes.NewReader(randomBytes(t, 1000)))
	require.NoError(t, err)
	refused := policeDisclosure(16)
	refused.Purpose = "marketing"
	_, err = council.Declare(ctx, refused)
	requireProblem(t, err, 403, "refused")
	_, err = gw.App.Checkpointer.Once(ctx, true)
	require.NoError(t, err)

	// /metrics names parties and agreements: an auditor's or admin's
	// token only.
	hc := testenv.HTTPClient(t, gw.Env.CAFile())
	scrape := func(url, token string) (int, string) {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		require.NoError(t, err)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := hc.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	status, _ := scrape(gw.AdminURL+"/metrics", "")
	require.Equal(t, http.StatusUnauthorized, status)
	status, _ = scrape(gw.AdminURL+"/metrics", gw.Token(t, "dana", "dpo"))
	require.Equal(t, http.StatusForbidden, status)
	status, text := scrape(gw.AdminURL+"/metrics", gw.Token(t, "aziz", "auditor"))
	require.Equal(t, http.StatusOK, status)
	for _, want := range []string{
		`gatehouse_decisions_total{agreement="police-crime",kind="exchange",outcome="allow",party="council.revenues"}`,
		`gatehouse_decisions_total{agreement="police-crime",kind="exchange",outcome="deny",party="council.revenues"}`,
		`gatehouse_sealed_bytes_total{agreement="police-crime",party="council.revenues"}`,
		`gatehouse_http_request_duration_seconds_bucket{listener="partner",method="POST",route="/v1/exchanges",status="201"`,
		`gatehouse_store_commit_duration_seconds_count`,
		`gatehouse_store_commit_batch_size_bucket`,
		`gatehouse_audit_entries_total`,
		`gatehouse_audit_checkpoints_total`,
		`gatehouse_party_certificate_expiry_days{party="council.revenues"`,
	} {
		require.Contains(t, text, want)
	}
	require.NotContains(t, text, "QQ123456C")
}

// admin.metrics_listen serves /metrics alone, without a token, for a
// Prometheus that reaches that address only.
func TestMetricsListen(t *testing.T) {
	t.Parallel()
	addr, err := devenv.FreeAddr()
	require.NoError(t, err)
	gw := testenv.StartGateway(t, testenv.GatewayOptions{Configure: func(c *config.Config) { c.Admin.MetricsListen = addr }})
	hc := testenv.HTTPClient(t, gw.Env.CAFile())
	resp, err := hc.Get("https://" + addr + "/metrics")
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(b), "gatehouse_audit_entries_total")
	for _, path := range []string{"/admin/v1/parties", "/v1/whoami", "/healthz"} {
		resp, err := hc.Get("https://" + addr + path)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusNotFound, resp.StatusCode, path)
	}
}

func TestOpenAPIServed(t *testing.T) {
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	for _, c := range []struct {
		url string
		hc  interface {
			Get(string) (*http.Response, error)
		}
	}{
		{gw.URL + "/openapi.json", testenv.PartyHTTPClient(t, gw, "council.revenues")},
		{gw.AdminURL + "/openapi.json", testenv.HTTPClient(t, gw.Env.CAFile())},
	} {
		resp, err := c.hc.Get(c.url)
		require.NoError(t, err)
		var doc struct {
			OpenAPI string         `json:"openapi"`
			Paths   map[string]any `json:"paths"`
		}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&doc))
		resp.Body.Close()
		require.Equal(t, "3.1.0", doc.OpenAPI)
		require.Contains(t, doc.Paths, "/v1/exchanges")
	}
}
