package fray

import (
	"fmt"
	"sort"
	"strings"

	"github.com/fray-go/fray/backend"
)

// TaskOptions configure one task invocation, at the call site (MIGRATION.md, Pattern 1: the
// configuration that Ray put in @ray.remote moves to where the task is called). The zero
// value means Ray's defaults.
type TaskOptions struct {
	// Name labels the execution in logs, dashboards and errors (the executor uses
	// "<fn>:<step>"). Defaults to the registered name.
	Name string
	// Resources held while the task runs. Defaults to {"CPU": 1}; a request without a CPU
	// amount still gets the default 1 CPU, as in Ray ({"CPU": 0} to run without one).
	Resources Resources
	// MaxCalls makes the worker process exit after this many calls, so the next call gets a
	// fresh process (for accelerator cleanup). 0 means unlimited; GPU tasks default to 1.
	// Needs a backend that runs tasks in processes.
	MaxCalls int
	// MaxRetries is how often a task is retried after a system failure (its worker died).
	// nil means Ray's default of 3; use Retries(0) for none and Retries(-1) for unlimited.
	MaxRetries *int
	// RetryExceptions also retries tasks that returned an error or panicked.
	RetryExceptions bool
	// RuntimeEnv is the environment the task runs in (pip packages, environment variables).
	RuntimeEnv RuntimeEnv
}

// DefaultMaxRetries is Ray's default retry count for system failures.
const DefaultMaxRetries = backend.DefaultMaxRetries

// Retries returns a pointer to n, for TaskOptions.MaxRetries.
func Retries(n int) *int { return &n }

// effective resolves every default for the backend (fn is the registered name). o is valid.
func (o TaskOptions) effective(fn string) backend.TaskOptions {
	e := backend.TaskOptions{Name: o.Name, Resources: TaskResources(o.Resources), MaxCalls: o.MaxCalls,
		MaxRetries: DefaultMaxRetries, RetryExceptions: o.RetryExceptions, RuntimeEnv: backend.RuntimeEnv(o.RuntimeEnv)}
	if e.Name == "" {
		e.Name = fn
	}
	if o.MaxRetries != nil {
		e.MaxRetries = *o.MaxRetries
	}
	return e
}

// Validate reports the first problem with the options.
func (o TaskOptions) Validate() error {
	if err := o.Resources.Validate(); err != nil {
		return err
	}
	if o.MaxCalls < 0 {
		return newKind(ErrInvalidArgument, fmt.Sprintf("fray: MaxCalls must be >= 0 (0 means unlimited), got %d", o.MaxCalls))
	}
	if o.MaxRetries != nil && *o.MaxRetries < -1 {
		return newKind(ErrInvalidArgument, fmt.Sprintf("fray: MaxRetries must be >= -1 (-1 means unlimited), got %d", *o.MaxRetries))
	}
	return o.RuntimeEnv.Validate()
}

// Lifetime says what an actor's life is tied to.
type Lifetime int

const (
	// JobScoped actors (the default) die when the job context that created them closes.
	JobScoped Lifetime = iota
	// Detached actors outlive their creator and live until killed (or, on the local
	// backend, until the backend itself shuts down).
	Detached
)

func (l Lifetime) String() string {
	switch l {
	case JobScoped:
		return "job-scoped"
	case Detached:
		return "detached"
	}
	return fmt.Sprintf("Lifetime(%d)", int(l))
}

// ActorOptions configure an actor at creation (MIGRATION.md, Pattern 2). The zero value means
// Ray's defaults: unnamed, job-scoped, 1 CPU to place and none held, no restarts, one call at
// a time.
type ActorOptions struct {
	// Name registers the actor so others can find it with Lookup. Unique per namespace.
	Name string
	// Namespace scopes Name. Empty means the job context's namespace.
	Namespace string
	// GetIfExists returns the existing actor of that name instead of failing; the new
	// constructor argument is then ignored.
	GetIfExists bool
	// Lifetime: JobScoped (default) or Detached.
	Lifetime Lifetime
	// Resources placed with and held for the actor's life (see ActorResources for defaults).
	Resources Resources
	// MaxRestarts: how often the actor is restarted (its constructor re-run, state lost)
	// after its process dies. 0 (default) never; -1 unlimited.
	MaxRestarts int
	// MaxTaskRetries: how often a call cut short by the actor's death (queued or running
	// when its process died, or when it was killed with AllowRestart) is run again on the
	// restarted actor: at-least-once calls, which may have run partly before. 0 (default):
	// such calls fail with *ActorDiedError (at-most-once); -1 unlimited. A call run again
	// may run after calls submitted later (Ray resubmits it). Ray's max_task_retries; it
	// matters only with MaxRestarts.
	MaxTaskRetries int
	// MaxConcurrency: how many calls run at once. 0 or 1: one at a time, in submission order.
	MaxConcurrency int
	// RuntimeEnv is the environment the actor's process runs in.
	RuntimeEnv RuntimeEnv
}

