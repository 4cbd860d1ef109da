package backend

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// The registry maps stable names to task functions, actor classes and actor methods. The
// API fills it at package initialization (fray.NewTask, NewActor, NewMethod at package
// level) and it is frozen by fray.Init or by the first backend, so a worker process started
// from the same binary finds exactly the same names.

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
// as backends see it. The API registers it together with its Impl; backends get it from
// LookupFunction.
type Function struct {
	Name       string
	Kind       FunctionKind
	Class      string // for methods: the actor class name
	DefinedAt  string // file:line of the definition
	ArgType    reflect.Type
	ResultType reflect.Type // for actor classes: the state pointer type; for streams: the item type
	// Streaming: a task or method registered with fray.NewStreamTask or NewStreamMethod,
	// which yields items through the StreamEmitter in its ctx (spi_stream.go).
	Streaming bool

	impl Impl
}

// Impl is the typed half of a Function, which the API supplies when it registers one.
type Impl interface {
	// DecodeArg turns a payload into the function's argument type: it decodes Data, or
	// checks the type of a directly passed Value (a *fray.SerializationError if wrong).
	DecodeArg(p Payload) (any, error)
	// Invoke runs the function; see Function.Invoke.
	Invoke(ctx context.Context, self, arg any) (any, error)
	// GoexitError is the error of a call that ended its goroutine; see Function.GoexitError.
	GoexitError(taskID string) error
}

// DecodeArg turns a payload into the function's argument type: it decodes Data, or checks
// the type of a directly passed Value.
func (f *Function) DecodeArg(p Payload) (any, error) { return f.impl.DecodeArg(p) }

// Invoke runs the function. self is the actor state for methods and nil otherwise. A
// returned error comes back as a *fray.TaskError; a panic comes back as a *fray.TaskError
// with Panic set and the panicking goroutine's stack.
//
// A function that calls runtime.Goexit (testing.T's FailNow, Fatal and SkipNow do) ends
// the calling goroutine: Invoke then never returns, and nothing can stop the goroutine
// from ending once the deferred calls up its stack have run. A backend must answer such a
// call anyway, from a deferred function of its own that sees Invoke did not return, with
// the error of GoexitError, and carry on with whatever else that goroutine was doing on
// another goroutine.
func (f *Function) Invoke(ctx context.Context, self, arg any) (any, error) {
	return f.impl.Invoke(ctx, self, arg)
}

// GoexitError is the error (a *fray.TaskError) of a call of f, with task id taskID, that
// ended its goroutine with runtime.Goexit instead of returning (see Invoke). Called from a
// deferred function while the goroutine unwinds, it records where the function called
// runtime.Goexit.
func (f *Function) GoexitError(taskID string) error { return f.impl.GoexitError(taskID) }

var (
	registryMu sync.RWMutex
	registry   = map[string]*Function{}
	frozen     atomic.Bool
)

// Register adds f with its implementation; the API calls it (fray.NewTask, NewActor,
// NewMethod). It panics on a duplicate name, and returns false, leaving the registry
// unchanged, once the registry is frozen.
func Register(f *Function, impl Impl) bool {
	registryMu.Lock()
	defer registryMu.Unlock()
	if prev, ok := registry[f.Name]; ok {
		panic(fmt.Sprintf("fray: %s name %q defined twice: at %s and at %s; registered names must be unique", f.Kind, f.Name, prev.DefinedAt, f.DefinedAt))
	}
	if frozen.Load() {
		return false
	}
	f.impl = impl
	registry[f.Name] = f
	return true
}

// FreezeRegistry stops further registration. fray.Init and backend constructors call it.
func FreezeRegistry() { frozen.Store(true) }

// LookupFunction returns the registered function of that name. A backend needs it only
// where a name arrives from another process (a worker serving a call); specs from the API
// name registered functions of the right kind.
func LookupFunction(name string) (*Function, bool) {
	registryMu.RLock()
	f, ok := registry[name]
	registryMu.RUnlock()
	return f, ok
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

// RegistryDigest is a hash of RegistryManifest, compared at worker handshake: the hex
// encoding of the first 16 bytes of the SHA-256 of the lines joined by "\n".
func RegistryDigest() string {
	h := sha256.Sum256([]byte(strings.Join(RegistryManifest(), "\n")))
	return hex.EncodeToString(h[:16])
}
