package main

// The embedded CPython: libpython found from the virtualenv's python and loaded at run time
// with purego (no cgo, no Python headers at build time), a table of the C API functions the
// spike calls, and three ways of taking the GIL from Go (see GILMode).

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"unsafe"

	"github.com/ebitengine/purego"
)

// obj is a PyObject* (a C pointer, never a Go pointer).
type obj = uintptr

// api is the part of the C API the spike uses. Each field is a C function pointer called
// through purego.SyscallN (cheaper per call than RegisterLibFunc's reflection wrappers).
type api struct {
	InitializeEx, FinalizeEx, RunSimpleString                          uintptr
	EvalSaveThread, EvalRestoreThread                                  uintptr
	GILEnsure, GILRelease, GILGetThisThreadState                       uintptr
	ImportModule, GetAttrString, CallOneArg, CallNoArgs, CallObject    uintptr
	IncRef, DecRef, BytesFromStringAndSize, BytesAsString, BytesSize   uintptr
	LongFromLongLong, LongAsLongLong, ListNew, ListSetItem, ListSize   uintptr
	ListGetItem, MemoryViewFromMemory, GetBuffer, BufferRelease        uintptr
	ErrOccurred, ErrFetch, ErrNormalize, ObjectStr, UnicodeAsUTF8AndSz uintptr
	TupleNew, TupleSetItem                                             uintptr
}

func (a *api) table() map[string]*uintptr {
	return map[string]*uintptr{
		"Py_InitializeEx": &a.InitializeEx, "Py_FinalizeEx": &a.FinalizeEx, "PyRun_SimpleString": &a.RunSimpleString,
		"PyEval_SaveThread": &a.EvalSaveThread, "PyEval_RestoreThread": &a.EvalRestoreThread,
		"PyGILState_Ensure": &a.GILEnsure, "PyGILState_Release": &a.GILRelease, "PyGILState_GetThisThreadState": &a.GILGetThisThreadState,
		"PyImport_ImportModule": &a.ImportModule, "PyObject_GetAttrString": &a.GetAttrString,
		"PyObject_CallOneArg": &a.CallOneArg, "PyObject_CallNoArgs": &a.CallNoArgs, "PyObject_CallObject": &a.CallObject,
		"Py_IncRef": &a.IncRef, "Py_DecRef": &a.DecRef,
		"PyBytes_FromStringAndSize": &a.BytesFromStringAndSize, "PyBytes_AsString": &a.BytesAsString, "PyBytes_Size": &a.BytesSize,
		"PyLong_FromLongLong": &a.LongFromLongLong, "PyLong_AsLongLong": &a.LongAsLongLong,
		"PyList_New": &a.ListNew, "PyList_SetItem": &a.ListSetItem, "PyList_Size": &a.ListSize, "PyList_GetItem": &a.ListGetItem,
		"PyMemoryView_FromMemory": &a.MemoryViewFromMemory, "PyObject_GetBuffer": &a.GetBuffer, "PyBuffer_Release": &a.BufferRelease,
		"PyErr_Occurred": &a.ErrOccurred, "PyErr_Fetch": &a.ErrFetch, "PyErr_NormalizeException": &a.ErrNormalize,
		"PyObject_Str": &a.ObjectStr, "PyUnicode_AsUTF8AndSize": &a.UnicodeAsUTF8AndSz,
		"PyTuple_New": &a.TupleNew, "PyTuple_SetItem": &a.TupleSetItem,
	}
}

// Python is one embedded interpreter.
type Python struct {
	c        api
	venvPy   string
	main     obj         // the __main__ module
	q        chan func() // work for the dedicated Python thread (GILThread)
	initDone chan error
	final    bool // set (on the Python thread) once Py_FinalizeEx ran: serve stops
}

// pyInfo is what the venv's python tells us about itself.
type pyInfo struct {
	Lib        string   `json:"lib"`
	BasePrefix string   `json:"base_prefix"`
	Path       []string `json:"path"`
	Executable string   `json:"executable"`
}

// findPython asks the virtualenv's interpreter where its libpython is (sysconfig LIBDIR and
// INSTSONAME, the versioned soname, falling back to LDLIBRARY), its base install
// (PYTHONHOME) and its sys.path. Nothing is hard-coded.
func findPython(venvPy string) (pyInfo, error) {
	const probe = `import json, os, sys, sysconfig
d = sysconfig.get_config_var("LIBDIR") or ""
cands = [sysconfig.get_config_var(k) for k in ("INSTSONAME", "LDLIBRARY")]
lib = next((os.path.join(d, c) for c in cands if c and os.path.exists(os.path.join(d, c))), "")
print(json.dumps({"lib": lib, "base_prefix": sys.base_prefix, "path": [p for p in sys.path if p], "executable": sys.executable}))`
	out, err := exec.Command(venvPy, "-c", probe).Output()
	if err != nil {
		return pyInfo{}, fmt.Errorf("asking %s about its libpython: %w", venvPy, err)
	}
	var info pyInfo
	if err := json.Unmarshal(out, &info); err != nil {
		return pyInfo{}, err
	}
	if info.Lib == "" {
		return pyInfo{}, fmt.Errorf("%s has no shared libpython (built without --enable-shared): the in-process driver needs one", venvPy)
	}
	return info, nil
}

