package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/client"
)

func newAgreementsCmd() *cobra.Command {
	f := &adminFlags{}
	cmd := &cobra.Command{
		Use:   "agreements",
		Short: "Register and manage data-sharing agreements (admin API)",
	}
	f.register(cmd)
	var (
		file, reason, as string
		version          int
	)
	withClient := f.withClient
	printAgreement := func(w io.Writer, a *api.Agreement) error {
		if f.json {
			return printJSON(w, a)
		}
		fmt.Fprintf(w, "# %s@%d: %s (effective: %s); author %s", a.ID, a.Version, a.Status, a.EffectiveStatus, a.Author)
		if a.ApprovedBy != "" {
			fmt.Fprintf(w, ", approved by %s", a.ApprovedBy)
		}
		fmt.Fprintf(w, "\n# sha256 %s\n", a.SHA256)
		doc, err := agreementDocument(a)
		if err != nil {
			return err
		}
		b, err := yaml.Marshal(doc)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}

	register := &cobra.Command{
		Use:   "register -f FILE",
		Short: "Register an agreement document (YAML or JSON) as a new draft version",
		Args:  cobra.NoArgs,
		RunE: withClient(func(cmd *cobra.Command, c *client.Admin, _ []string) error {
			if file == "" {
				return errors.New("-f FILE is required")
			}
			doc, err := os.ReadFile(file)
			if err != nil {
				return err
			}
			ct := "application/yaml"
			if strings.EqualFold(filepath.Ext(file), ".json") {
				ct = api.MediaJSON
			}
			a, err := c.Register(cmd.Context(), doc, ct)
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd.OutOrStdout(), a)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "registered %s@%d as a draft; a DPO other than you must approve it, then an admin activates it\n", a.ID, a.Version)
			return nil
		}),
	}
	register.Flags().StringVarP(&file, "file", "f", "", "agreement document (.yaml or .json)")

	list := &cobra.Command{
		Use:   "list",
		Short: "List agreements (the version that governs each)",
		Args:  cobra.NoArgs,
		RunE: withClient(func(cmd *cobra.Command, c *client.Admin, _ []string) error {
			list, err := c.Agreements(cmd.Context())
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd.OutOrStdout(), list)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tVERSION\tSTATUS\tREVIEW BY\tEXPIRES\tTITLE")
			for _, a := range list {
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", a.ID, a.Version, a.EffectiveStatus, a.ReviewBy, a.ExpiresAt, a.Title)
			}
			return tw.Flush()
		}),
	}

	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show an agreement (the governing version, or --version N)",
		Args:  cobra.ExactArgs(1),
		RunE: withClient(func(cmd *cobra.Command, c *client.Admin, args []string) error {
			if version == 0 {
				a, err := c.Agreement(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				return printAgreement(cmd.OutOrStdout(), a)
			}
			vs, err := c.Versions(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			for i := range vs {
				if vs[i].Version == version {
					return printAgreement(cmd.OutOrStdout(), &vs[i])
				}
			}
			return fmt.Errorf("agreement %s has no version %d", args[0], version)
		}),
	}
	show.Flags().IntVar(&version, "version", 0, "version to show")

	versions := &cobra.Command{
		Use:   "versions ID",
		Short: "List every version of an agreement",
		Args:  cobra.ExactArgs(1),
		RunE: withClient(func(cmd *cobra.Command, c *client.Admin, args []string) error {
			vs, err := c.Versions(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd.OutOrStdout(), vs)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "VERSION\tSTATUS\tAUTHOR\tAPPROVED BY\tUPDATED")
			for _, a := range vs {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", a.Version, a.EffectiveStatus, a.Author, a.ApprovedBy, a.UpdatedAt.Format(time.RFC3339))
			}
			return tw.Flush()
		}),
	}

	// approve and activate bind to the document the person read: they name
	// the version and its digest. Without both, the command shows the
	// version, its document and its digest, and says how to run it again
	// with them; it never fetches a digest and acts on it unseen.
	var digest string
	versioned := func(use, short string, fn func(*client.Admin) func(*cobra.Command, string, int, string) (*api.Agreement, error)) *cobra.Command {
		c := &cobra.Command{
			Use:   use + " ID --version N --sha256 HEX",
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: withClient(func(cmd *cobra.Command, c *client.Admin, args []string) error {
				if version == 0 || digest == "" {
					return showBinding(cmd, c, use, args[0], version, printAgreement)
				}
				a, err := fn(c)(cmd, args[0], version, digest)
				if err != nil {
					return err
				}
				if f.json {
					return printJSON(cmd.OutOrStdout(), a)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s@%d is now %s (sha256 %s)\n", a.ID, a.Version, a.Status, a.SHA256)
				return nil
			}),
		}
		c.Flags().IntVar(&version, "version", 0, "the version you read")
		c.Flags().StringVar(&digest, "sha256", "", "the SHA-256 of the version's document, as `agreements show` prints it")
		return c
	}
	approve := versioned("approve", "Approve the draft version you read, named by its SHA-256 (dpo; not its author)", func(c *client.Admin) func(*cobra.Command, string, int, string) (*api.Agreement, error) {
		return func(cmd *cobra.Command, id string, v int, d string) (*api.Agreement, error) {
			return c.Approve(cmd.Context(), id, v, d)
		}
	})
	activate := versioned("activate", "Put the approved version you read into force, named by its SHA-256 (admin; needs a completed DPIA)", func(c *client.Admin) func(*cobra.Command, string, int, string) (*api.Agreement, error) {
		return func(cmd *cobra.Command, id string, v int, d string) (*api.Agreement, error) {
			return c.Activate(cmd.Context(), id, v, d)
		}
	})

	reasoned := func(use, short string, fn func(*client.Admin) func(*cobra.Command, string, string) (*api.Agreement, error)) *cobra.Command {
		c := &cobra.Command{
			Use:   use + " ID --reason TEXT",
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: withClient(func(cmd *cobra.Command, c *client.Admin, args []string) error {
				a, err := fn(c)(cmd, args[0], reason)
				if err != nil {
					return err
				}
				if f.json {
					return printJSON(cmd.OutOrStdout(), a)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s@%d is now %s\n", a.ID, a.Version, a.Status)
				return nil
			}),
		}
		c.Flags().StringVar(&reason, "reason", "", "why (recorded in the audit log)")
		return c
	}
	suspend := reasoned("suspend", "Suspend sharing under an agreement; takes effect on the next request", func(c *client.Admin) func(*cobra.Command, string, string) (*api.Agreement, error) {
		return func(cmd *cobra.Command, id, r string) (*api.Agreement, error) {
			return c.Suspend(cmd.Context(), id, r)
		}
	})
	resume := reasoned("resume", "Lift a suspension", func(c *client.Admin) func(*cobra.Command, string, string) (*api.Agreement, error) {
		return func(cmd *cobra.Command, id, r string) (*api.Agreement, error) {
			return c.Resume(cmd.Context(), id, r)
		}
	})
	terminate := reasoned("terminate", "End an agreement for good", func(c *client.Admin) func(*cobra.Command, string, string) (*api.Agreement, error) {
		return func(cmd *cobra.Command, id, r string) (*api.Agreement, error) {
			return c.Terminate(cmd.Context(), id, r)
		}
	})

	check := &cobra.Command{
		Use:   "check -f REQUEST.json --as SENDER",
		Short: "Decide a disclosure without making it, and show every check (exit 3 if refused)",
		Args:  cobra.NoArgs,
		RunE: withClient(func(cmd *cobra.Command, c *client.Admin, _ []string) error {
			if file == "" || as == "" {
				return errors.New("-f REQUEST.json and --as SENDER are required")
			}
			b, err := os.ReadFile(file)
			if err != nil {
				return err
			}
			var d api.ExchangeDeclaration
			if err := json.Unmarshal(b, &d); err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			dec, err := c.Check(cmd.Context(), as, &d)
			if err != nil {
				return err
			}
			if f.json {
				err = printJSON(cmd.OutOrStdout(), dec)
			} else {
				printDecision(cmd.OutOrStdout(), dec)
			}
			if err == nil && !agreements.Outcome(dec.Outcome).Allowed() {
				return &exitError{code: 3, err: errors.New("the disclosure would be refused")}
			}
			return err
		}),
	}
	check.Flags().StringVarP(&file, "file", "f", "", "a declaration, as for POST /v1/exchanges (JSON)")
	check.Flags().StringVar(&as, "as", "", "the sending party")

	cmd.AddCommand(register, list, show, versions, approve, activate, suspend, resume, terminate, check)
	return cmd
}

// printDecision writes a decision for a person: the outcome, then each check.
func printDecision(w io.Writer, d *api.Decision) {
	fmt.Fprintf(w, "%s", strings.ToUpper(d.Outcome))
	if d.Agreement != "" {
		fmt.Fprintf(w, " under %s", d.Agreement)
	}
	if d.ReviewBy != nil {
		fmt.Fprintf(w, " (DPO review by %s)", d.ReviewBy.Format(time.RFC3339))
	}
	fmt.Fprintln(w)
	for _, c := range d.Checks {
		mark := "✓"
		if !c.Passed {
			mark = "✗"
		}
		fmt.Fprintf(w, "  %s %-24s %s\n", mark, c.Code, c.Message)
	}
}

// agreementDocument is the document of an agreement the admin API returned,
// in the registry's document format (docs/agreements.md), so that it prints
// as YAML that 'agreements register' reads back. The API's JSON is that
// format's JSON plus what the registry keeps, which the document omits.
func agreementDocument(a *api.Agreement) (*agreements.Agreement, error) {
	b, err := json.Marshal(a)
	if err != nil {
		return nil, err
	}
	var doc agreements.Agreement
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("agreement %s@%d: %w", a.ID, a.Version, err)
	}
	return &doc, nil
}

// errNotBound ends approve or activate run without the version and digest
// the person read: nothing was changed.
var errNotBound = errors.New("nothing was changed: approve and activate need --version and --sha256 of the document you read")

// showBinding prints the version an approve or activate would act on (the
// one named, else the latest), its document and digest, and the command
// that acts on exactly that document; it changes nothing and fails, so that
// a script cannot approve what nobody read.
func showBinding(cmd *cobra.Command, c *client.Admin, action, id string, version int, print func(io.Writer, *api.Agreement) error) error {
	vs, err := c.Versions(cmd.Context(), id)
	if err != nil {
		return err
	}
	var a *api.Agreement
	for i := range vs {
		if (version == 0 && (a == nil || vs[i].Version > a.Version)) || vs[i].Version == version {
			a = &vs[i]
		}
	}
	if a == nil {
		return fmt.Errorf("agreement %s has no version %d", id, version)
	}
	w := cmd.ErrOrStderr()
	if err := print(w, a); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nRead the document above. To %s exactly this document, run:\n\n  gatehouse agreements %s %s --version %d --sha256 %s\n\n", action, action, id, a.Version, a.SHA256)
	return errNotBound
}
