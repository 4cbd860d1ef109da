package backend

import (
	"context"
	"math"
	"time"
)

// ObjectID identifies an object (a task result or a Put value) within a job context.
type ObjectID string

// ActorID identifies an actor within a backend.
type ActorID string

// Payload is a value crossing the API/backend seam. Data holds the codec encoding; when a
// backend passes values directly (JobContext.PassesValuesDirectly) Data is nil and Value
// holds the Go value itself. Other backends may also get a []byte as Value with Data nil
// (the API leaves encoding such a value to the backend, to save a copy): they call
// Encoded, or write the byte string's encoding themselves, before the call returns.
type Payload struct {
	Data  []byte
	Value any
	// Owned reports that Data is the receiver's alone (a buffer the backend made for this
	// answer and keeps no other reference to), so decoding may return slices of it instead
	// of copying: a []byte value then costs no copy at all.
	Owned bool
}

// Encoded returns the payload's codec bytes: Data, or Value encoded with marshal (pass
// fray.Marshal; this package does not import the codec, see the package doc).
func (p Payload) Encoded(marshal func(any) ([]byte, error)) ([]byte, error) {
	if p.Data != nil {
		return p.Data, nil
	}
	return marshal(p.Value)
}

// TaskSpec is one task submission, checked and defaulted by the API.
type TaskSpec struct {
	Function *Function // the registered task (Kind is KindTask)
	Arg      Payload   // the argument, unless ArgRef is set
	ArgRef   ObjectID  // a top-level ref argument, resolved to its value before the task runs
	Options  TaskOptions
}

// ActorSpec is one actor creation, checked and defaulted by the API.
type ActorSpec struct {
	Class   *Function // the registered actor class (Kind is KindActorClass)
	Arg     Payload
	Options ActorOptions
}

// ActorCall is one actor method call.
type ActorCall struct {
	Actor  ActorID
	Method *Function // the registered method (Kind is KindMethod) of the actor's class
	Arg    Payload
	ArgRef ObjectID
}

// ActorInfo describes an actor handle as a backend returns it.
type ActorInfo struct {
	ID        ActorID
	Class     string
	Name      string
	Namespace string
}

// Object is a resolved object: its value, or the error of the task that should have made it.
type Object struct {
	Payload
	Err error
}

// JobContext is a connection to a backend for one job: what fray.WithJobContext puts in a
// context.Context and what every typed call uses. Implementations must be safe for
// concurrent use.
type JobContext interface {
	// JobID identifies the job. Refs and actor handles remember it; using them with another
	// job context is an ErrForeignRef error.
	JobID() string
	// Backend names the backend ("local", "ray") for messages.
	Backend() string
	// PassesValuesDirectly reports whether the backend accepts Payload.Value without
	// encoding (the local backend in direct mode). When false the API encodes every value
	// before handing it over, so serialization errors surface at the call site (a []byte,
	// which cannot fail to encode, is left to the backend: see Payload).
	PassesValuesDirectly() bool

	// SubmitTask starts a task and returns the id of its result.
	SubmitTask(ctx context.Context, spec TaskSpec) (ObjectID, error)
	// Put stores an immutable object.
	Put(ctx context.Context, value Payload) (ObjectID, error)
	// Get blocks until every object is ready or ctx is done; per-object failures are in
	// Object.Err, and the returned error is only for the call itself (ctx done, closed,
	// foreign or unknown ids).
	Get(ctx context.Context, ids []ObjectID) ([]Object, error)
	// Wait returns which ids are ready (in input order) once numReturns are ready, the
	// timeout passes or ctx is done. timeout == Forever means no timeout; ctx being done
	// ends the wait early without an error (the caller checks ctx). The API has checked
	// the arguments: 1 <= numReturns <= len(ids), no duplicates, timeout >= 0.
	Wait(ctx context.Context, ids []ObjectID, numReturns int, timeout time.Duration) ([]bool, error)
	// Cancel cancels the task that produces id.
	Cancel(ctx context.Context, id ObjectID, force bool) error
	// Release tells the backend the caller holds no more references to ids.
	Release(ids []ObjectID)

	// CreateActor starts an actor (or finds the named one, with GetIfExists).
	CreateActor(ctx context.Context, spec ActorSpec) (ActorInfo, error)
	// GetActor finds a named actor.
	GetActor(ctx context.Context, name, namespace string) (ActorInfo, error)
	// CallActor calls an actor method and returns the id of its result.
	CallActor(ctx context.Context, call ActorCall) (ObjectID, error)
	// KillActor kills an actor: pending and future calls fail with ErrActorDied. With
	// noRestart false an actor with restarts left is restarted instead.
	KillActor(ctx context.Context, id ActorID, noRestart bool) error

	// Close ends the job: job-scoped actors die, running tasks are cancelled, and nothing
	// the job context started keeps running.
	Close() error
}

// Forever is the timeout that never expires (Ray's timeout=None); fray.Forever is the same.
const Forever time.Duration = math.MaxInt64
