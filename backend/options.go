package backend

// The effective options: what the API made of the user's fray.TaskOptions and
// fray.ActorOptions. They are valid and every default is resolved, so a backend reads them
// as they are.

// DefaultMaxRetries is Ray's default retry count for system failures, which the API puts in
// TaskOptions.MaxRetries when the user sets none.
const DefaultMaxRetries = 3

// TaskOptions are one task's effective options.
type TaskOptions struct {
	// Name labels the execution; never empty (the registered name by default).
	Name string
	// Resources held while the task runs; never nil, and always with a "CPU" amount (Ray's
	// default of 1 when the user gave none).
	Resources map[string]float64
	// MaxCalls > 0: the worker process exits after this many calls. 0: unlimited (a
	// backend may apply its own rule, such as Ray's 1 for GPU tasks).
	MaxCalls int
	// MaxRetries after a system failure: resolved (DefaultMaxRetries when unset); -1 is
	// unlimited and 0 none.
	MaxRetries int
	// RetryExceptions also retries tasks that returned an error or panicked.
	RetryExceptions bool
	// RuntimeEnv is the environment the task runs in.
	RuntimeEnv RuntimeEnv
}

// ActorOptions are one actor's effective options.
type ActorOptions struct {
	// Name registers the actor for GetActor; "" for none.
	Name string
	// Namespace scopes Name; "" means the job context's namespace.
	Namespace string
	// GetIfExists returns the existing actor of that name (Name is set when this is).
	GetIfExists bool
	// Detached actors outlive the job context that created them.
	Detached bool
	// Placement is what the actor needs to be placed and Held what it holds while it lives
	// (Ray's rule, resolved by the API: with no resources asked for, Placement is {CPU: 1}
	// and Held is empty; otherwise both are the request). Neither is nil.
	Placement map[string]float64
	Held      map[string]float64
	// MaxRestarts after the actor's process died: 0 never, -1 unlimited.
	MaxRestarts int
	// MaxTaskRetries of calls cut short by the actor's death: 0 never, -1 unlimited.
	MaxTaskRetries int
	// MaxConcurrency is how many calls run at once; at least 1 (1: in submission order).
	MaxConcurrency int
	// RuntimeEnv is the environment the actor's process runs in.
	RuntimeEnv RuntimeEnv
}

// RuntimeEnv is an effective runtime environment (fray.RuntimeEnv, validated).
type RuntimeEnv struct {
	// PackageRequirements are pip requirement strings.
	PackageRequirements []string
	// Env is set in the process environment over the parent's.
	Env map[string]string
}

// IsZero reports whether the environment asks for nothing.
func (e RuntimeEnv) IsZero() bool { return len(e.PackageRequirements) == 0 && len(e.Env) == 0 }
