package cli

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/spf13/cobra"

	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/client"
	"github.com/gatehouse-gw/gatehouse/compliance"
)

func newExportCmd() *cobra.Command {
	f := &adminFlags{}
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Export the compliance record, signed (admin API, dpo or auditor role)",
		Long: `Export the compliance record as CSV or JSON. Each export is written to the
file named by -o, and its detached signature (JWS, the gateway's audit key) to
the same name with .jws added. 'gatehouse export verify FILE' checks it.
The format follows the file's extension (.csv or .json) unless --format says.`,
	}
	f.register(cmd)
	var out, format string
	addOut := func(c *cobra.Command) *cobra.Command {
		c.Flags().StringVarP(&out, "out", "o", "", "write the export here (required); the signature goes to OUT.jws")
		c.Flags().StringVar(&format, "format", "", "csv or json (default: from the file's extension, else json)")
		_ = c.MarkFlagRequired("out")
		return c
	}
	run := func(cmd *cobra.Command, open func(*client.Admin, string) (*client.Export, error)) error {
		c, err := f.client()
		if err != nil {
			return err
		}
		fm := format
		if fm == "" {
			fm = compliance.FormatJSON
			if strings.EqualFold(filepath.Ext(out), ".csv") {
				fm = compliance.FormatCSV
			}
		}
		ex, err := open(c, fm)
		if err != nil {
			return err
		}
		defer ex.Body.Close()
		keys, err := c.JWKS(cmd.Context())
		if err != nil {
			return fmt.Errorf("fetch the gateway's keys to check the export: %w", err)
		}
		return saveExport(cmd, ex, keys, out, f.json)
	}

	var from, to string
	disclosures := addOut(&cobra.Command{
		Use:   "disclosures --from DATE --to DATE -o FILE",
		Short: "The disclosure register for a period (ICO data-sharing code annex fields)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd, func(c *client.Admin, fm string) (*client.Export, error) {
				return c.Export(cmd.Context(), compliance.KindDisclosures, url.Values{"from": {from}, "to": {to}, "format": {fm}})
			})
		},
	})
	disclosures.Flags().StringVar(&from, "from", "", "first day (YYYY-MM-DD) or time (RFC 3339) of the period")
	disclosures.Flags().StringVar(&to, "to", "", "last day (YYYY-MM-DD, included) or end time (RFC 3339, excluded)")

	var subject, subjectKey string
	sar := addOut(&cobra.Command{
		Use:   "subject-access (--subject TYPE:VALUE | --subject-key KEY) -o FILE",
		Short: "Everything shared about one person, and who received it (dpo role)",
		Long: `Everything shared about one person and who received it (UK GDPR Art 15(1)(c)).
Disclosures still covered by a live exemption are marked withheld: do not
disclose those to the subject. The identifier is sent in the request body,
never in a URL.`,
		Example: "  gatehouse export subject-access --subject nino:QQ123456C -o sar.csv",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req := api.SubjectAccessRequest{SubjectKey: subjectKey}
			var err error
			if req.Subject, err = subjectFlag(cmd, subject); err != nil {
				return err
			}
			return run(cmd, func(c *client.Admin, fm string) (*client.Export, error) {
				req.Format = fm
				return c.SubjectAccess(cmd.Context(), req)
			})
		},
	})
	sar.Flags().StringVar(&subject, "subject", "", "the subject's identifier as TYPE:VALUE; - reads it from standard input (unechoed), out of the shell's history")
	sar.Flags().StringVar(&subjectKey, "subject-key", "", "the subject's key (gatehouse audit subject-key prints it)")

	var state string
	overrides := addOut(&cobra.Command{
		Use:   "overrides [--state open|overdue|reviewed|all] -o FILE",
		Short: "Emergency overrides awaiting or past their DPO review",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd, func(c *client.Admin, fm string) (*client.Export, error) {
				return c.Export(cmd.Context(), compliance.KindOverrides, url.Values{"state": {state}, "format": {fm}})
			})
		},
	})
	overrides.Flags().StringVar(&state, "state", "open", "open (awaiting or overdue), overdue, reviewed or all")

	notifications := addOut(&cobra.Command{
		Use:   "notifications -o FILE",
		Short: "Disclosures whose subjects are to be told now, or whose withholding is due for review",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd, func(c *client.Admin, fm string) (*client.Export, error) {
				return c.Export(cmd.Context(), compliance.KindNotifications, url.Values{"format": {fm}})
			})
		},
	})

	var within int
	agreementsDue := addOut(&cobra.Command{
		Use:   "agreements [--within DAYS] -o FILE",
		Short: "Agreements due for review, DPIAs lapsed, agreements expiring",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd, func(c *client.Admin, fm string) (*client.Export, error) {
				return c.Export(cmd.Context(), compliance.KindAgreements, url.Values{"within": {strconv.Itoa(within)}, "format": {fm}})
			})
		},
	})
	agreementsDue.Flags().IntVar(&within, "within", 30, "look this many days ahead")

	rectifications := addOut(&cobra.Command{
		Use:   "rectifications -o FILE",
		Short: "Art 19 rectification notices and their acknowledgement",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd, func(c *client.Admin, fm string) (*client.Export, error) {
				return c.Export(cmd.Context(), compliance.KindRectifications, url.Values{"format": {fm}})
			})
		},
	})

	cmd.AddCommand(disclosures, sar, overrides, notifications, agreementsDue, rectifications, newExportVerifyCmd(f))
	return cmd
}

