// The scheduler: a dry run's plan, and a real run's steps launched in dependency order
// with DEP_FAILED recorded for the dependents of a failed step.

package executor

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

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
