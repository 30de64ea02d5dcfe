package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

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
			if f.json {
				return printJSON(cmd.OutOrStdout(), p)
			}
			printParty(cmd.OutOrStdout(), p)
			return nil
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

// printParty writes a party for a person: who it is, how it is identified
// and the key its payloads are sealed to.
func printParty(w io.Writer, p *api.Party) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "party:\t%s (%s)\n", p.ID, p.Kind)
	fmt.Fprintf(tw, "name:\t%s\n", p.Name)
	fmt.Fprintf(tw, "status:\t%s\n", p.Status)
	switch {
	case p.Identity != nil:
		fmt.Fprintf(tw, "identity:\tsubject %q issued by the CA with SHA-256 %s\n", p.Identity.SubjectDN, p.Identity.IssuerFingerprint)
	default:
		fmt.Fprintf(tw, "identity:\tURI SAN spiffe://<trust domain>/party/%s\n", p.ID)
	}
	anchors := "the deployment's own CA"
	if n := strings.Count(p.TrustAnchors, "BEGIN CERTIFICATE"); n > 0 {
		anchors = fmt.Sprintf("%d CA certificate(s) of its own", n)
	}
	fmt.Fprintf(tw, "trust anchors:\t%s\n", anchors)
	key := "none registered"
	if len(p.EncryptionKey) > 0 {
		var k struct {
			Kid string `json:"kid"`
			Crv string `json:"crv"`
		}
		if json.Unmarshal(p.EncryptionKey, &k) == nil {
			key = strings.TrimSpace(k.Crv + " kid " + k.Kid)
		}
	}
	fmt.Fprintf(tw, "encryption key:\t%s\n", key)
	if !p.UpdatedAt.IsZero() {
		fmt.Fprintf(tw, "updated:\t%s\n", p.UpdatedAt.Format(time.RFC3339))
	}
	_ = tw.Flush()
}
