// Package backend is fray's backend SPI: the seam between the typed API in package fray and
// the backends (backend/local, backend/ray, the worker side in internal/worker). Application
// code uses package fray and never this one, except to name the JobContext a backend's
// constructor returns and the ObjectID of a Ref. A backend implements JobContext and runs
// the functions the API registered here.
//
// The split is database/sql's: this package does not import package fray (fray imports
// it), so nothing here mentions fray's option types, Ref or the codec. A backend may import
// package fray for the codec (fray.Marshal, fray.Unmarshal, fray.EncodeError,
// fray.DecodeError) and the error types.
//
// # The API checks and defaults; the backend trusts
//
// Before a spec reaches a JobContext, the API has
//
//   - resolved the function: TaskSpec.Function, ActorSpec.Class and ActorCall.Method are
//     registered Functions of the right Kind (KindTask, KindActorClass, KindMethod), and a
//     method's Class is the class of the actor the handle names. A backend does not look
//     names up nor check kinds; LookupFunction is for names that arrive from another
//     process (a worker serving a call).
//   - validated the options (fray.TaskOptions.Validate, fray.ActorOptions.Validate: resource
//     names and amounts with Ray's spellings refused and TPU chip counts checked, retry and
//     restart counts, lifetime, runtime env variable names and requirements) and resolved
//     every default into the effective TaskOptions and ActorOptions: Name is never empty,
//     MaxRetries is a number (DefaultMaxRetries when unset), task Resources always carry a
//     CPU amount, an actor's Placement and Held follow Ray's rule, MaxConcurrency is at
//     least 1.
//   - checked refs and handles: every id belongs to this job context (ErrForeignRef
//     otherwise), no zero refs; Wait's numReturns is within 1..len(ids), ids are distinct,
//     the timeout is not negative (Forever means none).
//
// A backend may still refuse what it cannot do: fray.ErrUnsupported (an
// *fray.UnsupportedError naming the option), fray.ErrInfeasible (no node could ever fit the
// request), fray.ErrClosed after Close. It does not validate or default again.
//
// # Payloads
//
// Values cross the seam as Payloads. When PassesValuesDirectly is false, the API hands over
// the codec's bytes in Data, encoded at the call site so that serialization errors surface
// there; the one exception is a []byte value, left in Value with Data nil so a backend can
// write its byte-string encoding straight to where it sends it (Payload.Encoded with
// fray.Marshal does it the plain way). The backend must be done with Value before the call
// returns: the caller may reuse the slice. When PassesValuesDirectly is true, Value holds the
// Go value itself and the backend encodes (fray.Marshal) only where it crosses a process.
//
// Results go back the same way: Object.Data with the codec's bytes (Owned when the buffer is
// the caller's alone, so decoding may alias it) or Object.Value in direct mode, or Object.Err.
//
// # Refs nested in values
//
// A Ref or actor handle encoded inside a value carries its job id and object or actor id.
// The backend that sends such bytes to another process or stores them must keep the objects
// they name alive while the receiver may use them: the API never releases an object whose
// Ref was encoded (Release is only called for refs that stayed in process), and the backend
// pins what it finds in a payload until the job context closes. Bytes that do not contain the
// job id hold no refs and need no scan.
//
// # The task context
//
// Every task, actor constructor and method runs with a ctx that carries its job context (a
// JobContext through which nested calls go, on the same job) and its TaskInfo. A backend
// builds it with NewTaskContext, or, with a context type of its own, answers both keys from
// its Value method with TaskContextValue. fray.JobContextFrom and fray.TaskInfoFrom read
// them; nothing else reaches the keys.
//
// # Running functions and errors across processes
//
// Function.DecodeArg turns a Payload into the argument, Function.Invoke runs the function and
// returns its error as a *fray.TaskError (panics included, with the stack); a function that
// ends its goroutine with runtime.Goexit must be answered with Function.GoexitError. Errors
// cross processes as fray.EncodeError's bytes and come back through fray.DecodeError with
// their type (the sentinel they match with errors.Is, and application types registered with
// fray.RegisterError); a backend reports its own failures with fray's typed errors
// (*fray.WorkerDiedError, *fray.ActorDiedError, *fray.CancelledError, *fray.ObjectLostError,
// ...) so that callers branch on them the same way on every backend.
//
// # The registry
//
// fray.NewTask, NewActor and NewMethod, in package-level variables, Register their functions
// during package initialization. fray.Init and every backend constructor call
// FreezeRegistry: a function defined after that is not registered, and calling it fails
// with fray.ErrRegistryFrozen, so a worker process started from the same binary has exactly
// the same names.
// RegistryDigest is what a driver and its workers compare at handshake; RegistryManifest
// says what differs.
//
// # Optional interfaces
//
// As with database/sql's drivers, a JobContext may implement more: StreamJobContext runs
// streaming tasks and methods (fray.NewStreamTask, NewStreamMethod; without it they fail
// with a *fray.UnsupportedError), and ReadyWatcher lets fray.AsCompleted learn of each
// completion instead of waiting on the whole pending set per round.
//
// The fraytest package is the conformance suite every backend passes.
package backend
