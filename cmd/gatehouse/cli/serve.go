package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime/pprof"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-gw/gatehouse/config"
	"github.com/gatehouse-gw/gatehouse/internal/logkey"
	"github.com/gatehouse-gw/gatehouse/server"
)

func newServeCmd() *cobra.Command {
	var configFile, cpuProfile, allocProfile string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the gateway",
		Long: `Run the gateway with the given configuration file. Every setting can be
overridden by an environment variable: database.dsn by GATEHOUSE_DATABASE_DSN.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(configFile)
			if err != nil {
				return err
			}
			log := server.NewLogger(cfg.Log, cmd.ErrOrStderr())
			for _, k := range config.UnknownEnv(os.Environ()) {
				log.Warn("environment variable overrides no setting; is it misspelt?", "variable", k)
			}
			a, err := server.New(cmd.Context(), cfg, log)
			if err != nil {
				return err
			}
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer func() { pprof.StopCPUProfile(); f.Close() }()
			}
			if allocProfile != "" {
				f, err := os.Create(allocProfile)
				if err != nil {
					return err
				}
				defer func() { _ = pprof.Lookup("allocs").WriteTo(f, 0); f.Close() }()
			}
			return serve(cmd.Context(), a, log)
		},
	}
	cmd.Flags().StringVarP(&configFile, "config", "c", "", "configuration file (YAML)")
	cmd.Flags().StringVar(&cpuProfile, "cpu-profile", "", "write a CPU profile here until the gateway stops (for diagnosis)")
	cmd.Flags().StringVar(&allocProfile, "alloc-profile", "", "write a profile of every allocation since start here when the gateway stops (for diagnosis)")
	return cmd
}

// serve runs the gateway until ctx ends, then shuts it down gracefully.
func serve(ctx context.Context, a *server.App, log *slog.Logger) error {
	ls, err := a.Listen()
	if err != nil {
		a.Close()
		return err
	}
	log.Info("gateway listening", logkey.Addr, ls.Partner.Addr().String(), "version", Version())
	if ls.Admin != nil {
		log.Info("admin API listening", logkey.Addr, ls.Admin.Addr().String())
	}
	served := make(chan error, 1)
	go func() { served <- a.Serve(ls) }()
	select {
	case err := <-served:
		a.Close()
		return fmt.Errorf("gateway stopped: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down; waiting up to 30s for requests in flight")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return a.Shutdown(sctx)
}
