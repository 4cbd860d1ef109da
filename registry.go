package fray

import (
	"context"
	"fmt"
	"reflect"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/fray-go/fray/backend"
)

// NewTask, NewActor and NewMethod register their functions in the backend package's
// registry (backend.Register) with a funcImpl: the typed half that decodes arguments and
// turns errors and panics into *TaskError. The registry is frozen by Init or by the first
// backend, so a worker process started from the same binary finds exactly the same names.

// funcImpl is the API's backend.Impl for one registered function.
type funcImpl struct {
	name      string
	kind      backend.FunctionKind
	argType   reflect.Type
	call      func(ctx context.Context, self, arg any) (any, error)
	decodeArg func(data []byte, owned bool) (any, error)
}

// register adds f, panicking on a duplicate name. After the registry is frozen it returns an
// error instead and leaves the registry unchanged.
func register(f *backend.Function, call func(ctx context.Context, self, arg any) (any, error), decodeArg func([]byte, bool) (any, error)) error {
	impl := &funcImpl{name: f.Name, kind: f.Kind, argType: f.ArgType, call: call, decodeArg: decodeArg}
	if !backend.Register(f, impl) {
		return fmt.Errorf("%w: %s %q was defined at %s after the registry was frozen (by fray.Init or the first backend); define tasks and actors in package-level variables so worker processes built from the same binary register them too", ErrRegistryFrozen, f.Kind, f.Name, f.DefinedAt)
	}
	return nil
}

// DecodeArg implements backend.Impl.
func (f *funcImpl) DecodeArg(p backend.Payload) (any, error) {
	if p.Data != nil {
		return f.decodeArg(p.Data, p.Owned)
	}
	if p.Value == nil {
		return reflect.Zero(f.argType).Interface(), nil
	}
	if reflect.TypeOf(p.Value) != f.argType {
		return nil, &SerializationError{Type: f.argType.String(), Op: "decode",
			Cause: fmt.Errorf("%s %q takes %s, got %T", f.kind, f.name, f.argType, p.Value)}
	}
	return p.Value, nil
}

// Invoke implements backend.Impl: errors become *TaskError, panics too (with the stack).
func (f *funcImpl) Invoke(ctx context.Context, self, arg any) (result any, err error) {
	defer func() {
		if p := recover(); p != nil {
			info, _ := backend.TaskInfoOf(ctx)
			result = nil
			err = &TaskError{Task: f.name, TaskID: info.TaskID, TypeName: fmt.Sprintf("%T", p),
				Message: fmt.Sprint(p), Panic: true, Stack: string(debug.Stack()),
				Cause: &RemoteError{TypeName: fmt.Sprintf("%T", p), Message: fmt.Sprint(p)}}
		}
	}()
	result, err = f.call(ctx, self, arg)
	if err != nil {
		info, _ := backend.TaskInfoOf(ctx)
		return nil, wrapTaskError(f.name, info.TaskID, err)
	}
	return result, nil
}

// GoexitError implements backend.Impl.
func (f *funcImpl) GoexitError(taskID string) error {
	const msg = "it called runtime.Goexit instead of returning (t.FailNow, t.Fatal and t.SkipNow do that: a task or actor method has no *testing.T of its own; return an error instead)"
	return &TaskError{Task: f.name, TaskID: taskID, TypeName: "runtime.Goexit", Message: msg,
		Stack: string(debug.Stack()), Cause: &RemoteError{TypeName: "runtime.Goexit", Message: msg}}
}

// callerLocation is the file:line of the user code that called a New* function.
func callerLocation() string {
	_, file, line, ok := runtime.Caller(2)
	if !ok {
		return "unknown location"
	}
	return fmt.Sprintf("%s:%d", file, line)
}

func checkName(kind, name string) {
	if name == "" || strings.ContainsAny(name, " \t\n\x00") {
		panic(fmt.Sprintf("fray: invalid %s name %q: use a stable, non-empty name without spaces, such as \"pkg.Func\"", kind, name))
	}
}

// decoderFor decodes a T; with owned (backend.Payload.Owned) a []byte argument is a slice
// of the payload, not a copy.
func decoderFor[T any]() func([]byte, bool) (any, error) {
	return func(b []byte, owned bool) (any, error) {
		if owned {
			if v, ok := aliasBytes[T](b); ok {
				return v, nil
			}
		}
		v, err := decodeAs[T](b)
		if err != nil {
			return nil, err
		}
		return v, nil
	}
}
