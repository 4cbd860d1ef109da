package backend

import (
	"context"
	"testing"
)

// valueCtx is a backend's own one-layer task context, as TaskContextValue's doc shows it.
type valueCtx struct {
	context.Context
	jc    JobContext
	calls int
}

func (c *valueCtx) info() TaskInfo { c.calls++; return TaskInfo{TaskID: "t1", Name: "square"} }

func (c *valueCtx) Value(key any) any {
	if v, ok := TaskContextValue(key, c.jc, c.info); ok {
		return v
	}
	return c.Context.Value(key)
}

type otherKey struct{}

func TestTaskContextValue(t *testing.T) {
	var jc JobContext // a nil interface is still what the accessor must hand back
	parent := context.WithValue(context.Background(), otherKey{}, "parent's")
	c := &valueCtx{Context: parent, jc: jc}

	info, ok := TaskInfoOf(c)
	if !ok || info.TaskID != "t1" || info.Name != "square" {
		t.Fatalf("TaskInfoOf = %+v, %v", info, ok)
	}
	if v := c.Value(otherKey{}); v != "parent's" {
		t.Fatalf("other key = %v, want the parent's value", v)
	}
	before := c.calls
	_ = c.Value(otherKey{})
	if c.calls != before {
		t.Fatal("TaskContextValue computed the task info for an unrelated key")
	}
	if _, ok := TaskContextValue("jobContextKey", jc, c.info); ok {
		t.Fatal("a string key matched the package's private key type")
	}
}

func TestNewTaskContext(t *testing.T) {
	ctx := NewTaskContext(context.Background(), nil, TaskInfo{TaskID: "t2"})
	if info, ok := TaskInfoOf(ctx); !ok || info.TaskID != "t2" {
		t.Fatalf("TaskInfoOf = %+v, %v", info, ok)
	}
	if _, ok := JobContextOf(ctx); ok {
		t.Fatal("JobContextOf found a nil job context")
	}
	if _, ok := JobContextOf(context.Background()); ok {
		t.Fatal("JobContextOf found a job context in context.Background()")
	}
}
