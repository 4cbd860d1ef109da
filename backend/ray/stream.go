package ray

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
	"github.com/fray-go/fray/internal/streamend"
	"github.com/fray-go/fray/internal/wire"
)

// Streaming tasks and actor methods run as Ray streaming generators (num_returns="streaming"
// with _generator_backpressure_num_objects): the worker shim's generator yields each item
// as the Go child sends it (a StreamItem frame, PROTOCOL.md), and the bridge hands the Go
// driver one item per typeStreamNext from the ObjectRefGenerator.

var _ backend.StreamJobContext = (*JobContext)(nil)

// SubmitStreamTask starts a streaming task as a Ray streaming generator task.
func (j *JobContext) SubmitStreamTask(ctx context.Context, spec backend.TaskSpec, s backend.StreamSpec) (backend.StreamReader, error) {
	if err := j.check(); err != nil {
		return nil, err
	}
	if err := j.feasible(ctx, spec.Options.Resources); err != nil {
		return nil, fmt.Errorf("fray: task %s: %w", spec.Function.Name, err)
	}
	oid := j.newOID()
	msg := bridgeStream{bridgeSubmit: bridgeSubmit{OID: oid, Function: spec.Function.Name, ArgRef: string(spec.ArgRef),
		Options: wire.FromTaskOptions(spec.Options)}, Backpressure: s.Backpressure}
	if spec.ArgRef == "" {
		data, err := spec.Arg.Encoded(fray.Marshal)
		if err != nil {
			return nil, err
		}
		msg.Arg, msg.Plain = data, j.plain(data)
	}
	if err := j.b.send(typeStream, 0, msg); err != nil {
		return nil, err
	}
	return newStream(j, oid), nil
}

// CallActorStream calls a streaming actor method as a Ray streaming generator method.
func (j *JobContext) CallActorStream(ctx context.Context, call backend.ActorCall, s backend.StreamSpec) (backend.StreamReader, error) {
	if err := j.check(); err != nil {
		return nil, err
	}
	oid := j.newOID()
	msg := bridgeStreamCall{bridgeCall: bridgeCall{OID: oid, ActorID: string(call.Actor), Method: call.Method.Name,
		ArgRef: string(call.ArgRef)}, Backpressure: s.Backpressure}
	if call.ArgRef == "" {
		data, err := call.Arg.Encoded(fray.Marshal)
		if err != nil {
			return nil, err
		}
		msg.Arg, msg.Plain = data, j.plain(data)
	}
	if err := j.b.send(typeStreamCall, 0, msg); err != nil {
		return nil, err
	}
	return newStream(j, oid), nil
}

// stream reads one Ray streaming generator through the bridge. Next calls go to the bridge
// one at a time (Ray's ObjectRefGenerator is not thread-safe).
type stream struct {
	j   *JobContext
	oid string

	next sync.Mutex       // held by the Next call talking to the bridge
	end  *streamend.State // the end once seen; releases the generator
}

func newStream(j *JobContext, oid string) *stream {
	return &stream{j: j, oid: oid, end: streamend.New(oid, func() { j.Release([]backend.ObjectID{backend.ObjectID(oid)}) })}
}

// Next asks the bridge for the next item.
func (s *stream) Next(ctx context.Context) (backend.Payload, error) {
	s.next.Lock()
	defer s.next.Unlock()
	if err := s.end.Ended(); err != nil {
		return backend.Payload{}, err
	}
	f, err := s.j.b.call(ctx, typeStreamNext, bridgeStreamNext{OID: s.oid})
	if err != nil {
		return backend.Payload{}, err
	}
	var objs []wire.Object
	switch {
	case f.objects != nil:
		objs = f.objects
	default:
		var ok bool
		if objs, ok = fastObjects(f.Body); !ok {
			res, err := decodeResult(f)
			if err != nil {
				// The request failed as a whole (a stream the bridge no longer holds).
				return backend.Payload{}, s.end.Finish(err)
			}
			objs = res.Objects
		}
	}
	if len(objs) == 0 {
		return backend.Payload{}, s.end.Finish(io.EOF)
	}
	if o := objs[0]; o.Err != nil {
		return backend.Payload{}, s.end.Finish(fray.DecodeError(o.Err))
	} else {
		return backend.Payload{Data: o.Data, Owned: true}, nil
	}
}

// Cancel is ray.cancel of the generator; the bridge then drops it.
func (s *stream) Cancel() error {
	s.end.Cancel(func() {
		if s.j.check() == nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			_, _ = s.j.b.result(ctx, wire.TypeCancelTask, wire.CancelTask{ObjectID: s.oid})
			cancel()
		}
	})
	return nil
}

// ObjectsFetched returns how many objects the bridge has fetched with ray.get for this job
// context so far (the values of Get answers and stream items), so that a test can check
// that an operation moved no value to the driver: Wait and fray.AsCompleted never fetch
// (ray.wait with fetch_local=False).
func (j *JobContext) ObjectsFetched(ctx context.Context) (int64, error) {
	if err := j.check(); err != nil {
		return 0, err
	}
	f, err := j.b.call(ctx, typeFetched, struct{}{})
	if err != nil {
		return 0, err
	}
	var res fetchedResult
	if err := f.Decode(&res); err != nil {
		return 0, err
	}
	if res.Err != nil {
		return 0, fray.DecodeError(res.Err)
	}
	return res.N, nil
}
