package executor

import (
	"context"
	"errors"
	"fmt"
	"github.com/fray-go/fray/storage"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
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

// State is where a step is in a run.
type State string

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

// Action is the dry-run plan for a step.
type Action string

// Plan actions.
const (
	ActionRun  Action = "run"  // would run (no status, interrupted, or forced after failure)
	ActionSkip Action = "skip" // already successful
	ActionWait Action = "wait" // owned by another live executor right now
	ActionFail Action = "fail" // failed previously; would be refused without ForceRunFailed
)

// Update is one state change of a step.
type Update struct {
	Step    string
	Output  string
	State   State
	Message string
	Time    time.Time
}

// StepReport is one step's line in a Report.
type StepReport struct {
	Name       string
	FnName     string
	OutputPath string
	Hash       string
	Version    string   // canonical version JSON
	Deps       []string // output paths of blocking dependencies
	Action     Action   // dry run only
	LastStatus Status   // status found before the run (dry run) or after it
	State      State
	Error      string
	Start, End time.Time
}

// Duration is how long the step ran in this run (0 if it did not).
func (s StepReport) Duration() time.Duration {
	if s.Start.IsZero() || s.End.IsZero() {
		return 0
	}
	return s.End.Sub(s.Start)
}

// Report describes a run: the steps of the run set in dependency order.
type Report struct {
	Steps          []StepReport
	ExperimentPath string // the experiment record written
	DryRun         bool
	Elapsed        time.Duration
}

// RunError is the error of a run in which steps failed. It wraps each step's error.
type RunError struct {
	Failed    []string         // steps that failed (or had failed before)
	DepFailed []string         // steps not run because a dependency failed
	Errors    map[string]error // by step name
}

func (e *RunError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "executor: %d step(s) failed: %s", len(e.Failed), strings.Join(e.Failed, ", "))
	if len(e.DepFailed) > 0 {
		fmt.Fprintf(&b, "; %d dependent step(s) not run: %s", len(e.DepFailed), strings.Join(e.DepFailed, ", "))
	}
	for _, n := range e.Failed {
		if err := e.Errors[n]; err != nil {
			fmt.Fprintf(&b, "\n  %s: %v", n, err)
		}
	}
	return b.String()
}

// Unwrap returns the steps' errors.
func (e *RunError) Unwrap() []error {
	out := make([]error, 0, len(e.Failed))
	for _, n := range e.Failed {
		if err := e.Errors[n]; err != nil {
			out = append(out, err)
		}
	}
	return out
}

// ErrFailedPreviously matches a FailedPreviouslyError.
var ErrFailedPreviously = errors.New("executor: step failed previously")

// FailedPreviouslyError refuses a step whose last recorded status is FAILED or DEP_FAILED.
type FailedPreviouslyError struct {
	Step, StatusFile string
	Status           Status
	Message          string
}

func (e *FailedPreviouslyError) Error() string {
	return fmt.Sprintf("executor: step %s failed previously (status %s in %s: %s); rerun with --force-run-failed (Options.ForceRunFailed) to run it again", e.Step, e.Status, e.StatusFile, e.Message)
}

// Is matches ErrFailedPreviously.
func (e *FailedPreviouslyError) Is(target error) bool { return target == ErrFailedPreviously }

// PlannedStep is a step as planned: its version, output path and resolved config.
type PlannedStep struct {
	Name       string
	FnName     string
	Version    string // canonical version JSON, the input of the hash
	Hash       string
	OutputPath string
	Deps       []string // output paths of blocking dependencies
	Pseudo     []string // output paths of pseudo-dependencies
	Config     any      // resolved config
}

// Plan computes versions, output paths and resolved configs for steps and everything they
// depend on, in dependency order, with identical steps merged. It needs no backend.
func Plan(prefix string, steps ...*Step) ([]PlannedStep, error) {
	p := newPlanner(prefix, nil)
	for _, s := range steps {
		if _, err := p.add(s); err != nil {
			return nil, err
		}
	}
	out := make([]PlannedStep, len(p.order))
	for i, n := range p.order {
		ps := PlannedStep{Name: n.name, FnName: n.fnName, Version: n.versionStr, Hash: n.hash,
			OutputPath: n.output, Deps: n.depPaths, Config: n.config}
		for _, d := range n.pseudo {
			ps.Pseudo = append(ps.Pseudo, d.output)
		}
		out[i] = ps
	}
	return out, nil
}

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

