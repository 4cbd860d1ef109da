package executor

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"strings"

	"github.com/fray-go/fray"
)

// PrefixEnv is the environment variable that holds the executor's prefix: the CLI reads it
// when --prefix is not given, and steps receive it in their runtime environment where the
// backend supports per-task environment variables (see Options.PrefixEnv).
const PrefixEnv = "FRAY_PREFIX"

// Step is one pipeline step. Build it with NewStep (which checks the config type against
// the function at compile time) and set the optional fields afterwards:
//
//	tok := executor.NewStep("tokenized/fineweb", Tokenize, TokenizeConfig{
//		Input:  executor.OutputPathOf(download),
//		Output: executor.ThisOutputPath(),
//		Vocab:  executor.Versioned("gpt2"),
//	})
//	tok.Resources = fray.Resources{"CPU": 4}
//
// Steps are compared by version, not by pointer: two steps with the same version are the
// same step and run once.
type Step struct {
	// Name names the step and the first part of its output directory; it may contain "/"
	// ("documents/fineweb"), but no "..", empty segments, or a leading or trailing "/".
	Name string
	// Fn is the function the step runs (a *StepFn[C]).
	Fn StepFunc
	// Config is the step's configuration, of Fn's config type C. It may contain Path and
	// Value markers anywhere in its fields, slices, arrays, maps with string keys, pointers
	// and interface values.
	Config any
	// Description is a human-readable note kept in the info records.
	Description string
	// Resources for the step's task (fray defaults when nil: 1 CPU).
	Resources fray.Resources
	// RuntimeEnv for the step's task (pip packages, environment variables).
	RuntimeEnv fray.RuntimeEnv
	// OutputPath overrides the computed output path: an absolute path or URL wins as is, a
	// relative one is joined to the prefix. The executor logs a warning when it differs from
	// the computed one.
	OutputPath string
}

// NewStep returns a step that runs fn with cfg.
func NewStep[C any](name string, fn *StepFn[C], cfg C) *Step {
	return &Step{Name: name, Fn: fn, Config: cfg}
}

// StepFunc is implemented by *StepFn[C]; the executor uses it to submit a step's task.
type StepFunc interface {
	// Name returns the registered name.
	Name() string
	configType() reflect.Type
	submit(ctx context.Context, meta StepInfo, cfg any, opts fray.TaskOptions) (fray.Ref[TaskResult], error)
}

// StepInfo tells a running step function where it is. It reaches the function in its ctx
// (see StepInfoFrom).
type StepInfo struct {
	Name       string // step name
	OutputPath string // the step's output directory
	Prefix     string // the executor's prefix
	Owner      string // id of the executor that launched the step
	Version    string // the step's canonical version string
}

// TaskResult is what a step's task returns; a step's output lives in its output path.
type TaskResult struct {
	// OK is true for a step that returned without error.
	OK bool
}

// stepCall is the argument of a step's fray task: the resolved config plus its StepInfo.
type stepCall[C any] struct {
	Config C
	Info   StepInfo
}

// StepFn is a step function registered as a fray task. Declare it at package level, so a
// worker process built from the same binary registers it too:
//
//	var Tokenize = executor.NewStepFn("marin.tokenize", func(ctx context.Context, cfg TokenizeConfig) error {
//		out := cfg.Output.String() // concrete path: markers are resolved before the call
//		...
//	})
//
// The function receives its config with every marker replaced by a concrete path; the ctx
// carries the fray job context (for nested tasks) and the StepInfo (StepInfoFrom, Prefix).
type StepFn[C any] struct {
	task *fray.Task[stepCall[C], TaskResult]
	fn   func(context.Context, C) error
}

// NewStepFn registers fn as the fray task name (which must be unique in the binary).
func NewStepFn[C any](name string, fn func(ctx context.Context, cfg C) error) *StepFn[C] {
	s := &StepFn[C]{fn: fn}
	s.task = fray.NewTask(name, func(ctx context.Context, call stepCall[C]) (TaskResult, error) {
		ctx = context.WithValue(ctx, stepInfoKey{}, call.Info)
		if err := fn(ctx, call.Config); err != nil {
			return TaskResult{}, err
		}
		return TaskResult{OK: true}, nil
	})
	return s
}

// Name returns the registered task name.
func (s *StepFn[C]) Name() string { return s.task.Name() }

// ShortName is the last "."-separated part of the name, used in task names
// ("<short>:<step>").
func shortName(fn string) string {
	if i := strings.LastIndexAny(fn, "./"); i >= 0 && i < len(fn)-1 {
		return fn[i+1:]
	}
	return fn
}

func (s *StepFn[C]) configType() reflect.Type { return reflect.TypeFor[C]() }

func (s *StepFn[C]) submit(ctx context.Context, meta StepInfo, cfg any, opts fray.TaskOptions) (fray.Ref[TaskResult], error) {
	c, ok := cfg.(C)
	if !ok {
		var zero C
		return fray.Ref[TaskResult]{}, fmt.Errorf("executor: step %s: config is a %T, %s takes a %T", meta.Name, cfg, s.Name(), zero)
	}
	return s.task.Remote(ctx, stepCall[C]{Config: c, Info: meta}, opts)
}

type stepInfoKey struct{}

// StepInfoFrom returns the StepInfo of the step whose function ctx was given to.
func StepInfoFrom(ctx context.Context) (StepInfo, bool) {
	info, ok := ctx.Value(stepInfoKey{}).(StepInfo)
	return info, ok
}

// Prefix returns the executor's prefix inside a step function: from the ctx, else from
// the FRAY_PREFIX environment variable, else "".
func Prefix(ctx context.Context) string {
	if info, ok := StepInfoFrom(ctx); ok && info.Prefix != "" {
		return info.Prefix
	}
	return os.Getenv(PrefixEnv)
}
