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

	var subjects, subjectKeys []string
	sar := addOut(&cobra.Command{
		Use:   "subject-access (--subject TYPE:VALUE | --subject-key KEY)… -o FILE",
		Short: "Everything shared about one person, and who received it (dpo role)",
		Long: `Everything shared about one person and who received it (UK GDPR Art 15(1)(c)).
Disclosures still covered by a live exemption are marked withheld: do not
disclose those to the subject. Give every identifier of the person the council
holds (a NINO, a council reference, a name and date of birth): the export is
the union of what was shared under any of them, under every subject key
version. The identifiers are sent in the request body, never in a URL.`,
		Example: "  gatehouse export subject-access --subject nino:QQ123456C --subject 'name-dob:Jane Doe 1990-04-01' -o sar.csv",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req := api.SubjectAccessRequest{SubjectKeys: subjectKeys}
			for _, f := range subjects {
				s, err := subjectFlag(cmd, f)
				if err != nil {
					return err
				}
				if s != nil {
					req.Subjects = append(req.Subjects, *s)
				}
			}
			return run(cmd, func(c *client.Admin, fm string) (*client.Export, error) {
				req.Format = fm
				return c.SubjectAccess(cmd.Context(), req)
			})
		},
	})
	sar.Flags().StringArrayVar(&subjects, "subject", nil, "an identifier of the subject as TYPE:VALUE (repeatable); - reads one from standard input (unechoed), out of the shell's history")
	sar.Flags().StringArrayVar(&subjectKeys, "subject-key", nil, "a key of the subject (repeatable; gatehouse audit subject-key prints it)")

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

	releases := addOut(&cobra.Command{
		Use:   "releases -o FILE",
		Short: "Exchanges a DPO released to their recipient while the agreement or the recipient held them back",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd, func(c *client.Admin, fm string) (*client.Export, error) {
				return c.Export(cmd.Context(), compliance.KindReleases, url.Values{"format": {fm}})
			})
		},
	})

	cmd.AddCommand(disclosures, sar, overrides, notifications, agreementsDue, rectifications, releases, newExportVerifyCmd(f))
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

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}
