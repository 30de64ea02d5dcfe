package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/client"
	"github.com/gatehouse-gw/gatehouse/devenv"
	"github.com/gatehouse-gw/gatehouse/devenv/testenv"
	"github.com/gatehouse-gw/gatehouse/exchange/seal"
)

// TestEnvelopeOpensWithAnIndependentJOSELibrary: panva/jose (npm), not the
// jwx library the gateway uses, decrypts the envelope with the recipient's
// key and verifies the gateway's signature against its published JWKS; the
// manifest it yields decrypts the payload.
func TestEnvelopeOpensWithAnIndependentJOSELibrary(t *testing.T) {
	root, err := devenv.ModuleRoot()
	require.NoError(t, err)
	script := filepath.Join(root, "interop", "open-envelope.mjs")
	if _, err := os.Stat(filepath.Join(root, "interop", "node_modules", "jose")); err != nil {
		t.Fatalf("interop/node_modules is missing: run 'make test' (it runs npm ci in interop/)")
	}
	node, err := exec.LookPath("node")
	require.NoError(t, err, "Node.js is needed for the interoperability test")

	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	payload := []byte("Case NP-2026-0142: council tax account 44581220, arrears £1,204.50\n")
	e, err := gw.Client(t, "council.revenues").Send(ctx, policeDisclosure(int64(len(payload))), bytes.NewReader(payload))
	require.NoError(t, err)

	police := gw.Client(t, "police.northshire")
	env, err := police.Envelope(ctx, e.ID)
	require.NoError(t, err)
	keys, err := police.GatewayKeys(ctx)
	require.NoError(t, err)
	dir := t.TempDir()
	jwks, err := json.Marshal(keys)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "envelope.jwe"), env, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "jwks.json"), jwks, 0o600))

	cmd := exec.Command(node, script, filepath.Join(dir, "envelope.jwe"), gw.Env.EncryptionKeyFile("police.northshire"), filepath.Join(dir, "jwks.json"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "node: %s", stderr.String())

	var opened struct {
		JWE      map[string]any `json:"jwe"`
		JWS      map[string]any `json:"jws"`
		Manifest seal.Manifest  `json:"manifest"`
	}
	require.NoError(t, json.Unmarshal(out, &opened))
	require.Equal(t, "ECDH-ES+A256KW", opened.JWE["alg"])
	require.Equal(t, "A256GCM", opened.JWE["enc"])
	require.Equal(t, "ES256", opened.JWS["alg"])
	require.Equal(t, seal.ManifestType, opened.JWS["typ"])
	m := opened.Manifest
	require.Equal(t, e.ID, m.Exchange)
	require.Equal(t, "police-crime@1", m.Agreement)
	require.Equal(t, e.Payload.SHA256, m.Plaintext.SHA256)

	// That manifest alone decrypts the stored ciphertext.
	body, err := police.PayloadReader(ctx, e.ID, 0)
	require.NoError(t, err)
	defer body.Close()
	var plain bytes.Buffer
	require.NoError(t, client.Decrypt(&m, body, &plain))
	require.Equal(t, string(payload), plain.String())

	// And a tampered signature is refused by the independent verifier too.
	forged := strings.Replace(string(jwks), `"x":"`, `"x":"A`, 1)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "jwks.json"), []byte(forged), 0o600))
	cmd = exec.Command(node, script, filepath.Join(dir, "envelope.jwe"), gw.Env.EncryptionKeyFile("police.northshire"), filepath.Join(dir, "jwks.json"))
	require.Error(t, cmd.Run())
}
