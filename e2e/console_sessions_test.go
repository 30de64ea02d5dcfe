package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/compliance"
	"github.com/gatehouse-gw/gatehouse/devenv/testenv"
)

// Console sessions are kept in the database the nodes share: a session
// made on node A works on node B, an export made on A downloads from B,
// and signing out (on B) ends the session on both, so that a copied cookie
// stops working at once rather than at its timeout.
func TestConsoleSessionRevoked(t *testing.T) {
	dsn := testenv.Postgres(t)
	a := testenv.StartGateway(t, testenv.GatewayOptions{Postgres: true, DSN: dsn, Console: true})
	b := testenv.StartGateway(t, testenv.GatewayOptions{Postgres: true, DSN: dsn, Console: true, IdP: a.IdP,
		Dir: a.Env.Dir, Bucket: a.Env.Config.Objects.Bucket})
	require.NotEqual(t, a.ConsoleURL, b.ConsoleURL)

	br := newBrowser(t, a)
	br.signIn(t, dana)
	cookies, err := chromedp.Call(br.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{a.ConsoleURL + "/"}})
	require.NoError(t, err)
	var copied string
	for _, c := range cookies.Cookies {
		if c.Name == "__Host-gatehouse-console" {
			require.True(t, c.HTTPOnly && c.Secure)
			copied = c.Value
		}
	}
	require.NotEmpty(t, copied, "the browser holds the session cookie")
	require.NotContains(t, copied, "Dana", "the cookie holds an id, not the session")

	// The copied cookie, from another client, on either node.
	// The console's pages are not the admin API: a plain client, no
	// OpenAPI check.
	ca, err := os.ReadFile(a.Env.CAFile())
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(ca))
	hc := &http.Client{
		Timeout:       30 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	get := func(node *testenv.Gateway) (int, string) {
		req, err := http.NewRequest(http.MethodGet, node.ConsoleURL+"/parties", nil)
		require.NoError(t, err)
		req.AddCookie(&http.Cookie{Name: "__Host-gatehouse-console", Value: copied})
		resp, err := hc.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Location")
	}
	for _, node := range []*testenv.Gateway{a, b} {
		code, _ := get(node)
		require.Equal(t, http.StatusOK, code, "a live session works on %s", node.ConsoleURL)
	}

	// An export made on node A is downloaded, with its signature, from
	// node B, and verifies.
	br.run(t, chromedp.Navigate(a.ConsoleURL+"/exports/agreements?format=json"), chromedp.WaitVisible(css("#export-file")))
	fileURL := eval[string](t, br, `document.querySelector('#export-file').getAttribute('href')`)
	sigURL := eval[string](t, br, `document.querySelector('#export-sig').getAttribute('href')`)
	download := func(path string) string {
		req, err := http.NewRequest(http.MethodGet, strings.TrimSuffix(b.ConsoleURL, "/console")+path, nil)
		require.NoError(t, err)
		req.AddCookie(&http.Cookie{Name: "__Host-gatehouse-console", Value: copied})
		resp, err := hc.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return string(body)
	}
	body, sig := download(fileURL), download(sigURL)
	keys, err := b.Admin(t, "aziz", "auditor").JWKS(context.Background())
	require.NoError(t, err)
	meta, err := compliance.Verify([]byte(sig), strings.NewReader(body), keys)
	require.NoError(t, err)
	require.Equal(t, person(t, dana).ID, meta.RequestedBy)

	// The same browser on node B (cookies are not kept per port): still
	// signed in, with no second sign-in.
	br.gw = b
	br.run(t, chromedp.Navigate(b.ConsoleURL+"/parties"), chromedp.WaitVisible(css("#signed-in-as")))
	require.Equal(t, person(t, dana).Name, br.text(t, "#signed-in-as"))
	require.True(t, strings.HasPrefix(br.location(t), b.ConsoleURL), br.location(t))
	br.checkA11y(t, "parties on node B")

	// Signing out on node B ends the session on both nodes.
	br.run(t, chromedp.Click(css("#sign-out")), chromedp.WaitVisible(css("#signed-out")))
	for _, node := range []*testenv.Gateway{a, b} {
		code, loc := get(node)
		require.Equal(t, http.StatusSeeOther, code, "a copied cookie is refused on %s after sign-out", node.ConsoleURL)
		require.Contains(t, loc, "/console/sign-in")
	}
	br.gw = a
	br.run(t, chromedp.Navigate(a.ConsoleURL+"/parties"), chromedp.WaitVisible(css("#sign-in")))
	require.Contains(t, br.location(t), "/console/sign-in")
}
