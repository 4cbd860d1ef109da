// The worker protocol's messages: type numbers and bodies of what a parent and a worker
// child (a local worker process, the Ray shim's Go child) send each other, the nested
// requests included. The Go driver and the Ray bridge add theirs in
// backend/ray/bridge_messages.go.

package wire

import "fmt"

// Type is a frame's message type.
type Type uint8

// Message types. Numbers are part of the protocol (see PROTOCOL.md) and never change.
//
// Requests carry a nonzero request id chosen by the side that sends them, unique among that
// side's requests still in flight; the answer is a Result (or HelloOK/HelloErr for Hello)
// with the same id, sent the other way. Parent→child and child→parent ids are separate
// spaces: a Result from the child answers a parent request and vice versa. One-way messages
// (Cancel, Release, ReleaseActor, Shutdown) get no answer.
const (
	// Hello (parent→child, request) opens the session; body Hello.
	TypeHello Type = 0x01
	// HelloOK (child→parent, answer to Hello); body HelloOK.
	TypeHelloOK Type = 0x02
	// HelloErr (child→parent, answer to Hello): the child refuses the session and exits;
	// body HelloErr.
	TypeHelloErr Type = 0x03
	// Run (parent→child, request) runs a task; body Run; answered by Result{d|e}.
	TypeRun Type = 0x04
	// CreateActor (parent→child, request) constructs an actor's state in the child; body
	// CreateActor; answered by Result{} or Result{e}.
	TypeCreateActor Type = 0x05
	// CallActor (parent→child, request) runs a method on an actor the child holds; body
	// CallActor; answered by Result{d|e}.
	TypeCallActor Type = 0x06
	// Result (either direction) answers the request with the same id; body Result.
	TypeResult Type = 0x07
	// Cancel (either direction, one-way) cancels the ctx of the sender's own request whose
	// id is in the frame header; body empty. The request is still answered (normally with a
	// cancelled error).
	TypeCancel Type = 0x08
	// Shutdown (parent→child, one-way): finish nothing new, exit with code 0 (in-flight
	// calls are cancelled). Header id 0, body empty.
	TypeShutdown Type = 0x09
	// ReleaseActor (parent→child, one-way) drops an actor's state; body ReleaseActor.
	TypeReleaseActor Type = 0x0A

	// Nested requests, child→parent, mirroring backend.JobContext. Each is answered by a
	// Result whose keys are given at the body struct.

	// Submit submits a task (JobContext.SubmitTask); body Submit; answer Result{o}.
	TypeSubmit Type = 0x10
	// Put stores a value (JobContext.Put); body Put; answer Result{o}.
	TypePut Type = 0x11
	// Get resolves objects (JobContext.Get); body Get; answer Result{os}.
	TypeGet Type = 0x12
	// Wait waits for objects (JobContext.Wait); body Wait; answer Result{rd}.
	TypeWait Type = 0x13
	// CancelTask cancels a task (JobContext.Cancel); body CancelTask; answer Result{}.
	TypeCancelTask Type = 0x14
	// CreateActorNested creates an actor (JobContext.CreateActor); body
	// CreateActorNested; answer Result{ac}.
	TypeCreateActorNested Type = 0x15
	// GetActor looks up a named actor (JobContext.GetActor); body GetActor; answer
	// Result{ac}.
	TypeGetActor Type = 0x16
	// CallActorNested calls an actor method (JobContext.CallActor); body
	// CallActorNested; answer Result{o}.
	TypeCallActorNested Type = 0x17
	// KillActor kills an actor (JobContext.KillActor); body KillActor; answer Result{}.
	TypeKillActor Type = 0x18
	// Release (one-way, header id 0) drops references (JobContext.Release); body Release.
	TypeRelease Type = 0x19

	// StreamItem (child→parent, request) is one item yielded by the streaming task or
	// method of the parent→child request named by its Origin; body StreamItem; answer
	// Result{} once the parent took it (after its backpressure bound allowed), or
	// Result{e} when the stream was cancelled (the producer's yield fails with it).
	TypeStreamItem Type = 0x30
	// StreamSubmit (child→parent, request) starts a streaming task
	// (fray.StreamJobContext.SubmitStreamTask); body StreamSubmit; answer Result{o}, the
	// stream's id. CancelTask of that id cancels the stream; Release of it drops it.
	TypeStreamSubmit Type = 0x31
	// StreamCall (child→parent, request) calls a streaming actor method
	// (fray.StreamJobContext.CallActorStream); body StreamCall; answer Result{o}.
	TypeStreamCall Type = 0x32
	// StreamNext (child→parent, request) reads a stream's next item; body StreamNext;
	// answer Result{os: [Object]}: the item (d) or the producer's failure (e, the stream's
	// last answer), or Result{} at the stream's end.
	TypeStreamNext Type = 0x33
)

