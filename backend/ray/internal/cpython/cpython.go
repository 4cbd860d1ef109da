// Package cpython embeds a CPython interpreter in a Go process without cgo: libpython is
// found from a virtualenv's python, loaded at run time with purego, and called through a
// small table of C API functions. A program that never calls Load loads no Python.
//
// One interpreter per process, never finalized (Py_FinalizeEx is unsafe with Ray's
// threads alive). Its main thread is a dedicated, locked OS thread that initialized it
// (Python's signal module and Ray's init want that thread); Main runs a function there.
// Do runs a function with the GIL on the calling goroutine's own OS thread, which keeps its
// Python thread state for the life of the process ("pinned"): later calls from the same
// thread only take and drop the GIL, a few microseconds.
//
// Every Object helper must be called with the GIL held, that is inside Main or Do.
package cpython

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// Object is a PyObject* (a C pointer, never a Go pointer). 0 is NULL.
type Object uintptr

// api is the part of the C API this package calls, each a C function pointer.
type api struct {
	InitializeEx, RunSimpleString, EvalSaveThread, EvalRestoreThread    uintptr
	GILEnsure, GILRelease, GILGetThisThreadState                         uintptr
	ImportModule, GetAttrString, CallObject, IncRef, DecRef              uintptr
	BytesFromStringAndSize, BytesAsString, BytesSize, UnicodeFromStringN uintptr
	TupleNew, TupleSetItem, ErrFetch, ErrNormalize, ObjectStr            uintptr
	UnicodeAsUTF8AndSize, LongAsLongLong, ErrOccurred, NoneStruct        uintptr
}

func (a *api) table() map[string]*uintptr {
	return map[string]*uintptr{
		"Py_InitializeEx": &a.InitializeEx, "PyRun_SimpleString": &a.RunSimpleString,
		"PyEval_SaveThread": &a.EvalSaveThread, "PyEval_RestoreThread": &a.EvalRestoreThread,
		"PyGILState_Ensure": &a.GILEnsure, "PyGILState_Release": &a.GILRelease,
		"PyGILState_GetThisThreadState": &a.GILGetThisThreadState,
		"PyImport_ImportModule":         &a.ImportModule, "PyObject_GetAttrString": &a.GetAttrString,
		"PyObject_CallObject": &a.CallObject, "Py_IncRef": &a.IncRef, "Py_DecRef": &a.DecRef,
		"PyBytes_FromStringAndSize": &a.BytesFromStringAndSize, "PyBytes_AsString": &a.BytesAsString,
		"PyBytes_Size": &a.BytesSize, "PyUnicode_FromStringAndSize": &a.UnicodeFromStringN,
		"PyTuple_New": &a.TupleNew, "PyTuple_SetItem": &a.TupleSetItem,
		"PyErr_Fetch": &a.ErrFetch, "PyErr_NormalizeException": &a.ErrNormalize,
		"PyObject_Str": &a.ObjectStr, "PyUnicode_AsUTF8AndSize": &a.UnicodeAsUTF8AndSize,
		"PyLong_AsLongLong": &a.LongAsLongLong, "PyErr_Occurred": &a.ErrOccurred,
		"_Py_NoneStruct": &a.NoneStruct,
	}
}

// Interpreter is the process's embedded CPython.
type Interpreter struct {
	c      api
	python string      // the virtualenv python it was found from
	Info   Info        // what that python said about itself
	q      chan func() // work for the main thread
}

// Info is what a virtualenv's python reports about its installation.
type Info struct {
	Lib        string   `json:"lib"`         // the shared libpython
	BasePrefix string   `json:"base_prefix"` // PYTHONHOME
	Path       []string `json:"path"`        // sys.path, site-packages included
	Executable string   `json:"executable"`  // sys.executable
	Version    string   `json:"version"`     // "3.11.9"
}

// NoSharedLibraryError reports a Python built without a shared libpython, which cannot be
// embedded.
type NoSharedLibraryError struct{ Python string }

func (e *NoSharedLibraryError) Error() string {
	return "cpython: " + e.Python + " has no shared libpython (it was built without --enable-shared); " +
		"use a Python that has one (the distribution's python3 does) for the virtualenv"
}

// Probe asks python where its libpython, base install and sys.path are. Nothing about the
// installation is hard-coded.
func Probe(python string) (Info, error) {
	const probe = `import json, os, platform, sys, sysconfig
d = sysconfig.get_config_var("LIBDIR") or ""
cands = [sysconfig.get_config_var(k) for k in ("INSTSONAME", "LDLIBRARY")]
lib = next((os.path.join(d, c) for c in cands if c and ".so" in c and os.path.exists(os.path.join(d, c))), "")
print(json.dumps({"lib": lib, "base_prefix": sys.base_prefix, "path": [p for p in sys.path if p], "executable": sys.executable, "version": platform.python_version()}))`
	out, err := exec.Command(python, "-c", probe).Output()
	if err != nil {
		return Info{}, fmt.Errorf("cpython: asking %s about its installation: %w", python, err)
	}
	var info Info
	if err := json.Unmarshal(out, &info); err != nil {
		return Info{}, fmt.Errorf("cpython: %s: %w", python, err)
	}
	if info.Lib == "" {
		return Info{}, &NoSharedLibraryError{Python: python}
	}
	return info, nil
}