// dryRun fills in each step's Action from its status file and owner.
func (r *run) dryRun(ctx context.Context) error {
	errs := parallel(ctx, len(r.nodes), 16, func(i int) error {
		n := r.nodes[i]
		rep := r.reports[n]
		evs, err := r.status.read(ctx, n.output)
		if err != nil {
			return err
		}
		st := lastStatus(evs)
		rep.LastStatus = st
		owner, err := GetOwner.Call(ctx, r.sa, n.output)
		if err != nil {
			return fmt.Errorf("executor: StatusActor.GetOwner: %w", err)
		}
		alive := false
		if owner != "" {
			if alive, err = ownerAlive(ctx, owner, r.opts.PingTimeout); err != nil {
				return err
			}
		}
		if !alive {
			le, _, err := readLease(ctx, r.store, n.output)
			if err != nil {
				return err
			}
			alive = le != nil && le.Live(time.Now())
		}
		switch {
		case alive:
			rep.Action = ActionWait
		case st == StatusSuccess:
			rep.Action = ActionSkip
		case st == StatusFailed || st == StatusDepFailed:
			if r.opts.ForceRunFailed {
				rep.Action = ActionRun
			} else {
				rep.Action = ActionFail
			}
		default:
			rep.Action = ActionRun
		}
		rep.State = StateNotRun
		return nil
	})
	return errors.Join(errs...)
}

// parallel runs f(0..n-1) on up to width goroutines and returns the non-nil errors.
func parallel(ctx context.Context, n, width int, f func(i int) error) []error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
		next atomic.Int64
	)
	if width > n {
		width = n
	}
	for w := 0; w < width; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := f(i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		errs = append(errs, ctx.Err())
	}
	return errs
}

// outcome is a finished step, sent from its goroutine to the scheduler.
type outcome struct {
	n     *node
	state State
	err   error
}

// execute runs the run set in dependency order.
func (r *run) execute(ctx context.Context) error {
	r.owner = newOwnerID()
	r.leases = &leaser{store: r.store, owner: r.owner, ttl: r.opts.LeaseTTL, poll: r.opts.PollInterval, log: r.log}
	oh, err := startOwner(ctx, r.owner)
	if err != nil {
		return fmt.Errorf("executor: creating the owner actor: %w", err)
	}
	defer func() {
		kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = oh.Kill(kctx)
	}()

	remaining := map[*node]int{}
	dependents := map[*node][]*node{}
	for _, n := range r.nodes {
		for _, d := range n.deps {
			if r.inRun[d] {
				remaining[n]++
				dependents[d] = append(dependents[d], n)
			}
		}
	}
	var slots chan struct{}
	if r.opts.MaxConcurrent > 0 {
		slots = make(chan struct{}, r.opts.MaxConcurrent)
	}
	done := make(chan outcome)
	inFlight := 0
	launch := func(n *node) {
		inFlight++
		go func() {
			if slots != nil {
				select {
				case slots <- struct{}{}:
					defer func() { <-slots }()
				case <-ctx.Done():
					done <- outcome{n: n, state: StateNotRun, err: ctx.Err()}
					return
				}
			}
			st, err := r.runStep(ctx, n)
			done <- outcome{n: n, state: st, err: err}
		}()
	}
	for _, n := range r.nodes {
		if remaining[n] == 0 {
			launch(n)
		}
	}
	runErr := &RunError{Errors: map[string]error{}}
	var stopErr error
	for inFlight > 0 {
		o := <-done
		inFlight--
		rep := r.reports[o.n]
		if o.err != nil && (o.state == StateNotRun || o.state == StateInterrupted) {
			stopErr = o.err
			r.notify(o.n, o.state, o.err.Error())
			continue
		}
		r.notify(o.n, o.state, errString(o.err))
		switch o.state {
		case StateSucceeded, StateSkipped:
			for _, d := range dependents[o.n] {
				remaining[d]--
				if remaining[d] == 0 && ctx.Err() == nil && r.reports[d].State == StatePending {
					launch(d)
				}
			}
		default:
			rep.Error = errString(o.err)
			runErr.Failed = append(runErr.Failed, o.n.name)
			runErr.Errors[o.n.name] = o.err
			r.markDepFailed(ctx, o.n, dependents, runErr)
		}
	}
	for _, n := range r.nodes {
		if r.reports[n].State == StatePending {
			r.reports[n].State = StateNotRun
		}
	}
	if stopErr != nil {
		return fmt.Errorf("executor: run interrupted: %w", stopErr)
	}
	if len(runErr.Failed) > 0 {
		sort.Strings(runErr.Failed)
		sort.Strings(runErr.DepFailed)
		return runErr
	}
	return nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// markDepFailed records DEP_FAILED for every transitive dependent of a failed step.
func (r *run) markDepFailed(ctx context.Context, failed *node, dependents map[*node][]*node, runErr *RunError) {
	stack := append([]*node{}, dependents[failed]...)
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		rep := r.reports[n]
		if rep.State != StatePending {
			continue
		}
		msg := "dependency " + failed.name + " failed"
		rep.Error = msg
		r.notify(n, StateDepFailed, msg)
		runErr.DepFailed = append(runErr.DepFailed, n.name)
		r.recordDepFailed(ctx, n, msg)
		stack = append(stack, dependents[n]...)
	}
}

