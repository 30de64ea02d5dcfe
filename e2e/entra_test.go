package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/client"
	"github.com/gatehouse-gw/gatehouse/compliance"
	"github.com/gatehouse-gw/gatehouse/config"
	"github.com/gatehouse-gw/gatehouse/devenv/testenv"
)

// entraTenant is the shape of a Microsoft Entra ID tenant: its v2.0 issuer,
// an app registration (the audience) and RSA signing keys published as Entra
// publishes them, without alg.
type entraTenant struct {
	tenant, issuer, clientID string
	key                      *rsa.PrivateKey
	kid                      string
	jwksFile                 string
}

func newEntraTenant(t *testing.T) *entraTenant {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	tn := &entraTenant{
		tenant:   "9188040d-6c67-4c5b-b112-36a304b66dad",
		clientID: "6731de76-14a6-49ae-97bc-6eba6914391e",
		key:      key,
		kid:      "nOo3ZDrODXEK1jKWhXslHR_KXEg",
	}
	tn.issuer = "https://login.microsoftonline.com/" + tn.tenant + "/v2.0"
	pub, err := jwk.Import(key.Public())
	require.NoError(t, err)
	raw, err := json.Marshal(pub)
	require.NoError(t, err)
	var k map[string]any
	require.NoError(t, json.Unmarshal(raw, &k))
	sum := sha1.Sum([]byte(tn.kid)) // x5t stands for a certificate thumbprint; only its shape matters here
	k["kid"], k["use"], k["x5t"], k["issuer"] = tn.kid, "sig", base64.RawURLEncoding.EncodeToString(sum[:]), tn.issuer
	doc, err := json.Marshal(map[string]any{"keys": []any{k}})
	require.NoError(t, err)
	require.NotContains(t, string(doc), `"alg"`)
	tn.jwksFile = filepath.Join(t.TempDir(), "entra-keys.json")
	require.NoError(t, os.WriteFile(tn.jwksFile, doc, 0o600))
	return tn
}

// token signs a v2.0 access token for the person: sub is pairwise (differs
// per app), oid is the stable id, roles carries app roles.
func (tn *entraTenant) token(t *testing.T, oid, name, upn string, roles ...string) string {
	t.Helper()
	now := time.Now()
	tok, err := jwt.NewBuilder().Issuer(tn.issuer).Audience([]string{tn.clientID}).
		Subject("AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ-"+oid[:4]).IssuedAt(now).NotBefore(now).Expiration(now.Add(time.Hour)).
		Claim("ver", "2.0").Claim("tid", tn.tenant).Claim("azp", tn.clientID).Claim("scp", "Gatehouse.Admin").
		Claim("oid", oid).Claim("name", name).Claim("preferred_username", upn).Claim("roles", roles).Build()
	require.NoError(t, err)
	priv, err := jwk.Import(tn.key)
	require.NoError(t, err)
	require.NoError(t, priv.Set(jwk.KeyIDKey, tn.kid))
	b, err := jwt.Sign(tok, jwt.WithKey(jwa.RS256(), priv))
	require.NoError(t, err)
	return string(b)
}

// An Entra ID tenant's keys (RSA, no alg) pass `config check` and start the
// gateway alike; a v2 token names the person by oid in the audit and by
// name in the audit entry and the export.
func TestEntraIDTokens(t *testing.T) {
	tn := newEntraTenant(t)
	entra := func(c *config.Config) {
		c.Admin.JWKSFile, c.Admin.Issuer, c.Admin.Audience, c.Admin.IDClaim = tn.jwksFile, tn.issuer, tn.clientID, "oid"
	}
	gw := testenv.StartGateway(t, testenv.GatewayOptions{Configure: entra})

	t.Setenv("GATEHOUSE_ADMIN_JWKS_FILE", tn.jwksFile)
	t.Setenv("GATEHOUSE_ADMIN_ISSUER", tn.issuer)
	t.Setenv("GATEHOUSE_ADMIN_AUDIENCE", tn.clientID)
	t.Setenv("GATEHOUSE_ADMIN_ID_CLAIM", "oid")
	out, _, err := gatehouse(t, "config", "check", "--config", gw.Env.ConfigFile)
	require.NoError(t, err, out)
	require.Contains(t, out, "✓ admin.jwks_file: 1 token-signing key(s)")

	const oid = "00000000-0000-0000-66f3-3332eca7ea81"
	adm, err := client.NewAdmin(client.AdminConfig{URL: gw.AdminURL, Token: tn.token(t, oid, "Dana Okafor", "dana.okafor@northshire.gov.uk", "dpo"), CAFile: gw.Env.CAFile()})
	require.NoError(t, err)
	ctx := context.Background()
	sub, roles, err := adm.WhoAmI(ctx)
	require.NoError(t, err)
	require.Equal(t, oid, sub)
	require.Equal(t, []string{"dpo"}, roles)

	exp, err := adm.Export(ctx, compliance.KindAgreements, url.Values{"format": {"json"}})
	require.NoError(t, err)
	body, err := io.ReadAll(exp.Body)
	exp.Body.Close()
	require.NoError(t, err)
	var doc struct {
		RequestedBy     string `json:"requested_by"`
		RequestedByName string `json:"requested_by_name"`
	}
	require.NoError(t, json.Unmarshal(body, &doc))
	require.Equal(t, oid, doc.RequestedBy)
	require.Equal(t, "Dana Okafor", doc.RequestedByName)
	keys, err := adm.JWKS(ctx)
	require.NoError(t, err)
	meta, err := compliance.Verify([]byte(exp.Signature), bytes.NewReader(body), keys)
	require.NoError(t, err)
	require.Equal(t, "Dana Okafor", meta.RequestedByName, "the signed description names the person too")

	entries := adminEntries(t, gw)[compliance.AuditExportGenerated]
	require.NotEmpty(t, entries)
	last := entries[len(entries)-1]
	require.Equal(t, oid, last.Actor)
	require.Equal(t, "Dana Okafor", last.Detail["actor_name"])

	// A token of another tenant, or signed PS256 with the RS256 key, is refused.
	other := newEntraTenant(t)
	bad, err := client.NewAdmin(client.AdminConfig{URL: gw.AdminURL, Token: other.token(t, oid, "Mallory", "m@evil.test", "dpo"), CAFile: gw.Env.CAFile()})
	require.NoError(t, err)
	_, _, err = bad.WhoAmI(ctx)
	require.Error(t, err)
}
