// Package cli is the gatehouse command: the gateway server, its development
// mode, PKI tooling and the partner client.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/gatehouse-gw/gatehouse/api"
)

// version is set at build time with -ldflags "-X .../cmd/gatehouse/cli.version=…".
var version = ""

// Version returns the build's version.
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// Main runs the command line and returns the exit code.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := NewRoot(os.Stdout, os.Stderr)
	err := root.ExecuteContext(ctx)
	if err != nil {
		printError(os.Stderr, err)
	}
	return ExitCode(err)
}

// ExitCode is the exit code of a command that returned err: 0 for none,
// the code the command chose, or 1.
func ExitCode(err error) int {
	var ex *exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ex):
		return ex.code
	}
	return 1
}

// exitError carries a specific exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// printError writes err for a person to read, quoting a gateway problem in full.
func printError(w io.Writer, err error) {
	var p *api.Problem
	if errors.As(err, &p) {
		fmt.Fprintf(w, "gatehouse: %s (%d %s)\n", p.Title, p.Status, p.Code)
		if p.Detail != "" && p.Decision == nil && len(p.Errors) == 0 {
			fmt.Fprintf(w, "  %s\n", p.Detail)
		}
		for _, fe := range p.Errors {
			fmt.Fprintf(w, "  %s: %s [%s]\n", fe.Field, fe.Message, fe.Rule)
		}
		if p.Decision != nil {
			for _, c := range p.Decision.Checks {
				if !c.Passed {
					fmt.Fprintf(w, "  ✗ %s: %s\n", c.Code, c.Message)
				}
			}
		}
		if p.ErrorID != "" {
			fmt.Fprintf(w, "  error id: %s\n", p.ErrorID)
		}
		return
	}
	fmt.Fprintf(w, "gatehouse: %v\n", err)
}

// NewRoot builds the command tree.
func NewRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "gatehouse",
		Short:         "Gatehouse: a secure exchange gateway for councils and the agencies they share data with",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(
		newServeCmd(),
		newMigrateCmd(),
		newConfigCmd(),
		newKeysCmd(),
		newProbeCmd(),
		newDevCmd(),
		newCertsCmd(),
		newClientCmd(),
		newAgreementsCmd(),
		newPartiesCmd(),
		newTokenCmd(),
		newLoginCmd(),
		newLogoutCmd(),
		newAuditCmd(),
		newObjectsCmd(),
		newExportCmd(),
		newComplianceCmd(),
		newConsentsCmd(),
		&cobra.Command{
			Use:   "version",
			Short: "Print the version",
			Args:  cobra.NoArgs,
			Run: func(cmd *cobra.Command, _ []string) {
				fmt.Fprintln(cmd.OutOrStdout(), "gatehouse", Version())
			},
		},
	)
	return root
}