// recordDepFailed writes DEP_FAILED into a step's status file if the lock is free; a step
// that another executor owns is left to that executor.
func (r *run) recordDepFailed(ctx context.Context, n *node, msg string) {
	res, err := CompareAndSetOwner.Call(ctx, r.sa, CASArgs{Path: n.output, Expected: "", Owner: r.owner})
	if err != nil || !res.Swapped {
		return
	}
	defer r.release(ctx, n)
	le, err := r.leases.acquire(ctx, n.name, n.output, false, nil)
	if err != nil {
		if !errors.Is(err, errLeaseHeld) {
			r.log.Warn("not recording DEP_FAILED", "step", n.name, "err", err)
		}
		return
	}
	defer le.release(ctx)
	evs, err := r.status.read(ctx, n.output)
	if err != nil {
		r.log.Warn("not recording DEP_FAILED", "step", n.name, "err", err)
		return
	}
	if lastStatus(evs) == StatusSuccess {
		return
	}
	if _, err := r.record(ctx, le, n, evs, StatusDepFailed, msg); err != nil {
		r.log.Warn("not recording DEP_FAILED", "step", n.name, "err", err)
	}
}

// record appends an event to n's status file, which is only ever rewritten under n's lease.
func (r *run) record(ctx context.Context, le *lease, n *node, prev []Event, st Status, msg string) ([]Event, error) {
	if err := le.check(); err != nil {
		return nil, err
	}
	return r.status.append(ctx, n.output, prev, st, msg, r.owner)
}

func (r *run) release(ctx context.Context, n *node) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	res, err := CompareAndSetOwner.Call(rctx, r.sa, CASArgs{Path: n.output, Expected: r.owner, Owner: ""})
	if err != nil {
		r.log.Warn("releasing step ownership failed", "step", n.name, "err", err)
	} else if !res.Swapped {
		r.log.Warn("step ownership was taken over while this executor held it", "step", n.name, "owner", res.Current)
	}
}

// acquire takes ownership of n's output path, waiting while another live executor holds it.
func (r *run) acquire(ctx context.Context, n *node) error {
	waiting := false
	for {
		owner, err := GetOwner.Call(ctx, r.sa, n.output)
		if err != nil {
			return fmt.Errorf("executor: StatusActor.GetOwner: %w", err)
		}
		if owner != "" && owner != r.owner {
			alive, err := ownerAlive(ctx, owner, r.opts.PingTimeout)
			if err != nil {
				return err
			}
			if alive {
				if !waiting {
					waiting = true
					r.log.Info("step is being run by another executor; waiting", "step", n.name, "owner", owner)
					r.notify(n, StateWaiting, "owned by "+owner)
				}
				select {
				case <-time.After(r.opts.PollInterval):
				case <-ctx.Done():
					return ctx.Err()
				}
				continue
			}
			r.log.Info("taking over a step from a dead executor", "step", n.name, "owner", owner)
		}
		res, err := CompareAndSetOwner.Call(ctx, r.sa, CASArgs{Path: n.output, Expected: owner, Owner: r.owner})
		if err != nil {
			return fmt.Errorf("executor: StatusActor.CompareAndSetOwner: %w", err)
		}
		if res.Swapped {
			return nil
		}
	}
}

