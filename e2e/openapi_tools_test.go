package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestOpenAPILintsAndGeneratesClients: api/openapi.yaml passes Redocly's
// linter with its recommended rules (no error; warnings are reported, not
// fatal) and openapi-typescript generates types from it, the versions
// pinned by interop/package-lock.json.
func TestOpenAPILintsAndGeneratesClients(t *testing.T) {
	t.Parallel()
	node, dir := interopNode(t)
	spec := filepath.Join(filepath.Dir(dir), "api", "openapi.yaml")
	bin := func(name string) string { return filepath.Join(dir, "node_modules", name) }

	out, err := runNode(node, bin("@redocly/cli/bin/cli.js"), "lint", "--format=summary", spec)
	require.NoError(t, err, "redocly lint api/openapi.yaml:\n%s", out)

	types := filepath.Join(t.TempDir(), "schema.d.ts")
	out, err = runNode(node, bin("openapi-typescript/bin/cli.js"), spec, "--output", types)
	require.NoError(t, err, "openapi-typescript api/openapi.yaml:\n%s", out)
	b, err := os.ReadFile(types)
	require.NoError(t, err)
	for _, want := range []string{`"/v1/exchanges/{id}/envelope"`, "Manifest: {", "Problem: {", "Exchange: {"} {
		require.True(t, strings.Contains(string(b), want), "the generated types lack %s", want)
	}
}
