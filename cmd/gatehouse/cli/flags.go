package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/client"
)

// adminFlags are the admin API connection flags, with environment fallbacks.
type adminFlags struct {
	url, token, ca string
	json           bool
}

func (f *adminFlags) register(cmd *cobra.Command) {
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.url, "admin", "", "admin API URL, e.g. https://127.0.0.1:8444 (or GATEHOUSE_ADMIN_URL)")
	pf.StringVar(&f.token, "token", "", "bearer token (or GATEHOUSE_ADMIN_TOKEN)")
	pf.StringVar(&f.ca, "ca", "", "CA certificate of the gateway's server certificate (or GATEHOUSE_ADMIN_CA)")
	addOutputFlags(pf, &f.json)
}

// outputFlag is --output text|json, bound to whether to print JSON.
type outputFlag struct{ json *bool }

func (o outputFlag) String() string {
	if o.json != nil && *o.json {
		return "json"
	}
	return "text"
}

func (o outputFlag) Set(v string) error {
	switch v {
	case "json":
		*o.json = true
	case "text":
		*o.json = false
	default:
		return fmt.Errorf("%q is not text or json", v)
	}
	return nil
}

func (outputFlag) Type() string { return "text|json" }

// addOutputFlags adds --output text|json (text, for people, by default) and
// --json, the same as --output json.
func addOutputFlags(fs *pflag.FlagSet, json *bool) {
	fs.Var(outputFlag{json}, "output", "text (for people) or json (for machines)")
	fs.BoolVar(json, "json", false, "the same as --output json")
}

// config is the connection as far as flags and environment give it.
func (f *adminFlags) config() client.AdminConfig {
	or := func(v, env string) string {
		if v != "" {
			return v
		}
		return os.Getenv(env)
	}
	tok := or(f.token, "GATEHOUSE_ADMIN_TOKEN")
	if tok == "" {
		tok, _ = loadStoredToken(time.Now())
	}
	return client.AdminConfig{URL: or(f.url, "GATEHOUSE_ADMIN_URL"), Token: tok, CAFile: or(f.ca, "GATEHOUSE_ADMIN_CA")}
}

// withClient makes a command's RunE that opens the admin client from the
// flags first, then runs run with it.
func (f *adminFlags) withClient(run func(*cobra.Command, *client.Admin, []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		c, err := f.client()
		if err != nil {
			return err
		}
		return run(cmd, c, args)
	}
}

func (f *adminFlags) client() (*client.Admin, error) {
	for _, e := range []struct {
		v         *string
		env, flag string
	}{{&f.url, "GATEHOUSE_ADMIN_URL", "admin"}, {&f.token, "GATEHOUSE_ADMIN_TOKEN", "token"}, {&f.ca, "GATEHOUSE_ADMIN_CA", ""}} {
		if *e.v == "" {
			*e.v = os.Getenv(e.env)
		}
		if *e.v == "" && e.flag == "token" {
			// The token `gatehouse login` kept, while it lasts.
			stored, err := loadStoredToken(time.Now())
			if err == nil {
				*e.v = stored
				continue
			}
			if !errors.Is(err, os.ErrNotExist) {
				return nil, err
			}
		}
		if *e.v == "" && e.flag != "" {
			return nil, fmt.Errorf("--%s is required (or set %s)", e.flag, e.env)
		}
	}
	return client.NewAdmin(client.AdminConfig{URL: f.url, Token: f.token, CAFile: f.ca})
}

// subjectFlag reads --subject TYPE:VALUE; "-" reads it from standard input
// (unechoed on a terminal), out of the shell's history. Empty: no subject.
func subjectFlag(cmd *cobra.Command, flag string) (*api.Subject, error) {
	if flag == "-" {
		var err error
		if flag, err = readSecretLine(cmd, "subject (TYPE:VALUE): "); err != nil {
			return nil, err
		}
	}
	if flag == "" {
		return nil, nil
	}
	s, err := parseSubject(cmd.ErrOrStderr(), flag)
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// subjectType is a subject identifier type: lower-case words joined by '-'.
var subjectType = regexp.MustCompile(`^[a-z0-9]+(?:-[a-z0-9]+)*$`)

// parseSubject reads a data subject written TYPE:VALUE, the one syntax of
// every command (nino:QQ123456C, "name-dob:Jane Doe 1990-04-01"). TYPE=VALUE
// is accepted too, with a hint on hints.
func parseSubject(hints io.Writer, s string) (api.Subject, error) {
	if typ, val, ok := strings.Cut(s, ":"); ok && subjectType.MatchString(typ) && val != "" {
		return api.Subject{Type: typ, Value: val}, nil
	}
	if typ, val, ok := strings.Cut(s, "="); ok && subjectType.MatchString(typ) && val != "" {
		fmt.Fprintf(hints, "hint: --subject %s:… is the usual form; %s=… is read the same way\n", typ, typ)
		return api.Subject{Type: typ, Value: val}, nil
	}
	return api.Subject{}, fmt.Errorf("--subject %q: want TYPE:VALUE, e.g. nino:QQ123456C", s)
}

// subjectsFlag reads every --subject TYPE:VALUE.
func subjectsFlag(cmd *cobra.Command, flags []string) ([]api.Subject, error) {
	var out []api.Subject
	for _, f := range flags {
		s, err := parseSubject(cmd.ErrOrStderr(), f)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// clientFlags are the connection flags every client command shares. Each
// falls back to an environment variable, so a shell can be set up once.
type clientFlags struct {
	gateway, cert, key, ca string
	json                   bool
}

func (f *clientFlags) client() (*client.Client, error) {
	fallback := func(v *string, env, flag string) error {
		if *v == "" {
			*v = os.Getenv(env)
		}
		if *v == "" {
			return fmt.Errorf("--%s is required (or set %s)", flag, env)
		}
		return nil
	}
	if err := errors.Join(
		fallback(&f.gateway, "GATEHOUSE_CLIENT_GATEWAY", "gateway"),
		fallback(&f.cert, "GATEHOUSE_CLIENT_CERT", "cert"),
		fallback(&f.key, "GATEHOUSE_CLIENT_KEY", "key"),
	); err != nil {
		return nil, err
	}
	if f.ca == "" {
		f.ca = os.Getenv("GATEHOUSE_CLIENT_CA")
	}
	return client.New(client.Config{Gateway: f.gateway, CertFile: f.cert, KeyFile: f.key, CAFile: f.ca})
}

// printJSON writes v as indented JSON, for machines.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
