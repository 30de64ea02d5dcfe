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

	"github.com/gatehouse-gw/gatehouse/agreements"
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
	withClient := f.withClient
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
			if out.Status == string(agreements.PartyPending) {
				fmt.Fprintf(cmd.OutOrStdout(), "it is not active until someone else (an administrator or a DPO) approves it:\n  gatehouse parties approve-registration %s --sha256 %s\n", out.ID, out.RegistrationSHA256)
			}
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
	var sha string
	approveReg := &cobra.Command{
		Use:   "approve-registration ID --sha256 HEX",
		Short: "Approve a new party's registration (not your own) so that it becomes active; --sha256 is the digest `gatehouse parties show` gave",
		Args:  cobra.ExactArgs(1),
		RunE: withClient(func(cmd *cobra.Command, c *client.Admin, args []string) error {
			p, err := c.ApproveParty(cmd.Context(), args[0], sha)
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd.OutOrStdout(), p)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "approved: %s (%s) is now %s\n", p.ID, p.Kind, p.Status)
			return nil
		}),
	}
	approveReg.Flags().StringVar(&sha, "sha256", "", "the registration's digest, as `gatehouse parties show` showed it")
	rejectReg := status("reject-registration", "Refuse a new party's registration", func(c *client.Admin) func(*cobra.Command, string, string) (*api.Party, error) {
		return func(cmd *cobra.Command, id, r string) (*api.Party, error) {
			return c.RejectParty(cmd.Context(), id, r)
		}
	})
	cmd.AddCommand(list, show, register, approveReg, rejectReg, suspend, resume)
	cmd.AddCommand(partyChangeCmds(f, withClient)...)
	return cmd
}

// partyChangeCmds are the two-person commands for a party's trust: propose
// a change, list proposals, approve one by its digest, reject one.
func partyChangeCmds(f *adminFlags, withClient func(func(*cobra.Command, *client.Admin, []string) error) func(*cobra.Command, []string) error) []*cobra.Command {
	var (
		reason, kind, keyFile, anchors, subjectDN, issuerFP string
		uriSAN                                              bool
		hosts                                               []string
		status, sha                                         string
	)
	propose := &cobra.Command{
		Use:   "propose ID --reason TEXT [--encryption-key PUBLIC.jwk] [--trust-anchors CA.pem] [--kind KIND] [--subject-dn DN --issuer-fingerprint HEX | --uri-san] [--revocation-host HOST]...",
		Short: "Propose a change to a party's key, trust anchors, identity rule, kind or revocation hosts; someone else approves it",
		Args:  cobra.ExactArgs(1),
		RunE: withClient(func(cmd *cobra.Command, c *client.Admin, args []string) error {
			p := api.PartyChangeProposal{Reason: reason}
			fl := cmd.Flags()
			if fl.Changed("kind") {
				p.Kind = &kind
			}
			if keyFile != "" {
				k, err := seal.ReadKey(keyFile)
				if err != nil {
					return fmt.Errorf("--encryption-key: %w", err)
				}
				if p.EncryptionKey, err = seal.PublicJSON(k); err != nil {
					return err
				}
			}
			if fl.Changed("trust-anchors") {
				pem := ""
				if anchors != "" {
					b, err := os.ReadFile(anchors)
					if err != nil {
						return fmt.Errorf("--trust-anchors: %w", err)
					}
					pem = string(b)
				}
				p.TrustAnchors = &pem
			}
			switch {
			case uriSAN && (subjectDN != "" || issuerFP != ""):
				return fmt.Errorf("--uri-san and --subject-dn/--issuer-fingerprint are different rules: give one")
			case uriSAN:
				p.Identity = &api.IdentityRule{}
			case subjectDN != "" || issuerFP != "":
				p.Identity = &api.IdentityRule{SubjectDN: subjectDN, IssuerFingerprint: issuerFP}
			}
			if fl.Changed("revocation-host") {
				p.RevocationHosts = &hosts
			}
			ch, err := c.ProposePartyChange(cmd.Context(), args[0], &p)
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd.OutOrStdout(), ch)
			}
			printPartyChange(cmd.OutOrStdout(), ch)
			fmt.Fprintf(cmd.OutOrStdout(), "\nNothing has changed yet. Someone other than you approves it with:\n  gatehouse parties approve %s --sha256 %s\n", ch.ID, ch.SHA256)
			return nil
		}),
	}
	pf := propose.Flags()
	pf.StringVar(&reason, "reason", "", "why (shown to the approver and recorded in the audit log)")
	pf.StringVar(&kind, "kind", "", "the party's new kind")
	pf.StringVar(&keyFile, "encryption-key", "", "the party's new encryption key (JWK; only its public half is sent)")
	pf.StringVar(&anchors, "trust-anchors", "", `PEM file of the CA certificates that will issue its client certificates ("" for the deployment's own CA)`)
	pf.StringVar(&subjectDN, "subject-dn", "", "bind by this certificate subject DN (with --issuer-fingerprint)")
	pf.StringVar(&issuerFP, "issuer-fingerprint", "", "hex SHA-256 of the CA certificate that issues it (with --subject-dn)")
	pf.BoolVar(&uriSAN, "uri-san", false, "bind by the default URI SAN spiffe://<trust domain>/party/<id>")
	pf.StringArrayVar(&hosts, "revocation-host", nil, "a host its CRL and OCSP addresses may be fetched from (repeat; replaces the list)")
	changes := &cobra.Command{
		Use:   "changes [PARTY] [--status proposed|approved|rejected|withdrawn]",
		Short: "List proposed changes to parties (one party's, or all), newest first, with their digests",
		Args:  cobra.MaximumNArgs(1),
		RunE: withClient(func(cmd *cobra.Command, c *client.Admin, args []string) error {
			party := ""
			if len(args) == 1 {
				party = args[0]
			}
			list, err := c.PartyChanges(cmd.Context(), party, status)
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd.OutOrStdout(), list)
			}
			if len(list) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "no proposed changes")
			}
			for i := range list {
				if i > 0 {
					fmt.Fprintln(cmd.OutOrStdout())
				}
				printPartyChange(cmd.OutOrStdout(), &list[i])
			}
			return nil
		}),
	}
	changes.Flags().StringVar(&status, "status", "", "only proposals of this status")
	approve := &cobra.Command{
		Use:   "approve CHANGE --sha256 HEX",
		Short: "Approve a proposed party change and put it into effect (not your own); --sha256 is the digest you were shown",
		Args:  cobra.ExactArgs(1),
		RunE: withClient(func(cmd *cobra.Command, c *client.Admin, args []string) error {
			ch, err := c.ApprovePartyChange(cmd.Context(), args[0], sha)
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd.OutOrStdout(), ch)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "approved: %s of %s changed (%s)\n", strings.Join(ch.Fields, ", "), ch.Party, ch.ID)
			return nil
		}),
	}
	approve.Flags().StringVar(&sha, "sha256", "", "the proposal's digest, as `gatehouse parties changes` showed it")
	reject := &cobra.Command{
		Use:   "reject CHANGE --reason TEXT",
		Short: "Reject a proposed party change (your own: withdraw it)",
		Args:  cobra.ExactArgs(1),
		RunE: withClient(func(cmd *cobra.Command, c *client.Admin, args []string) error {
			ch, err := c.RejectPartyChange(cmd.Context(), args[0], reason)
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd.OutOrStdout(), ch)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: the change to %s is %s\n", ch.ID, ch.Party, ch.Status)
			return nil
		}),
	}
	reject.Flags().StringVar(&reason, "reason", "", "why (recorded in the audit log)")
	return []*cobra.Command{propose, changes, approve, reject}
}