// Validate reports the first problem with the options.
func (o ActorOptions) Validate() error {
	if err := o.Resources.Validate(); err != nil {
		return err
	}
	if o.MaxRestarts < -1 {
		return newKind(ErrInvalidArgument, fmt.Sprintf("fray: MaxRestarts must be >= -1 (-1 means unlimited), got %d", o.MaxRestarts))
	}
	if o.MaxTaskRetries < -1 {
		return newKind(ErrInvalidArgument, fmt.Sprintf("fray: MaxTaskRetries must be >= -1 (-1 means unlimited), got %d", o.MaxTaskRetries))
	}
	if o.MaxConcurrency < 0 {
		return newKind(ErrInvalidArgument, fmt.Sprintf("fray: MaxConcurrency must be >= 0, got %d", o.MaxConcurrency))
	}
	if o.Lifetime != JobScoped && o.Lifetime != Detached {
		return newKind(ErrInvalidArgument, fmt.Sprintf("fray: unknown Lifetime %d", int(o.Lifetime)))
	}
	if o.GetIfExists && o.Name == "" {
		return newKind(ErrInvalidArgument, "fray: GetIfExists needs a Name")
	}
	return o.RuntimeEnv.Validate()
}

// effective resolves every default for the backend. o is valid.
func (o ActorOptions) effective() backend.ActorOptions {
	placement, held := ActorResources(o.Resources)
	e := backend.ActorOptions{Name: o.Name, Namespace: o.Namespace, GetIfExists: o.GetIfExists,
		Detached: o.Lifetime == Detached, Placement: placement, Held: held,
		MaxRestarts: o.MaxRestarts, MaxTaskRetries: o.MaxTaskRetries, MaxConcurrency: o.MaxConcurrency,
		RuntimeEnv: backend.RuntimeEnv(o.RuntimeEnv)}
	if e.MaxConcurrency <= 0 {
		e.MaxConcurrency = 1
	}
	return e
}

// RuntimeEnv is the environment a task or actor runs in (MIGRATION.md, Pattern 5: Ray's "pip"
// becomes PackageRequirements and "env_vars" becomes Env).
type RuntimeEnv struct {
	// PackageRequirements are pip requirement strings installed into a virtualenv whose bin
	// directory leads PATH for the task's process.
	PackageRequirements []string
	// Env is set in the task's process environment over the parent's.
	Env map[string]string
}

// IsZero reports whether the environment asks for nothing.
func (e RuntimeEnv) IsZero() bool { return len(e.PackageRequirements) == 0 && len(e.Env) == 0 }

// Validate rejects environment variable names that a process environment cannot carry.
func (e RuntimeEnv) Validate() error {
	for k := range e.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return newKind(ErrInvalidArgument, fmt.Sprintf("fray: RuntimeEnv.Env: invalid variable name %q", k))
		}
		if strings.ContainsRune(e.Env[k], 0) {
			return newKind(ErrInvalidArgument, fmt.Sprintf("fray: RuntimeEnv.Env[%q] contains a NUL byte", k))
		}
	}
	for _, r := range e.PackageRequirements {
		if strings.TrimSpace(r) == "" || strings.ContainsAny(r, "\n\x00") {
			return newKind(ErrInvalidArgument, fmt.Sprintf("fray: RuntimeEnv.PackageRequirements: invalid requirement %q", r))
		}
	}
	return nil
}

// Merge returns parent overlaid with child: child's variables win, requirements are the
// union (child's last). This is how a nested task's environment relates to its parent's.
func (e RuntimeEnv) Merge(child RuntimeEnv) RuntimeEnv {
	out := RuntimeEnv{}
	if len(e.Env)+len(child.Env) > 0 {
		out.Env = map[string]string{}
		for k, v := range e.Env {
			out.Env[k] = v
		}
		for k, v := range child.Env {
			out.Env[k] = v
		}
	}
	seen := map[string]bool{}
	for _, r := range append(append([]string{}, e.PackageRequirements...), child.PackageRequirements...) {
		if !seen[r] {
			seen[r] = true
			out.PackageRequirements = append(out.PackageRequirements, r)
		}
	}
	return out
}

// EnvList returns Env as sorted KEY=VALUE strings.
func (e RuntimeEnv) EnvList() []string {
	out := make([]string, 0, len(e.Env))
	for k, v := range e.Env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}