// runStep decides whether n must run (Marin's should_run), runs it, and records the outcome.
// It holds the step's StatusActor ownership (executors of one cluster) and its lease
// (executors anywhere that share the prefix) from before it reads the status file until
// the final status is written.
func (r *run) runStep(ctx context.Context, n *node) (State, error) {
	if err := r.acquire(ctx, n); err != nil {
		if ctx.Err() != nil {
			return StateNotRun, err
		}
		return StateFailed, err // e.g. the StatusActor is unreachable
	}
	defer r.release(ctx, n)
	le, err := r.leases.acquire(ctx, n.name, n.output, true, func(owner string) {
		r.log.Info("step is being run by another executor; waiting", "step", n.name, "owner", owner)
		r.notify(n, StateWaiting, "leased by "+owner)
	})
	if err != nil {
		if ctx.Err() != nil {
			return StateNotRun, err
		}
		return StateFailed, err
	}
	defer le.release(ctx)
	rep := r.reports[n]
	evs, err := r.status.read(ctx, n.output)
	if err != nil {
		return StateFailed, err
	}
	last := lastStatus(evs)
	rep.LastStatus = last
	switch last {
	case StatusSuccess:
		r.log.Info("step was already successful", "step", n.name, "output", n.output)
		if _, err := r.record(ctx, le, n, evs, StatusSuccess, "Step was already successful"); err != nil {
			return StateFailed, err
		}
		return StateSkipped, nil
	case StatusFailed, StatusDepFailed:
		if !r.opts.ForceRunFailed {
			return StateFailed, &FailedPreviouslyError{Step: n.name, StatusFile: statusPath(n.output), Status: last, Message: evs[len(evs)-1].Message}
		}
		r.log.Info("rerunning a failed step (force-run-failed)", "step", n.name)
	case StatusRunning, StatusWaiting:
		// We hold the lease, so whoever wrote this is gone (or lost its lease).
		r.log.Info("previous run of the step was interrupted; treating it as cancelled", "step", n.name, "previous_owner", evs[len(evs)-1].TaskID)
	}
	// Under the lease no other executor writes here, so a temporary file is what a killed
	// write of an earlier run left behind. The exceptions are the .executor_info record,
	// which every executor that plans the step writes without the lease, and lease files,
	// which other executors create next to ours: their temporary files go only once they
	// are older than a lease's TTL (a live write takes moments).
	keep := func(key string, mod time.Time) bool {
		base := path.Base(key)
		return (strings.HasPrefix(base, InfoFileName+".") || strings.HasPrefix(base, LeaseFilePrefix)) &&
			time.Since(mod) < r.opts.LeaseTTL
	}
	if removed, err := r.store.RemoveTempFiles(ctx, n.output, keep); err != nil {
		r.log.Warn("removing stale temporary files failed", "step", n.name, "err", err)
	} else if len(removed) > 0 {
		r.log.Info("removed temporary files left by an interrupted write", "step", n.name, "files", removed)
	}
	taskName := shortName(n.fnName) + ":" + n.name
	rep.Start = r.opts.Now()
	r.notify(n, StateRunning, "")
	ref, err := r.submit(ctx, n, taskName)
	if err != nil {
		rep.End = r.opts.Now()
		if ctx.Err() != nil {
			return StateNotRun, ctx.Err()
		}
		_, _ = r.record(ctx, le, n, evs, StatusFailed, "submission failed: "+err.Error())
		return StateFailed, err
	}
	evs, err = r.record(ctx, le, n, evs, StatusRunning, "task "+taskName+" submitted")
	if err != nil {
		r.cancelTask(ctx, ref)
		return StateFailed, err
	}
	_, err = ref.Get(le.ctx) // le.ctx ends with ctx and when the lease is lost
	rep.End = r.opts.Now()
	if err != nil {
		if ctx.Err() != nil {
			// Interrupted: leave RUNNING; with the lease released it reads as cancelled, and
			// the next run reruns the step.
			r.cancelTask(ctx, ref)
			return StateInterrupted, ctx.Err()
		}
		if lerr := le.check(); lerr != nil {
			r.cancelTask(ctx, ref)
			return StateFailed, lerr
		}
		if _, werr := r.record(ctx, le, n, evs, StatusFailed, err.Error()); werr != nil {
			return StateFailed, errors.Join(err, werr)
		}
		return StateFailed, err
	}
	if _, err := r.record(ctx, le, n, evs, StatusSuccess, ""); err != nil {
		return StateFailed, err
	}
	return StateSucceeded, nil
}

func (r *run) cancelTask(ctx context.Context, ref fray.Ref[TaskResult]) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	_ = fray.Cancel(cctx, ref, false)
	cancel()
}

