package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"slices"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwe"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/stretchr/testify/require"

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
