package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwe"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/devenv"
	"github.com/gatehouse-gw/gatehouse/devenv/testenv"
	"github.com/gatehouse-gw/gatehouse/exchange/seal"
)

// TestFormatDocumentsWithoutClientCertificate: what docs/format.md tells
// an implementer to fetch first — the OpenAPI document and the JWKS — is
// served on the admin listener to anyone, with no client certificate and no
// token; the partner listener serves nothing without a certificate. The
// JWKS marks what each key signs, and a real envelope's manifest is signed
// by the key marked for manifests.
func TestFormatDocumentsWithoutClientCertificate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	hc := testenv.HTTPClient(t, gw.Env.CAFile())

	get := func(url string) []byte {
		resp, err := hc.Get(url)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, url)
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return b
	}
	var doc struct {
		OpenAPI    string `json:"openapi"`
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(get(gw.AdminURL+"/openapi.json"), &doc))
	require.Equal(t, "3.1.0", doc.OpenAPI)
	require.Contains(t, doc.Components.Schemas, "Manifest")

	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	jwks := get(gw.AdminURL + "/.well-known/jwks.json")
	require.NoError(t, json.Unmarshal(jwks, &set))
	signs := map[string]string{}
	for _, k := range set.Keys {
		require.Equal(t, "sig", k["use"])
		require.Equal(t, "ES256", k["alg"])
		require.NotContains(t, k, "d", "a private key in the JWKS")
		what, _ := k[seal.SignsMember].(string)
		signs[k["kid"].(string)] = what
	}
	require.ElementsMatch(t, []string{seal.SignsManifests, seal.SignsAudit}, slices.Collect(maps.Values(signs)))

	_, err := hc.Get(gw.URL + "/.well-known/jwks.json")
	require.Error(t, err, "the partner listener answers without a client certificate")

	payload := []byte("Case NP-2026-0142: address history\n")
	council := gw.Client(t, "council.revenues")
	e, err := council.Send(ctx, policeDisclosure(int64(len(payload))), bytes.NewReader(payload))
	require.NoError(t, err)
	env, err := gw.Client(t, "police.northshire").Envelope(ctx, e.ID)
	require.NoError(t, err)
	recipient, err := seal.ReadKey(gw.Env.EncryptionKeyFile("police.northshire"))
	require.NoError(t, err)
	msg, err := jwe.Parse(env)
	require.NoError(t, err)
	cty, _ := msg.ProtectedHeaders().ContentType()
	require.Equal(t, seal.EnvelopeContentType, cty)
	signed, err := jwe.Decrypt(env, jwe.WithKey(jwa.ECDH_ES_A256KW(), recipient))
	require.NoError(t, err)
	sig, err := jws.Parse(signed)
	require.NoError(t, err)
	kid, _ := sig.Signatures()[0].ProtectedHeaders().KeyID()
	require.Equal(t, seal.SignsManifests, signs[kid], "the manifest is signed by the key marked for manifests")
}

// TestPayloadFormatInJavaScript: an implementation of docs/format.md in
// JavaScript, WebCrypto for the payload stream and panva/jose for the
// envelope, nothing of the gateway's code, checks every test vector and
// opens a real exchange of several segments: envelope, signature against
// the key marked for manifests, digests, plaintext. A ciphertext altered in
// storage is refused.
func TestPayloadFormatInJavaScript(t *testing.T) {
	t.Parallel()
	node, dir := interopNode(t)
	vectors := filepath.Join(filepath.Dir(dir), "exchange", "seal", "testdata", "vectors")
	out, err := runNode(node, filepath.Join(dir, "vectors.mjs"), vectors)
	require.NoError(t, err)
	require.Equal(t, 4, strings.Count(out, "\n"), "one line per vector: %s", out)
	require.Contains(t, out, `{"vector":"several-segments","segments":3,"plaintext":2098080}`)

	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	payload := make([]byte, 2*seal.SegmentSize+12345)
	_, _ = rand.Read(payload)
	e, err := gw.Client(t, "council.revenues").Send(ctx, policeDisclosure(int64(len(payload))), bytes.NewReader(payload))
	require.NoError(t, err)

	police := gw.Client(t, "police.northshire")
	env, err := police.Envelope(ctx, e.ID)
	require.NoError(t, err)
	body, err := police.PayloadReader(ctx, e.ID, 0)
	require.NoError(t, err)
	ciphertext, err := io.ReadAll(body)
	body.Close()
	require.NoError(t, err)
	tmp := t.TempDir()
	files := map[string][]byte{"envelope.jwe": env, "ciphertext": ciphertext}
	resp, err := testenv.HTTPClient(t, gw.Env.CAFile()).Get(gw.AdminURL + "/.well-known/jwks.json")
	require.NoError(t, err)
	files["jwks.json"], err = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	for name, b := range files {
		require.NoError(t, os.WriteFile(filepath.Join(tmp, name), b, 0o600))
	}
	open := func() (string, error) {
		return runNode(node, filepath.Join(dir, "open-payload.mjs"), filepath.Join(tmp, "envelope.jwe"),
			gw.Env.EncryptionKeyFile("police.northshire"), filepath.Join(tmp, "jwks.json"), filepath.Join(tmp, "ciphertext"), filepath.Join(tmp, "plain"))
	}
	out, err = open()
	require.NoError(t, err)
	var opened struct {
		Segments int            `json:"segments"`
		Manifest map[string]any `json:"manifest"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &opened))
	require.Equal(t, 3, opened.Segments)
	require.Equal(t, e.ID, opened.Manifest["exchange"])
	require.Equal(t, "police.northshire", opened.Manifest["recipient"])
	plain, err := os.ReadFile(filepath.Join(tmp, "plain"))
	require.NoError(t, err)
	require.True(t, bytes.Equal(payload, plain), "the JavaScript plaintext differs")

	// One bit altered in the middle segment: refused, nothing written.
	require.NoError(t, os.Remove(filepath.Join(tmp, "plain")))
	ciphertext[seal.SegmentSize+100] ^= 1
	require.NoError(t, os.WriteFile(filepath.Join(tmp, "ciphertext"), ciphertext, 0o600))
	_, err = open()
	require.ErrorContains(t, err, "SHA-256 differs")
	_, err = os.Stat(filepath.Join(tmp, "plain"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

// interopNode returns the node binary and the interop/ folder, whose
// dependencies make test installs.
func interopNode(t *testing.T) (string, string) {
	t.Helper()
	root, err := devenv.ModuleRoot()
	require.NoError(t, err)
	dir := filepath.Join(root, "interop")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "jose")); err != nil {
		t.Fatalf("interop/node_modules is missing: run 'make test' (it runs npm ci in interop/)")
	}
	node, err := exec.LookPath("node")
	require.NoError(t, err, "Node.js is needed for the interoperability tests")
	return node, dir
}

// runNode runs a script and returns its standard output; a failure's error
// carries its standard error.
func runNode(node string, args ...string) (string, error) {
	return runNodeIn("", nil, node, args...)
}

// runNodeIn is runNode in dir with env added to the environment.
func runNodeIn(dir string, env []string, node string, args ...string) (string, error) {
	cmd := exec.Command(node, args...)
	cmd.Dir = dir
	// The tools send no telemetry and look for no updates.
	cmd.Env = append(os.Environ(), "REDOCLY_TELEMETRY=off", "REDOCLY_SUPPRESS_UPDATE_NOTICE=true", "NO_UPDATE_NOTIFIER=1")
	cmd.Env = append(cmd.Env, env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("%w: %s", err, stderr.String())
	}
	return string(out), nil
}
