package cli

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/spf13/cobra"
	"golang.org/x/oauth2"
)

// storedToken is what `gatehouse login` keeps for the admin commands.
type storedToken struct {
	Issuer      string    `json:"issuer"`
	AccessToken string    `json:"access_token"`
	Expiry      time.Time `json:"expiry"`
}

// tokenFile is where the signed-in token is kept: the user's configuration
// folder, readable by the user alone.
func tokenFile() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "gatehouse", "admin-token.json"), nil
}

// loadStoredToken returns the token `gatehouse login` stored, if it has not
// expired.
func loadStoredToken(now time.Time) (string, error) {
	path, err := tokenFile()
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var t storedToken
	if err := json.Unmarshal(b, &t); err != nil || t.AccessToken == "" {
		return "", fmt.Errorf("%s does not hold a token: run 'gatehouse login'", path)
	}
	if !now.Before(t.Expiry) {
		return "", errors.New("the token from 'gatehouse login' has expired: run 'gatehouse login' again")
	}
	return t.AccessToken, nil
}

func newLoginCmd() *cobra.Command {
	var issuer, clientID string
	var scopes []string
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "login --issuer URL --client-id ID",
		Short: "Sign in with the council's identity provider and keep a short-lived token for the admin commands",
		Long: `Sign in with the council's OpenID Connect provider in a browser, by the
loopback flow of RFC 8252 (authorization code with PKCE, the answer taken on
127.0.0.1): the command prints the address to open, waits for the provider's
answer and keeps the access token, until it expires, in the user's
configuration folder (readable by the user alone). The admin commands use it
when neither --token nor GATEHOUSE_ADMIN_TOKEN is given. 'gatehouse logout'
forgets it. The gateway must accept the provider's access tokens
(admin.issuer, admin.audience, admin.jwks_url).`,
		Example: `  gatehouse login --issuer https://login.microsoftonline.com/TENANT/v2.0 --client-id CLI-APP-ID \
    --scope api://GATEWAY-APP-ID/Gatehouse.Admin
  gatehouse agreements list`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			issuer, clientID = orEnv(issuer, "GATEHOUSE_LOGIN_ISSUER"), orEnv(clientID, "GATEHOUSE_LOGIN_CLIENT_ID")
			if issuer == "" || clientID == "" {
				return errors.New("--issuer and --client-id are required (or set GATEHOUSE_LOGIN_ISSUER and GATEHOUSE_LOGIN_CLIENT_ID)")
			}
			return login(cmd, issuer, clientID, scopes, wait)
		},
	}
	cmd.Flags().StringVar(&issuer, "issuer", "", "the OpenID provider's issuer URL (or GATEHOUSE_LOGIN_ISSUER)")
	cmd.Flags().StringVar(&clientID, "client-id", "", "the command line's client id at the provider, a public client (or GATEHOUSE_LOGIN_CLIENT_ID)")
	cmd.Flags().StringSliceVar(&scopes, "scope", nil, "scopes to ask for beside openid (repeatable)")
	cmd.Flags().DurationVar(&wait, "wait", 5*time.Minute, "how long to wait for the sign-in")
	return cmd
}

func newLogoutCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "Forget the token 'gatehouse login' kept",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, err := tokenFile()
			if err != nil {
				return err
			}
			if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "signed out: the stored token is gone")
			return nil
		},
	}
}

func orEnv(v, env string) string {
	if v != "" {
		return v
	}
	return os.Getenv(env)
}

func login(cmd *cobra.Command, issuer, clientID string, scopes []string, wait time.Duration) error {
	ctx, cancel := context.WithTimeout(cmd.Context(), wait)
	defer cancel()
	prov, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		return fmt.Errorf("the identity provider: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	conf := &oauth2.Config{ClientID: clientID, Endpoint: prov.Endpoint(),
		RedirectURL: "http://" + ln.Addr().String() + "/callback", Scopes: append([]string{oidc.ScopeOpenID, "profile"}, scopes...)}
	state, verifier := randomState(), oauth2.GenerateVerifier()

	type answer struct {
		tok *oauth2.Token
		err error
	}
	answers := make(chan answer, 1)
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" {
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query()
		var a answer
		switch {
		case q.Get("state") != state:
			a.err = errors.New("the provider's answer does not belong to this sign-in")
		case q.Get("error") != "":
			a.err = fmt.Errorf("the provider refused: %s", q.Get("error"))
		default:
			a.tok, a.err = conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		msg := "You are signed in. Go back to the terminal."
		if a.err != nil {
			msg = "The sign-in failed: " + a.err.Error()
		}
		fmt.Fprintf(w, `<!DOCTYPE html><html lang="en-GB"><head><meta charset="utf-8"><title>Gatehouse sign-in</title></head><body><main><h1>Gatehouse</h1><p>%s</p></main></body></html>`, html.EscapeString(msg))
		select {
		case answers <- a:
		default:
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	fmt.Fprintf(cmd.ErrOrStderr(), "Open this address in a browser to sign in:\n%s\n", conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)))
	var a answer
	select {
	case a = <-answers:
	case <-ctx.Done():
		return errors.New("no sign-in arrived in time")
	}
	if a.err != nil {
		return a.err
	}
	if a.tok.AccessToken == "" || a.tok.Expiry.IsZero() {
		return errors.New("the provider gave no short-lived access token")
	}
	path, err := tokenFile()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	b, err := json.Marshal(storedToken{Issuer: issuer, AccessToken: a.tok.AccessToken, Expiry: a.tok.Expiry})
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "signed in; the admin commands use the token until %s\n", a.tok.Expiry.Local().Format(time.RFC1123))
	return nil
}

func randomState() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
