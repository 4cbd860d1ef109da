package fray

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Every typed error below matches exactly one of these with errors.Is, so
// callers can branch on the kind of failure without caring which backend produced it.
var (
	// ErrNoJobContext: an operation needed a job context and the context.Context carried none.
	ErrNoJobContext = errors.New("fray: no job context in ctx: inside a task or actor method, pass on the ctx it received (or one derived from it, not context.Background()); in the driver, create one (local.New or ray.Connect) and attach it with fray.WithJobContext(ctx, jc), or set a process default with fray.SetDefaultJobContext(jc)")
	// ErrUnsupported: the backend cannot honour an option or operation.
	ErrUnsupported = errors.New("fray: not supported by this backend")
	// ErrInvalidResources: a resource request is malformed.
	ErrInvalidResources = errors.New("fray: invalid resources")
	// ErrInfeasible: no node of the backend could ever satisfy a resource request.
	ErrInfeasible = errors.New("fray: infeasible resource request")
	// ErrUnknownName: a task, actor class, method or named actor is not registered / not found.
	ErrUnknownName = errors.New("fray: unknown name")
	// ErrNameTaken: a named actor already exists and GetIfExists was not set.
	ErrNameTaken = errors.New("fray: actor name already taken")
	// ErrSerialization: a value could not be encoded or decoded by the codec.
	ErrSerialization = errors.New("fray: serialization failed")
	// ErrForeignRef: a Ref or ActorHandle was used with a job context other than the one that made it.
	ErrForeignRef = errors.New("fray: ref from a different job context")
	// ErrTaskFailed: a task or actor method returned an error or panicked.
	ErrTaskFailed = errors.New("fray: task failed")
	// ErrCancelled: the task was cancelled.
	ErrCancelled = errors.New("fray: task cancelled")
	// ErrTimeout: a Get or Wait ran out of time before the object was ready.
	ErrTimeout = errors.New("fray: timed out")
	// ErrActorDied: the actor is dead (killed, crashed, its job ended) and cannot run the call.
	ErrActorDied = errors.New("fray: actor died")
	// ErrWorkerDied: the process running the task died (crash, SIGKILL, OOM killer).
	ErrWorkerDied = errors.New("fray: worker died")
	// ErrWorkerStart: a worker process never got to serve: its program exited, or refused,
	// before the handshake (typically because main does not call fray.Init first).
	ErrWorkerStart = errors.New("fray: worker process did not start")
	// ErrObjectLost: the object's value is gone (freed, or its owner died).
	ErrObjectLost = errors.New("fray: object lost")
	// ErrRuntimeEnv: a runtime environment could not be set up (for example pip failed).
	ErrRuntimeEnv = errors.New("fray: runtime environment setup failed")
	// ErrInvalidArgument: an API call's arguments are wrong (Wait's numReturns, a zero Ref, ...).
	ErrInvalidArgument = errors.New("fray: invalid argument")
	// ErrClosed: the job context has been closed.
	ErrClosed = errors.New("fray: job context closed")
	// ErrRegistryFrozen: a task or actor was defined after the registry was frozen.
	ErrRegistryFrozen = errors.New("fray: registry frozen")
)

// TaskError is the error of a task or actor method that returned an error or panicked.
// Cause keeps the application error: the original value in-process (direct mode), a value of
// the same type when the type was registered with RegisterError, and otherwise a
// *RemoteError carrying the original type name and message.
type TaskError struct {
	Task     string // registered function or method name
	TaskID   string // backend id of the failed execution, when known
	TypeName string // Go type of the cause, e.g. "*fs.PathError"
	Message  string // the cause's Error() text
	Panic    bool   // the task panicked
	Stack    string // stack of the panicking goroutine, on the remote side
	Cause    error
}

func (e *TaskError) Error() string {
	var b strings.Builder
	b.WriteString("fray: task ")
	b.WriteString(e.Task)
	if e.Panic {
		b.WriteString(" panicked: ")
	} else {
		b.WriteString(" failed: ")
	}
	b.WriteString(e.Message)
	if e.Stack != "" {
		b.WriteString("\nremote stack:\n")
		b.WriteString(e.Stack)
	}
	return b.String()
}

