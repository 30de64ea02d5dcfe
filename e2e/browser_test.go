package e2e

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/devenv"
	"github.com/gatehouse-gw/gatehouse/devenv/testenv"
)

// browser is headless Chromium (Debian's chromium, installed by
// scripts/ensure-chromium.sh) driven over the DevTools protocol. It trusts
// the gateway's certificate by its public key only
// (--ignore-certificate-errors-spki-list), not every certificate.
type browser struct {
	ctx context.Context
	gw  *testenv.Gateway
}

func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("GATEHOUSE_TEST_CHROMIUM"); p != "" {
		return p
	}
	p, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed: run scripts/ensure-chromium.sh (make test does)")
	}
	return p
}

func spki(t *testing.T, certFile string) string {
	t.Helper()
	b, err := os.ReadFile(certFile)
	require.NoError(t, err)
	block, _ := pem.Decode(b)
	require.NotNil(t, block)
	cert, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

func newBrowser(t *testing.T, gw *testenv.Gateway) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("ignore-certificate-errors-spki-list", spki(t, gw.Env.Config.TLS.CertFile)),
		chromedp.NoSandbox, // the tests run as root in CI
		chromedp.WindowSize(1280, 1000),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA() })
	require.NoError(t, chromedp.Do(ctx))
	return &browser{ctx: ctx, gw: gw}
}

func (b *browser) run(t *testing.T, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	require.NoError(t, chromedp.Do(b.ctx, actions...))
}

// text is the rendered text of the first element sel matches, once the
// page has loaded; read in the page, so that it does not hold a node id
// across a navigation.
func (b *browser) text(t *testing.T, sel string) string {
	t.Helper()
	q, err := json.Marshal(sel)
	require.NoError(t, err)
	s := eval[string](t, b, `new Promise(done => {
		const read = () => { const e = document.querySelector(`+string(q)+`); done(e ? e.innerText : ''); };
		if (document.readyState === 'complete') read(); else addEventListener('load', read);
	})`)
	return strings.TrimSpace(s)
}

func (b *browser) location(t *testing.T) string {
	t.Helper()
	u, err := chromedp.Run(b.ctx, chromedp.Location())
	require.NoError(t, err)
	return u
}

// eval runs JavaScript in the page (awaiting a promise) and returns its
// value.
func eval[T any](t *testing.T, b *browser, js string) T {
	t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	return v
}

func css(sel string) chromedp.CSS { return chromedp.CSS(sel) }

// signIn signs in through the development provider as the demo person.
func (b *browser) signIn(t *testing.T, username string) {
	t.Helper()
	b.run(t,
		chromedp.Navigate(b.gw.ConsoleURL+"/"),
		chromedp.WaitVisible(css("#sign-in")),
	)
	require.Contains(t, b.location(t), "/console/sign-in", "a person not signed in is sent to sign in")
	b.run(t,
		chromedp.Click(css("#sign-in")),
		chromedp.WaitVisible(css(`input[value="`+username+`"]`)),
		chromedp.Click(css(`input[value="`+username+`"]`)),
		chromedp.Click(css("#sign-in")),
		chromedp.WaitVisible(css("#signed-in-as")),
	)
}

var (
	axeOnce   sync.Once
	axeSource string
	axeErr    error
)

// checkA11y runs axe-core in the page: no WCAG 2.0, 2.1 or 2.2 A or AA
// rule may be violated.
func (b *browser) checkA11y(t *testing.T, what string) {
	t.Helper()
	axeOnce.Do(func() {
		root, err := devenv.ModuleRoot()
		if err != nil {
			axeErr = err
			return
		}
		src, err := os.ReadFile(filepath.Join(root, "interop", "node_modules", "axe-core", "axe.min.js"))
		axeSource, axeErr = string(src), err
	})
	require.NoError(t, axeErr, "interop/node_modules/axe-core is missing: run 'make test' (it runs npm ci in interop/)")
	_, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](axeSource+";true"))
	require.NoError(t, err)
	out := eval[string](t, b, `axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']}, resultTypes: ['violations']})
			.then(r => JSON.stringify(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))))`)
	var violations []map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &violations))
	require.Empty(t, violations, "axe-core found WCAG A/AA violations on %s: %s", what, out)
}

// pageTitle is the document's title.
func (b *browser) pageTitle(t *testing.T) string {
	t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Title())
	require.NoError(t, err)
	return strings.TrimSpace(s)
}

// void drops an action's value, to run it among steps.
func void[T any](a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := a(ctx, t)
		return chromedp.Void{}, err
	}
}
