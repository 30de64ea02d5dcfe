package cli

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/compliance"
)

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

	var releaseReason string
	release := &cobra.Command{
		Use:   "release EXCHANGE --reason TEXT",
		Short: "Let the recipient fetch an exchange that a suspended or terminated agreement, a suspended recipient or a removed flow holds back",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			r, err := c.Release(cmd.Context(), args[0], releaseReason)
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd.OutOrStdout(), r)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "exchange %s released to %s by %s\n", r.ExchangeID, r.Recipient, r.ReleasedBy)
			return nil
		},
	}
	release.Flags().StringVar(&releaseReason, "reason", "", "why the DPO releases it (recorded)")

	var told, confirm bool
	var reason, reviewAt string
	notify := &cobra.Command{
		Use:   "notification EXCHANGE (--told | --withhold REASON --review-at DATE | --confirm)",
		Short: "Record that a disclosure's subjects were told, that telling them stays withheld, or confirm the sender's withholding",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			u := api.NotificationUpdate{Action: compliance.NotificationTold, Reason: reason}
			switch {
			case confirm:
				u.Action = compliance.NotificationConfirm
			case !told:
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
			switch {
			case n.State == "told":
				fmt.Fprintf(cmd.OutOrStdout(), "recorded: the subjects of %s were told\n", n.ExchangeID)
			case confirm:
				fmt.Fprintf(cmd.OutOrStdout(), "confirmed by %s: telling the subjects of %s stays withheld until %s\n", n.ConfirmedBy, n.ExchangeID, n.ReviewAt.Format(time.DateOnly))
			default:
				fmt.Fprintf(cmd.OutOrStdout(), "recorded: telling the subjects of %s stays withheld until %s\n", n.ExchangeID, n.ReviewAt.Format(time.DateOnly))
			}
			return nil
		},
	}
	notify.Flags().BoolVar(&told, "told", false, "the subjects were told")
	notify.Flags().StringVar(&reason, "withhold", "", "telling them is still unsafe: why")
	notify.Flags().StringVar(&reviewAt, "review-at", "", "with --withhold: when to review it again (YYYY-MM-DD)")
	notify.Flags().BoolVar(&confirm, "confirm", false, "confirm the withholding the sender made at declaration (pending until a DPO does)")
	notify.MarkFlagsOneRequired("told", "withhold", "confirm")
	notify.MarkFlagsMutuallyExclusive("told", "withhold", "confirm")

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

	cmd.AddCommand(review, release, notify, rectify)
	return cmd
}