// Unwrap returns the application error.
func (e *TaskError) Unwrap() error { return e.Cause }

// Is reports whether target is ErrTaskFailed.
func (e *TaskError) Is(target error) bool { return target == ErrTaskFailed }

// RemoteError stands in for an application error whose type was not registered with
// RegisterError and so could not be rebuilt on this side of a process boundary.
type RemoteError struct {
	TypeName string
	Message  string
}

func (e *RemoteError) Error() string { return e.Message }

// kindError is the shared shape of the simple typed errors below.
type kindError struct {
	kind error
	msg  string
}

func (e kindError) Error() string          { return e.msg }
func (e kindError) Is(target error) bool   { return target == e.kind }
func newKind(kind error, msg string) error { return kindError{kind, msg} }

// CancelledError is the error of a cancelled task.
type CancelledError struct{ TaskID string }

func (e *CancelledError) Error() string        { return "fray: task " + e.TaskID + " was cancelled" }
func (e *CancelledError) Is(target error) bool { return target == ErrCancelled }

// TimeoutError is returned by Get and Wait when the deadline passes first. It also matches
// context.DeadlineExceeded when the deadline came from the context.
type TimeoutError struct {
	Op    string // "get" or "wait"
	Cause error  // context error, if the deadline came from ctx
}

func (e *TimeoutError) Error() string {
	return "fray: " + e.Op + " timed out before the object was ready"
}
func (e *TimeoutError) Is(target error) bool { return target == ErrTimeout }
func (e *TimeoutError) Unwrap() error        { return e.Cause }

// ActorDiedError reports that an actor cannot run a call because it is dead, or because the
// instance that had the call died and the actor is restarting (Restarting).
type ActorDiedError struct {
	ActorID string
	Name    string
	Reason  string
	// Restarting: the actor is coming back (MaxRestarts left; Ray's ActorUnavailableError).
	// The call may or may not have run, and later calls may reach the new instance
	// (ActorOptions.MaxTaskRetries retries such calls by itself).
	Restarting bool
}

func (e *ActorDiedError) Error() string {
	who := e.ActorID
	if e.Name != "" {
		who = fmt.Sprintf("%s (%s)", e.Name, e.ActorID)
	}
	if e.Restarting {
		return "fray: actor " + who + " is restarting: " + e.Reason
	}
	return "fray: actor " + who + " died: " + e.Reason
}
func (e *ActorDiedError) Is(target error) bool { return target == ErrActorDied }

// WorkerDiedError reports that the process running a task exited before the task finished.
type WorkerDiedError struct {
	Task   string
	Reason string // e.g. "signal: killed"
}

func (e *WorkerDiedError) Error() string {
	return "fray: worker running " + e.Task + " died: " + e.Reason
}
func (e *WorkerDiedError) Is(target error) bool { return target == ErrWorkerDied }

// WorkerStartError reports a worker process that exited or refused before it served any
// call. Unlike a *WorkerDiedError it is no transient failure but a problem of the program
// (main does not call fray.Init first, or exits before it): it is not retried.
type WorkerStartError struct {
	Binary string // the worker program
	PID    int
	Reason string // what happened, e.g. "exit status 1"
	Hint   string // what to do about it
}

func (e *WorkerStartError) Error() string {
	s := fmt.Sprintf("fray: worker %s (pid %d) did not start: %s", e.Binary, e.PID, e.Reason)
	if e.Hint != "" {
		s += "; " + e.Hint
	}
	return s
}
func (e *WorkerStartError) Is(target error) bool { return target == ErrWorkerStart }

// ObjectLostError reports that an object's value is no longer available.
type ObjectLostError struct {
	ObjectID string
	Reason   string
}

func (e *ObjectLostError) Error() string {
	return "fray: object " + e.ObjectID + " lost: " + e.Reason
}
func (e *ObjectLostError) Is(target error) bool { return target == ErrObjectLost }

// SerializationError reports a value that the codec cannot carry.
type SerializationError struct {
	Type  string // Go type involved
	Op    string // "encode" or "decode"
	Cause error
}

