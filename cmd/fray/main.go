// Command fray runs Go programs that use fray on a Ray cluster, and looks into the cluster:
//
//	fray cluster start|stop|status|env|address   a local Ray head for development
//	fray submit [--address URL] [--wait] [--working-dir DIR] -- <go program> [args]
//	fray jobs list|status|logs [-f]|stop <id>     jobs on the cluster (Ray's Jobs API)
//	fray actors|tasks|objects list                 Ray's state API, with fray's names
//
// It needs no Python: everything but `cluster start` speaks HTTP to the cluster's dashboard
// with the cluster's token. Where the cluster is: --address (the dashboard's URL,
// "http://127.0.0.1:8265", or the cluster's GCS address "127.0.0.1:6379"), else
// $RAY_API_SERVER_ADDRESS (Ray's own variable for its Jobs CLI), else $RAY_ADDRESS, else the
// cluster that `fray cluster start` recorded in .cache in the working directory or one of
// its parents (the order ray.Connect uses). A GCS address is turned into the dashboard's URL by asking the GCS
// (through the Python that ray.Connect would use). The token is found as ray.Connect finds
// it: --token-file, $RAY_AUTH_TOKEN, $RAY_AUTH_TOKEN_PATH, else .cache/ray-auth-token.
//
// Exit status: 0 on success; 1 when the command failed (or, with --wait, the job did not
// succeed); 2 for a bad command line, when nothing ran.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit statuses.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the command line args and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	c, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	if c == nil {
		c = root
	}
	var ue *usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		fmt.Fprintf(stderr, "fray: %v\nRun '%s --help' for usage.\n", err, c.CommandPath())
		return exitUsage
	}
	fmt.Fprintf(stderr, "fray: %v\n", err)
	return exitFailed
}

// usageError is a mistake on the command line: nothing ran.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usagef returns a *usageError.
func usagef(format string, a ...any) error { return &usageError{fmt.Errorf(format, a...)} }

// isCobraUsage reports cobra's own errors for an unknown command (which it returns without
// going through the flag error function).
func isCobraUsage(err error) bool {
	s := err.Error()
	return len(s) > 16 && s[:16] == "unknown command "
}

// usageArgs makes the errors of a cobra argument validator usage errors.
func usageArgs(v cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := v(cmd, args); err != nil {
			return &usageError{err}
		}
		return nil
	}
}

// globalFlags are the flags every command that talks to a cluster has.
type globalFlags struct {
	address   string // the dashboard's URL or the GCS address
	tokenFile string
}

func newRoot() *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:   "fray",
		Short: "Run Go programs that use fray on a Ray cluster, and look into the cluster",
		Long: `fray runs Go programs that use fray on a Ray cluster as Ray jobs, and shows the
cluster's jobs, actors, tasks and objects with fray's names.

  fray cluster start                      a local Ray head for development (token auth, loopback only)
  fray submit --wait -- ./cmd/prog -ray auto
                                          build ./cmd/prog, ship it, run it as a job's driver
  fray jobs logs -f <id>                  follow a job's output
  fray actors list                        the cluster's actors
  fray cluster stop

Where the cluster is: --address (the dashboard's URL, http://127.0.0.1:8265, or the GCS
address 127.0.0.1:6379), else $RAY_API_SERVER_ADDRESS, else $RAY_ADDRESS, else the
cluster that 'fray cluster start' recorded in .cache here or in a parent directory.
The token (Ray's token authentication) is --token-file, else $RAY_AUTH_TOKEN, else
$RAY_AUTH_TOKEN_PATH, else .cache/ray-auth-token here or in a parent directory.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usagef("a command is needed: cluster, submit, jobs, actors, tasks or objects")
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	root.AddCommand(newClusterCmd())
	for _, c := range []*cobra.Command{newSubmitCmd(g), newJobsCmd(g),
		newStateCmd(g, "actors"), newStateCmd(g, "tasks"), newStateCmd(g, "objects")} {
		pf := c.PersistentFlags() // the commands that talk to a cluster's dashboard
		pf.StringVar(&g.address, "address", "", "the cluster: its dashboard's URL (http://HOST:PORT) or its GCS address (HOST:PORT)")
		pf.StringVar(&g.tokenFile, "token-file", "", "the file holding the cluster's token (default: as ray.Connect finds it)")
		root.AddCommand(c)
	}
	return root
}

// group returns a command that only holds subcommands.
func group(use, short string, sub ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usagef("%s needs a subcommand", cmd.CommandPath())
		},
	}
	c.AddCommand(sub...)
	return c
}