// saveExport downloads the export to a temporary file, checks its
// signature, and only then moves it to path and its signature to path.jws:
// a failed or altered download leaves nothing behind, and never a
// signature beside another file.
func saveExport(cmd *cobra.Command, ex *client.Export, keys jwk.Set, path string, asJSON bool) error {
	dir, base := filepath.Dir(path), filepath.Base(path)
	tmp, err := os.CreateTemp(dir, "."+base+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	n, err := io.Copy(tmp, newProgress(cmd.ErrOrStderr(), "downloading export", ex.Size, ex.Body))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("download the export: %w", err)
	}
	if ex.Size >= 0 && n != ex.Size {
		return fmt.Errorf("download the export: got %d of %d bytes", n, ex.Size)
	}
	downloaded, err := os.Open(tmp.Name())
	if err != nil {
		return err
	}
	_, verr := compliance.Verify([]byte(ex.Signature), downloaded, keys)
	downloaded.Close()
	if verr != nil {
		return fmt.Errorf("the downloaded export does not match its signature; nothing was saved: %w", verr)
	}
	sigTmp, err := os.CreateTemp(dir, "."+base+".jws.*")
	if err != nil {
		return err
	}
	defer os.Remove(sigTmp.Name())
	_, err = sigTmp.WriteString(ex.Signature + "\n")
	if cerr := sigTmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o640); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if err := os.Rename(sigTmp.Name(), path+".jws"); err != nil {
		return err
	}
	if asJSON {
		return printJSON(cmd.OutOrStdout(), map[string]any{"file": path, "signature": path + ".jws", "rows": ex.Rows, "bytes": n})
	}
	fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (%s, %s) and its signature %s.jws\n", path, plural(ex.Rows, "row"), humanBytes(n), path)
	return nil
}

