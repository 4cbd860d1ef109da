// One step's run: ownership (StatusActor) and lease, Marin's should_run decision, the
// task's submission with FRAY_PREFIX, and its status events.

package executor

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/fray-go/fray"
)

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
	// RUNNING goes on record before the task is submitted: the task may start at once, and
	// an executor killed before a later write would leave a step that ran without any
	// status (its lease expiring unseen). Killed here instead, it reads as CANCELLED.
	evs, err = r.record(ctx, le, n, evs, StatusRunning, "submitting task "+taskName)
	if err != nil {
		rep.End = r.opts.Now()
		return StateFailed, err
	}
	ref, err := r.submit(ctx, n, taskName)
	if err != nil {
		rep.End = r.opts.Now()
		if ctx.Err() != nil {
			return StateNotRun, ctx.Err()
		}
		_, _ = r.record(ctx, le, n, evs, StatusFailed, "submission failed: "+err.Error())
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
