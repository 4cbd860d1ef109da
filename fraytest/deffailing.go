// Tasks that fail: errors (registered and not), panics, Goexit, values the codec
// refuses, and a linked list for deep values.

package fraytest

import (
	"context"
	"errors"
	"fmt"
	"runtime"

	"github.com/fray-go/fray"
)

// --- tasks that fail ---------------------------------------------------------------------

var failWith = fray.NewTask("fraytest.failWith", func(_ context.Context, msg string) (int, error) {
	return 0, errors.New(msg)
})

// CodedError is an application error type registered with fray.RegisterError, so it arrives
// as itself on every backend.
type CodedError struct {
	Code   int
	Detail string
}

// Error formats the code and detail.
func (e *CodedError) Error() string { return fmt.Sprintf("coded error %d: %s", e.Code, e.Detail) }

// unregisteredError is deliberately not registered: it must arrive as a *fray.RemoteError.
type unregisteredError struct{ What string }

// Error returns the message.
func (e *unregisteredError) Error() string { return "unregistered: " + e.What }

func init() {
	fray.RegisterError[*CodedError]("fraytest.CodedError")
}

var failCoded = fray.NewTask("fraytest.failCoded", func(_ context.Context, e CodedError) (int, error) {
	return 0, &CodedError{Code: e.Code, Detail: e.Detail}
})

var failUnregistered = fray.NewTask("fraytest.failUnregistered", func(_ context.Context, what string) (int, error) {
	return 0, &unregisteredError{What: what}
})

// panickingTask is a named function so that its name appears in the remote stack.
func panickingTask(_ context.Context, msg string) (int, error) {
	panic("fraytest boom: " + msg)
}

var panicTask = fray.NewTask("fraytest.panicTask", panickingTask)

// goexitTask ends its goroutine with runtime.Goexit, as t.FailNow does in a test helper.
var goexitTask = fray.NewTask("fraytest.goexitTask", func(_ context.Context, _ int) (int, error) {
	runtime.Goexit()
	return 0, nil
})

// DroppedCtx is what droppedCtx saw when it called a task with a ctx that has no job
// context (context.Background() instead of the ctx the task received).
type DroppedCtx struct {
	Err          string // the nested call's error, "" when it succeeded
	NoJobContext bool   // errors.Is(err, fray.ErrNoJobContext)
}

// droppedCtx calls square with context.Background() instead of its own ctx.
var droppedCtx = fray.NewTask("fraytest.droppedCtx", func(_ context.Context, x int) (DroppedCtx, error) {
	_, err := square.Remote(context.Background(), x)
	if err == nil {
		return DroppedCtx{}, nil
	}
	return DroppedCtx{Err: err.Error(), NoJobContext: errors.Is(err, fray.ErrNoJobContext)}, nil
})

// Opaque has an unexported field: the codec must refuse it.
type Opaque struct {
	Visible int
	hidden  int
}

var opaqueResult = fray.NewTask("fraytest.opaqueResult", func(_ context.Context, x int) (Opaque, error) {
	return Opaque{Visible: x, hidden: x}, nil
})

var takesOpaque = fray.NewTask("fraytest.takesOpaque", func(_ context.Context, o Opaque) (int, error) {
	return o.Visible + o.hidden, nil
})

// WithChan holds a channel: the codec must refuse it.
type WithChan struct{ C chan int }

var takesChan = fray.NewTask("fraytest.takesChan", func(_ context.Context, w WithChan) (int, error) {
	return cap(w.C), nil
})

// WithFunc holds a func: the codec must refuse it.
type WithFunc struct{ F func() int }

var takesFunc = fray.NewTask("fraytest.takesFunc", func(_ context.Context, w WithFunc) (int, error) {
	return 0, nil
})

// Node is a linked list: a list of n nodes nests n levels deep, and a cyclic one
// (n.Next = n) cannot be encoded at all. Both must fail at the call site, or for a result
// in Get, with a *fray.SerializationError, never crash the process that encodes them.
type Node struct {
	Label string
	Next  *Node
}

// nodeList returns a list of n nodes, or, for n < 0, a list of -n nodes whose last node
// points back at the first.
func nodeList(n int) *Node {
	k := max(n, -n)
	var head, tail *Node
	for i := 0; i < k; i++ {
		head = &Node{Label: "n", Next: head}
		if tail == nil {
			tail = head
		}
	}
	if n < 0 {
		tail.Next = head
	}
	return head
}

// nodeLen returns the length of an acyclic list.
func nodeLen(n *Node) int {
	k := 0
	for ; n != nil; n = n.Next {
		k++
	}
	return k
}

var listLen = fray.NewTask("fraytest.listLen", func(_ context.Context, n *Node) (int, error) {
	return nodeLen(n), nil
})

// makeList returns nodeList(n): a cyclic or too deep result for the codec to refuse.
var makeList = fray.NewTask("fraytest.makeList", func(_ context.Context, n int) (*Node, error) {
	return nodeList(n), nil
})
