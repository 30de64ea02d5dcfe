package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/client"
)

func newConsentsCmd() *cobra.Command {
	f := &adminFlags{}
	cmd := &cobra.Command{
		Use:   "consents",
		Short: "Keep the consent register that marketing, sale and commercial disclosures are checked against (admin API, admin or dpo role)",
	}
	f.register(cmd)

	var party, ref, subject, subjectKey, purposes, givenAt string
	record := &cobra.Command{
		Use:   "record --party PARTY --consent-ref REF (--subject TYPE:VALUE | --subject-key KEY) --purposes P[,P…] [--given-at TIME]",
		Short: "Record a subject's consent to a sending party for the purposes it covers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r := api.ConsentRecord{Party: party, ConsentRef: ref, SubjectKey: subjectKey}
			for p := range strings.SplitSeq(purposes, ",") {
				if p = strings.TrimSpace(p); p != "" {
					r.Purposes = append(r.Purposes, p)
				}
			}
			var err error
			if r.GivenAt, err = timeFlag("--given-at", givenAt); err != nil {
				return err
			}
			if r.Subject, err = subjectFlag(cmd, subject); err != nil {
				return err
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			rec, err := c.RecordConsent(cmd.Context(), r)
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd.OutOrStdout(), rec)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "consent %s recorded: %s holds %s for %s (subject %s), given %s\n",
				rec.ID, rec.Party, rec.ConsentRef, strings.Join(rec.Purposes, ", "), rec.SubjectKey, rec.GivenAt.Format(time.RFC3339))
			return nil
		},
	}
	record.Flags().StringVar(&party, "party", "", "the sending party the consent was given to")
	record.Flags().StringVar(&ref, "consent-ref", "", "the reference disclosures cite (subjects[].consent_ref)")
	record.Flags().StringVar(&subject, "subject", "", "the subject's identifier as TYPE:VALUE; - reads it from standard input (unechoed)")
	record.Flags().StringVar(&subjectKey, "subject-key", "", "the subject's key (gatehouse audit subject-key prints it)")
	record.Flags().StringVar(&purposes, "purposes", "", "the purposes it covers, comma-separated (e.g. marketing,direct-marketing)")
	record.Flags().StringVar(&givenAt, "given-at", "", "when it was given (RFC 3339 or YYYY-MM-DD; default now)")

	var withdrawnAt string
	withdraw := &cobra.Command{
		Use:   "withdraw ID [--withdrawn-at TIME]",
		Short: "Record that the subject withdrew a consent: no disclosure may rely on it from then",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			at, err := timeFlag("--withdrawn-at", withdrawnAt)
			if err != nil {
				return err
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			rec, err := c.WithdrawConsent(cmd.Context(), args[0], at)
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd.OutOrStdout(), rec)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "consent %s (%s of %s) withdrawn %s, recorded by %s\n",
				rec.ID, rec.ConsentRef, rec.Party, rec.WithdrawnAt.Format(time.RFC3339), rec.WithdrawnBy)
			return nil
		},
	}
	withdraw.Flags().StringVar(&withdrawnAt, "withdrawn-at", "", "when the subject withdrew it (RFC 3339 or YYYY-MM-DD; default now)")

	var listParty string
	list := &cobra.Command{
		Use:   "list [--party PARTY]",
		Short: "List the consent register, or one sending party's part of it",
		Args:  cobra.NoArgs,
		RunE: f.withClient(func(cmd *cobra.Command, c *client.Admin, _ []string) error {
			cs, err := c.Consents(cmd.Context(), listParty)
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd.OutOrStdout(), cs)
			}
			return printConsents(cmd.OutOrStdout(), cs)
		}),
	}
	list.Flags().StringVar(&listParty, "party", "", "only this sending party's consents")

	cmd.AddCommand(record, withdraw, list)
	return cmd
}

func printConsents(w io.Writer, cs []api.Consent) error {
	if len(cs) == 0 {
		_, err := fmt.Fprintln(w, "no consents recorded")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPARTY\tCONSENT REF\tPURPOSES\tGIVEN\tSTATE\tSUBJECT KEY")
	for _, c := range cs {
		state := "stands"
		if !c.WithdrawnAt.IsZero() {
			state = "withdrawn " + c.WithdrawnAt.Format(time.DateOnly)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.Party, c.ConsentRef, strings.Join(c.Purposes, ","),
			c.GivenAt.Format(time.DateOnly), state, c.SubjectKey)
	}
	return tw.Flush()
}

// timeFlag reads an optional time flag: RFC 3339 or a date (midnight UTC).
func timeFlag(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	return time.Time{}, errors.New(name + " must be an RFC 3339 time or a date, YYYY-MM-DD")
}