var (
	loadMu sync.Mutex
	loaded *Interpreter
)

// Load starts the process's interpreter from the virtualenv python (an absolute path), or
// returns the one already started from the same python. A different python is an error: a
// process can hold one interpreter only.
func Load(python string) (*Interpreter, error) {
	loadMu.Lock()
	defer loadMu.Unlock()
	if loaded != nil {
		if loaded.python != python {
			return nil, fmt.Errorf("cpython: this process already runs the Python of %s; it cannot load %s as well", loaded.python, python)
		}
		return loaded, nil
	}
	info, err := Probe(python)
	if err != nil {
		return nil, err
	}
	// RTLD_GLOBAL: extension modules (Ray's _raylet.so) resolve their Py* symbols against
	// this libpython, as they would in the python executable.
	h, err := purego.Dlopen(info.Lib, purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		return nil, fmt.Errorf("cpython: loading %s: %w", info.Lib, err)
	}
	in := &Interpreter{python: python, Info: info, q: make(chan func(), 64)}
	for name, ptr := range in.c.table() {
		if *ptr, err = purego.Dlsym(h, name); err != nil {
			return nil, fmt.Errorf("cpython: %s lacks %s: %w", info.Lib, name, err)
		}
	}
	// PYTHONHOME makes the interpreter find its standard library; os.Setenv reaches the C
	// environment that Py_InitializeEx reads.
	if err := os.Setenv("PYTHONHOME", info.BasePrefix); err != nil {
		return nil, err
	}
	started := make(chan error, 1)
	go in.mainThread(started)
	if err := <-started; err != nil {
		return nil, err
	}
	loaded = in
	return in, nil
}

func (in *Interpreter) call(fn uintptr, args ...uintptr) uintptr {
	r, _, _ := purego.SyscallN(fn, args...)
	return r
}

// cstr is s as a NUL-terminated C string in Go memory; keep it alive across the call.
func cstr(s string) *byte { b := append([]byte(s), 0); return &b[0] }

// mainThread initializes the interpreter on a locked OS thread that stays Python's main
// thread, then runs Main's functions there, taking the GIL for each batch.
func (in *Interpreter) mainThread(started chan<- error) {
	runtime.LockOSThread() // forever: this thread owns the main thread state
	in.call(in.c.InitializeEx, 0) // 0: no Python signal handlers; Go owns signals
	paths, _ := json.Marshal(in.Info.Path)
	boot := fmt.Sprintf("import sys\nsys.path[:] = %s\nsys.executable = %q\nsys.argv = [%q]\n", paths, in.Info.Executable, in.Info.Executable)
	s := cstr(boot)
	rc := in.call(in.c.RunSimpleString, uintptr(unsafe.Pointer(s)))
	runtime.KeepAlive(s)
	if rc != 0 {
		started <- errors.New("cpython: setting up sys.path failed (the traceback is on standard error)")
		return
	}
	ts := in.call(in.c.EvalSaveThread)
	started <- nil
	for f := range in.q {
		in.call(in.c.EvalRestoreThread, ts)
		f()
		ts = in.call(in.c.EvalSaveThread)
	}
}

// Main runs f with the GIL held on Python's main thread and waits for it.
func (in *Interpreter) Main(f func()) {
	done := make(chan struct{})
	in.q <- func() { defer close(done); f() }
	<-done
}

// Do runs f with the GIL held on the calling goroutine's OS thread (locked for the
// duration). The thread's Python thread state is created on its first call and kept.
func (in *Interpreter) Do(f func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	fresh := in.call(in.c.GILGetThisThreadState) == 0
	st := in.call(in.c.GILEnsure)
	if fresh {
		in.call(in.c.GILEnsure) // a count never released: the thread state lives on
	}
	defer in.call(in.c.GILRelease, st)
	f()
}

// Error is a Python exception surfaced in Go.
type Error struct {
	What string // the operation that raised it
	Type string // the exception's type name
	Msg  string // str(exception)
}

func (e *Error) Error() string { return "cpython: " + e.What + ": " + e.Type + ": " + e.Msg }

