package fray

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"reflect"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// The registry maps stable names to task functions, actor classes and actor methods. It is
// filled at package initialization (NewTask, NewActor, NewMethod at package level) and frozen
// by Init or by the first backend, so a worker process started from the same binary finds
// exactly the same names.

// FunctionKind says what a registered Function is.
type FunctionKind int

const (
	// KindTask is a task function.
	KindTask FunctionKind = iota + 1
	// KindActorClass is an actor constructor.
	KindActorClass
	// KindMethod is an actor method.
	KindMethod
)

func (k FunctionKind) String() string {
	switch k {
	case KindTask:
		return "task"
	case KindActorClass:
		return "actor class"
	case KindMethod:
		return "method"
	}
	return "unknown"
}

// Function is a registered task, actor constructor or actor method with its types erased,
// as backends see it (SPI).
type Function struct {
	Name       string
	Kind       FunctionKind
	Class      string // for methods: the actor class name
	DefinedAt  string // file:line of the definition
	ArgType    reflect.Type
	ResultType reflect.Type // for actor classes: the state pointer type; for streams: the item type
	// Streaming: a task or method registered with NewStreamTask or NewStreamMethod, which
	// yields items through the StreamEmitter in its ctx (spi_stream.go).
	Streaming bool

	call      func(ctx context.Context, self, arg any) (any, error)
	decodeArg func(data []byte) (any, error)
}

var (
	registryMu sync.RWMutex
	registry   = map[string]*Function{}
	frozen     atomic.Bool
)

// register adds f, panicking on a duplicate name. After the registry is frozen it returns an
// error instead and leaves the registry unchanged.
func register(f *Function) error {
	registryMu.Lock()
	defer registryMu.Unlock()
	if prev, ok := registry[f.Name]; ok {
		panic(fmt.Sprintf("fray: %s name %q defined twice: at %s and at %s; registered names must be unique", f.Kind, f.Name, prev.DefinedAt, f.DefinedAt))
	}
	if frozen.Load() {
		return fmt.Errorf("%w: %s %q was defined at %s after the registry was frozen (by fray.Init or the first backend); define tasks and actors in package-level variables so worker processes built from the same binary register them too", ErrRegistryFrozen, f.Kind, f.Name, f.DefinedAt)
	}
	registry[f.Name] = f
	return nil
}

// FreezeRegistry stops further registration. Init and backend constructors call it.
func FreezeRegistry() { frozen.Store(true) }

// LookupFunction returns the registered function of that name (SPI).
func LookupFunction(name string) (*Function, error) {
	registryMu.RLock()
	f, ok := registry[name]
	registryMu.RUnlock()
	if !ok {
		return nil, &UnknownNameError{What: "function", Name: name,
			Hint: "it is not registered in this binary; declare it with fray.NewTask/NewActor/NewMethod in a package-level variable of a package the binary imports"}
	}
	return f, nil
}

// RegisteredNames returns every registered name, sorted.
func RegisteredNames() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// RegistryManifest lists every registered function as "kind name(arg) result" lines, sorted;
// two binaries whose manifests match can run each other's calls.
func RegistryManifest() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	out := make([]string, 0, len(registry))
	for _, f := range registry {
		kind := f.Kind.String()
		if f.Streaming {
			kind = "stream " + kind
		}
		out = append(out, fmt.Sprintf("%s %s(%s) %s", kind, f.Name, f.ArgType, f.ResultType))
	}
	sort.Strings(out)
	return out
}

// RegistryDigest is a hash of RegistryManifest, compared at worker handshake.
func RegistryDigest() string {
	h := sha256.Sum256([]byte(strings.Join(RegistryManifest(), "\n")))
	return hex.EncodeToString(h[:16])
}

// DecodeArg turns a payload into the function's argument type: it decodes Data, or checks
// the type of a directly passed Value.
func (f *Function) DecodeArg(p Payload) (any, error) {
	if p.Data != nil {
		return f.decodeArg(p.Data)
	}
	if p.Value == nil {
		return reflect.Zero(f.ArgType).Interface(), nil
	}
	if reflect.TypeOf(p.Value) != f.ArgType {
		return nil, &SerializationError{Type: f.ArgType.String(), Op: "decode",
			Cause: fmt.Errorf("%s %q takes %s, got %T", f.Kind, f.Name, f.ArgType, p.Value)}
	}
	return p.Value, nil
}

// Invoke runs the function. self is the actor state for methods and nil otherwise. A
// returned error comes back as a *TaskError; a panic comes back as a *TaskError with Panic
// set and the panicking goroutine's stack.
//
// A function that calls runtime.Goexit (testing.T's FailNow, Fatal and SkipNow do) ends
// the calling goroutine: Invoke then never returns, and nothing can stop the goroutine
// from ending once the deferred calls up its stack have run. A backend must answer such a
// call anyway, from a deferred function of its own that sees Invoke did not return, with
// the error of GoexitError, and carry on with whatever else that goroutine was doing on
// another goroutine.
func (f *Function) Invoke(ctx context.Context, self, arg any) (result any, err error) {
	defer func() {
		if p := recover(); p != nil {
			info, _ := TaskInfoFrom(ctx)
			result = nil
			err = &TaskError{Task: f.Name, TaskID: info.TaskID, TypeName: fmt.Sprintf("%T", p),
				Message: fmt.Sprint(p), Panic: true, Stack: string(debug.Stack()),
				Cause: &RemoteError{TypeName: fmt.Sprintf("%T", p), Message: fmt.Sprint(p)}}
		}
	}()
	result, err = f.call(ctx, self, arg)
	if err != nil {
		info, _ := TaskInfoFrom(ctx)
		return nil, wrapTaskError(f.Name, info.TaskID, err)
	}
	return result, nil
}

// GoexitError is the error of a call of f, with task id taskID, that ended its goroutine
// with runtime.Goexit instead of returning (see Invoke). Called from a deferred function
// while the goroutine unwinds, it records where the function called runtime.Goexit.
func (f *Function) GoexitError(taskID string) *TaskError {
	const msg = "it called runtime.Goexit instead of returning (t.FailNow, t.Fatal and t.SkipNow do that: a task or actor method has no *testing.T of its own; return an error instead)"
	return &TaskError{Task: f.Name, TaskID: taskID, TypeName: "runtime.Goexit", Message: msg,
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

func decoderFor[T any]() func([]byte) (any, error) {
	return func(b []byte) (any, error) {
		v, err := decodeAs[T](b)
		if err != nil {
			return nil, err
		}
		return v, nil
	}
}