var typeNames = map[Type]string{
	TypeHello: "Hello", TypeHelloOK: "HelloOK", TypeHelloErr: "HelloErr", TypeRun: "Run",
	TypeCreateActor: "CreateActor", TypeCallActor: "CallActor", TypeResult: "Result",
	TypeCancel: "Cancel", TypeShutdown: "Shutdown", TypeReleaseActor: "ReleaseActor",
	TypeSubmit: "Submit", TypePut: "Put", TypeGet: "Get", TypeWait: "Wait",
	TypeCancelTask: "CancelTask", TypeCreateActorNested: "CreateActorNested",
	TypeGetActor: "GetActor", TypeCallActorNested: "CallActorNested",
	TypeKillActor: "KillActor", TypeRelease: "Release", TypeStreamItem: "StreamItem",
	TypeStreamSubmit: "StreamSubmit", TypeStreamCall: "StreamCall", TypeStreamNext: "StreamNext",
}

func (t Type) String() string {
	if s, ok := typeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("Type(0x%02x)", uint8(t))
}

// Known reports whether t is a message type of this protocol version.
func (t Type) Known() bool { _, ok := typeNames[t]; return ok }

// IsNested reports whether t is a child→parent nested request.
func (t Type) IsNested() bool {
	return (t >= TypeSubmit && t <= TypeRelease) || isPlacementRequest(t)
}

// IsStream reports whether t is a child→parent stream request (an item, or a stream the
// child consumes).
func (t Type) IsStream() bool { return t >= TypeStreamItem && t <= TypeStreamNext }

// WorkerOptions tune the child's worker loop; sent in Hello.
type WorkerOptions struct {
	// ParentPID is the parent's process id; the child exits when its parent changes (the
	// parent died and the child was re-parented). 0 skips the check.
	ParentPID int `cbor:"pp,omitempty"`
	// MaxInFlight bounds how many Run/CreateActor/CallActor requests the child runs at
	// once; more wait in arrival order. 0 means no bound.
	MaxInFlight int `cbor:"mi,omitempty"`
}

// Hello opens a session (parent→child).
type Hello struct {
	Version   int           `cbor:"v"`            // protocol version, Version
	JobID     string        `cbor:"j"`            // the job the worker serves
	Namespace string        `cbor:"ns,omitempty"` // default namespace for named actors
	Digest    string        `cbor:"dg"`           // parent's backend.RegistryDigest()
	Manifest  []string      `cbor:"mf,omitempty"` // parent's backend.RegistryManifest()
	MaxFrame  int           `cbor:"mx,omitempty"` // bound on N both sides use afterwards; 0: default
	Options   WorkerOptions `cbor:"o,omitempty"`
	Backend   string        `cbor:"be,omitempty"` // the parent's backend name, for messages
}

// HelloOK accepts a session (child→parent).
type HelloOK struct {
	Version int    `cbor:"v"`
	Digest  string `cbor:"dg"`  // child's backend.RegistryDigest()
	PID     int    `cbor:"pid"` // child's process id
}

// HelloErr refuses a session (child→parent); the child exits after sending it.
type HelloErr struct {
	Message string `cbor:"m"`            // human-readable reason
	Digest  string `cbor:"dg,omitempty"` // child's digest
	// MissingInWorker are parent manifest lines the child lacks; MissingInParent are child
	// manifest lines the parent lacks (a changed signature shows up in both).
	MissingInWorker []string `cbor:"mw,omitempty"`
	MissingInParent []string `cbor:"mp,omitempty"`
	Version         int      `cbor:"v,omitempty"` // child's protocol version
	// NoInit: the child's main created a job context before calling fray.Init (it would
	// have become a driver starting workers of its own); Message says which constructor.
	NoInit bool `cbor:"ni,omitempty"`
}

// TaskInfo is fray.TaskInfo on the wire (PID is the receiver's own and not sent).
type TaskInfo struct {
	JobID   string `cbor:"j,omitempty"`
	TaskID  string `cbor:"t,omitempty"`
	Name    string `cbor:"n,omitempty"`
	ActorID string `cbor:"ac,omitempty"`
	Attempt int    `cbor:"at,omitempty"`
}

// Run runs a task in the child.
type Run struct {
	Function string   `cbor:"f"`
	Arg      Bytes    `cbor:"a"` // fray.Marshal bytes of the argument (decoded without a copy)
	Info     TaskInfo `cbor:"ti,omitempty"`
}

// CreateActor constructs an actor in the child. The child keeps the state under ActorID.
type CreateActor struct {
	Class          string   `cbor:"c"`
	Arg            Bytes    `cbor:"a"`
	ActorID        string   `cbor:"id"`
	MaxConcurrency int      `cbor:"mc,omitempty"` // 0 or 1: calls one at a time in arrival order
	Info           TaskInfo `cbor:"ti,omitempty"`
}

// CallActor runs a method on an actor the child holds.
type CallActor struct {
	ActorID string   `cbor:"id"`
	Method  string   `cbor:"m"` // registered name "<class>.<method>"
	Arg     Bytes    `cbor:"a"`
	Info    TaskInfo `cbor:"ti,omitempty"`
}

// ReleaseActor drops an actor's state in the child.
type ReleaseActor struct {
	ActorID string `cbor:"id"`
}