// printPartyChange writes a proposal for a person: what changes, from what
// to what, who asked and why, and the digest an approval names.
func printPartyChange(w io.Writer, ch *api.PartyChange) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "change:\t%s\n", ch.ID)
	fmt.Fprintf(tw, "party:\t%s\n", ch.Party)
	fmt.Fprintf(tw, "status:\t%s\n", ch.Status)
	who := ch.ProposedBy
	if ch.ProposedByName != "" {
		who = ch.ProposedByName + " (" + ch.ProposedBy + ")"
	}
	fmt.Fprintf(tw, "proposed:\t%s by %s\n", ch.ProposedAt.Format(time.RFC3339), who)
	fmt.Fprintf(tw, "reason:\t%s\n", ch.Reason)
	for _, field := range ch.Fields {
		fmt.Fprintf(tw, "%s:\t%s → %s\n", strings.ReplaceAll(field, "_", " "), trustSummary(ch.Before, field), trustSummary(ch.After, field))
	}
	if ch.DecidedBy != "" {
		fmt.Fprintf(tw, "decided:\t%s by %s %s\n", ch.DecidedAt.Format(time.RFC3339), ch.DecidedBy, ch.DecisionReason)
	}
	fmt.Fprintf(tw, "sha256:\t%s\n", ch.SHA256)
	_ = tw.Flush()
}

// trustSummary is one trust field as a person compares it.
func trustSummary(t api.PartyTrust, field string) string {
	switch field {
	case "kind":
		return t.Kind
	case "trust_anchors":
		if n := strings.Count(t.TrustAnchors, "BEGIN CERTIFICATE"); n > 0 {
			return fmt.Sprintf("%d CA certificate(s), SHA-256 %s", n, strings.Join(agreements.AnchorFingerprints(t.TrustAnchors), ", "))
		}
		return "the deployment's own CA"
	case "identity":
		if t.Identity == nil {
			return "URI SAN"
		}
		return fmt.Sprintf("subject %q issued by %s", t.Identity.SubjectDN, t.Identity.IssuerFingerprint)
	case "revocation_hosts":
		if len(t.RevocationHosts) == 0 {
			return "none"
		}
		return strings.Join(t.RevocationHosts, ", ")
	case "encryption_key":
		var k struct {
			Kid string `json:"kid"`
		}
		_ = json.Unmarshal(t.EncryptionKey, &k)
		tp := agreements.KeyFingerprint(t.EncryptionKey)
		if k.Kid == tp {
			return "thumbprint " + tp + " (also its kid)"
		}
		return fmt.Sprintf("kid %s, thumbprint %s", k.Kid, tp)
	}
	return ""
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
		anchors = fmt.Sprintf("%d CA certificate(s) of its own, SHA-256 %s", n, strings.Join(agreements.AnchorFingerprints(p.TrustAnchors), ", "))
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
	if fp := agreements.KeyFingerprint(p.EncryptionKey); fp != "" {
		key += ", thumbprint " + fp
	}
	fmt.Fprintf(tw, "encryption key:\t%s\n", key)
	if p.RegisteredBy != "" {
		fmt.Fprintf(tw, "registered:\t%s by %s\n", p.RegisteredAt.Format(time.RFC3339), p.RegisteredBy)
	}
	if p.DecidedBy != "" {
		fmt.Fprintf(tw, "decided:\t%s by %s\n", p.DecidedAt.Format(time.RFC3339), p.DecidedBy)
	}
	if p.RegistrationSHA256 != "" {
		fmt.Fprintf(tw, "registration sha256:\t%s\n", p.RegistrationSHA256)
	}
	if !p.UpdatedAt.IsZero() {
		fmt.Fprintf(tw, "updated:\t%s\n", p.UpdatedAt.Format(time.RFC3339))
	}
	_ = tw.Flush()
}