// StartPython loads libpython and starts the dedicated Python thread, which initializes the
// interpreter (so that it is Python's main thread: signal.signal works there) and then
// serves Do(GILThread) requests. On return the GIL is released.
func StartPython(venvPy string, src string) (*Python, error) {
	info, err := findPython(venvPy)
	if err != nil {
		return nil, err
	}
	// RTLD_GLOBAL: extension modules (Ray's _raylet.so, numpy...) resolve Py* symbols
	// against the already loaded libpython, as they would in the python executable.
	h, err := purego.Dlopen(info.Lib, purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", info.Lib, err)
	}
	p := &Python{venvPy: venvPy, q: make(chan func(), 1024), initDone: make(chan error, 1)}
	for name, ptr := range p.c.table() {
		if *ptr, err = purego.Dlsym(h, name); err != nil {
			return nil, fmt.Errorf("%s lacks %s: %w", info.Lib, name, err)
		}
	}
	// PYTHONHOME: the base install, so the stdlib is found; Go's os.Setenv reaches libc's
	// environ (purego's fakecgo provides _cgo_setenv), which Py_InitializeEx reads.
	os.Setenv("PYTHONHOME", info.BasePrefix)
	go p.serve(info, src)
	if err := <-p.initDone; err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Python) call(fn uintptr, args ...uintptr) uintptr {
	r, _, _ := purego.SyscallN(fn, args...)
	return r
}

func cstr(s string) *byte { b := append([]byte(s), 0); return &b[0] }

func (p *Python) serve(info pyInfo, src string) {
	runtime.LockOSThread()      // forever: this OS thread owns the interpreter's main thread state
	p.call(p.c.InitializeEx, 0) // 0: install no signal handlers (Go owns signals)
	paths, _ := json.Marshal(info.Path)
	boot := fmt.Sprintf("import sys\nsys.path[:] = %s\nsys.executable = %q\nsys.argv = [%q]\n", paths, info.Executable, info.Executable)
	s1, s2 := cstr(boot), cstr(src)
	if p.call(p.c.RunSimpleString, uintptr(unsafe.Pointer(s1))) != 0 || p.call(p.c.RunSimpleString, uintptr(unsafe.Pointer(s2))) != 0 {
		runtime.KeepAlive(s1)
		p.initDone <- errors.New("running the spike's Python module failed (traceback above)")
		return
	}
	runtime.KeepAlive(s1)
	runtime.KeepAlive(s2)
	m := cstr("__main__")
	p.main = p.call(p.c.ImportModule, uintptr(unsafe.Pointer(m)))
	runtime.KeepAlive(m)
	ts := p.call(p.c.EvalSaveThread)
	p.initDone <- nil
	for f := range p.q {
		// Take the GIL once for everything queued, give it back when the queue is empty
		// (Ray's and Python's own threads need it while we wait).
		p.call(p.c.EvalRestoreThread, ts)
		f()
	drain:
		for {
			select {
			case f = <-p.q:
				f()
			default:
				break drain
			}
		}
		if p.final {
			return // no thread state is left to save
		}
		ts = p.call(p.c.EvalSaveThread)
	}
}

// GILMode is how a goroutine gets the GIL for one operation.
type GILMode int

const (
	// GILEnsure: PyGILState_Ensure/Release around each operation, on whatever OS thread
	// the goroutine is on (locked for the duration). The thread state is created and
	// destroyed each time when the thread has none.
	GILEnsure GILMode = iota
	// GILPinned: as GILEnsure, but each OS thread's first Ensure is never released, so its
	// thread state lives on and later operations only take and drop the GIL.
	GILPinned
	// GILThread: the operation is sent to the dedicated Python thread and waited for.
	GILThread
)

func (m GILMode) String() string { return [...]string{"ensure", "pinned", "thread"}[m] }

