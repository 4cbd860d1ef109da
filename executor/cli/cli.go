// Package cli is the executor's command line (Marin's executor_main): a cobra command tree
// that a pipeline program builds around its steps.
//
//	func main() {
//		fray.Init()
//		cli.Main(tokenize, train, evaluate)
//	}
//
// The program then runs as
//
//	prog --prefix /data/runs [--dry-run] [--force-run-failed] [--run-only REGEX]...
//	     [--max-concurrent N] [--backend local|ray] [--ray-address ADDR] [--namespace marin]
//	     [--executor-info-base-path PATH] [--log-level debug|info|warn|error] [--log-format text|json]
//	prog status --prefix /data/runs
//
// --prefix falls back to the FRAY_PREFIX environment variable. While steps run the command
// reports progress (running / waiting / done / failed counts and elapsed time) — a line
// rewritten in place on a terminal, else a log record when the counts change — and at the
// end prints a summary table (step, status, duration, output path) on standard output.
//
// Errors: a bad command line (unknown flag or subcommand, extra argument, a flag value that
// does not parse or is out of range) is a *UsageError; it is printed with a hint to run
// --help, nothing runs, and the exit status is 2. Any other failure is logged and exits
// with 1. A program that adds flags of its own validates them in PreRunE and returns
// FlagError for a bad one, and runs the command with Execute.
//
// Logging: standard error carries one format, slog's text or JSON handler (--log-format,
// default $FRAY_LOG_FORMAT, else text) at --log-level (default $FRAY_LOG_LEVEL, else info).
// The handler becomes the process's default logger (also for the standard log package) and
// the choice is exported as FRAY_LOG_LEVEL and FRAY_LOG_FORMAT, which worker processes (the
// local backend's, and the Go children on Ray workers) read in fray.Init; the Ray bridge
// logs the lines it forwards from Ray through the same handler, at the level each states.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
	"github.com/fray-go/fray/executor"
	"github.com/fray-go/fray/internal/logging"
	progressview "github.com/fray-go/fray/processing/progress"
)

// Main builds the command for steps, runs it with os.Args and exits with Execute's status.
func Main(steps ...*executor.Step) {
	os.Exit(Execute(NewCommand(steps...)))
}

// Exit statuses of Execute.
const (
	ExitOK     = 0
	ExitFailed = 1 // the run (or status) failed; the error is logged
	ExitUsage  = 2 // a *UsageError: bad flags or arguments, and nothing ran
)

// Execute runs cmd (a NewCommand tree, possibly with flags of the program's own added) with
// os.Args and a context that SIGINT and SIGTERM cancel, reports its error on the command's
// standard error and returns the exit status. A *UsageError is printed with a hint to run
// --help and gives ExitUsage; any other error is logged through the command's logger and
// gives ExitFailed.
func Execute(cmd *cobra.Command) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return execute(ctx, cmd)
}

func execute(ctx context.Context, cmd *cobra.Command) int {
	c, err := cmd.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	if c == nil {
		c = cmd
	}
	var ue *UsageError
	if errors.As(err, &ue) {
		fmt.Fprintf(c.ErrOrStderr(), "error: %v\nRun '%s --help' for usage.\n", err, c.CommandPath())
		return ExitUsage
	}
	slog.Error(c.CommandPath()+" failed", "err", err)
	return ExitFailed
}

// UsageError is a mistake on the command line: an unknown flag or subcommand, an extra
// argument, a flag value that does not parse or is out of range. It is returned before
// anything runs. Flag names the flag at fault ("--threshold"), when one is.
type UsageError struct {
	Flag string
	Err  error
}

func (e *UsageError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *UsageError) Unwrap() error { return e.Err }

// FlagError returns a *UsageError for a bad value of the flag named name (without dashes):
// "invalid --name value: reason".
func FlagError(name string, value any, reason string) error {
	return &UsageError{Flag: "--" + name, Err: fmt.Errorf("invalid --%s %v: %s", name, value, reason)}
}

