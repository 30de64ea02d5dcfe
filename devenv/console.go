package devenv

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/gatehouse-gw/gatehouse/devenv/idp"
)

// ConsoleClientID is the console's client id at the development provider;
// CLIClientID is the command line's (a public client, PKCE).
const (
	ConsoleClientID = "gatehouse-console"
	CLIClientID     = "gatehouse-cli"
)

// ConsoleSecretFile is where the console's client secret is kept in dir.
func ConsoleSecretFile(dir string) string { return filepath.Join(dir, "keys", "console-client.secret") }

// StartIdP starts the development identity provider on listen for the
// console (and the command line) of the environment in dir, with the demo
// people of idp.People. Each sign-in is printed to signIns.
func StartIdP(dir, listen string, signIns io.Writer, log *slog.Logger) (*idp.Provider, error) {
	if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o700); err != nil {
		return nil, err
	}
	path := ConsoleSecretFile(dir)
	secret, err := os.ReadFile(path)
	if err != nil || strings.TrimSpace(string(secret)) == "" {
		secret = []byte(RandomSecret(24))
		if err := os.WriteFile(path, append(secret, '\n'), 0o600); err != nil {
			return nil, err
		}
	}
	return idp.Start(idp.Options{
		Listen: listen,
		Clients: []idp.Client{
			{ID: ConsoleClientID, Secret: strings.TrimSpace(string(secret)), RedirectGlobs: []string{
				"https://127.0.0.1:*/console/callback", "https://localhost:*/console/callback",
				"https://127.0.0.1:*/console/signed-out", "https://localhost:*/console/signed-out",
			}},
			{ID: CLIClientID, RedirectGlobs: []string{"http://127.0.0.1:*/callback"}},
		},
		SignIns: signIns,
		Log:     log,
	})
}
