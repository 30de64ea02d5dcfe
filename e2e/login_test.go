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

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/client"
	"github.com/gatehouse-gw/gatehouse/cmd/gatehouse/cli"
	"github.com/gatehouse-gw/gatehouse/config"
	"github.com/gatehouse-gw/gatehouse/devenv"
	"github.com/gatehouse-gw/gatehouse/devenv/testenv"
)

// `gatehouse login` signs a person in through the development provider by
// the loopback flow (RFC 8252, PKCE) and keeps the access token, readable
// by the user alone; the admin commands then use it, and the gateway names
// the person by their stable id. `gatehouse logout` forgets it.
func TestLoginKeepsATokenForTheAdminCommands(t *testing.T) {
	// The gateway trusts the development provider's access tokens.
	trustIdP := func(c *config.Config) {
		resp, err := http.Get(c.Console.Issuer + "/keys")
		require.NoError(t, err)
		defer resp.Body.Close()
		keys, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		path := filepath.Join(t.TempDir(), "idp-keys.json")
		require.NoError(t, os.WriteFile(path, keys, 0o600))
		c.Admin.JWKSFile, c.Admin.Issuer, c.Admin.Audience, c.Admin.IDClaim = path, c.Console.Issuer, devenv.CLIClientID, "oid"
	}
	gw := testenv.StartGateway(t, testenv.GatewayOptions{Console: true, Configure: trustIdP})
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
	out2, _, err := gatehouse(t, "logout")
	require.NoError(t, err)
	require.Contains(t, out2, "signed out")
	_, _, err = gatehouse(t, "parties", "list")
	require.ErrorContains(t, err, "--token is required")
}