// flagError is the command tree's flag error function: pflag's parse errors (unknown flag,
// missing or unparsable value) become usage errors that name the flag.
func flagError(_ *cobra.Command, err error) error {
	ue := &UsageError{Err: err}
	var named interface{ GetSpecifiedName() string }
	var invalid *pflag.InvalidValueError
	switch {
	case errors.As(err, &invalid):
		ue.Flag = "--" + invalid.GetFlag().Name
	case errors.As(err, &named):
		ue.Flag = "--" + named.GetSpecifiedName()
	}
	return ue
}

// usageArgs makes the errors of a cobra argument validator usage errors.
func usageArgs(v cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := v(cmd, args); err != nil {
			return &UsageError{Err: err}
		}
		return nil
	}
}

// runFlags are the run command's flags.
type runFlags struct {
	prefix, infoBase, backend, rayAddress, namespace, experiment, description string
	dryRun, forceRunFailed                                                    bool
	runOnly                                                                   []string
	maxConcurrent                                                             int
}

// validate checks the run flags before anything connects or runs.
func (f runFlags) validate() error {
	if f.maxConcurrent < 0 {
		return FlagError("max-concurrent", f.maxConcurrent, "must be 0 (no limit) or more")
	}
	switch f.backend {
	case "local":
		if f.rayAddress != "" {
			return FlagError("ray-address", f.rayAddress, "only used with --backend ray")
		}
	case "ray":
	default:
		return FlagError("backend", f.backend, "use local or ray")
	}
	for _, p := range f.runOnly {
		if _, err := regexp.Compile(p); err != nil {
			return FlagError("run-only", fmt.Sprintf("%q", p), err.Error())
		}
	}
	return nil
}

// logFlags are the persistent --log-level and --log-format flags.
type logFlags struct{ level, format string }

// config resolves the flags, falling back to FRAY_LOG_LEVEL and FRAY_LOG_FORMAT, then to
// info and text.
func (f logFlags) config() (logging.Config, error) {
	c := logging.Config{Format: logging.FormatText}
	if v, from := flagOrEnv("log-level", f.level, logging.EnvLevel); v != "" {
		l, err := logging.ParseLevel(v)
		if err != nil {
			return c, &UsageError{Flag: "--log-level", Err: fmt.Errorf("%s: %w", from, err)}
		}
		c.Level = l
	}
	if v, from := flagOrEnv("log-format", f.format, logging.EnvFormat); v != "" {
		format, err := logging.ParseFormat(v)
		if err != nil {
			return c, &UsageError{Flag: "--log-format", Err: fmt.Errorf("%s: %w", from, err)}
		}
		c.Format = format
	}
	return c, nil
}

// flagOrEnv returns the flag's value if set, else the environment variable's, and where the
// value came from ("--name" or "$VAR (the default of --name)").
func flagOrEnv(name, value, env string) (string, string) {
	if value != "" {
		return value, "--" + name
	}
	return os.Getenv(env), "$" + env + " (the default of --" + name + ")"
}

