// The harness the cases share: a job per executor, steps of the Record function, the
// control actor's counters and flags, status events, an observer and a test logger.

package executortest

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/executor"
)

type harness struct {
	t       *testing.T
	newJob  NewJob
	prefix  string
	ctx     context.Context
	control string
	ctl     fray.ActorHandle[controlState]
}

// job attaches a new job context and returns a ctx carrying it.
func (h *harness) job() context.Context {
	jc := h.newJob(h.t)
	h.t.Cleanup(func() { _ = jc.Close() })
	return fray.WithJobContext(context.Background(), jc)
}

func (h *harness) step(name, param string, inputs ...*executor.Step) *executor.Step {
	c := StepConfig{Output: executor.ThisOutputPath(), Param: executor.Versioned(param), Control: h.control}
	for _, in := range inputs {
		c.Inputs = append(c.Inputs, executor.OutputPathOf(in))
	}
	return executor.NewStep(name, Record, c)
}

func (h *harness) with(s *executor.Step, f func(*StepConfig)) *executor.Step {
	c := s.Config.(StepConfig)
	f(&c)
	s.Config = c
	return s
}

// opts returns run options for tests: short polls and a logger into the test log.
func (h *harness) opts() executor.Options {
	return executor.Options{Prefix: h.prefix, PollInterval: 20 * time.Millisecond, Logger: testLogger(h.t),
		ExperimentName: "executortest", GitCommit: "test"}
}

func (h *harness) run(ctx context.Context, o executor.Options, steps ...*executor.Step) (*executor.Report, error) {
	return executor.Run(ctx, o, steps...)
}

func (h *harness) count(key string) int {
	h.t.Helper()
	n, err := count.Call(h.ctx, h.ctl, key)
	if err != nil {
		h.t.Fatal(err)
	}
	return n
}

func (h *harness) set(flag string) {
	h.t.Helper()
	if _, err := setFlag.Call(h.ctx, h.ctl, flag); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) events(output string) []executor.Event {
	h.t.Helper()
	p := filepath.Join(output, executor.StatusFileName)
	b, err := os.ReadFile(p)
	if err != nil {
		h.t.Fatal(err)
	}
	evs, err := executor.ParseEvents(p, b)
	if err != nil {
		h.t.Fatal(err)
	}
	return evs
}

func last(evs []executor.Event) executor.Event {
	if len(evs) == 0 {
		return executor.Event{}
	}
	return evs[len(evs)-1]
}

func byName(r *executor.Report) map[string]executor.StepReport {
	m := map[string]executor.StepReport{}
	if r != nil {
		for _, s := range r.Steps {
			m[s.Name] = s
		}
	}
	return m
}

// waitFor polls an observer-fed condition.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if err := pollUntil(context.Background(), 2*time.Minute, func() (bool, error) { return cond(), nil }); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

type observed struct {
	mu     sync.Mutex
	states map[string]executor.State
}

func (o *observed) observer(u executor.Update) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.states == nil {
		o.states = map[string]executor.State{}
	}
	o.states[u.Step] = u.State
}

func (o *observed) is(step string, st executor.State) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.states[step] == st
}

func names(r *executor.Report) []string {
	var out []string
	for _, s := range r.Steps {
		out = append(out, s.Name)
	}
	return out
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// testLogger logs into the test's output.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
