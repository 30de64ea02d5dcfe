package cli

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-gw/gatehouse/devenv"
)

func newTokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Development admin tokens",
	}
	var (
		key, issuer, audience, subject string
		roles                          []string
		ttl                            time.Duration
	)
	mint := &cobra.Command{
		Use:   "mint --key FILE --subject NAME --role ROLE",
		Short: "Sign a short-lived admin token with a development key (not for production)",
		Long: `Sign a short-lived JWT for the admin API with a development signing key. In
production, tokens come from the council's identity provider; the gateway
verifies them against admin.jwks_file or admin.jwks_url.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if key == "" || subject == "" || len(roles) == 0 {
				return errors.New("--key, --subject and --role are required")
			}
			tok, err := devenv.MintToken(key, issuer, audience, subject, roles, ttl)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			return nil
		},
	}
	mf := mint.Flags()
	mf.StringVar(&key, "key", "", "private signing key (JWK)")
	mf.StringVar(&issuer, "issuer", devenv.DevTokenIssuer, "iss claim")
	mf.StringVar(&audience, "audience", devenv.DevTokenAudience, "aud claim")
	mf.StringVar(&subject, "subject", "", "sub claim: who the token is for")
	mf.StringSliceVar(&roles, "role", nil, "admin, dpo or auditor (repeatable)")
	mf.DurationVar(&ttl, "ttl", time.Hour, "lifetime")
	cmd.AddCommand(mint)
	return cmd
}