func newExportVerifyCmd(f *adminFlags) *cobra.Command {
	var sigFile, jwksFile string
	cmd := &cobra.Command{
		Use:   "verify FILE",
		Short: "Check an export's detached signature",
		Long: `Check that FILE is exactly what the gateway signed: the detached JWS in
FILE.jws (or --signature) must verify with one of the gateway's audit keys.
The keys come from --jwks (a JWKS file, for offline checks) or else from the
admin API's /.well-known/jwks.json. Exit code 0: verified; 1: it does not
verify; 2: the check could not run (a file or the keys could not be read).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := args[0]
			if sigFile == "" {
				sigFile = path + ".jws"
			}
			// Exit 2: the check could not run; exit 1: it ran and failed.
			cannot := func(err error) error { return &exitError{code: 2, err: err} }
			sig, err := os.ReadFile(sigFile)
			if err != nil {
				return cannot(err)
			}
			var keys jwk.Set
			if jwksFile != "" {
				if keys, err = jwk.ReadFile(jwksFile); err != nil {
					return cannot(fmt.Errorf("--jwks: %w", err))
				}
			} else {
				cfg := f.config()
				if cfg.URL == "" {
					return cannot(errors.New("--admin is required (or set GATEHOUSE_ADMIN_URL), or give --jwks FILE"))
				}
				if keys, err = client.AdminKeys(cmd.Context(), cfg); err != nil {
					return cannot(fmt.Errorf("fetch the gateway's keys: %w", err))
				}
			}
			file, err := os.Open(path)
			if err != nil {
				return cannot(err)
			}
			defer file.Close()
			st, _ := file.Stat()
			meta, err := compliance.Verify([]byte(strings.TrimSpace(string(sig))), newProgress(cmd.ErrOrStderr(), "verifying", st.Size(), file), keys)
			if err != nil {
				return &exitError{code: 1, err: fmt.Errorf("%s: %w", path, err)}
			}
			if f.json {
				return printJSON(cmd.OutOrStdout(), map[string]any{"file": path, "verified": true, "export": meta})
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "%s\tverified: signed by the gateway's audit key %s\n", path, meta.KeyID)
			fmt.Fprintf(tw, "export\t%s (%s, %s)\n", meta.Kind, meta.Format, plural(meta.Rows, "row"))
			fmt.Fprintf(tw, "generated\t%s by %s for %s\n", meta.GeneratedAt.Format(time.RFC3339), meta.GeneratedBy, meta.RequestedBy)
			for _, k := range slices.Sorted(maps.Keys(meta.Parameters)) {
				fmt.Fprintf(tw, "%s\t%s\n", k, meta.Parameters[k])
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&sigFile, "signature", "", "the detached signature (default FILE.jws)")
	cmd.Flags().StringVar(&jwksFile, "jwks", "", "verify with the keys in this JWKS file instead of asking the gateway")
	return cmd
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
	typ, val, ok := strings.Cut(flag, ":")
	if !ok {
		return nil, errors.New("--subject must be TYPE:VALUE, e.g. nino:QQ123456C")
	}
	return &api.Subject{Type: typ, Value: val}, nil
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

func newComplianceCmd() *cobra.Command {
	f := &adminFlags{}
	cmd := &cobra.Command{
		Use:   "compliance",
		Short: "Record override reviews, notifications to subjects and rectifications (admin API, dpo role)",
	}
	f.register(cmd)

	var outcome, notes string
	review := &cobra.Command{
		Use:   "review-override EXCHANGE --outcome justified|not-justified --notes TEXT",
		Short: "Record the DPO's review of an emergency override",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			o, err := c.ReviewOverride(cmd.Context(), args[0], api.OverrideReview{Outcome: outcome, Notes: notes})
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd.OutOrStdout(), o)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "override %s reviewed: %s (by %s)\n", o.ExchangeID, o.Outcome, o.Reviewer)
			return nil
		},
	}
	review.Flags().StringVar(&outcome, "outcome", "", "justified or not-justified")
	review.Flags().StringVar(&notes, "notes", "", "the DPO's reasoning")

	var told bool
	var reason, reviewAt string
	notify := &cobra.Command{
		Use:   "notification EXCHANGE (--told | --withhold REASON --review-at DATE)",
		Short: "Record that a disclosure's subjects were told, or that telling them stays withheld",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			u := api.NotificationUpdate{Action: compliance.NotificationTold, Reason: reason}
			if !told {
				u.Action = compliance.NotificationWithhold
				if reviewAt != "" {
					t, err := time.Parse(time.DateOnly, reviewAt)
					if err != nil {
						return errors.New("--review-at must be a date, YYYY-MM-DD")
					}
					u.ReviewAt = &t
				}
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			n, err := c.RecordNotification(cmd.Context(), args[0], u)
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd.OutOrStdout(), n)
			}
			if n.State == "told" {
				fmt.Fprintf(cmd.OutOrStdout(), "recorded: the subjects of %s were told\n", n.ExchangeID)
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "recorded: telling the subjects of %s stays withheld until %s\n", n.ExchangeID, n.ReviewAt.Format(time.DateOnly))
			}
			return nil
		},
	}
	notify.Flags().BoolVar(&told, "told", false, "the subjects were told")
	notify.Flags().StringVar(&reason, "withhold", "", "telling them is still unsafe: why")
	notify.Flags().StringVar(&reviewAt, "review-at", "", "with --withhold: when to review it again (YYYY-MM-DD)")
	notify.MarkFlagsOneRequired("told", "withhold")
	notify.MarkFlagsMutuallyExclusive("told", "withhold")

	var subject, subjectKey, action, description string
	rectify := &cobra.Command{
		Use:   "rectify (--subject TYPE:VALUE | --subject-key KEY) --action corrected|erased|restricted --description TEXT",
		Short: "Record a correction or erasure of a subject's data and notify everyone who received it (Art 19)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r := api.RectificationRequest{SubjectKey: subjectKey, Action: action, Description: description}
			var err error
			if r.Subject, err = subjectFlag(cmd, subject); err != nil {
				return err
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			rect, err := c.Rectify(cmd.Context(), r)
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd.OutOrStdout(), rect)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "rectification %s recorded (%s)\n", rect.ID, rect.Action)
			if len(rect.Notices) == 0 {
				fmt.Fprintln(w, "nobody received this subject's data through the gateway: no notices to send")
			}
			for _, n := range rect.Notices {
				fmt.Fprintf(w, "  notice %s sent to %s (%d exchange(s))\n", n.ID, n.Recipient, len(n.Exchanges))
			}
			return nil
		},
	}
	rectify.Flags().StringVar(&subject, "subject", "", "the subject's identifier as TYPE:VALUE; - reads it from standard input (unechoed)")
	rectify.Flags().StringVar(&subjectKey, "subject-key", "", "the subject's key (gatehouse audit subject-key prints it)")
	rectify.Flags().StringVar(&action, "action", "", "corrected, erased or restricted")
	rectify.Flags().StringVar(&description, "description", "", "what changed, for the recipients")

	cmd.AddCommand(review, notify, rectify)
	return cmd
}

func newNoticesCmd(f *clientFlags) *cobra.Command {
	var pending bool
	cmd := &cobra.Command{
		Use:   "notices",
		Short: "List rectification notices: data you received was corrected or erased",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			ns, err := c.Notices(cmd.Context(), pending)
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd.OutOrStdout(), api.Notices{Notices: ns})
			}
			printNotices(cmd.OutOrStdout(), ns)
			return nil
		},
	}
	cmd.Flags().BoolVar(&pending, "pending", false, "only notices not yet acknowledged")
	return cmd
}

func printNotices(w io.Writer, ns []api.Notice) {
	if len(ns) == 0 {
		fmt.Fprintln(w, "no notices")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NOTICE\tACTION\tSENT\tACKNOWLEDGED\tEXCHANGES\tDESCRIPTION")
	for _, n := range ns {
		acked := "-"
		if !n.AcknowledgedAt.IsZero() {
			acked = n.AcknowledgedAt.Format("2006-01-02 15:04")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", n.ID, n.Action, n.SentAt.Format("2006-01-02 15:04"), acked, strings.Join(n.Exchanges, ","), n.Description)
	}
	_ = tw.Flush()
}

func newNoticeAckCmd(f *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "notice-ack NOTICE",
		Short: "Acknowledge a rectification notice once you have acted on it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			n, err := c.AcknowledgeNotice(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd.OutOrStdout(), n)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "acknowledged notice %s (%s)\n", n.ID, n.AcknowledgedAt.Format(time.RFC3339))
			return nil
		},
	}
}
