// Tasks that talk to the Recorder: stages, gates, holders, flaky and cancellable
// tasks, observed through counters instead of sleeps.

package fraytest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fray-go/fray"
)

// --- tasks that talk to the Recorder ------------------------------------------------------

// Stage is passed from an upstream task to a dependent one (via RemoteRef).
type Stage struct {
	Rec   Rec
	Key   string
	Value int
	Fail  string // non-empty: the upstream fails with this message
}

// upstream returns its argument, or fails when Fail is set.
var upstream = fray.NewTask("fraytest.upstream", func(_ context.Context, s Stage) (Stage, error) {
	if s.Fail != "" {
		return s, errors.New(s.Fail)
	}
	return s, nil
})

// downstream counts its executions in the Recorder under Key and returns Value*10.
var downstream = fray.NewTask("fraytest.downstream", func(ctx context.Context, s Stage) (int, error) {
	if _, err := recIncr.Call(ctx, s.Rec, s.Key); err != nil {
		return 0, err
	}
	return s.Value * 10, nil
})

// Gated describes a task that announces its start and then waits for a gate.
type Gated struct {
	Rec      Rec
	StartKey string // incremented when the task starts
	GateKey  string // the task waits until this counter is >= 1
	Value    int
	Fail     string // fail with this message after the gate opens
}

// gatedValue waits for its gate, then returns Value (or fails).
var gatedValue = fray.NewTask("fraytest.gatedValue", runGated)

func runGated(ctx context.Context, g Gated) (int, error) {
	if g.StartKey != "" {
		if _, err := recIncr.Call(ctx, g.Rec, g.StartKey); err != nil {
			return 0, err
		}
	}
	if g.GateKey != "" {
		if _, err := recAwait.Call(ctx, g.Rec, AwaitArg{Key: g.GateKey, N: 1}); err != nil {
			return 0, err
		}
	}
	if g.Fail != "" {
		return 0, errors.New(g.Fail)
	}
	return g.Value, nil
}

// valueTimesTwo is a dependent task for RemoteRef: it doubles the upstream's int.
var valueTimesTwo = fray.NewTask("fraytest.valueTimesTwo", func(_ context.Context, x int) (int, error) {
	return 2 * x, nil
})

// Holder describes a task that holds resources while it waits for a gate, and reports what
// other tasks see.
type Holder struct {
	Rec      Rec
	Key      string // "<Key>.holding" is 1 while the task holds its resources; "<Key>.runs" counts starts
	GateKey  string
	Observer bool // an observer only records whether a holder was holding when it ran
}

// holdOrObserve: a holder sets "<Key>.holding", waits for the gate, clears it (by bumping
// "<Key>.released"); an observer records "<Key>.overlap" if it runs while a holder holds.
var holdOrObserve = fray.NewTask("fraytest.holdOrObserve", func(ctx context.Context, h Holder) (int, error) {
	if _, err := recIncr.Call(ctx, h.Rec, h.Key+".runs"); err != nil {
		return 0, err
	}
	if h.Observer {
		held, err := recCount.Call(ctx, h.Rec, h.Key+".holding")
		if err != nil {
			return 0, err
		}
		released, err := recCount.Call(ctx, h.Rec, h.Key+".released")
		if err != nil {
			return 0, err
		}
		if held > released {
			if _, err := recIncr.Call(ctx, h.Rec, h.Key+".overlap"); err != nil {
				return 0, err
			}
		}
		return held - released, nil
	}
	if _, err := recIncr.Call(ctx, h.Rec, h.Key+".holding"); err != nil {
		return 0, err
	}
	if _, err := recAwait.Call(ctx, h.Rec, AwaitArg{Key: h.GateKey, N: 1}); err != nil {
		return 0, err
	}
	if _, err := recIncr.Call(ctx, h.Rec, h.Key+".released"); err != nil {
		return 0, err
	}
	return 0, nil
})

// Flaky describes a task that fails until it has run FailUntil times.
type Flaky struct {
	Rec       Rec
	Key       string
	FailUntil int // attempts 1..FailUntil-1 fail; attempt FailUntil succeeds
}

// FlakyResult is what a successful flaky attempt returns.
type FlakyResult struct {
	Run     int // how many times the task has run, this run included
	Attempt int // TaskInfo.Attempt of the successful run
}

var flaky = fray.NewTask("fraytest.flaky", func(ctx context.Context, f Flaky) (FlakyResult, error) {
	n, err := recIncr.Call(ctx, f.Rec, f.Key)
	if err != nil {
		return FlakyResult{}, err
	}
	if f.FailUntil <= 0 || n < f.FailUntil {
		return FlakyResult{}, fmt.Errorf("flaky failure on run %d", n)
	}
	info, _ := fray.TaskInfoFrom(ctx)
	return FlakyResult{Run: n, Attempt: info.Attempt}, nil
})

// Cancellable describes a task that waits for its ctx to be cancelled.
type Cancellable struct {
	Rec      Rec
	StartKey string
	DoneKey  string // incremented (through a ctx that survives the cancel) once ctx is done; "" returns at once
}

var waitForCancel = fray.NewTask("fraytest.waitForCancel", func(ctx context.Context, c Cancellable) (int, error) {
	// The cancel may arrive while this call still waits for its result (the Incr has run,
	// and the test saw it): that is not a failure, just an early cancel. On Ray it may even
	// reach that nested Get (failing it as cancelled) a moment before it reaches this ctx.
	if _, err := recIncr.Call(ctx, c.Rec, c.StartKey); err != nil && ctx.Err() == nil {
		if !errors.Is(err, fray.ErrCancelled) {
			return 0, err
		}
		select {
		case <-ctx.Done():
		case <-time.After(30 * time.Second):
			return 0, fmt.Errorf("the start report failed as cancelled (%w), but the task was not cancelled", err)
		}
	}
	<-ctx.Done()
	if c.DoneKey == "" {
		return 0, ctx.Err()
	}
	// Report through a ctx that keeps the job context but not the cancellation.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if _, err := recIncr.Call(rctx, c.Rec, c.DoneKey); err != nil {
		return 0, err
	}
	return 0, ctx.Err()
})

// countRun counts its executions under the key and returns the count.
var countRun = fray.NewTask("fraytest.countRun", func(ctx context.Context, s Stage) (int, error) {
	return recIncr.Call(ctx, s.Rec, s.Key)
})