func (e *SerializationError) Error() string {
	return fmt.Sprintf("fray: cannot %s value of type %s: %v", e.Op, e.Type, e.Cause)
}
func (e *SerializationError) Is(target error) bool { return target == ErrSerialization }
func (e *SerializationError) Unwrap() error        { return e.Cause }

// UnsupportedError names an option or operation a backend cannot honour.
type UnsupportedError struct {
	Backend string
	Feature string
	Hint    string
}

func (e *UnsupportedError) Error() string {
	s := "fray: " + e.Backend + " backend does not support " + e.Feature
	if e.Hint != "" {
		s += ": " + e.Hint
	}
	return s
}
func (e *UnsupportedError) Is(target error) bool { return target == ErrUnsupported }

// InfeasibleError reports a request for more of a resource than any node has.
type InfeasibleError struct {
	Resource  string
	Requested float64
	Capacity  float64
}

func (e *InfeasibleError) Error() string {
	return fmt.Sprintf("fray: infeasible request: %g %s requested but the node has %g; lower the request or give the backend more %s", e.Requested, e.Resource, e.Capacity, e.Resource)
}
func (e *InfeasibleError) Is(target error) bool { return target == ErrInfeasible }

// UnknownNameError reports an unregistered function or actor class, or a missing named actor.
type UnknownNameError struct {
	What string // "task", "actor class", "method", "named actor"
	Name string
	Hint string
}

func (e *UnknownNameError) Error() string {
	s := "fray: unknown " + e.What + " " + fmt.Sprintf("%q", e.Name)
	if e.Hint != "" {
		s += ": " + e.Hint
	}
	return s
}
func (e *UnknownNameError) Is(target error) bool { return target == ErrUnknownName }

// RuntimeEnvError reports a runtime environment that could not be built.
type RuntimeEnvError struct {
	Detail string // e.g. pip's output
	Cause  error
}

func (e *RuntimeEnvError) Error() string {
	return "fray: runtime environment setup failed: " + e.Detail
}
func (e *RuntimeEnvError) Is(target error) bool { return target == ErrRuntimeEnv }
func (e *RuntimeEnvError) Unwrap() error        { return e.Cause }

// ErrorKind names a kind of error for the cross-process error encoding.
func errorKindOf(err error) string {
	switch {
	case errors.Is(err, ErrTaskFailed):
		return "task"
	case errors.Is(err, ErrCancelled):
		return "cancelled"
	case errors.Is(err, ErrTimeout):
		return "timeout"
	case errors.Is(err, ErrActorDied):
		return "actor_died"
	case errors.Is(err, ErrWorkerDied):
		return "worker_died"
	case errors.Is(err, ErrObjectLost):
		return "object_lost"
	case errors.Is(err, ErrWorkerStart):
		return "worker_start"
	case errors.Is(err, ErrSerialization):
		return "serialization"
	case errors.Is(err, ErrPlacementGroupRemoved):
		return "pg_removed"
	case errors.Is(err, ErrPlacement):
		return "placement"
	case errors.Is(err, ErrUnsupported):
		return "unsupported"
	case errors.Is(err, ErrInfeasible):
		return "infeasible"
	case errors.Is(err, ErrUnknownName):
		return "unknown_name"
	case errors.Is(err, ErrRuntimeEnv):
		return "runtime_env"
	case errors.Is(err, ErrNameTaken):
		return "name_taken"
	case errors.Is(err, ErrInvalidResources):
		return "invalid_resources"
	case errors.Is(err, ErrInvalidArgument):
		return "invalid_argument"
	case errors.Is(err, ErrForeignRef):
		return "foreign_ref"
	case errors.Is(err, ErrNoJobContext):
		return "no_job_context"
	case errors.Is(err, ErrClosed):
		return "closed"
	}
	return "other"
}

var sentinelByKind = map[string]error{
	"name_taken": ErrNameTaken, "invalid_resources": ErrInvalidResources,
	"invalid_argument": ErrInvalidArgument, "foreign_ref": ErrForeignRef,
	"no_job_context": ErrNoJobContext, "closed": ErrClosed, "worker_start": ErrWorkerStart,
}