// taskOptions returns the options n's task is submitted with first: withEnv says whether
// they carry FRAY_PREFIX (Options.PrefixEnv).
func (r *run) taskOptions(n *node, taskName string) (opts fray.TaskOptions, withEnv bool) {
	opts = fray.TaskOptions{Name: taskName, Resources: n.step.Resources, RuntimeEnv: n.step.RuntimeEnv}
	switch r.opts.PrefixEnv {
	case PrefixEnvNever:
		return opts, false
	case PrefixEnvAuto:
		// An in-memory prefix exists only in this process: Auto does not move a step into a
		// worker process (as an environment does on the local backend) for FRAY_PREFIX.
		if r.noPrefixEnv.Load() || strings.HasPrefix(r.opts.Prefix, "mem://") {
			return opts, false
		}
	}
	opts.RuntimeEnv = opts.RuntimeEnv.Merge(fray.RuntimeEnv{Env: map[string]string{PrefixEnv: r.opts.Prefix}})
	return opts, true
}

// submit launches n's task, adding FRAY_PREFIX to its environment as Options.PrefixEnv says.
func (r *run) submit(ctx context.Context, n *node, taskName string) (fray.Ref[TaskResult], error) {
	info := StepInfo{Name: n.name, OutputPath: n.output, Prefix: r.opts.Prefix, Owner: r.owner, Version: n.versionStr}
	opts, withEnv := r.taskOptions(n, taskName)
	ref, err := n.step.Fn.submit(ctx, info, n.config, opts)
	if err != nil && withEnv && r.opts.PrefixEnv == PrefixEnvAuto && errors.Is(err, fray.ErrUnsupported) {
		base := fray.TaskOptions{Name: taskName, Resources: n.step.Resources, RuntimeEnv: n.step.RuntimeEnv}
		ref2, err2 := n.step.Fn.submit(ctx, info, n.config, base)
		if err2 == nil {
			r.noPrefixEnv.Store(true)
			r.envOnce.Do(func() {
				r.log.Info("backend does not support per-task environment variables; steps get the prefix through their ctx only (executor.Prefix)", "env", PrefixEnv, "reason", err)
			})
		}
		return ref2, err2
	}
	return ref, err
}

// ErrInMemoryPath matches an InMemoryPathError.
var ErrInMemoryPath = errors.New("executor: a step in a worker process cannot use an in-memory bucket")

// InMemoryPathError refuses, before anything runs, a step that would run in a worker
// process while a path it uses (the prefix, its output, a dependency's output) is in a
// mem:// bucket: an in-memory bucket lives in one process, so the step could not see it
// (reads would fail with "key not found", writes would vanish with the worker).
type InMemoryPathError struct {
	Step    string // the step
	Path    string // the mem:// path it would use
	Backend string // the backend's name
	Reason  string // why the step runs in a worker process
}

func (e *InMemoryPathError) Error() string {
	return fmt.Sprintf("executor: step %s would run in a worker process of the %s backend (%s), but %s is an in-memory bucket, which only this process can see: use a local directory or a bucket URL for the prefix, or run the step in this process",
		e.Step, e.Backend, e.Reason, e.Path)
}

// Is matches ErrInMemoryPath.
func (e *InMemoryPathError) Is(target error) bool { return target == ErrInMemoryPath }

// inProcessTasks is implemented by backends that can tell, before submission, whether a
// task would run in this process (backend/local). A backend without it is taken to run
// every task elsewhere, as Ray does.
type inProcessTasks interface {
	TaskRunsInProcess(ctx context.Context, o fray.TaskOptions) (inProcess bool, why string)
}

// checkInMemoryPaths returns an *InMemoryPathError for the first step of the run set that
// uses a mem:// path and would be placed in a worker process with the options it is
// submitted with.
func (r *run) checkInMemoryPaths(ctx context.Context) error {
	jc, err := fray.JobContextFrom(ctx)
	if err != nil {
		return err
	}
	for _, n := range r.nodes {
		paths := append([]string{r.opts.Prefix, n.output}, n.depPaths...)
		for _, p := range n.pseudo {
			paths = append(paths, p.output)
		}
		mem := ""
		for _, p := range paths {
			if strings.HasPrefix(p, "mem://") {
				mem = p
				break
			}
		}
		if mem == "" {
			continue
		}
		opts, _ := r.taskOptions(n, shortName(n.fnName)+":"+n.name)
		why := "it runs every task in a worker process"
		if b, ok := jc.(inProcessTasks); ok {
			var in bool
			if in, why = b.TaskRunsInProcess(ctx, opts); in {
				continue
			}
		}
		return &InMemoryPathError{Step: n.name, Path: mem, Backend: jc.Backend(), Reason: why}
	}
	return nil
}
