package fray

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/fray-go/fray/backend"
)

// Ref is a typed reference to an object that a task or Put will produce: a small value that
// can be copied, stored and sent inside task arguments and results. Get yields the value.
//
// The backend keeps an object while some Ref to it is alive in the process that created it;
// once every copy is garbage, the object is released. A Ref that was sent to another task
// (encoded) pins the object until the job context closes, since the receiver may still use it.
type Ref[T any] struct{ c *refCore }

type refCore struct {
	id      backend.ObjectID
	job     string
	jc      backend.JobContext // nil for refs decoded from a payload
	escaped *atomic.Bool       // set once the ref was encoded; such objects are never auto-released
}

// AnyRef is a Ref of any type, for Wait and Cancel over mixed types.
type AnyRef interface {
	// ID returns the object id.
	ID() backend.ObjectID
	// JobID returns the id of the job context that made the ref.
	JobID() string
	core() *refCore
}

type releaseArg struct {
	jc      backend.JobContext
	id      backend.ObjectID
	escaped *atomic.Bool
}

// newRef wraps an object id that jc just returned.
// When the last copy of the Ref is garbage collected, jc.Release is called for the id unless
// the ref was sent elsewhere.
func newRef[T any](jc backend.JobContext, id backend.ObjectID) Ref[T] {
	c := &refCore{id: id, job: jc.JobID(), jc: jc, escaped: new(atomic.Bool)}
	runtime.AddCleanup(c, func(a releaseArg) {
		if !a.escaped.Load() {
			a.jc.Release([]backend.ObjectID{a.id})
		}
	}, releaseArg{jc, id, c.escaped})
	return Ref[T]{c}
}

// refFromID builds a Ref for an id that is known to belong to job, without release tracking
// (a ref decoded from a payload).
func refFromID[T any](job string, id backend.ObjectID) Ref[T] {
	e := new(atomic.Bool)
	e.Store(true)
	return Ref[T]{&refCore{id: id, job: job, escaped: e}}
}

// ID returns the object id ("" for the zero Ref).
func (r Ref[T]) ID() backend.ObjectID {
	if r.c == nil {
		return ""
	}
	return r.c.id
}

// JobID returns the id of the job context that made the ref.
func (r Ref[T]) JobID() string {
	if r.c == nil {
		return ""
	}
	return r.c.job
}

// IsZero reports whether r is the zero Ref, which refers to nothing.
func (r Ref[T]) IsZero() bool { return r.c == nil }

func (r Ref[T]) core() *refCore { return r.c }

// String returns the id.
func (r Ref[T]) String() string { return string(r.ID()) }

// Get blocks until the object is ready and returns its value, or the error of the task that
// should have produced it. The ctx deadline is the timeout (a *TimeoutError).
func (r Ref[T]) Get(ctx context.Context) (T, error) {
	vs, err := GetAll(ctx, []Ref[T]{r})
	if err != nil {
		var zero T
		return zero, err
	}
	return vs[0], nil
}

// wireRef is a Ref's codec form.
type wireRef struct {
	_   struct{} `cbor:",toarray"`
	Job string
	ID  backend.ObjectID
}

// MarshalCBOR encodes the ref as its job and object ids and pins the object.
func (r Ref[T]) MarshalCBOR() ([]byte, error) {
	if r.c == nil {
		return cbor.Marshal(nil)
	}
	r.c.escaped.Store(true)
	return cbor.Marshal(wireRef{Job: r.c.job, ID: r.c.id})
}

func (Ref[T]) encodesOneLevel() {} // see oneLevel

// UnmarshalCBOR decodes a ref sent by another task.
func (r *Ref[T]) UnmarshalCBOR(b []byte) error {
	if len(b) == 1 && b[0] == 0xf6 { // null
		r.c = nil
		return nil
	}
	var w wireRef
	if err := cbor.Unmarshal(b, &w); err != nil {
		return err
	}
	if w.ID == "" {
		return errors.New("fray: ref without an id")
	}
	*r = refFromID[T](w.Job, w.ID)
	return nil
}

