package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/devenv"
	"github.com/gatehouse-gw/gatehouse/devenv/testenv"
)

// TestJSClient runs the reference TypeScript/JavaScript partner client's
// own tests (clients/js, node --test) against a real gateway: council
// revenues sends to Northshire Police in one request and in two, the police
// find it in their inbox, open the envelope, verify it, decrypt and
// acknowledge; a refusal carries its checks. Its types are the ones
// openapi-typescript generates from api/openapi.yaml today, and it
// type-checks against them.
func TestJSClient(t *testing.T) {
	t.Parallel()
	root, err := devenv.ModuleRoot()
	require.NoError(t, err)
	dir := filepath.Join(root, "clients", "js")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "jose")); err != nil {
		t.Fatalf("clients/js/node_modules is missing: run 'make test' (it runs npm ci in clients/js)")
	}
	node, err := exec.LookPath("node")
	require.NoError(t, err, "Node.js is needed for the JavaScript client's tests")
	bin := func(name string) string { return filepath.Join(dir, "node_modules", name) }

	// The types are generated from the OpenAPI document as it is now (the
	// file is not committed, so it cannot fall behind), and the client
	// type-checks against them.
	out, err := runNode(node, bin("openapi-typescript/bin/cli.js"), filepath.Join(root, "api", "openapi.yaml"), "--output", filepath.Join(dir, "src", "schema.d.ts"))
	require.NoError(t, err, "openapi-typescript: %s", out)
	out, err = runNodeIn(dir, nil, node, bin("typescript/bin/tsc"), "--project", "tsconfig.json")
	require.NoError(t, err, "tsc: %s", out)

	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	env := []string{
		"GATEHOUSE_URL=" + gw.URL,
		"GATEHOUSE_CA=" + gw.Env.CAFile(),
		"GATEHOUSE_SENDER_CERT=" + gw.Env.CertFile("council.revenues"),
		"GATEHOUSE_SENDER_KEY=" + gw.Env.KeyFile("council.revenues"),
		"GATEHOUSE_RECIPIENT_CERT=" + gw.Env.CertFile("police.northshire"),
		"GATEHOUSE_RECIPIENT_KEY=" + gw.Env.KeyFile("police.northshire"),
		"GATEHOUSE_RECIPIENT_JWK=" + gw.Env.EncryptionKeyFile("police.northshire"),
	}
	out, err = runNodeIn(dir, env, node, "--test", "--test-reporter=tap", "test/")
	require.NoError(t, err, "node --test:\n%s", out)
	require.Contains(t, out, "# fail 0")
	require.Contains(t, out, "# skipped 0", "a test was skipped:\n%s", out)
}