// Object is one resolved object in a Get answer: Data, or Err when the producing task failed.
type Object struct {
	Data []byte `cbor:"d,omitempty"`
	Err  []byte `cbor:"e,omitempty"`
}

// ActorInfo is backend.ActorInfo on the wire.
type ActorInfo struct {
	ID        string `cbor:"id"`
	Class     string `cbor:"c,omitempty"`
	Name      string `cbor:"n,omitempty"`
	Namespace string `cbor:"ns,omitempty"`
}

// Result answers a request. Err set means the request failed; otherwise the key that the
// request's kind calls for is set: Data for Run and CallActor, ObjectID for Submit, Put and
// CallActorNested, Objects for Get, Ready for Wait, Actor for CreateActorNested and
// GetActor; none for CreateActor, CancelTask and KillActor.
type Result struct {
	Err      []byte     `cbor:"e,omitempty"` // fray.EncodeError bytes
	Data     []byte     `cbor:"d,omitempty"`
	ObjectID string     `cbor:"o,omitempty"`
	Objects  []Object   `cbor:"os,omitempty"`
	Ready    []bool     `cbor:"rd,omitempty"`
	Actor    *ActorInfo `cbor:"ac,omitempty"`
	// Group answers CreatePlacementGroup and GetPlacementGroup (placement.go).
	Group *PlacementGroupInfo `cbor:"pg,omitempty"`
	// Plain reports that Data does not contain the CBOR text of the job id, so it holds
	// none of the job's refs or actor handles and a receiver that looks for them (the Ray
	// shim) may skip scanning it. Absent means unknown: scan.
	Plain bool `cbor:"pl,omitempty"`
}

// Origin is part of every nested request: the id of the parent→child request (Run,
// CreateActor or CallActor) whose code made the nested call, so the parent can attribute it
// (for example to inherit the calling task's runtime environment). 0 when unknown.
type Origin struct {
	From uint64 `cbor:"fr,omitempty"`
}

// Submit submits a task (child→parent). Exactly one of Arg and ArgRef is set.
type Submit struct {
	Origin
	Function string      `cbor:"f"`
	Arg      []byte      `cbor:"a,omitempty"`
	ArgRef   string      `cbor:"ar,omitempty"`
	Options  TaskOptions `cbor:"op,omitempty"`
}

// Put stores a value (child→parent).
type Put struct {
	Origin
	Data  []byte `cbor:"d"`
	Plain bool   `cbor:"pl,omitempty"` // as Result.Plain, for Data
}

// Get resolves objects (child→parent).
type Get struct {
	Origin
	IDs []string `cbor:"ids"`
}

// Wait waits for objects (child→parent).
type Wait struct {
	Origin
	IDs        []string `cbor:"ids"`
	NumReturns int      `cbor:"n"`
	// Timeout in seconds; negative means none (fray.Forever).
	Timeout float64 `cbor:"t"`
}

// CancelTask cancels the task producing an object (child→parent).
type CancelTask struct {
	Origin
	ObjectID string `cbor:"o"`
	Force    bool   `cbor:"fc,omitempty"`
}

// CreateActorNested creates an actor (child→parent).
type CreateActorNested struct {
	Origin
	Class   string       `cbor:"c"`
	Arg     []byte       `cbor:"a"`
	Options ActorOptions `cbor:"op,omitempty"`
}

// GetActor looks up a named actor (child→parent); Namespace "" is the job's.
type GetActor struct {
	Origin
	Name      string `cbor:"n"`
	Namespace string `cbor:"ns,omitempty"`
}

// CallActorNested calls an actor method (child→parent). Exactly one of Arg and ArgRef is set.
type CallActorNested struct {
	Origin
	ActorID string `cbor:"id"`
	Method  string `cbor:"m"`
	Arg     []byte `cbor:"a,omitempty"`
	ArgRef  string `cbor:"ar,omitempty"`
}

// KillActor kills an actor (child→parent).
type KillActor struct {
	Origin
	ActorID   string `cbor:"id"`
	NoRestart bool   `cbor:"nr,omitempty"`
}

// Release drops references (child→parent, one-way).
type Release struct {
	Origin
	IDs []string `cbor:"ids"`
}

// StreamItem is one item of a running stream (child→parent); From names the Run or
// CallActor request whose function yielded it.
type StreamItem struct {
	Origin
	Data []byte `cbor:"d"` // fray.Marshal bytes of the item
}

// StreamSubmit starts a streaming task (child→parent): Submit plus the backpressure bound.
type StreamSubmit struct {
	Submit
	Backpressure int `cbor:"bp,omitempty"` // > 0 bound, -1 none
}

// StreamCall calls a streaming actor method (child→parent).
type StreamCall struct {
	CallActorNested
	Backpressure int `cbor:"bp,omitempty"`
}

// StreamNext reads a stream's next item (child→parent).
type StreamNext struct {
	Origin
	ID string `cbor:"o"` // the stream's id from StreamSubmit or StreamCall
}
