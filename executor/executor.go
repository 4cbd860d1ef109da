// Options and Run: a run's settings, its state, and the run set it picks.

package executor

import (
	"context"
	"errors"
	"fmt"
	"github.com/fray-go/fray/storage"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fray-go/fray"
)

// PrefixEnvMode says whether steps get FRAY_PREFIX in their task's runtime environment.
type PrefixEnvMode int

const (
	// PrefixEnvAuto (the default) sets FRAY_PREFIX in each step's RuntimeEnv.Env, except
	// for a mem:// prefix (an in-memory bucket that a step in another process could not
	// see); if the backend rejects per-task environment variables with an
	// fray.ErrUnsupported error at submission, the executor logs that once and submits
	// without it from then on. Steps always get the prefix through their ctx
	// (executor.Prefix). On the local backend a step with an environment runs in a worker
	// process.
	PrefixEnvAuto PrefixEnvMode = iota
	// PrefixEnvAlways sets FRAY_PREFIX and fails the step when the backend cannot.
	PrefixEnvAlways
	// PrefixEnvNever leaves the task environment alone.
	PrefixEnvNever
)

// Options configure a run. Prefix is required.
type Options struct {
	// Prefix is where output directories go: a local path or a bucket URL.
	Prefix string
	// InfoBasePath is where the experiment record goes (default <Prefix>/experiments).
	InfoBasePath string
	// ExperimentName names the experiment record (default: the program's base name).
	ExperimentName string
	// Description is stored in the experiment record.
	Description string
	// DryRun plans, writes the info records and reports what would run; it runs nothing
	// and writes no status files.
	DryRun bool
	// ForceRunFailed reruns steps whose last status is FAILED or DEP_FAILED instead of
	// refusing them.
	ForceRunFailed bool
	// RunOnly restricts the run to steps whose names match one of these regular expressions
	// (unanchored, Go syntax: use ^...$ for whole names), plus their dependencies that have
	// not already succeeded.
	RunOnly []string
	// MaxConcurrent bounds how many steps are in flight at once (0: no bound).
	MaxConcurrent int
	// PollInterval is how often a step owned by another live executor is checked again
	// (default 5s, as Marin).
	PollInterval time.Duration
	// PingTimeout bounds an owner liveness ping (default 30s; no answer counts as alive).
	PingTimeout time.Duration
	// LeaseTTL is how long a step's lease (see the package doc) outlives its holder's last
	// renewal; the holder renews every LeaseTTL/4. A step whose executor died is taken over
	// one LeaseTTL after that executor's last renewal. Default 60s; at least 100ms.
	LeaseTTL time.Duration
	// PrefixEnv controls FRAY_PREFIX in the steps' task environment (default PrefixEnvAuto).
	PrefixEnv PrefixEnvMode
	// Logger receives progress and warnings (default slog.Default()).
	Logger *slog.Logger
	// Observer, when set, is called (from several goroutines; it must be safe for that) on
	// every change of a step's state. The CLI uses it for live progress.
	Observer func(Update)
	// GitCommit is stored in the experiment record (default: FRAY_GIT_COMMIT, else what
	// `git rev-parse HEAD` says in the working directory, else "").
	GitCommit string
	// Now is the clock (tests).
	Now func() time.Time
}

// Step states reported in Updates and the Report.
const (
	StatePending   State = "pending"    // waiting for dependencies or a concurrency slot
	StateWaiting   State = "waiting"    // another live executor owns the step; polling
	StateRunning   State = "running"    // this executor is running the step
	StateSucceeded State = "succeeded"  // ran and succeeded
	StateSkipped   State = "skipped"    // was already successful
	StateFailed    State = "failed"     // ran and failed, or had failed before
	StateDepFailed State = "dep_failed" // not run because a dependency failed
	// StateInterrupted: the step was running when the run was stopped (ctx cancelled, as by
	// Ctrl-C). Its status file keeps RUNNING with its lease released, which reads as
	// CANCELLED, and the next run reruns it.
	StateInterrupted State = "interrupted"
	StateNotRun      State = "not_run" // the run stopped before reaching it
)

// Plan actions.
const (
	ActionRun  Action = "run"  // would run (no status, interrupted, or forced after failure)
	ActionSkip Action = "skip" // already successful
	ActionWait Action = "wait" // owned by another live executor right now
	ActionFail Action = "fail" // failed previously; would be refused without ForceRunFailed
)

// run is the state of one Run call.
type run struct {
	opts    Options
	log     *slog.Logger
	store   *pathStore
	status  *statusLog
	owner   string
	sa      fray.ActorHandle[StatusActor]
	leases  *leaser // set by execute
	planner *planner
	nodes   []*node // run set, dependency order
	inRun   map[*node]bool
	reports map[*node]*StepReport

	noPrefixEnv atomic.Bool
	envOnce     sync.Once
}

