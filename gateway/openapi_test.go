package gateway

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/api"
)

type openAPIDoc struct {
	Paths map[string]map[string]json.RawMessage `json:"paths"`
}

var pathParam = regexp.MustCompile(`:([a-z]+)`)

// routes lists "METHOD /path" for every route a server serves, in OpenAPI's
// path syntax.
func routes(s *Server) []string {
	var out []string
	for _, r := range s.App().GetRoutes(true) {
		if r.Method == http.MethodHead || r.Method == "USE" {
			continue
		}
		out = append(out, r.Method+" "+pathParam.ReplaceAllString(r.Path, "{$1}"))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// The OpenAPI document describes exactly the routes the two listeners
// serve: no route undocumented, no documented route missing.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	b, err := api.OpenAPIJSON()
	require.NoError(t, err)
	var doc openAPIDoc
	require.NoError(t, json.Unmarshal(b, &doc))
	var documented []string
	for path, ops := range doc.Paths {
		for method := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	slices.Sort(documented)

	common := Common{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	served := slices.Concat(routes(New(PartnerOptions{Common: common})), routes(NewAdmin(AdminOptions{Common: common})))
	slices.Sort(served)
	served = slices.Compact(served)
	for _, r := range served {
		require.Contains(t, documented, r, "the route %s is not in api/openapi.yaml", r)
	}
	for _, d := range documented {
		require.Contains(t, served, d, "api/openapi.yaml documents %s, which no listener serves", d)
	}
}
