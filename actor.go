package fray

import (
	"context"
	"fmt"
	"reflect"
	"runtime"

	"github.com/fxamacker/cbor/v2"

	"github.com/fray-go/fray/backend"
)

// Actor is a registered actor class: a constructor that builds state *S from an argument A.
// Its methods are declared with NewMethod. Declare both in package-level variables:
//
//	var Counter = fray.NewActor("examples.Counter", func(ctx context.Context, start int) (*CounterState, error) {
//		return &CounterState{n: start}, nil
//	})
//	var Add = fray.NewMethod(Counter, "Add", (*CounterState).Add)
//
// The state lives in one place (a goroutine of the local backend, a process on Ray); calls
// reach it through an ActorHandle and run one at a time, in submission order, unless
// ActorOptions.MaxConcurrency allows more.
type Actor[S, A any] struct {
	fn      *backend.Function
	lateErr error
}

// NewActor registers an actor class under name.
func NewActor[S, A any](name string, newFn func(ctx context.Context, arg A) (*S, error)) *Actor[S, A] {
	checkName("actor class", name)
	f := &backend.Function{
		Name: name, Kind: backend.KindActorClass, DefinedAt: callerLocation(),
		ArgType: reflect.TypeFor[A](), ResultType: reflect.TypeFor[*S](),
	}
	call := func(ctx context.Context, _ any, arg any) (any, error) {
		a, _ := arg.(A)
		s, err := newFn(ctx, a)
		if err == nil && s == nil {
			return nil, fmt.Errorf("constructor returned a nil state without an error")
		}
		return s, err
	}
	return &Actor[S, A]{fn: f, lateErr: register(f, call, decoderFor[A]())}
}

// Name returns the registered class name.
func (a *Actor[S, A]) Name() string { return a.fn.Name }

// Create starts an actor (or, with GetIfExists, finds the existing one of that name and
// ignores arg). Creation is asynchronous as in Ray: a constructor failure makes the actor
// dead, and calls to it fail with an *ActorDiedError whose reason carries the error.
func (a *Actor[S, A]) Create(ctx context.Context, arg A, opts ...ActorOptions) (ActorHandle[S], error) {
	if a.lateErr != nil {
		return ActorHandle[S]{}, a.lateErr
	}
	jc, err := JobContextFrom(ctx)
	if err != nil {
		return ActorHandle[S]{}, err
	}
	o, err := oneOption(opts, "ActorOptions")
	if err != nil {
		return ActorHandle[S]{}, err
	}
	if err := o.Validate(); err != nil {
		return ActorHandle[S]{}, fmt.Errorf("fray: actor %s: %w", a.fn.Name, err)
	}
	p, err := makePayload(jc, arg)
	if err != nil {
		return ActorHandle[S]{}, fmt.Errorf("fray: actor %s: constructor argument: %w", a.fn.Name, err)
	}
	info, err := jc.CreateActor(ctx, backend.ActorSpec{Class: a.fn, Arg: p, Options: o.effective()})
	if err != nil {
		return ActorHandle[S]{}, err
	}
	if info.Class != a.fn.Name {
		return ActorHandle[S]{}, classMismatch(info, a.fn.Name)
	}
	return ActorHandle[S]{info: info, job: jc.JobID()}, nil
}

// Lookup finds a named actor of this class in namespace ("" means the job context's).
func (a *Actor[S, A]) Lookup(ctx context.Context, name, namespace string) (ActorHandle[S], error) {
	if a.lateErr != nil {
		return ActorHandle[S]{}, a.lateErr
	}
	jc, err := JobContextFrom(ctx)
	if err != nil {
		return ActorHandle[S]{}, err
	}
	info, err := jc.GetActor(ctx, name, namespace)
	if err != nil {
		return ActorHandle[S]{}, err
	}
	if info.Class != a.fn.Name {
		return ActorHandle[S]{}, classMismatch(info, a.fn.Name)
	}
	return ActorHandle[S]{info: info, job: jc.JobID()}, nil
}

func classMismatch(info backend.ActorInfo, want string) error {
	return newKind(ErrInvalidArgument, fmt.Sprintf("fray: actor %q in namespace %q is a %s, not a %s", info.Name, info.Namespace, info.Class, want))
}

// ActorHandle refers to a live actor whose state is *S. It is a small value that can be
// passed to tasks and other actors.
type ActorHandle[S any] struct {
	info backend.ActorInfo
	job  string
}

// ID returns the actor id.
func (h ActorHandle[S]) ID() backend.ActorID { return h.info.ID }

// Name returns the actor's name ("" if unnamed).
func (h ActorHandle[S]) Name() string { return h.info.Name }

// Namespace returns the actor's namespace.
func (h ActorHandle[S]) Namespace() string { return h.info.Namespace }

// IsZero reports whether h refers to no actor.
func (h ActorHandle[S]) IsZero() bool { return h.info.ID == "" }

// KillOptions adjust Kill.
type KillOptions struct {
	// AllowRestart lets an actor with restarts left come back (its constructor re-run)
	// instead of dying for good. Ray's no_restart=False.
	AllowRestart bool
}

// Kill kills the actor: calls pending and future fail with an *ActorDiedError.
func (h ActorHandle[S]) Kill(ctx context.Context, opts ...KillOptions) error {
	jc, err := h.jc(ctx)
	if err != nil {
		return err
	}
	o, err := oneOption(opts, "KillOptions")
	if err != nil {
		return err
	}
	return jc.KillActor(ctx, h.info.ID, !o.AllowRestart)
}

