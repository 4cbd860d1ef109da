package worker

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
)

// testHost is a small in-process backend.JobContext that serves a worker's nested calls in the
// test process: tasks run as goroutines here, actors live in a map.
type testHost struct {
	mu       sync.Mutex
	n        int
	objs     map[backend.ObjectID]*hostObj
	actors   map[backend.ActorID]*hostActor
	names    map[string]backend.ActorID
	released []backend.ObjectID
	submits  []fray.TaskInfo // TaskInfo of the calling task, per SubmitTask
	onPut    func(data []byte)
}

type hostObj struct {
	done chan struct{}
	data []byte
	err  error
}

type hostActor struct {
	mu    sync.Mutex
	info  backend.ActorInfo
	state any
}

func newTestHost() *testHost {
	return &testHost{objs: map[backend.ObjectID]*hostObj{}, actors: map[backend.ActorID]*hostActor{}, names: map[string]backend.ActorID{}}
}

var _ backend.JobContext = (*testHost)(nil)

func (h *testHost) JobID() string              { return "testjob" }
func (h *testHost) Backend() string            { return "testhost" }
func (h *testHost) PassesValuesDirectly() bool { return false }
func (h *testHost) Close() error               { return nil }

func (h *testHost) newObj() (backend.ObjectID, *hostObj) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.n++
	id := backend.ObjectID(fmt.Sprintf("obj-%d", h.n))
	o := &hostObj{done: make(chan struct{})}
	h.objs[id] = o
	return id, o
}

func (h *testHost) obj(id backend.ObjectID) (*hostObj, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	o, ok := h.objs[id]
	if !ok {
		return nil, &fray.ObjectLostError{ObjectID: string(id), Reason: "unknown to the test host"}
	}
	return o, nil
}

// run invokes f in a goroutine and completes the object with its result.
func (h *testHost) run(o *hostObj, f *backend.Function, self any, p backend.Payload, argRef backend.ObjectID) {
	go func() {
		defer close(o.done)
		if argRef != "" {
			ao, err := h.obj(argRef)
			if err != nil {
				o.err = err
				return
			}
			<-ao.done
			if ao.err != nil {
				o.err = ao.err
				return
			}
			p = backend.Payload{Data: ao.data}
		}
		arg, err := f.DecodeArg(p)
		if err != nil {
			o.err = err
			return
		}
		v, err := f.Invoke(fray.WithJobContext(context.Background(), h), self, arg)
		if err != nil {
			o.err = err
			return
		}
		o.data, o.err = fray.Marshal(v)
	}()
}

func (h *testHost) SubmitTask(ctx context.Context, spec backend.TaskSpec) (backend.ObjectID, error) {
	f := spec.Function
	info, _ := fray.TaskInfoFrom(ctx)
	h.mu.Lock()
	h.submits = append(h.submits, info)
	h.mu.Unlock()
	id, o := h.newObj()
	h.run(o, f, nil, spec.Arg, spec.ArgRef)
	return id, nil
}

func (h *testHost) Put(ctx context.Context, value backend.Payload) (backend.ObjectID, error) {
	b, err := value.Encoded(fray.Marshal)
	if err != nil {
		return "", err
	}
	if h.onPut != nil {
		h.onPut(b)
	}
	id, o := h.newObj()
	o.data = b
	close(o.done)
	return id, nil
}

func (h *testHost) Get(ctx context.Context, ids []backend.ObjectID) ([]backend.Object, error) {
	out := make([]backend.Object, len(ids))
	for i, id := range ids {
		o, err := h.obj(id)
		if err != nil {
			return nil, err
		}
		select {
		case <-o.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		out[i] = backend.Object{Payload: backend.Payload{Data: o.data}, Err: o.err}
	}
	return out, nil
}

func (h *testHost) Wait(ctx context.Context, ids []backend.ObjectID, numReturns int, timeout time.Duration) ([]bool, error) {
	deadline := time.Now().Add(timeout)
	for {
		ready := make([]bool, len(ids))
		n := 0
		for i, id := range ids {
			o, err := h.obj(id)
			if err != nil {
				return nil, err
			}
			select {
			case <-o.done:
				ready[i] = true
				n++
			default:
			}
		}
		if n >= numReturns || (timeout != fray.Forever && time.Now().After(deadline)) || ctx.Err() != nil {
			return ready, nil
		}
		time.Sleep(time.Millisecond)
	}
}

func (h *testHost) Cancel(ctx context.Context, id backend.ObjectID, force bool) error {
	_, err := h.obj(id)
	return err
}

func (h *testHost) Release(ids []backend.ObjectID) {
	h.mu.Lock()
	h.released = append(h.released, ids...)
	h.mu.Unlock()
}

func (h *testHost) CreateActor(ctx context.Context, spec backend.ActorSpec) (backend.ActorInfo, error) {
	h.mu.Lock()
	if id, ok := h.names[spec.Options.Name]; ok && spec.Options.Name != "" {
		a := h.actors[id]
		h.mu.Unlock()
		if spec.Options.GetIfExists {
			return a.info, nil
		}
		return backend.ActorInfo{}, fray.ErrNameTaken
	}
	h.n++
	info := backend.ActorInfo{ID: backend.ActorID(fmt.Sprintf("actor-%d", h.n)), Class: spec.Class.Name, Name: spec.Options.Name, Namespace: spec.Options.Namespace}
	h.mu.Unlock()
	f := spec.Class
	arg, err := f.DecodeArg(spec.Arg)
	if err != nil {
		return backend.ActorInfo{}, err
	}
	st, err := f.Invoke(fray.WithJobContext(context.Background(), h), nil, arg)
	if err != nil {
		return backend.ActorInfo{}, err
	}
	h.mu.Lock()
	h.actors[info.ID] = &hostActor{info: info, state: st}
	if info.Name != "" {
		h.names[info.Name] = info.ID
	}
	h.mu.Unlock()
	return info, nil
}

func (h *testHost) GetActor(ctx context.Context, name, namespace string) (backend.ActorInfo, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	id, ok := h.names[name]
	if !ok {
		return backend.ActorInfo{}, &fray.UnknownNameError{What: "named actor", Name: name}
	}
	return h.actors[id].info, nil
}

func (h *testHost) CallActor(ctx context.Context, call backend.ActorCall) (backend.ObjectID, error) {
	h.mu.Lock()
	a, ok := h.actors[call.Actor]
	h.mu.Unlock()
	if !ok {
		return "", &fray.ActorDiedError{ActorID: string(call.Actor), Reason: "unknown"}
	}
	f := call.Method
	id, o := h.newObj()
	a.mu.Lock() // one call at a time: run synchronously under the actor's lock
	defer a.mu.Unlock()
	arg, err := f.DecodeArg(call.Arg)
	if err != nil {
		return "", err
	}
	v, err := f.Invoke(fray.WithJobContext(context.Background(), h), a.state, arg)
	if err != nil {
		o.err = err
	} else {
		o.data, o.err = fray.Marshal(v)
	}
	close(o.done)
	return id, nil
}

func (h *testHost) KillActor(ctx context.Context, id backend.ActorID, noRestart bool) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	a, ok := h.actors[id]
	if !ok {
		return &fray.ActorDiedError{ActorID: string(id), Reason: "unknown"}
	}
	delete(h.actors, id)
	delete(h.names, a.info.Name)
	return nil
}