// NewCommand returns the command tree: the root command runs the pipeline, "status" shows
// the status files under a prefix. Run it with Execute, which reports errors and chooses
// the exit status. Before any command runs, its flags are checked (a bad one is a
// *UsageError naming it) and the log handler chosen by --log-level and --log-format
// becomes the process's default logger; worker processes inherit the choice.
func NewCommand(steps ...*executor.Step) *cobra.Command {
	var f runFlags
	var lf logFlags
	var logger *slog.Logger
	var logCfg logging.Config
	root := &cobra.Command{
		Use:           commandName(),
		Short:         "Run the pipeline's steps with the fray executor",
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPipeline(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), logger, logCfg, f, steps)
		},
	}
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		c, err := lf.config()
		if err != nil {
			return err
		}
		if cmd == root {
			if err := f.validate(); err != nil {
				return err
			}
		}
		logCfg, logger = c, logging.Install(cmd.ErrOrStderr(), c)
		logging.Export(c) // worker processes started by this run log the same way
		return nil
	}
	root.SetFlagErrorFunc(flagError) // subcommands inherit it
	pf := root.PersistentFlags()
	pf.StringVar(&lf.level, "log-level", "", "log level: debug, info, warn or error (default $"+logging.EnvLevel+", else info)")
	pf.StringVar(&lf.format, "log-format", "", "log format: text or json, one record per line (default $"+logging.EnvFormat+", else text)")
	fl := root.Flags()
	fl.StringVar(&f.prefix, "prefix", "", "where step outputs go: a local path or bucket URL (default $"+executor.PrefixEnv+")")
	fl.StringVar(&f.infoBase, "executor-info-base-path", "", "where the experiment record goes (default <prefix>/experiments)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "print the plan and write info records; run nothing")
	fl.BoolVar(&f.forceRunFailed, "force-run-failed", false, "rerun steps that failed previously instead of refusing them")
	fl.StringArrayVar(&f.runOnly, "run-only", nil, "run only steps whose names match this regexp, plus their unfinished dependencies (repeatable)")
	fl.IntVar(&f.maxConcurrent, "max-concurrent", 0, "at most this many steps at once (0: no limit)")
	fl.StringVar(&f.backend, "backend", "local", "fray backend: local or ray")
	fl.StringVar(&f.rayAddress, "ray-address", "", "Ray cluster address (default $RAY_ADDRESS, else auto)")
	fl.StringVar(&f.namespace, "namespace", executor.StatusActorNamespace, "namespace for named actors")
	fl.StringVar(&f.experiment, "experiment-name", "", "name of the experiment record (default: the program name)")
	fl.StringVar(&f.description, "description", "", "description stored in the experiment record")

	var statusPrefix string
	status := &cobra.Command{
		Use:           "status",
		Short:         "Show the status of every step under a prefix",
		Args:          usageArgs(cobra.NoArgs),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := resolvePrefix(statusPrefix)
			if err != nil {
				return err
			}
			if err := checkPrefixExists(p); err != nil {
				return err
			}
			return PrintStatus(cmd.Context(), cmd.OutOrStdout(), p)
		},
	}
	status.Flags().StringVar(&statusPrefix, "prefix", "", "prefix to scan (default $"+executor.PrefixEnv+")")
	root.AddCommand(status)
	return root
}

