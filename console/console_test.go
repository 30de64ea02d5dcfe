package console

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/compliance"
	"github.com/gatehouse-gw/gatehouse/store"
)

func newTestConsole(t *testing.T) *Console {
	t.Helper()
	db, err := store.Open(context.Background(), store.SQLite, filepath.Join(t.TempDir(), "gatehouse.db"), nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	c, err := New(Options{State: db, SessionKey: make([]byte, 32), OIDC: OIDC{Issuer: "https://idp.northshire.test", ClientID: "console"}})
	require.NoError(t, err)
	return c
}

// signedInCookie starts a session for s and returns its cookie's value.
func signedInCookie(t *testing.T, c *Console, s *session) string {
	t.Helper()
	w := httptest.NewRecorder()
	require.NoError(t, c.startSession(context.Background(), w, s))
	for _, ck := range w.Result().Cookies() {
		if ck.Name == sessionCookie {
			require.True(t, ck.HttpOnly && ck.Secure)
			return ck.Value
		}
	}
	t.Fatal("no session cookie")
	return ""
}

func TestSessionKeptServerSide(t *testing.T) {
	c := newTestConsole(t)
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	c.SetClock(func() time.Time { return now })
	val := signedInCookie(t, c, &session{Subject: "oid-1", Name: "Dana", Roles: []string{"dpo"}, CSRF: "t"})
	req := func(v string) *http.Request {
		r := httptest.NewRequest("GET", "/console/", nil)
		r.AddCookie(&http.Cookie{Name: sessionCookie, Value: v})
		return r
	}
	current := func(v string) *session {
		s, err := c.current(req(v))
		require.NoError(t, err)
		return s
	}
	require.Equal(t, "oid-1", current(val).Subject)
	long := signedInCookie(t, c, &session{Subject: "oid-1", Roles: []string{"dpo"}, CSRF: "t", IDToken: strings.Repeat("x", 3999)})
	require.Len(t, current(long).IDToken, 3999, "a session larger than a cookie could hold")
	row, err := c.opts.State.ConsoleSession(context.Background(), hashID(val))
	require.NoError(t, err)
	require.NotContains(t, string(row.Data), "Dana", "the session is sealed in the database")
	require.NotEqual(t, val, row.IDHash, "the database holds a hash of the cookie, not the cookie")

	for name, v := range map[string]string{
		"tampered": val[:len(val)-2] + "AA",
		"garbage":  "not-a-cookie",
		"too long": strings.Repeat("A", maxCookie+1),
		"its hash": hashID(val),
	} {
		require.Nil(t, current(v), name)
	}

	// Another session's sealed data moved into this row does not open.
	other := signedInCookie(t, c, &session{Subject: "oid-1", Roles: []string{"admin"}, CSRF: "u"})
	orow, err := c.opts.State.ConsoleSession(context.Background(), hashID(other))
	require.NoError(t, err)
	_, err = c.opts.State.(*store.DB).SQL().Exec("UPDATE console_sessions SET data = $1 WHERE id_hash = $2", orow.Data, hashID(val))
	require.NoError(t, err)
	require.Nil(t, current(val), "data sealed for another session")

	val = signedInCookie(t, c, &session{Subject: "oid-1", Roles: []string{"dpo"}, CSRF: "t"})
	c.SetClock(func() time.Time { return now.Add(c.opts.IdleTimeout + time.Second) })
	require.Nil(t, current(val), "idle too long")
	_, err = c.opts.State.ConsoleSession(context.Background(), hashID(val))
	require.ErrorIs(t, err, store.ErrNoConsoleRecord, "an ended session's row goes")

	// Seen often, but past the absolute lifetime.
	c.SetClock(func() time.Time { return now })
	val = signedInCookie(t, c, &session{Subject: "oid-1", Roles: []string{"dpo"}, CSRF: "t"})
	for at := time.Duration(0); at <= c.opts.AbsoluteTimeout; at += c.opts.IdleTimeout / 2 {
		c.SetClock(func() time.Time { return now.Add(at) })
		r := httptest.NewRequest("GET", "/console/parties", nil)
		r.AddCookie(&http.Cookie{Name: sessionCookie, Value: val})
		c.signedIn(func(http.ResponseWriter, *http.Request, *session) {})(httptest.NewRecorder(), r)
		require.NotNil(t, current(val), "seen %s after sign-in", at)
	}
	c.SetClock(func() time.Time { return now.Add(c.opts.AbsoluteTimeout + time.Second) })
	require.Nil(t, current(val), "past the absolute lifetime, though seen recently")
}

func TestSessionsPerPersonBounded(t *testing.T) {
	c := newTestConsole(t)
	var vals []string
	for i := range sessionsPerPerson + 2 {
		now := time.Date(2026, 11, 22, 12, 0, i, 0, time.UTC)
		c.SetClock(func() time.Time { return now })
		vals = append(vals, signedInCookie(t, c, &session{Subject: "oid-1", Roles: []string{"dpo"}, CSRF: "t"}))
	}
	for i, v := range vals {
		_, err := c.opts.State.ConsoleSession(context.Background(), hashID(v))
		if i < 2 {
			require.ErrorIs(t, err, store.ErrNoConsoleRecord, "the oldest are ended")
		} else {
			require.NoError(t, err)
		}
	}
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
	val := signedInCookie(t, c, &session{Subject: "oid-1", Roles: []string{"admin"}, CSRF: "right"})
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
	for _, name := range []string{"signin", "signedout", "error", "home", "agreements", "agreement", "diff", "draft", "overrides", "exports", "export", "report", "parties", "notifications", "rectifications"} {
		require.Contains(t, c.pages, name)
	}
}

func TestNoticeOverdue(t *testing.T) {
	sent := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	for name, tc := range map[string]struct {
		n    compliance.Notice
		at   time.Time
		late bool
		days int
	}{
		"awaiting/within":     {compliance.Notice{SentAt: sent}, sent.Add(noticeDue - time.Hour), false, 29},
		"awaiting/past":       {compliance.Notice{SentAt: sent}, sent.Add(noticeDue + time.Hour), true, 30},
		"acknowledged/late":   {compliance.Notice{SentAt: sent, AcknowledgedAt: sent.Add(40 * 24 * time.Hour)}, sent.Add(50 * 24 * time.Hour), false, 0},
		"awaiting/sent-today": {compliance.Notice{SentAt: sent}, sent.Add(time.Minute), false, 0},
	} {
		late, days := overdue(&tc.n, tc.at)
		require.Equal(t, tc.late, late, name)
		require.Equal(t, tc.days, days, name)
	}
}
