package executortest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/executor"
)

// The suite observes steps through a control actor: a named, detached actor (so step
// tasks of every job on the cluster can find it by name) that counts runs, tracks how many
// steps run at once, and holds gates that block steps until the test opens them. It works
// the same on every backend, which is what lets the concurrency tests prove their claims
// without timing: "ran once" is a count, "ran in parallel" is a barrier that two steps can
// only pass together.

type controlState struct {
	counts  map[string]int
	flags   map[string]bool
	running int
	maxRun  int
}

// Control is the control actor class.
var Control = fray.NewActor("executortest.Control", func(ctx context.Context, _ struct{}) (*controlState, error) {
	return &controlState{counts: map[string]int{}, flags: map[string]bool{}}, nil
})

var (
	incr = fray.NewMethod(Control, "Incr", func(s *controlState, _ context.Context, key string) (int, error) {
		s.counts[key]++
		return s.counts[key], nil
	})
	count = fray.NewMethod(Control, "Count", func(s *controlState, _ context.Context, key string) (int, error) {
		return s.counts[key], nil
	})
	setFlag = fray.NewMethod(Control, "Set", func(s *controlState, _ context.Context, key string) (bool, error) {
		s.flags[key] = true
		return true, nil
	})
	isSet = fray.NewMethod(Control, "IsSet", func(s *controlState, _ context.Context, key string) (bool, error) {
		return s.flags[key], nil
	})
	enter = fray.NewMethod(Control, "Enter", func(s *controlState, _ context.Context, _ struct{}) (int, error) {
		s.running++
		if s.running > s.maxRun {
			s.maxRun = s.running
		}
		return s.running, nil
	})
	leave = fray.NewMethod(Control, "Leave", func(s *controlState, _ context.Context, _ struct{}) (int, error) {
		s.running--
		return s.running, nil
	})
	maxRunning = fray.NewMethod(Control, "MaxRunning", func(s *controlState, _ context.Context, _ struct{}) (int, error) {
		return s.maxRun, nil
	})
)

const controlNamespace = "marin"

func newControlName() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "executortest-control-" + hex.EncodeToString(b[:])
}

func lookupControl(ctx context.Context, name string) (fray.ActorHandle[controlState], error) {
	return Control.Lookup(ctx, name, controlNamespace)
}

// StepConfig is the config of the suite's step function.
type StepConfig struct {
	Output   executor.Path   `json:"output"`
	Inputs   []executor.Path `json:"inputs"`
	Param    executor.Value[string]
	Control  string // name of the control actor (unversioned)
	Key      string // counter key (unversioned; defaults to the step name)
	FailFlag string // the step fails while this control flag is set (unversioned)
	Gate     string // the step waits until this control flag is set (unversioned)
	Barrier  int    // the step waits until this many steps have arrived at "barrier"
	Track    bool   // count the step in the running/max-running gauge
}

// Record is the suite's step function: it counts itself, optionally waits at a gate or a
// barrier, fails while a flag is set, and writes out.txt = its inputs' out.txt plus a line
// naming itself, so a chain's output shows the order in which steps ran.
var Record = executor.NewStepFn("executortest.Record", record)

func record(ctx context.Context, c StepConfig) error {
	info, _ := executor.StepInfoFrom(ctx)
	ctl, err := lookupControl(ctx, c.Control)
	if err != nil {
		return err
	}
	key := c.Key
	if key == "" {
		key = info.Name
	}
	if _, err := incr.Call(ctx, ctl, "run:"+key); err != nil {
		return err
	}
	if c.Track {
		if _, err := enter.Call(ctx, ctl, struct{}{}); err != nil {
			return err
		}
		defer func() { _, _ = leave.Call(context.WithoutCancel(ctx), ctl, struct{}{}) }()
	}
	if c.Barrier > 0 {
		if _, err := incr.Call(ctx, ctl, "barrier"); err != nil {
			return err
		}
		if err := pollUntil(ctx, 2*time.Minute, func() (bool, error) {
			n, err := count.Call(ctx, ctl, "barrier")
			return n >= c.Barrier, err
		}); err != nil {
			return fmt.Errorf("barrier of %d not reached: steps did not run in parallel: %w", c.Barrier, err)
		}
	}
	if c.Gate != "" {
		if err := pollUntil(ctx, 2*time.Minute, func() (bool, error) { return isSet.Call(ctx, ctl, c.Gate) }); err != nil {
			return fmt.Errorf("gate %s never opened: %w", c.Gate, err)
		}
	}
	if c.FailFlag != "" {
		fail, err := isSet.Call(ctx, ctl, c.FailFlag)
		if err != nil {
			return err
		}
		if fail {
			return errors.New("step failed on purpose (flag " + c.FailFlag + ")")
		}
	}
	var out strings.Builder
	for _, in := range c.Inputs {
		b, err := os.ReadFile(in.Join("out.txt"))
		if err != nil {
			return err
		}
		out.Write(b)
	}
	fmt.Fprintf(&out, "%s %s\n", info.Name, c.Param.Get())
	if err := os.MkdirAll(c.Output.String(), 0o755); err != nil {
		return err
	}
	return os.WriteFile(c.Output.Join("out.txt"), []byte(out.String()), 0o644)
}

// pollUntil calls cond every 10ms until it is true, ctx ends, or limit passes (a safety net
// so that a broken backend fails the test instead of hanging it; no assertion depends on it).
func pollUntil(ctx context.Context, limit time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(limit)
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("still not true after %v", limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}
