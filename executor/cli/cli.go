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
//	     [--executor-info-base-path PATH]
//	prog status --prefix /data/runs
//
// --prefix falls back to the FRAY_PREFIX environment variable. While steps run the command
// prints a progress line (running / waiting / done / failed counts and elapsed time) —
// rewritten in place on a terminal, every few seconds or on change in logs — and at the end
// a summary table (step, status, duration, output path).
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/executor"
)

// Main builds the command for steps, runs it with os.Args and exits with its status.
func Main(steps ...*executor.Step) {
	cmd := NewCommand(steps...)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cmd.ExecuteContext(ctx)
	stop()
	if err != nil {
		os.Exit(1)
	}
	os.Exit(0)
}

// runFlags are the run command's flags.
type runFlags struct {
	prefix, infoBase, backend, rayAddress, namespace, experiment, description string
	dryRun, forceRunFailed                                                    bool
	runOnly                                                                   []string
	maxConcurrent                                                             int
}

// NewCommand returns the command tree: the root command runs the pipeline, "status" shows
// the status files under a prefix.
func NewCommand(steps ...*executor.Step) *cobra.Command {
	var f runFlags
	root := &cobra.Command{
		Use:           commandName(),
		Short:         "Run the pipeline's steps with the fray executor",
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			err := runPipeline(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), f, steps)
			if err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), "error:", err)
			}
			return err
		},
	}
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
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := resolvePrefix(statusPrefix)
			if err == nil {
				err = PrintStatus(cmd.Context(), cmd.OutOrStdout(), p)
			}
			if err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), "error:", err)
			}
			return err
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

func resolvePrefix(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if p := os.Getenv(executor.PrefixEnv); p != "" {
		return p, nil
	}
	return "", ErrNoPrefix
}

func runPipeline(ctx context.Context, stdout, stderr io.Writer, f runFlags, steps []*executor.Step) error {
	prefix, err := resolvePrefix(f.prefix)
	if err != nil {
		return err
	}
	jc, err := Connect(ctx, BackendConfig{Name: f.backend, RayAddress: f.rayAddress, Namespace: f.namespace, Prefix: prefix})
	if err != nil {
		return err
	}
	defer jc.Close()
	ctx = fray.WithJobContext(ctx, jc)
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	prog := newProgress(stderr, isTerminal(stderr))
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

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progress renders live counts from executor updates.
type progress struct {
	w      io.Writer
	tty    bool
	mu     sync.Mutex
	states map[string]executor.State
	begin  time.Time
	last   string
	lastAt time.Time
	done   chan struct{}
	wg     sync.WaitGroup
}

func newProgress(w io.Writer, tty bool) *progress {
	return &progress{w: w, tty: tty, states: map[string]executor.State{}, done: make(chan struct{})}
}

func (p *progress) observe(u executor.Update) {
	p.mu.Lock()
	p.states[u.Step] = u.State
	p.mu.Unlock()
}

func (p *progress) line() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var running, waiting, done, failed int
	for _, s := range p.states {
		switch s {
		case executor.StateRunning:
			running++
		case executor.StateWaiting:
			waiting++
		case executor.StateSucceeded, executor.StateSkipped:
			done++
		case executor.StateFailed, executor.StateDepFailed:
			failed++
		}
	}
	return fmt.Sprintf("[%s] running %d, waiting %d, done %d, failed %d", time.Since(p.begin).Round(time.Second), running, waiting, done, failed)
}

func (p *progress) start() {
	p.begin = time.Now()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				return
			case <-t.C:
				p.render(false)
			}
		}
	}()
}

// render prints the progress line: in place on a terminal; in logs only when the counts
// changed, or every 30 seconds.
func (p *progress) render(final bool) {
	l := p.line()
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", l)
		if final {
			fmt.Fprintln(p.w)
		}
		return
	}
	counts := l[strings.Index(l, "]")+1:]
	if counts != p.last || time.Since(p.lastAt) > 30*time.Second || final {
		fmt.Fprintln(p.w, l)
		p.last, p.lastAt = counts, time.Now()
	}
}

func (p *progress) stop() {
	if p.begin.IsZero() {
		return
	}
	close(p.done)
	p.wg.Wait()
	p.render(true)
}
