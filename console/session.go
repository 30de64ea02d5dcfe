package console

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/store"
)

// Cookie names. The session cookie holds a random id; the sign-in cookie
// is sealed (below). __Host- cookies are Secure, host-only and for the whole
// origin: a sibling host cannot plant one.
const (
	sessionCookie = "__Host-gatehouse-console"
	flowCookie    = "__Host-gatehouse-signin"
	// maxCookie bounds what is decrypted or looked up.
	maxCookie = 3500
)

// session is a signed-in person's session: who signed in, when, when
// they were last seen, and the CSRF token of their forms. It is kept in
// the gateway's database (sealed with the session key), where every node
// reads it; the browser's cookie holds only a random id, whose SHA-256
// names the row. Signing out deletes the row, so a copied cookie stops
// working at once, on every node.
type session struct {
	Subject string   `json:"sub"`
	Name    string   `json:"name,omitempty"`
	Roles   []string `json:"roles"`
	CSRF    string   `json:"csrf"`
	// IDToken is kept for the provider's sign-out (id_token_hint).
	IDToken string `json:"idt,omitempty"`

	// From the row, not the sealed data.
	id       string
	SignedIn time.Time `json:"-"`
	Seen     time.Time `json:"-"`
}

func (s *session) actor() agreements.Actor {
	return agreements.Actor{Subject: s.Subject, Name: s.Name, Roles: s.Roles}
}

// signInFlow is what the sign-in cookie carries between the redirect to
// the identity provider and its answer.
type signInFlow struct {
	State    string    `json:"state"`
	Nonce    string    `json:"nonce"`
	Verifier string    `json:"verifier"`
	Return   string    `json:"return"`
	Started  time.Time `json:"started"`
}

// box seals cookie values with AES-256-GCM; the cookie's name is the
// associated data, so that one cookie cannot stand in for another.
type box struct{ aead cipher.AEAD }

func newBox(key []byte) (*box, error) {
	k := sha256.Sum256(append([]byte("gatehouse console cookies\x00"), key...))
	block, err := aes.NewCipher(k[:])
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &box{aead}, nil
}

func (b *box) seal(name string, v any) (string, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b.aead.Seal(nonce, nonce, plain, []byte(name))), nil
}

var errCookie = errors.New("cookie does not open")

// openCookie opens a sealed cookie's value, bounded.
func (b *box) openCookie(name, value string, v any) error {
	if len(value) > maxCookie {
		return errCookie
	}
	return b.open(name, value, v)
}

// open opens what seal sealed under name.
func (b *box) open(name, value string, v any) error {
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(raw) < b.aead.NonceSize() {
		return errCookie
	}
	plain, err := b.aead.Open(nil, raw[:b.aead.NonceSize()], raw[b.aead.NonceSize():], []byte(name))
	if err != nil {
		return errCookie
	}
	return json.Unmarshal(plain, v)
}

func (c *Console) setCookie(w http.ResponseWriter, name string, v any, maxAge time.Duration) error {
	val, err := c.box.seal(name, v)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: name, Value: val, Path: "/", MaxAge: int(maxAge.Seconds()),
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	return nil
}

func clearCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

// State is where the console keeps its sessions and made exports
// (store.DB): every gateway node sharing the database sees them.
type State interface {
	CreateConsoleSession(ctx context.Context, s store.ConsoleSession, keep int) error
	ConsoleSession(ctx context.Context, idHash string) (*store.ConsoleSession, error)
	TouchConsoleSession(ctx context.Context, idHash string, seen, idleUntil time.Time) error
	DeleteConsoleSession(ctx context.Context, idHash string) error
	PutConsoleExport(ctx context.Context, e store.ConsoleExport, keepOwner, keepAll int) error
	ConsoleExport(ctx context.Context, id string) (*store.ConsoleExport, error)
}

var _ State = (*store.DB)(nil)

// sessionsPerPerson bounds how many sessions one person holds at once
// (browsers, devices); signing in again ends the oldest beyond it.
const sessionsPerPerson = 10

// hashID names a session's row: the SHA-256 of the cookie's random id, so
// that the database holds nothing a browser could present.
func hashID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// startSession keeps a new session for s and gives the browser its id.
func (c *Console) startSession(ctx context.Context, w http.ResponseWriter, s *session) error {
	id := randomToken()
	s.id = hashID(id)
	now := c.now()
	s.SignedIn, s.Seen = now, now
	data, err := c.box.seal("session:"+s.id, s)
	if err != nil {
		return err
	}
	if err := c.opts.State.CreateConsoleSession(ctx, store.ConsoleSession{IDHash: s.id, Subject: s.Subject, Data: []byte(data),
		SignedIn: now, Seen: now, IdleUntil: now.Add(c.opts.IdleTimeout), Expires: now.Add(c.opts.AbsoluteTimeout)}, sessionsPerPerson); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", MaxAge: int(c.opts.AbsoluteTimeout.Seconds()),
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	return nil
}