// Do runs f with the GIL held, the way mode says.
func (p *Python) Do(mode GILMode, f func()) {
	switch mode {
	case GILThread:
		done := make(chan struct{})
		p.q <- func() { f(); close(done) }
		<-done
	case GILEnsure, GILPinned:
		runtime.LockOSThread()
		fresh := mode == GILPinned && p.call(p.c.GILGetThisThreadState) == 0
		st := p.call(p.c.GILEnsure)
		if fresh {
			p.call(p.c.GILEnsure) // the count that keeps this thread's state alive
		}
		f()
		p.call(p.c.GILRelease, st)
		runtime.UnlockOSThread()
	}
}

// The helpers below need the GIL.

// PyError is a Python exception surfaced in Go: its type's name and str().
type PyError struct{ Type, Msg string }

func (e *PyError) Error() string { return e.Type + ": " + e.Msg }

// fetchErr turns the pending Python exception into a *PyError (and clears it).
func (p *Python) fetchErr(what string) error {
	var t, v, tb obj
	p.call(p.c.ErrFetch, uintptr(unsafe.Pointer(&t)), uintptr(unsafe.Pointer(&v)), uintptr(unsafe.Pointer(&tb)))
	if t == 0 {
		return fmt.Errorf("%s failed without a Python exception", what)
	}
	p.call(p.c.ErrNormalize, uintptr(unsafe.Pointer(&t)), uintptr(unsafe.Pointer(&v)), uintptr(unsafe.Pointer(&tb)))
	e := &PyError{Type: p.str(p.attr(t, "__name__")), Msg: p.str(v)}
	for _, o := range []obj{t, v, tb} {
		p.decref(o)
	}
	return fmt.Errorf("%s: %w", what, e)
}

func (p *Python) attr(o obj, name string) obj {
	c := cstr(name)
	r := p.call(p.c.GetAttrString, o, uintptr(unsafe.Pointer(c)))
	runtime.KeepAlive(c)
	return r
}

// str is str(o) as a Go string ("" on failure); it consumes nothing.
func (p *Python) str(o obj) string {
	if o == 0 {
		return ""
	}
	s := p.call(p.c.ObjectStr, o)
	if s == 0 {
		return ""
	}
	defer p.decref(s)
	var n int
	c := p.call(p.c.UnicodeAsUTF8AndSz, s, uintptr(unsafe.Pointer(&n)))
	if c == 0 {
		return ""
	}
	return strings.Clone(unsafe.String((*byte)(cptr(c)), n))
}

func (p *Python) decref(o obj) {
	if o != 0 {
		p.call(p.c.DecRef, o)
	}
}

// global returns a new reference to __main__.<name>.
func (p *Python) global(name string) (obj, error) {
	o := p.attr(p.main, name)
	if o == 0 {
		return 0, p.fetchErr("__main__." + name)
	}
	return o, nil
}

// call1 is fn(arg): a new reference, or the Python exception as an error.
func (p *Python) call1(what string, fn, arg obj) (obj, error) {
	r := p.call(p.c.CallOneArg, fn, arg)
	if r == 0 {
		return 0, p.fetchErr(what)
	}
	return r, nil
}

// bytesOf copies a Python bytes object's content into Go memory.
func (p *Python) bytesOf(o obj) ([]byte, error) {
	c := p.call(p.c.BytesAsString, o)
	if c == 0 {
		return nil, p.fetchErr("bytes value")
	}
	n := int(p.call(p.c.BytesSize, o))
	return append([]byte(nil), unsafe.Slice((*byte)(cptr(c)), n)...), nil
}

// pyBuffer is CPython's Py_buffer (3.11, 64-bit). Only C pointers are written into it.
type pyBuffer struct {
	buf      uintptr
	obj      uintptr
	len      int
	itemsize int
	readonly int32
	ndim     int32
	format   uintptr
	shape    uintptr
	strides  uintptr
	subs     uintptr
	internal uintptr
}

// copyBuffer copies the bytes of any object with the buffer protocol (PyObject_GetBuffer,
// PyBUF_SIMPLE) into dst's spare capacity, growing it when needed.
func (p *Python) copyBuffer(o obj, dst []byte) ([]byte, error) {
	var b pyBuffer
	if p.call(p.c.GetBuffer, o, uintptr(unsafe.Pointer(&b)), 0) != 0 {
		return nil, p.fetchErr("buffer of the value")
	}
	dst = append(dst[:0], unsafe.Slice((*byte)(cptr(b.buf)), b.len)...)
	p.call(p.c.BufferRelease, uintptr(unsafe.Pointer(&b)))
	return dst, nil
}

// cptr turns a C address into a pointer. The memory is C's (Python's or Ray's), outside
// Go's heap, so the collector ignores it; the conversion through memory keeps vet's
// uintptr rule (meant for Go memory) out of the way.
func cptr(u uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&u)) }
