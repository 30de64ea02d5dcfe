package cli

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-gw/gatehouse/store"
)

func newObjectsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "objects", Short: "Look at the payload bucket as the gateway sees it"}
	cmd.AddCommand(newObjectsOrphansCmd())
	return cmd
}

// orphanJSON is one orphan as objects orphans --json prints it.
type orphanJSON struct {
	Object      string     `json:"object"`
	Version     string     `json:"version"`
	Exchange    string     `json:"exchange"`
	Size        int64      `json:"size"`
	StoredAt    time.Time  `json:"stored_at"`
	FoundAt     time.Time  `json:"found_at"`
	SeenAt      time.Time  `json:"seen_at"`
	LockMode    string     `json:"lock_mode,omitempty"`
	LockedUntil *time.Time `json:"locked_until,omitempty"`
	DeletedAt   *time.Time `json:"deleted_at,omitempty"`
	State       string     `json:"state"`
}

func newObjectsOrphansCmd() *cobra.Command {
	var (
		configFile string
		asJSON     bool
	)
	cmd := &cobra.Command{
		Use:   "orphans",
		Short: "List the payload objects no exchange records, and what the sweeper did with them",
		Long: `List the payload objects that the sweeper found stored but recorded by no
exchange (an upload that reached the object store whose commit was lost, for
example when a gateway was killed between the two), oldest first, with what
became of each:

  deleted             deleted, and the deletion audited (exchange.payload-deleted)
  kept-locked         an Object Lock holds it; deleted once the lock ends
  kept-report-only    retention.delete_orphans is false

It reads the database only (read-only; nothing is migrated or written).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(configFile)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			ctx := cmd.Context()
			db, err := store.OpenReadOnly(ctx, cfg.Database.Driver, cfg.Database.DSN)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			defer db.Close()
			orphans, err := db.Orphans(ctx)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			now := time.Now()
			out := make([]orphanJSON, 0, len(orphans))
			for _, o := range orphans {
				j := orphanJSON{
					Object: o.Object.Key, Version: o.Object.Version, Exchange: o.Exchange, Size: o.Object.Size,
					StoredAt: o.Object.Modified, FoundAt: o.FoundAt, SeenAt: o.SeenAt, LockMode: o.LockMode,
					State: o.Action(now, *cfg.Retention.DeleteOrphans),
				}
				if !o.LockedUntil.IsZero() {
					j.LockedUntil = &o.LockedUntil
				}
				if !o.DeletedAt.IsZero() {
					j.DeletedAt = &o.DeletedAt
				}
				out = append(out, j)
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), map[string]any{"orphans": out})
			}
			if len(out) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "no orphaned payload objects found")
				return nil
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "OBJECT\tVERSION\tSIZE\tSTORED\tSTATE")
			for _, o := range out {
				state := o.State
				switch {
				case o.DeletedAt != nil:
					state += " " + o.DeletedAt.Format(time.RFC3339)
				case o.LockedUntil != nil && o.State == "kept-locked":
					state += fmt.Sprintf(" (%s until %s)", o.LockMode, o.LockedUntil.Format(time.RFC3339))
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", o.Object, o.Version, o.Size, o.StoredAt.Format(time.RFC3339), state)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVarP(&configFile, "config", "c", "", "the gateway's configuration file (YAML)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the list as JSON")
	return cmd
}
