package cli

import (
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/client"
	"github.com/gatehouse-gw/gatehouse/exchange/seal"
)

func newPartiesCmd() *cobra.Command {
	f := &adminFlags{}
	cmd := &cobra.Command{
		Use:   "parties",
		Short: "Register and manage parties (admin API)",
	}
	f.register(cmd)
	var (
		p                  api.PartyRegistration
		kind, keyFile, pem string
		reason             string
	)
	withClient := func(run func(*cobra.Command, *client.Admin, []string) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			return run(cmd, c, args)
		}
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List parties",
		Args:  cobra.NoArgs,
		RunE: withClient(func(cmd *cobra.Command, c *client.Admin, _ []string) error {
			ps, err := c.Parties(cmd.Context())
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd.OutOrStdout(), ps)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tKIND\tSTATUS\tNAME")
			for _, p := range ps {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.ID, p.Kind, p.Status, p.Name)
			}
			return tw.Flush()
		}),
	}
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show a party",
		Args:  cobra.ExactArgs(1),
		RunE: withClient(func(cmd *cobra.Command, c *client.Admin, args []string) error {
			p, err := c.Party(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), p)
		}),
	}
	register := &cobra.Command{
		Use:   "register --id ID --kind KIND --name NAME --encryption-key PUBLIC.jwk",
		Short: "Register a party",
		Args:  cobra.NoArgs,
		RunE: withClient(func(cmd *cobra.Command, c *client.Admin, _ []string) error {
			p.Kind = kind
			if keyFile != "" {
				k, err := seal.ReadKey(keyFile)
				if err != nil {
					return fmt.Errorf("--encryption-key: %w", err)
				}
				if p.EncryptionKey, err = seal.PublicJSON(k); err != nil {
					return err
				}
			}
			if pem != "" {
				b, err := os.ReadFile(pem)
				if err != nil {
					return fmt.Errorf("--trust-anchors: %w", err)
				}
				p.TrustAnchors = string(b)
			}
			out, err := c.RegisterParty(cmd.Context(), &p)
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd.OutOrStdout(), out)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "registered %s (%s), %s\n", out.ID, out.Kind, out.Status)
			return nil
		}),
	}
	rf := register.Flags()
	rf.StringVar(&p.ID, "id", "", "party id, e.g. police.northshire")
	rf.StringVar(&kind, "kind", "", "police, dwp, cabinet-office, hmrc, court, local-authority or council-service")
	rf.StringVar(&p.Name, "name", "", "display name")
	rf.StringVar(&keyFile, "encryption-key", "", "the party's encryption key (JWK; only its public half is sent)")
	rf.StringVar(&pem, "trust-anchors", "", "PEM file of the CA certificates that issue the party's client certificates")
	status := func(use, short string, fn func(*client.Admin) func(*cobra.Command, string, string) (*api.Party, error)) *cobra.Command {
		c := &cobra.Command{
			Use:   use + " ID --reason TEXT",
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: withClient(func(cmd *cobra.Command, c *client.Admin, args []string) error {
				p, err := fn(c)(cmd, args[0], reason)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s is now %s\n", p.ID, p.Status)
				return nil
			}),
		}
		c.Flags().StringVar(&reason, "reason", "", "why (recorded in the audit log)")
		return c
	}
	suspend := status("suspend", "Suspend a party; refused from its next request", func(c *client.Admin) func(*cobra.Command, string, string) (*api.Party, error) {
		return func(cmd *cobra.Command, id, r string) (*api.Party, error) {
			return c.SuspendParty(cmd.Context(), id, r)
		}
	})
	resume := status("resume", "Lift a party's suspension", func(c *client.Admin) func(*cobra.Command, string, string) (*api.Party, error) {
		return func(cmd *cobra.Command, id, r string) (*api.Party, error) {
			return c.ResumeParty(cmd.Context(), id, r)
		}
	})
	cmd.AddCommand(list, show, register, suspend, resume)
	return cmd
}
