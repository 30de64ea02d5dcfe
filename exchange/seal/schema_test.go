package seal_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/exchange/seal"
)

const schemaFile = "../../docs/manifest.schema.json"

// manifestSchema builds the standalone JSON Schema (2020-12) of the
// manifest from its schemas in api/openapi.yaml, the one source of both.
func manifestSchema(t *testing.T) []byte {
	t.Helper()
	b, err := api.OpenAPIJSON()
	require.NoError(t, err)
	var doc struct {
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(b, &doc))
	defs := map[string]json.RawMessage{}
	for _, name := range []string{"ManifestDigest", "ManifestObject", "ManifestEncryption", "Minimisation"} {
		require.Contains(t, doc.Components.Schemas, name)
		defs[name] = doc.Components.Schemas[name]
	}
	var root map[string]any
	require.NoError(t, json.Unmarshal(doc.Components.Schemas["Manifest"], &root))
	root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	root["$id"] = "https://github.com/gatehouse-gw/gatehouse/docs/manifest.schema.json"
	root["title"] = "Gatehouse payload manifest"
	root["$defs"] = defs
	out, err := json.MarshalIndent(root, "", "  ")
	require.NoError(t, err)
	out = bytes.ReplaceAll(out, []byte(`"#/components/schemas/`), []byte(`"#/$defs/`))
	return append(out, '\n')
}

func compileSchema(t *testing.T, b []byte) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	require.NoError(t, c.AddResource("manifest.schema.json", doc))
	s, err := c.Compile("manifest.schema.json")
	require.NoError(t, err)
	return s
}

func validate(t *testing.T, s *jsonschema.Schema, b []byte) error {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	require.NoError(t, err)
	return s.Validate(v)
}

// TestManifestSchema: docs/manifest.schema.json is the manifest's schema
// of api/openapi.yaml (-update rewrites it), it is a valid JSON Schema,
// and the manifests of the test vectors and of the sealing code pass it.
func TestManifestSchema(t *testing.T) {
	want := manifestSchema(t)
	if *update {
		require.NoError(t, os.WriteFile(schemaFile, want, 0o644))
	}
	got, err := os.ReadFile(schemaFile)
	require.NoError(t, err, "run go test ./exchange/seal -run TestManifestSchema -update")
	require.Equal(t, string(want), string(got), "docs/manifest.schema.json differs from api/openapi.yaml: run go test ./exchange/seal -run TestManifestSchema -update")
	s := compileSchema(t, got)

	files, err := filepath.Glob(filepath.Join(vectorsDir, "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		var v struct {
			Manifest json.RawMessage `json:"manifest"`
		}
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, &v))
		require.NoError(t, validate(t, s, v.Manifest), f)
	}

	m := testManifest(seal.NewDataKey())
	m.Ciphertext = seal.Digest{Size: 61, SHA256: strings.Repeat("ab", 32)}
	m.Plaintext.SHA256 = strings.Repeat("cd", 32)
	m.Minimised = &seal.Minimisation{Format: "csv", Mode: "strip", Records: 2, Stripped: []string{"dob"}}
	b, err := json.Marshal(m)
	require.NoError(t, err)
	require.NoError(t, validate(t, s, b))

	for name, mutate := range map[string]func(map[string]any){
		"no data key":        func(m map[string]any) { delete(m["encryption"].(map[string]any), "key") },
		"other segment size": func(m map[string]any) { m["encryption"].(map[string]any)["segment_size"] = 4096 },
		"upper-case digest":  func(m map[string]any) { m["plaintext"].(map[string]any)["sha256"] = strings.Repeat("AB", 32) },
		"unknown version":    func(m map[string]any) { m["v"] = 3 },
	} {
		t.Run(name, func(t *testing.T) {
			var doc map[string]any
			require.NoError(t, json.Unmarshal(b, &doc))
			mutate(doc)
			bad, err := json.Marshal(doc)
			require.NoError(t, err)
			require.Error(t, validate(t, s, bad))
		})
	}
}
