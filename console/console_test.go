package console

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func newTestConsole(t *testing.T) *Console {
	t.Helper()
	c, err := New(Options{SessionKey: make([]byte, 32), OIDC: OIDC{Issuer: "https://idp.northshire.test", ClientID: "console"}})
	require.NoError(t, err)
	return c
}

func TestSessionCookie(t *testing.T) {
	c := newTestConsole(t)
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	c.SetClock(func() time.Time { return now })
	s := &session{Subject: "oid-1", Name: "Dana", Roles: []string{"dpo"}, SignedIn: now, Seen: now, CSRF: "t"}
	val, err := c.box.seal(sessionCookie, s)
	require.NoError(t, err)
	req := func(v string) *http.Request {
		r := httptest.NewRequest("GET", "/console/", nil)
		r.AddCookie(&http.Cookie{Name: sessionCookie, Value: v})
		return r
	}
	require.Equal(t, "oid-1", c.current(req(val)).Subject)

	cases := map[string]string{
		"tampered": val[:len(val)-2] + "AA",
		"garbage":  "not-a-cookie",
		"too long": strings.Repeat("A", maxCookie+1),
	}
	other, err := c.box.seal(flowCookie, s)
	require.NoError(t, err)
	cases["another cookie's value"] = other
	for name, v := range cases {
		require.Nil(t, c.current(req(v)), name)
	}
	c.SetClock(func() time.Time { return now.Add(c.opts.IdleTimeout + time.Second) })
	require.Nil(t, c.current(req(val)), "idle too long")
	s.Seen = now.Add(c.opts.AbsoluteTimeout)
	val, err = c.box.seal(sessionCookie, s)
	require.NoError(t, err)
	c.SetClock(func() time.Time { return now.Add(c.opts.AbsoluteTimeout + time.Second) })
	require.Nil(t, c.current(req(val)), "past the absolute lifetime, though seen recently")
}

func TestSafeReturn(t *testing.T) {
	for in, want := range map[string]string{
		"/console/agreements?x=1": "/console/agreements?x=1",
		"https://evil.test/":      "/console/",
		"//evil.test/console/":    "/console/",
		"/consolex":               "/console/",
		"/console/\\evil":         "/console/",
		"":                        "/console/",
	} {
		require.Equal(t, want, safeReturn(in), in)
	}
}

func TestDiffLines(t *testing.T) {
	got := diffLines([]string{"a", "b", "c"}, []string{"a", "c", "d"})
	require.Equal(t, []diffLine{{"same", "a"}, {"removed", "b"}, {"same", "c"}, {"added", "d"}}, got)
	require.Len(t, diffLines(nil, []string{"x"}), 1)
}

func TestPostNeedsSessionCSRFAndOrigin(t *testing.T) {
	c := newTestConsole(t)
	now := time.Now()
	s := &session{Subject: "oid-1", Roles: []string{"admin"}, SignedIn: now, Seen: now, CSRF: "right"}
	val, err := c.box.seal(sessionCookie, s)
	require.NoError(t, err)
	post := func(form url.Values, origin string) int {
		r := httptest.NewRequest("POST", "https://gw.test/console/sign-out", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		r.AddCookie(&http.Cookie{Name: sessionCookie, Value: val})
		w := httptest.NewRecorder()
		c.ServeHTTP(w, r)
		return w.Code
	}
	require.Equal(t, http.StatusForbidden, post(url.Values{}, ""), "no token")
	require.Equal(t, http.StatusForbidden, post(url.Values{"csrf": {"wrong"}}, ""), "wrong token")
	require.Equal(t, http.StatusForbidden, post(url.Values{"csrf": {"right"}}, "https://evil.test"), "another origin")
	require.Equal(t, http.StatusSeeOther, post(url.Values{"csrf": {"right"}}, "https://gw.test"))
}

func TestEveryPageTemplateParses(t *testing.T) {
	c := newTestConsole(t)
	for _, name := range []string{"signin", "signedout", "error", "home", "agreements", "agreement", "diff", "draft", "overrides", "exports", "export", "report", "parties", "notifications"} {
		require.Contains(t, c.pages, name)
	}
}