// resolveJC picks the job context for an operation on refs made by job: the one in ctx when
// present (it must be the same job), else the ref's own, else the process default.
func resolveJC(ctx context.Context, c *refCore) (backend.JobContext, error) {
	if c == nil {
		return nil, newKind(ErrInvalidArgument, "fray: zero Ref: it refers to no object (use the Ref a Remote or Put call returned)")
	}
	jc, err := JobContextFrom(ctx)
	if err != nil {
		if c.jc != nil {
			return c.jc, nil
		}
		return nil, err
	}
	if jc.JobID() != c.job {
		return nil, foreignRef("ref", string(c.id), c.job, jc)
	}
	return jc, nil
}

func foreignRef(what, id, job string, jc backend.JobContext) error {
	return newKind(ErrForeignRef, fmt.Sprintf("fray: %s %s belongs to job %s but was used with job context %s (%s backend); pick one job context per program, and do not mix refs between backends", what, id, job, jc.JobID(), jc.Backend()))
}

// GetAll returns the values of refs in input order, or the first error in input order.
func GetAll[T any](ctx context.Context, refs []Ref[T]) ([]T, error) {
	if len(refs) == 0 {
		return []T{}, nil
	}
	jc, err := resolveJC(ctx, refs[0].c)
	if err != nil {
		return nil, err
	}
	ids := make([]backend.ObjectID, len(refs))
	for i, r := range refs {
		if i > 0 {
			if r.c == nil {
				return nil, newKind(ErrInvalidArgument, fmt.Sprintf("fray: refs[%d] is the zero Ref", i))
			}
			if r.c.job != refs[0].c.job {
				return nil, foreignRef("ref", string(r.c.id), r.c.job, jc)
			}
		}
		ids[i] = r.c.id
	}
	objs, err := jc.Get(ctx, ids)
	runtime.KeepAlive(refs)
	if err != nil {
		return nil, mapCtxErr("get", err)
	}
	out := make([]T, len(refs))
	for i, o := range objs {
		if o.Err != nil {
			return nil, o.Err
		}
		v, err := payloadAs[T](o.Payload)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// Get is GetAll for one ref.
func Get[T any](ctx context.Context, ref Ref[T]) (T, error) { return ref.Get(ctx) }

func payloadAs[T any](p backend.Payload) (T, error) {
	if p.Data != nil {
		if p.Owned {
			if v, ok := aliasBytes[T](p.Data); ok {
				return v, nil
			}
		}
		return decodeAs[T](p.Data)
	}
	if p.Value == nil {
		var zero T
		return zero, nil
	}
	v, ok := p.Value.(T)
	if !ok {
		var zero T
		return zero, &SerializationError{Type: fmt.Sprintf("%T", zero), Op: "decode", Cause: fmt.Errorf("object holds a %T", p.Value)}
	}
	return v, nil
}

// mapCtxErr turns a context deadline into a *TimeoutError that also matches
// context.DeadlineExceeded.
func mapCtxErr(op string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		var te *TimeoutError
		if errors.As(err, &te) {
			return err
		}
		return &TimeoutError{Op: op, Cause: err}
	}
	return err
}

// Put stores v as an immutable object and returns a Ref to it.
func Put[T any](ctx context.Context, v T) (Ref[T], error) {
	jc, err := JobContextFrom(ctx)
	if err != nil {
		return Ref[T]{}, err
	}
	p, err := makePayload(jc, v)
	if err != nil {
		return Ref[T]{}, err
	}
	id, err := jc.Put(ctx, p)
	if err != nil {
		return Ref[T]{}, err
	}
	return newRef[T](jc, id), nil
}

func makePayload[T any](jc backend.JobContext, v T) (backend.Payload, error) {
	if jc.PassesValuesDirectly() {
		return backend.Payload{Value: v}, nil
	}
	if b, ok := any(v).([]byte); ok && b != nil {
		// Left to the backend to encode (backend.Payload.Encoded) as it sends or stores the value,
		// which for a large value saves a copy: the Ray backend writes the CBOR head and
		// the bytes straight into shared memory. Backends encode before the call returns,
		// so the caller may reuse the slice afterwards.
		return backend.Payload{Value: b}, nil
	}
	b, err := Marshal(v)
	if err != nil {
		return backend.Payload{}, err
	}
	return backend.Payload{Data: b}, nil
}

// Wait waits until numReturns of refs are ready (finished, successfully or not) or the
// timeout passes, and returns the ready and the pending refs, each in input order, with at
// most numReturns ready. As in Ray: an empty list gives two empty lists; duplicate refs,
// numReturns outside 1..len(refs) and a negative timeout are ErrInvalidArgument errors;
// timeout 0 checks once; Forever waits without limit. ctx being done ends the wait with
// ctx's error.
func Wait(ctx context.Context, refs []AnyRef, numReturns int, timeout time.Duration) (ready, pending []AnyRef, err error) {
	if len(refs) == 0 {
		return []AnyRef{}, []AnyRef{}, nil
	}
	if numReturns <= 0 || numReturns > len(refs) {
		return nil, nil, newKind(ErrInvalidArgument, fmt.Sprintf("fray: Wait: numReturns must be between 1 and len(refs) = %d, got %d", len(refs), numReturns))
	}
	if timeout < 0 {
		return nil, nil, newKind(ErrInvalidArgument, fmt.Sprintf("fray: Wait: negative timeout %v; use 0 to poll or fray.Forever to wait without limit", timeout))
	}
	jc, err := resolveJC(ctx, refs[0].core())
	if err != nil {
		return nil, nil, err
	}
	ids := make([]backend.ObjectID, len(refs))
	seen := make(map[backend.ObjectID]bool, len(refs))
	for i, r := range refs {
		c := r.core()
		if c == nil {
			return nil, nil, newKind(ErrInvalidArgument, fmt.Sprintf("fray: Wait: refs[%d] is the zero Ref", i))
		}
		if c.job != jc.JobID() {
			return nil, nil, foreignRef("ref", string(c.id), c.job, jc)
		}
		if seen[c.id] {
			return nil, nil, newKind(ErrInvalidArgument, fmt.Sprintf("fray: Wait: ref %s appears more than once; pass each ref once", c.id))
		}
		seen[c.id] = true
		ids[i] = c.id
	}
	mask, err := jc.Wait(ctx, ids, numReturns, timeout)
	runtime.KeepAlive(refs)
	if err != nil {
		return nil, nil, err
	}
	if ctx.Err() != nil {
		return nil, nil, mapCtxErr("wait", ctx.Err())
	}
	ready, pending = make([]AnyRef, 0, numReturns), make([]AnyRef, 0, len(refs))
	for i, r := range refs {
		if mask[i] && len(ready) < numReturns {
			ready = append(ready, r)
		} else {
			pending = append(pending, r)
		}
	}
	return ready, pending, nil
}

// WaitRefs is Wait for refs of one type.
func WaitRefs[T any](ctx context.Context, refs []Ref[T], numReturns int, timeout time.Duration) (ready, pending []Ref[T], err error) {
	anys := make([]AnyRef, len(refs))
	for i, r := range refs {
		anys[i] = r
	}
	r, p, err := Wait(ctx, anys, numReturns, timeout)
	if err != nil {
		return nil, nil, err
	}
	ready, pending = make([]Ref[T], len(r)), make([]Ref[T], len(p))
	for i, x := range r {
		ready[i] = x.(Ref[T])
	}
	for i, x := range p {
		pending[i] = x.(Ref[T])
	}
	return ready, pending, nil
}

// Cancel cancels the task that produces ref: a queued task never runs, a running one has
// its ctx cancelled (and with force, its worker process killed where there is one). Get then
// returns a *CancelledError. Cancelled tasks are not retried. Cancelling a finished task does
// nothing.
func Cancel(ctx context.Context, ref AnyRef, force bool) error {
	jc, err := resolveJC(ctx, ref.core())
	if err != nil {
		return err
	}
	return jc.Cancel(ctx, ref.ID(), force)
}

// Forever is the timeout that never expires (Ray's timeout=None), for Wait and WaitRefs.
const Forever = backend.Forever
