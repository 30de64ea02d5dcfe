package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gatehouse-gw/gatehouse/config"
	"github.com/gatehouse-gw/gatehouse/server"
	"github.com/gatehouse-gw/gatehouse/store"
)

func newMigrateCmd() *cobra.Command {
	var configFile string
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Bring the database schema up to date, then exit",
		Long: `Apply any pending schema migrations and exit. The gateway migrates on start
as well; run this as the owner of the tables when the gateway itself runs as a
role that may not change the schema (see store/migrations/postgres-roles.sql).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(configFile)
			if err != nil {
				return err
			}
			log := server.NewLogger(config.Log{Level: "info", Format: "text"}, cmd.ErrOrStderr())
			db, err := store.Open(cmd.Context(), cfg.Database.Driver, cfg.Database.DSN, log)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "the schema is up to date")
			return db.Close()
		},
	}
	cmd.Flags().StringVarP(&configFile, "config", "c", "", "configuration file (YAML)")
	return cmd
}
