// A job context's objects: ids, payloads and task results, Put, completion (which
// readies dependent tasks) and Release.

package local

import (
	"context"
	"fmt"
	"strconv"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
)

// newIDLocked returns a fresh object id, the job's prefix and a hex sequence number, and
// stores o under it; j.mu is held.
func (j *JobContext) newIDLocked(o *object) backend.ObjectID {
	j.seq++
	var buf [40]byte
	b := append(buf[:0], j.prefix...)
	b = strconv.AppendUint(b, j.seq, 16)
	o.id = backend.ObjectID(b)
	j.objects.put(j.seq, o)
	return o.id
}

// objectLocked finds an object by id; j.mu is held.
func (j *JobContext) objectLocked(id backend.ObjectID) (*object, bool) {
	seq, ok := j.parseID(id)
	if !ok {
		return nil, false
	}
	return j.objects.get(seq)
}

func (j *JobContext) forgetLocked(id backend.ObjectID) {
	if seq, ok := j.parseID(id); ok {
		j.objects.remove(seq)
	}
}

// parseID returns the sequence number of an id made by this job context.
func (j *JobContext) parseID(id backend.ObjectID) (uint64, bool) {
	n := len(j.prefix)
	if len(id) <= n || len(id) > n+16 || string(id[:n]) != string(j.prefix) {
		return 0, false
	}
	var seq uint64
	for i := n; i < len(id); i++ {
		c := id[i]
		switch {
		case '0' <= c && c <= '9':
			seq = seq<<4 | uint64(c-'0')
		case 'a' <= c && c <= 'f':
			seq = seq<<4 | uint64(c-'a'+10)
		default:
			return 0, false
		}
	}
	return seq, true
}

func unknownObject(id backend.ObjectID) error {
	return &fray.ObjectLostError{ObjectID: string(id), Reason: "this job context holds no such object: it was released (every Ref to it was garbage collected), or the id comes from another job context"}
}

// payload makes sure a value is encoded unless values pass directly. The API layer encodes
// already; this covers SPI callers that hand over a Value.
func (j *JobContext) payload(p backend.Payload) (backend.Payload, error) {
	if j.direct || p.Data != nil || p.Value == nil {
		return p, nil
	}
	b, err := fray.Marshal(p.Value)
	if err != nil {
		return backend.Payload{}, err
	}
	return backend.Payload{Data: b}, nil
}

// encodeResult turns what a task returned into its object: in codec mode the result is
// encoded (a failure becomes the task's error) and errors take the trip through
// fray.EncodeError/DecodeError that they would take from a remote worker.
func (j *JobContext) encodeResult(t *task, res any, err error) (backend.Payload, error) {
	if err != nil {
		if !j.direct {
			err = fray.DecodeError(fray.EncodeError(err))
		}
		return backend.Payload{}, err
	}
	if j.direct {
		return backend.Payload{Value: res}, nil
	}
	b, e := fray.Marshal(res)
	if e != nil {
		return backend.Payload{}, &fray.TaskError{Task: t.fn.Name, TaskID: string(t.obj.id), TypeName: fmt.Sprintf("%T", e),
			Message: "cannot encode the result: " + e.Error(), Cause: e}
	}
	return backend.Payload{Data: b}, nil
}

// Put stores an object.
func (j *JobContext) Put(ctx context.Context, value backend.Payload) (backend.ObjectID, error) {
	if j.closed.Load() {
		return "", errClosed
	}
	p, err := j.payload(value)
	if err != nil {
		return "", err
	}
	o := &object{done: true, val: p}
	j.mu.Lock()
	if j.closed.Load() {
		j.mu.Unlock()
		return "", errClosed
	}
	id := j.newIDLocked(o)
	j.mu.Unlock()
	return id, nil
}

// complete makes o ready with a value or an error and wakes whoever waits for it. Only the
// first completion counts.
func (j *JobContext) complete(o *object, p backend.Payload, err error) {
	j.mu.Lock()
	if o.done {
		j.mu.Unlock()
		return
	}
	ready := j.completeLocked(o, p, err, nil)
	j.mu.Unlock()
	j.submitAll(ready)
}

// completeLocked completes o and its dependents that fail with it, and appends to ready the
// dependents that can now be scheduled.
func (j *JobContext) completeLocked(o *object, p backend.Payload, err error, ready []*task) []*task {
	o.done, o.val, o.err = true, p, err
	if o.task != nil && o.task.stream != nil {
		o.task.stream.finish(err)
	}
	ow := o.wait
	o.wait = nil
	if o.released {
		j.forgetLocked(o.id)
	}
	if ow == nil {
		return ready
	}
	for _, w := range ow.waiters {
		w.need--
		if w.need == 0 {
			w.ch <- struct{}{}
		}
	}
	for _, e := range ow.sets {
		e.set.ready <- e.idx
	}
	deps := ow.deps
	for _, d := range deps {
		if err != nil {
			if d.state.CompareAndSwap(stWaitDep, stFinished) {
				ready = j.completeLocked(&d.obj, backend.Payload{}, err, ready)
			}
		} else if d.state.CompareAndSwap(stWaitDep, stQueued) {
			ready = append(ready, d)
		}
	}
	return ready
}

func (j *JobContext) submitAll(ts []*task) {
	for _, t := range ts {
		j.c.submit(t)
	}
}

// Release forgets objects the caller no longer references; a pending one goes once done.
func (j *JobContext) Release(ids []backend.ObjectID) {
	j.mu.Lock()
	for _, id := range ids {
		if o, ok := j.objectLocked(id); ok {
			if o.done {
				j.forgetLocked(id)
			} else {
				o.released = true
			}
		}
	}
	j.mu.Unlock()
}