// Run runs steps (and their dependencies) with the job context in ctx. It returns a report
// of what happened; err is a *RunError when steps failed, or the reason the run could not
// start.
func Run(ctx context.Context, opts Options, steps ...*Step) (*Report, error) {
	start := time.Now()
	if opts.Prefix == "" {
		return nil, errors.New("executor: no prefix: set Options.Prefix (the CLI takes --prefix or the " + PrefixEnv + " environment variable)")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 5 * time.Second
	}
	if opts.PingTimeout <= 0 {
		opts.PingTimeout = 30 * time.Second
	}
	if opts.InfoBasePath == "" {
		opts.InfoBasePath = JoinPath(opts.Prefix, "experiments")
	}
	// A bucket URL whose driver is not linked fails here once, before any step, rather
	// than once per step's output.
	for _, loc := range []string{opts.Prefix, opts.InfoBasePath} {
		if err := storage.CheckLinked(loc); err != nil {
			return nil, fmt.Errorf("executor: %w", err)
		}
	}
	if opts.ExperimentName == "" {
		opts.ExperimentName = strings.TrimSuffix(filepath.Base(os.Args[0]), ".test")
	}
	if opts.MaxConcurrent < 0 {
		return nil, fmt.Errorf("executor: MaxConcurrent must be >= 0, got %d", opts.MaxConcurrent)
	}
	if opts.LeaseTTL == 0 {
		opts.LeaseTTL = 60 * time.Second
	}
	if opts.LeaseTTL < 100*time.Millisecond {
		return nil, fmt.Errorf("executor: LeaseTTL must be at least 100ms (0 means the default 60s), got %v", opts.LeaseTTL)
	}
	r := &run{opts: opts, log: opts.Logger, store: newPathStore(), reports: map[*node]*StepReport{}}
	defer r.store.Close()
	r.store.addLocalRoot(opts.Prefix)
	r.status = &statusLog{store: r.store, now: opts.Now}
	r.planner = newPlanner(opts.Prefix, func(msg string, args ...any) { r.log.Warn(msg, args...) })
	var roots []*node
	for _, s := range steps {
		n, err := r.planner.add(s)
		if err != nil {
			return nil, err
		}
		roots = append(roots, n)
	}
	if _, err := fray.JobContextFrom(ctx); err != nil {
		return nil, err
	}
	sa, err := GetStatusActor(ctx)
	if err != nil {
		return nil, fmt.Errorf("executor: creating the StatusActor: %w", err)
	}
	r.sa = sa
	if err := r.selectRunSet(ctx, roots); err != nil {
		return nil, err
	}
	if err := r.checkInMemoryPaths(ctx); err != nil {
		return nil, err
	}
	for _, n := range r.nodes {
		r.reports[n] = &StepReport{Name: n.name, FnName: n.fnName, OutputPath: n.output, Hash: n.hash,
			Version: n.versionStr, Deps: n.depPaths, State: StatePending}
	}
	expPath, err := r.writeInfos(ctx)
	if err != nil {
		return nil, err
	}
	rep := &Report{ExperimentPath: expPath, DryRun: opts.DryRun}
	var runErr error
	if opts.DryRun {
		runErr = r.dryRun(ctx)
	} else {
		runErr = r.execute(ctx)
	}
	for _, n := range r.nodes {
		rep.Steps = append(rep.Steps, *r.reports[n])
	}
	rep.Elapsed = time.Since(start)
	return rep, runErr
}

// selectRunSet picks the steps to run: with RunOnly, the matching steps plus their
// not-yet-successful dependencies; otherwise the given steps and all their blocking
// dependencies.
func (r *run) selectRunSet(ctx context.Context, roots []*node) error {
	r.inRun = map[*node]bool{}
	var stack []*node
	if len(r.opts.RunOnly) == 0 {
		stack = append(stack, roots...)
		for len(stack) > 0 {
			n := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if r.inRun[n] {
				continue
			}
			r.inRun[n] = true
			stack = append(stack, n.deps...)
		}
	} else {
		res := make([]*regexp.Regexp, len(r.opts.RunOnly))
		for i, p := range r.opts.RunOnly {
			re, err := regexp.Compile(p)
			if err != nil {
				return fmt.Errorf("executor: run-only pattern %q: %w", p, err)
			}
			res[i] = re
		}
		matched := make([]bool, len(res))
		for _, n := range r.planner.order {
			for i, re := range res {
				if re.MatchString(n.name) {
					matched[i] = true
					if !r.inRun[n] {
						r.inRun[n] = true
						stack = append(stack, n)
					}
				}
			}
		}
		for i, ok := range matched {
			if !ok {
				r.log.Warn("run-only pattern matched no step", "pattern", r.opts.RunOnly[i])
			}
		}
		for len(stack) > 0 {
			n := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, d := range n.deps {
				if r.inRun[d] {
					continue
				}
				evs, err := r.status.read(ctx, d.output)
				if err != nil {
					return err
				}
				if lastStatus(evs) == StatusSuccess {
					continue
				}
				r.inRun[d] = true
				stack = append(stack, d)
			}
		}
	}
	for _, n := range r.planner.order {
		if r.inRun[n] {
			r.nodes = append(r.nodes, n)
		}
	}
	return nil
}

func (r *run) notify(n *node, st State, msg string) {
	rep := r.reports[n]
	rep.State = st
	if r.opts.Observer != nil {
		r.opts.Observer(Update{Step: n.name, Output: n.output, State: st, Message: msg, Time: r.opts.Now()})
	}
}