// fetch turns the pending Python exception into an *Error and clears it.
func (in *Interpreter) fetch(what string) error {
	var t, v, tb Object
	in.call(in.c.ErrFetch, uintptr(unsafe.Pointer(&t)), uintptr(unsafe.Pointer(&v)), uintptr(unsafe.Pointer(&tb)))
	if t == 0 {
		return &Error{What: what, Type: "SystemError", Msg: "failed without an exception"}
	}
	in.call(in.c.ErrNormalize, uintptr(unsafe.Pointer(&t)), uintptr(unsafe.Pointer(&v)), uintptr(unsafe.Pointer(&tb)))
	name, _ := in.Attr(t, "__name__")
	e := &Error{What: what, Type: in.Str(name), Msg: in.Str(v)}
	for _, o := range []Object{name, t, v, tb} {
		in.DecRef(o)
	}
	return e
}

// Import imports a module: a new reference.
func (in *Interpreter) Import(name string) (Object, error) {
	c := cstr(name)
	m := Object(in.call(in.c.ImportModule, uintptr(unsafe.Pointer(c))))
	runtime.KeepAlive(c)
	if m == 0 {
		return 0, in.fetch("import " + name)
	}
	return m, nil
}

// Attr is getattr(o, name): a new reference.
func (in *Interpreter) Attr(o Object, name string) (Object, error) {
	c := cstr(name)
	r := Object(in.call(in.c.GetAttrString, uintptr(o), uintptr(unsafe.Pointer(c))))
	runtime.KeepAlive(c)
	if r == 0 {
		return 0, in.fetch("getattr " + name)
	}
	return r, nil
}

// Call is fn(*args): a new reference. It consumes none of args.
func (in *Interpreter) Call(what string, fn Object, args ...Object) (Object, error) {
	t := in.call(in.c.TupleNew, uintptr(len(args)))
	for i, a := range args {
		in.call(in.c.IncRef, uintptr(a))
		in.call(in.c.TupleSetItem, t, uintptr(i), uintptr(a)) // steals the reference taken above
	}
	r := Object(in.call(in.c.CallObject, uintptr(fn), t))
	in.call(in.c.DecRef, t)
	if r == 0 {
		return 0, in.fetch(what)
	}
	return r, nil
}

// Bytes is a new bytes object holding a copy of parts, concatenated.
func (in *Interpreter) Bytes(parts ...[]byte) Object {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	o := Object(in.call(in.c.BytesFromStringAndSize, 0, uintptr(n)))
	if o == 0 || n == 0 {
		return o
	}
	dst := unsafe.Slice((*byte)(cptr(in.call(in.c.BytesAsString, uintptr(o)))), n)
	off := 0
	for _, p := range parts {
		off += copy(dst[off:], p)
	}
	return o
}

// BytesValue copies the content of a bytes object into Go memory.
func (in *Interpreter) BytesValue(o Object) ([]byte, error) {
	c := in.call(in.c.BytesAsString, uintptr(o))
	if c == 0 {
		return nil, in.fetch("bytes value")
	}
	n := int(in.call(in.c.BytesSize, uintptr(o)))
	return append([]byte(nil), unsafe.Slice((*byte)(cptr(c)), n)...), nil
}

// String is a new str object holding s.
func (in *Interpreter) String(s string) Object {
	b := []byte(s)
	var p unsafe.Pointer
	if len(b) > 0 {
		p = unsafe.Pointer(&b[0])
	}
	r := Object(in.call(in.c.UnicodeFromStringN, uintptr(p), uintptr(len(b))))
	runtime.KeepAlive(b)
	return r
}

// Str is str(o) as a Go string ("" on failure). It consumes nothing.
func (in *Interpreter) Str(o Object) string {
	if o == 0 {
		return ""
	}
	s := in.call(in.c.ObjectStr, uintptr(o))
	if s == 0 {
		in.fetch("str") //nolint:errcheck // a best-effort description
		return ""
	}
	defer in.call(in.c.DecRef, s)
	var n int
	c := in.call(in.c.UnicodeAsUTF8AndSize, s, uintptr(unsafe.Pointer(&n)))
	if c == 0 {
		return ""
	}
	return strings.Clone(unsafe.String((*byte)(cptr(c)), n))
}

// Int is int(o) for a Python int.
func (in *Interpreter) Int(o Object) (int64, error) {
	v := int64(in.call(in.c.LongAsLongLong, uintptr(o)))
	if v == -1 && in.call(in.c.ErrOccurred) != 0 {
		return 0, in.fetch("int value")
	}
	return v, nil
}

// IsNone reports whether o is None.
func (in *Interpreter) IsNone(o Object) bool { return uintptr(o) == in.c.NoneStruct }

// DecRef drops a reference (0 is ignored).
func (in *Interpreter) DecRef(o Object) {
	if o != 0 {
		in.call(in.c.DecRef, uintptr(o))
	}
}

// cptr turns a C address into a pointer. The memory is C's, outside Go's heap.
func cptr(u uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&u)) }