func (h ActorHandle[S]) jc(ctx context.Context) (backend.JobContext, error) {
	if h.info.ID == "" {
		return nil, newKind(ErrInvalidArgument, "fray: zero ActorHandle: use the handle Create or Lookup returned")
	}
	jc, err := JobContextFrom(ctx)
	if err != nil {
		return nil, err
	}
	if jc.JobID() != h.job {
		return nil, foreignRef("actor handle", string(h.info.ID), h.job, jc)
	}
	return jc, nil
}

type wireHandle struct {
	_         struct{} `cbor:",toarray"`
	Job       string
	ID        backend.ActorID
	Class     string
	Name      string
	Namespace string
}

// MarshalCBOR encodes the handle for another task or actor.
func (h ActorHandle[S]) MarshalCBOR() ([]byte, error) {
	return cbor.Marshal(wireHandle{Job: h.job, ID: h.info.ID, Class: h.info.Class, Name: h.info.Name, Namespace: h.info.Namespace})
}

func (ActorHandle[S]) encodesOneLevel() {} // see oneLevel

// UnmarshalCBOR decodes a handle sent by another task.
func (h *ActorHandle[S]) UnmarshalCBOR(b []byte) error {
	var w wireHandle
	if err := cbor.Unmarshal(b, &w); err != nil {
		return err
	}
	*h = ActorHandle[S]{info: backend.ActorInfo{ID: w.ID, Class: w.Class, Name: w.Name, Namespace: w.Namespace}, job: w.Job}
	return nil
}

// Method is a registered actor method of state S taking A and returning R.
type Method[S, A, R any] struct {
	fn      *backend.Function
	lateErr error
}

// NewMethod registers fn as method name of actor class. fn is usually a method expression,
// such as (*CounterState).Add, with the signature func(*S, context.Context, A) (R, error).
// The registered name is "<class>.<name>".
func NewMethod[S, CA, A, R any](actor *Actor[S, CA], name string, fn func(s *S, ctx context.Context, arg A) (R, error)) *Method[S, A, R] {
	checkName("method", name)
	f := &backend.Function{
		Name: actor.fn.Name + "." + name, Kind: backend.KindMethod, Class: actor.fn.Name,
		DefinedAt: callerLocation(),
		ArgType:   reflect.TypeFor[A](), ResultType: reflect.TypeFor[R](),
	}
	call := func(ctx context.Context, self any, arg any) (any, error) {
		s, ok := self.(*S)
		if !ok {
			return nil, fmt.Errorf("fray: method %s.%s called on %T", actor.fn.Name, name, self)
		}
		a, _ := arg.(A)
		return fn(s, ctx, a)
	}
	return &Method[S, A, R]{fn: f, lateErr: register(f, call, decoderFor[A]())}
}

// Name returns the registered name, "<class>.<method>".
func (m *Method[S, A, R]) Name() string { return m.fn.Name }

// Remote calls the method on the actor and returns a Ref to its result (no .remote() in
// sight: MIGRATION.md, Common pitfalls 4).
func (m *Method[S, A, R]) Remote(ctx context.Context, h ActorHandle[S], arg A) (Ref[R], error) {
	jc, err := m.prepare(ctx, h)
	if err != nil {
		return Ref[R]{}, err
	}
	p, err := makePayload(jc, arg)
	if err != nil {
		return Ref[R]{}, fmt.Errorf("fray: method %s: argument: %w", m.fn.Name, err)
	}
	id, err := jc.CallActor(ctx, backend.ActorCall{Actor: h.info.ID, Method: m.fn, Arg: p})
	if err != nil {
		return Ref[R]{}, err
	}
	return newRef[R](jc, id), nil
}

// RemoteRef calls the method with the value of arg, resolved before the call runs.
func (m *Method[S, A, R]) RemoteRef(ctx context.Context, h ActorHandle[S], arg Ref[A]) (Ref[R], error) {
	jc, err := m.prepare(ctx, h)
	if err != nil {
		return Ref[R]{}, err
	}
	if err := checkRefFor(jc, arg.c); err != nil {
		return Ref[R]{}, err
	}
	id, err := jc.CallActor(ctx, backend.ActorCall{Actor: h.info.ID, Method: m.fn, ArgRef: arg.c.id})
	runtime.KeepAlive(arg) // the object must not be released before the backend pinned it
	if err != nil {
		return Ref[R]{}, err
	}
	return newRef[R](jc, id), nil
}

// Call is Remote followed by Get.
func (m *Method[S, A, R]) Call(ctx context.Context, h ActorHandle[S], arg A) (R, error) {
	r, err := m.Remote(ctx, h, arg)
	if err != nil {
		var zero R
		return zero, err
	}
	return r.Get(ctx)
}

func (m *Method[S, A, R]) prepare(ctx context.Context, h ActorHandle[S]) (backend.JobContext, error) {
	if m.lateErr != nil {
		return nil, m.lateErr
	}
	jc, err := h.jc(ctx)
	if err != nil {
		return nil, err
	}
	if h.info.Class != m.fn.Class {
		return nil, newKind(ErrInvalidArgument, fmt.Sprintf("fray: method %s called on a %s actor", m.fn.Name, h.info.Class))
	}
	return jc, nil
}
