// The nested-call client: the backend.JobContext that code running in a worker sees. Each
// of its methods is a request to the parent over the server's pipes, answered by the
// parent's Host (see parent.go).

package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
	"github.com/fray-go/fray/internal/wire"
)

type originKey struct{}

func origin(ctx context.Context) wire.Origin {
	id, _ := ctx.Value(originKey{}).(uint64)
	return wire.Origin{From: id}
}

// client is the backend.JobContext inside a worker: every method is a nested request to the
// parent over the same pipes.
type client struct {
	s     *server
	jobID string // the job a call runs for, when not the Hello's
}

var _ backend.JobContext = (*client)(nil)

func (c *client) JobID() string {
	if c.jobID != "" {
		return c.jobID
	}
	return c.s.hello.JobID
}

func (c *client) Backend() string {
	if c.s.hello.Backend != "" {
		return c.s.hello.Backend
	}
	return "worker"
}

func (c *client) PassesValuesDirectly() bool { return false }

func (c *client) do(ctx context.Context, t wire.Type, body any) (wire.Result, error) {
	c.s.ensureReader() // a call running on the reading goroutine needs its answer read
	res, err := c.s.out.request(ctx, t, body)
	if err != nil {
		return res, err
	}
	if res.Err != nil {
		return res, fray.DecodeError(res.Err)
	}
	return res, nil
}

func (c *client) SubmitTask(ctx context.Context, spec backend.TaskSpec) (backend.ObjectID, error) {
	m := &wire.Submit{Origin: origin(ctx), Function: spec.Function.Name, ArgRef: string(spec.ArgRef), Options: wire.FromTaskOptions(spec.Options)}
	if spec.ArgRef == "" {
		b, err := spec.Arg.Encoded(fray.Marshal)
		if err != nil {
			return "", err
		}
		m.Arg = b
	}
	res, err := c.do(ctx, wire.TypeSubmit, m)
	return backend.ObjectID(res.ObjectID), err
}

func (c *client) Put(ctx context.Context, value backend.Payload) (backend.ObjectID, error) {
	b, err := value.Encoded(fray.Marshal)
	if err != nil {
		return "", err
	}
	res, err := c.do(ctx, wire.TypePut, &wire.Put{Origin: origin(ctx), Data: b, Plain: plain(c.s.hello.JobID, b)})
	return backend.ObjectID(res.ObjectID), err
}

func (c *client) Get(ctx context.Context, ids []backend.ObjectID) ([]backend.Object, error) {
	res, err := c.do(ctx, wire.TypeGet, &wire.Get{Origin: origin(ctx), IDs: wire.IDs(ids)})
	if err != nil {
		return nil, err
	}
	if len(res.Objects) != len(ids) {
		return nil, &protocolError{msg: fmt.Sprintf("Get of %d ids answered with %d objects", len(ids), len(res.Objects))}
	}
	out := make([]backend.Object, len(ids))
	for i, o := range res.Objects {
		if o.Err != nil {
			out[i].Err = fray.DecodeError(o.Err)
		} else {
			out[i].Data = o.Data
		}
	}
	return out, nil
}

func (c *client) Wait(ctx context.Context, ids []backend.ObjectID, numReturns int, timeout time.Duration) ([]bool, error) {
	res, err := c.do(ctx, wire.TypeWait, &wire.Wait{Origin: origin(ctx), IDs: wire.IDs(ids), NumReturns: numReturns, Timeout: wire.TimeoutSeconds(timeout)})
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return make([]bool, len(ids)), nil // the API layer reports ctx's error
		}
		return nil, err
	}
	if len(res.Ready) != len(ids) {
		return nil, &protocolError{msg: fmt.Sprintf("Wait of %d ids answered with %d flags", len(ids), len(res.Ready))}
	}
	return res.Ready, nil
}

func (c *client) Cancel(ctx context.Context, id backend.ObjectID, force bool) error {
	_, err := c.do(ctx, wire.TypeCancelTask, &wire.CancelTask{Origin: origin(ctx), ObjectID: string(id), Force: force})
	return err
}

func (c *client) Release(ids []backend.ObjectID) {
	if len(ids) == 0 {
		return
	}
	_ = c.s.wr.Write(wire.TypeRelease, 0, &wire.Release{IDs: wire.IDs(ids)})
}

func (c *client) CreateActor(ctx context.Context, spec backend.ActorSpec) (backend.ActorInfo, error) {
	b, err := spec.Arg.Encoded(fray.Marshal)
	if err != nil {
		return backend.ActorInfo{}, err
	}
	res, err := c.do(ctx, wire.TypeCreateActorNested, &wire.CreateActorNested{Origin: origin(ctx), Class: spec.Class.Name, Arg: b, Options: wire.FromActorOptions(spec.Options)})
	return res.Actor.Backend(), err
}

func (c *client) GetActor(ctx context.Context, name, namespace string) (backend.ActorInfo, error) {
	res, err := c.do(ctx, wire.TypeGetActor, &wire.GetActor{Origin: origin(ctx), Name: name, Namespace: namespace})
	return res.Actor.Backend(), err
}

func (c *client) CallActor(ctx context.Context, call backend.ActorCall) (backend.ObjectID, error) {
	m := &wire.CallActorNested{Origin: origin(ctx), ActorID: string(call.Actor), Method: call.Method.Name, ArgRef: string(call.ArgRef)}
	if call.ArgRef == "" {
		b, err := call.Arg.Encoded(fray.Marshal)
		if err != nil {
			return "", err
		}
		m.Arg = b
	}
	res, err := c.do(ctx, wire.TypeCallActorNested, m)
	return backend.ObjectID(res.ObjectID), err
}

func (c *client) KillActor(ctx context.Context, id backend.ActorID, noRestart bool) error {
	_, err := c.do(ctx, wire.TypeKillActor, &wire.KillActor{Origin: origin(ctx), ActorID: string(id), NoRestart: noRestart})
	return err
}

// Close refuses: the driver owns the job context.
func (c *client) Close() error {
	return &fray.UnsupportedError{Backend: "worker", Feature: "closing the job context from inside a task",
		Hint: "the driver owns the job context; return from the task instead"}
}
