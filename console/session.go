package console

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse-gw/gatehouse/agreements"
)

// Cookie names. __Host- cookies are Secure, host-only and for the whole
// origin: a sibling host cannot plant one.
const (
	sessionCookie = "__Host-gatehouse-console"
	flowCookie    = "__Host-gatehouse-signin"
	// maxCookie bounds what is decrypted.
	maxCookie = 3500
)

// session is what the session cookie carries, encrypted and authenticated:
// who signed in, when, when they were last seen, and the CSRF token of
// their forms. It lives in the browser only, so every gateway node behind
// a load balancer reads it alike.
type session struct {
	Subject  string    `json:"sub"`
	Name     string    `json:"name,omitempty"`
	Roles    []string  `json:"roles"`
	SignedIn time.Time `json:"iat"`
	Seen     time.Time `json:"seen"`
	CSRF     string    `json:"csrf"`
	// IDToken is kept for the provider's sign-out (id_token_hint).
	IDToken string `json:"idt,omitempty"`
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

func (b *box) open(name, value string, v any) error {
	if len(value) > maxCookie {
		return errCookie
	}
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

// current returns the request's live session, or nil: none, not opening,
// idle too long, or past its absolute lifetime.
func (c *Console) current(r *http.Request) *session {
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	var s session
	if c.box.open(sessionCookie, ck.Value, &s) != nil || s.Subject == "" || s.CSRF == "" {
		return nil
	}
	now := c.now()
	if now.Sub(s.Seen) > c.opts.IdleTimeout || now.Sub(s.SignedIn) > c.opts.AbsoluteTimeout || s.SignedIn.After(now.Add(time.Minute)) {
		return nil
	}
	return &s
}

// handler is a page for a signed-in person.
type handler func(w http.ResponseWriter, r *http.Request, s *session)

// signedIn runs h for a live session, refreshing its idle clock; without
// one it sends the person to sign in (and back here afterwards). Every
// POST must carry the session's CSRF token and come from this origin.
func (c *Console) signedIn(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := c.current(r)
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
		s.Seen = c.now()
		if err := c.setCookie(w, sessionCookie, s, c.opts.AbsoluteTimeout); err != nil {
			http.Error(w, "session", http.StatusInternalServerError)
			return
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