// current returns the request's live session, or nil: no cookie, no such
// session (never made, signed out, cleaned up), idle too long, or past its
// absolute lifetime. An error means the sessions could not be read.
func (c *Console) current(r *http.Request) (*session, error) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" || len(ck.Value) > maxCookie {
		return nil, nil
	}
	row, err := c.opts.State.ConsoleSession(r.Context(), hashID(ck.Value))
	if errors.Is(err, store.ErrNoConsoleRecord) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var s session
	// The row's id is the sealed data's associated data: a row's data
	// copied into another row does not open.
	if c.box.open("session:"+row.IDHash, string(row.Data), &s) != nil || s.Subject == "" || s.CSRF == "" || s.Subject != row.Subject {
		return nil, nil
	}
	now := c.now()
	if now.After(row.IdleUntil) || now.After(row.Expires) || now.Sub(row.Seen) > c.opts.IdleTimeout ||
		now.Sub(row.SignedIn) > c.opts.AbsoluteTimeout || row.SignedIn.After(now.Add(time.Minute)) {
		// Ended: the row goes now rather than at the next clean-up.
		_ = c.opts.State.DeleteConsoleSession(r.Context(), row.IDHash)
		return nil, nil
	}
	s.id, s.SignedIn, s.Seen = row.IDHash, row.SignedIn, row.Seen
	return &s, nil
}

// touchEvery is how stale a session's idle clock may get before a request
// moves it on: a page view need not always be a database write.
func (c *Console) touchEvery() time.Duration { return min(c.opts.IdleTimeout/20, 30*time.Second) }

// handler is a page for a signed-in person.
type handler func(w http.ResponseWriter, r *http.Request, s *session)

// signedIn runs h for a live session, refreshing its idle clock; without
// one it sends the person to sign in (and back here afterwards). Every
// POST must carry the session's CSRF token and come from this origin.
func (c *Console) signedIn(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, err := c.current(r)
		if err != nil {
			c.opts.Log.Error("console: sessions unreadable", "err", err)
			c.render(w, r, http.StatusServiceUnavailable, "error", nil, page{Title: "The console is unavailable",
				Message: "The console could not check your session. Try again in a few minutes; if it goes on, tell the gateway's operator."})
			return
		}
		if s == nil {
			if _, err := r.Cookie(sessionCookie); err == nil {
				clearCookie(w, sessionCookie)
			}
			if r.Method != http.MethodGet {
				c.render(w, r, http.StatusForbidden, "error", nil, page{Title: "Your session has ended",
					Message: "You have been signed out, so this was not done. Sign in and try again."})
				return
			}
			http.Redirect(w, r, Prefix+"/sign-in?return="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 2<<20)
			if !sameOrigin(r) || !validCSRF(r, s.CSRF) {
				c.opts.Log.Warn("console: form refused: missing or wrong CSRF token or origin", "path", r.URL.Path)
				c.render(w, r, http.StatusForbidden, "error", s, page{Title: "This form could not be accepted",
					Message: "The form was not sent from this console, or it has expired. Go back, reload the page and try again."})
				return
			}
		}
		if now := c.now(); now.Sub(s.Seen) >= c.touchEvery() {
			if err := c.opts.State.TouchConsoleSession(r.Context(), s.id, now, now.Add(c.opts.IdleTimeout)); err != nil {
				c.opts.Log.Error("console: session not updated", "err", err)
				http.Error(w, "session", http.StatusServiceUnavailable)
				return
			}
			s.Seen = now
		}
		h(w, r, s)
	}
}

func validCSRF(r *http.Request, want string) bool {
	got := r.PostFormValue("csrf")
	if ct := r.Header.Get("Content-Type"); strings.HasPrefix(ct, "multipart/form-data") {
		if err := r.ParseMultipartForm(1 << 20); err == nil {
			got = r.PostFormValue("csrf")
		}
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// sameOrigin refuses a form posted from another site where the browser says
// so (Origin, or Sec-Fetch-Site); the CSRF token is the rule, this a second
// lock.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	return true
}

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
