package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/client"
	"github.com/gatehouse-gw/gatehouse/cmd/gatehouse/cli"
	"github.com/gatehouse-gw/gatehouse/devenv"
	"github.com/gatehouse-gw/gatehouse/devenv/testenv"
)

// `gatehouse login` signs a person in through the development provider by
// the loopback flow (RFC 8252, PKCE) and keeps the access token, readable
// by the user alone; the admin commands then use it, and the gateway names
// the person by their stable id. `gatehouse logout` forgets it.
func TestLoginKeepsATokenForTheAdminCommands(t *testing.T) {
	// As `make run` configures it: the gateway trusts the development token
	// key (admin.issuer) and the development provider (admin.issuers), each
	// with its own keys, audience and claims.
	gw := testenv.StartGateway(t, testenv.GatewayOptions{Console: true})
	require.Len(t, gw.Env.Config.Admin.Issuers, 1)
	require.Equal(t, gw.IdP.Issuer, gw.Env.Config.Admin.Issuers[0].Issuer)
	require.NotEqual(t, gw.IdP.Issuer, gw.Env.Config.Admin.Issuer)
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	t.Setenv("GATEHOUSE_ADMIN_URL", gw.AdminURL)
	t.Setenv("GATEHOUSE_ADMIN_CA", gw.Env.CAFile())
	t.Setenv("GATEHOUSE_ADMIN_TOKEN", "")

	errR, errW := io.Pipe()
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		root := cli.NewRoot(&out, errW)
		root.SetArgs([]string{"login", "--issuer", gw.IdP.Issuer, "--client-id", devenv.CLIClientID})
		done <- root.ExecuteContext(context.Background())
		errW.Close()
	}()
	sc := bufio.NewScanner(errR)
	var authURL string
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "http") {
			authURL = sc.Text()
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, errR) }()
	require.Contains(t, authURL, "code_challenge_method=S256")

	// The person's browser: the provider's page, then the loopback answer.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	resp, err := browser.Get(authURL)
	require.NoError(t, err)
	resp.Body.Close()
	id := resp.Request.URL.Query().Get("authRequestID")
	require.NotEmpty(t, id)
	resp, err = browser.PostForm(gw.IdP.Issuer+"/login", url.Values{"authRequestID": {id}, "username": {dana}})
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Contains(t, string(page), "You are signed in")
	require.NoError(t, <-done)
	require.Contains(t, out.String(), "signed in; the admin commands use the token until")

	dir, err := os.UserConfigDir()
	require.NoError(t, err)
	st, err := os.Stat(filepath.Join(dir, "gatehouse", "admin-token.json"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	who, _, err := gatehouse(t, "parties", "list", "--output", "json")
	require.NoError(t, err, who)
	require.Contains(t, who, "police.northshire")
	var stored struct {
		AccessToken string `json:"access_token"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "gatehouse", "admin-token.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &stored))
	adm, err := client.NewAdmin(client.AdminConfig{URL: gw.AdminURL, Token: stored.AccessToken, CAFile: gw.Env.CAFile()})
	require.NoError(t, err)
	sub, roles, err := adm.WhoAmI(context.Background())
	require.NoError(t, err)
	require.Equal(t, person(t, dana).ID, sub)
	require.Equal(t, []string{"dpo"}, roles)

	// The development token key's tokens are accepted beside the provider's.
	sub, _, err = gw.Admin(t, "ann.admin", "admin").WhoAmI(context.Background())
	require.NoError(t, err)
	require.Equal(t, "ann.admin", sub)
	// A token of an issuer the gateway does not trust is refused, and so
	// is one that names a trusted issuer but is signed with other keys.
	stranger := newEntraTenant(t)
	for name, tok := range map[string]string{
		"unknown issuer":         stranger.token(t, person(t, dana).ID, "Dana Okafor", dana, "dpo"),
		"trusted issuer, forged": forgedAs(t, stranger, gw.IdP.Issuer, person(t, dana).ID),
	} {
		bad, err := client.NewAdmin(client.AdminConfig{URL: gw.AdminURL, Token: tok, CAFile: gw.Env.CAFile()})
		require.NoError(t, err)
		_, _, err = bad.WhoAmI(context.Background())
		p := requireProblem(t, err, http.StatusUnauthorized, "token-invalid")
		if name == "unknown issuer" {
			require.Contains(t, p.Detail, "issuer is not accepted", name)
		}
	}
	out2, _, err := gatehouse(t, "logout")
	require.NoError(t, err)
	require.Contains(t, out2, "signed out")
	_, _, err = gatehouse(t, "parties", "list")
	require.ErrorContains(t, err, "--token is required")
}

// forgedAs is a token that claims issuer and the development provider's
// audience but is signed with tn's key.
func forgedAs(t *testing.T, tn *entraTenant, issuer, oid string) string {
	t.Helper()
	now := time.Now()
	tok, err := jwt.NewBuilder().Issuer(issuer).Audience([]string{devenv.CLIClientID}).Subject(oid).
		IssuedAt(now).Expiration(now.Add(time.Hour)).Claim("oid", oid).Claim("roles", []string{"dpo"}).Build()
	require.NoError(t, err)
	priv, err := jwk.Import(tn.key)
	require.NoError(t, err)
	require.NoError(t, priv.Set(jwk.KeyIDKey, tn.kid))
	b, err := jwt.Sign(tok, jwt.WithKey(jwa.RS256(), priv))
	require.NoError(t, err)
	return string(b)
}