func commandName() string {
	n := os.Args[0]
	if i := strings.LastIndexAny(n, `/\`); i >= 0 {
		n = n[i+1:]
	}
	return n
}

// ErrNoPrefix is returned when neither --prefix nor FRAY_PREFIX is set.
var ErrNoPrefix = errors.New("no prefix: pass --prefix or set the " + executor.PrefixEnv + " environment variable")

// resolvePrefix returns the --prefix flag, else $FRAY_PREFIX, else a *UsageError wrapping
// ErrNoPrefix.
func resolvePrefix(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if p := os.Getenv(executor.PrefixEnv); p != "" {
		return p, nil
	}
	return "", &UsageError{Flag: "--prefix", Err: ErrNoPrefix}
}

// ErrPrefixNotFound is returned by status for a local prefix that does not exist.
var ErrPrefixNotFound = errors.New("prefix does not exist")

// checkPrefixExists fails for a local prefix (a path or file:// URL) that does not exist,
// so that status on a mistyped path says so instead of listing no steps. Bucket URLs are
// not checked: an empty bucket prefix is simply one with no steps yet.
func checkPrefixExists(prefix string) error {
	path := prefix
	if strings.HasPrefix(path, "file://") {
		path = strings.TrimPrefix(path, "file://")
	} else if strings.Contains(path, "://") {
		return nil
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s (check --prefix or $%s; nothing has run there yet)", ErrPrefixNotFound, prefix, executor.PrefixEnv)
	}
	return nil
}

func runPipeline(ctx context.Context, stdout, stderr io.Writer, logger *slog.Logger, logCfg logging.Config, f runFlags, steps []*executor.Step) error {
	prefix, err := resolvePrefix(f.prefix)
	if err != nil {
		return err
	}
	// One live view for the run, shared with the sharded steps that draw on the same writer
	// (processing/shards finds it with progressview.Lookup); on a terminal, log records and
	// the output of worker processes (started after it, so made before Connect) go above its
	// lines instead of through them.
	tty := !f.dryRun && progressview.IsTerminal(stderr) && logCfg.Format != logging.FormatJSON
	view := progressview.New(stderr, progressview.Options{Terminal: &tty, Logger: logger, LogEvery: 30 * time.Second})
	defer view.Close()
	if tty {
		logger = logging.Install(view.Writer(), logCfg)
		defer logging.Install(stderr, logCfg)
	}
	jc, err := Connect(ctx, BackendConfig{Name: f.backend, RayAddress: f.rayAddress, Namespace: f.namespace, Prefix: prefix})
	if err != nil {
		return err
	}
	defer jc.Close()
	ctx = fray.WithJobContext(ctx, jc)
	if url := dashboardURL(jc); url != "" {
		logger.Info("Ray dashboard", "url", url)
	}
	prog := newProgress(view)
	opts := executor.Options{
		Prefix: prefix, InfoBasePath: f.infoBase, DryRun: f.dryRun, ForceRunFailed: f.forceRunFailed,
		RunOnly: f.runOnly, MaxConcurrent: f.maxConcurrent, Logger: logger, ExperimentName: f.experiment,
		Description: f.description,
	}
	if !f.dryRun {
		opts.Observer = prog.observe
		prog.start()
	}
	rep, err := executor.Run(ctx, opts, steps...)
	prog.stop()
	view.Close() // the live lines end before the summary is printed
	if rep != nil {
		if f.dryRun {
			executor.PrintPlan(stdout, rep)
		} else {
			executor.PrintSummary(stdout, rep)
		}
	}
	return err
}

// PrintStatus prints a table of the status files under prefix.
func PrintStatus(ctx context.Context, w io.Writer, prefix string) error {
	sts, err := executor.ListStatuses(ctx, prefix)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tSTATUS\tUPDATED\tEVENTS\tMESSAGE")
	for _, s := range sts {
		msg, st := s.Last.Message, string(s.Status)
		if len(msg) > 80 {
			msg = msg[:77] + "..."
		}
		if s.Err != nil { // the whole error: it names the file and the line
			st, msg = "CORRUPT", s.Err.Error()
		}
		msg = strings.ReplaceAll(msg, "\n", " ")
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", s.Name, st, s.Last.Date, s.Events, msg)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "%d step(s) under %s\n", len(sts), prefix)
	return nil
}

// progress is the executor's line in the live view: the running steps by name and the
// counts of the others, redrawn in place on a terminal (above the sharded steps' own lines,
// see processing/progress), else logged when it changes.
type progress struct {
	view   *progressview.View
	status *progressview.Status
	mu     sync.Mutex
	states map[string]executor.State
	begin  time.Time
}

func newProgress(view *progressview.View) *progress {
	return &progress{view: view, states: map[string]executor.State{}}
}

func (p *progress) observe(u executor.Update) {
	p.mu.Lock()
	p.states[u.Step] = u.State
	p.mu.Unlock()
}

// counts are the steps in each state.
type counts struct {
	running       []string
	waiting, done int
	failed        int
}

func (p *progress) counts() counts {
	p.mu.Lock()
	defer p.mu.Unlock()
	var c counts
	for name, s := range p.states {
		switch s {
		case executor.StateRunning:
			c.running = append(c.running, name)
		case executor.StateWaiting:
			c.waiting++
		case executor.StateSucceeded, executor.StateSkipped:
			c.done++
		case executor.StateFailed, executor.StateDepFailed:
			c.failed++
		}
	}
	sort.Strings(c.running)
	return c
}

// text is the status line: "[3s] running 2 (pipeline/a, pipeline/b), waiting 0, done 1, failed 0".
func (p *progress) text() string {
	c := p.counts()
	names := ""
	if len(c.running) > 0 {
		names = " (" + strings.Join(c.running, ", ") + ")"
	}
	return fmt.Sprintf("[%s] running %d%s, waiting %d, done %d, failed %d",
		time.Since(p.begin).Round(time.Second), len(c.running), names, c.waiting, c.done, c.failed)
}

func (p *progress) start() {
	p.begin = time.Now()
	p.status = p.view.AddStatus(p.text)
}

func (p *progress) stop() {
	if p.status != nil {
		p.status.Done()
	}
}

// dashboardURL returns the URL of the cluster's dashboard when the backend has one (the Ray
// backend's job context reports it), else "".
func dashboardURL(jc backend.JobContext) string {
	if d, ok := jc.(interface{ DashboardURL() string }); ok {
		return d.DashboardURL()
	}
	return ""
}
