package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-gw/gatehouse/api"
)

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
