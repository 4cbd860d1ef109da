package main

// ray-worker: the Go binary as Ray's worker process. Ray's py_executable runtime env makes
// the raylet start `<binary> ray-worker <default_worker.py> <its flags>`; this embeds
// CPython the same way the driver does and runs Ray's worker in it, so a task's Python
// trampoline calls Go in-process (a purego callback, through ctypes) instead of over a
// pipe to a Go child.

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

func rayWorker(args []string) error {
	venv := os.Getenv("FRAY_PYTHON")
	if venv == "" {
		return fmt.Errorf("ray-worker: FRAY_PYTHON is not set (the runtime env's env_vars carry it)")
	}
	// Ray's worker sets its process title (setproctitle), which overwrites the argv block
	// (and can reach the environment block) in place; Go's os.Args and its environment
	// copy are strings over that same memory. Copy them into Go memory first.
	os.Args = cloneAll(os.Args)
	args = cloneAll(args)
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			os.Setenv(k, strings.Clone(v)) // Setenv builds new "k=v" strings
		}
	}
	var once sync.Once
	var saved sigState
	// The Go function a task calls: copy the argument, answer it (the spike's no-op).
	cb := purego.NewCallback(func(in uintptr, n int64, out uintptr, cap int64) int64 {
		// Ray's worker start-up installed its failure signal handlers over Go's (see
		// signals.go); the first call, made after that, puts Go's back.
		once.Do(func() { saved.restore() })
		arg := append([]byte(nil), unsafe.Slice((*byte)(cptr(in)), n)...)
		if string(arg) == "env?" { // checks: what Go sees of its argv and environment now
			arg = []byte(fmt.Sprintf("args=%q FRAY_PYTHON=%q", os.Args, os.Getenv("FRAY_PYTHON")))
		}
		if int64(len(arg)) > cap {
			return 0
		}
		copy(unsafe.Slice((*byte)(cptr(out)), cap), arg)
		return int64(len(arg))
	})
	os.Setenv("FRAY_SPIKE_CB", fmt.Sprint(cb))
	saved = saveSignals()
	argv, _ := json.Marshal(args)
	// Py_InitializeEx(0) leaves SIGINT without a Python handler, so signal.getsignal
	// returns None, and Ray's worker asserts it is not (ray._private.utils.DeferSigint,
	// around task execution): give it Python's usual one, as a python worker has.
	src := fmt.Sprintf("import signal, sys\nsignal.signal(signal.SIGINT, signal.default_int_handler)\nsys.argv = %s\n", argv)
	if os.Getenv("SPIKE_FULL_TRACEBACKS") != "" {
		// Debugging aid: report where an AssertionError is raised (worker's .err log).
		src += "import threading, traceback\ndef _tr(f, ev, arg):\n    if ev == 'exception' and arg[0] is AssertionError:\n        sys.stderr.write('SPIKE-ASSERT %s:%d\\n' % (f.f_code.co_filename, f.f_lineno)); traceback.print_stack(f, file=sys.stderr)\n    return _tr\nsys.settrace(_tr)\nthreading.settrace(_tr)\n"
	}
	// As the python executable runs a script: its directory first on sys.path, the code
	// run in the real __main__ (runpy.run_path would use a stand-in module).
	src += "import os, __main__\nsys.path.insert(0, os.path.dirname(os.path.abspath(sys.argv[0])))\n" +
		"__main__.__file__ = sys.argv[0]\nexec(compile(open(sys.argv[0]).read(), sys.argv[0], 'exec'), __main__.__dict__)\n"
	// StartPython runs src on its Python thread; Ray's worker loop never returns (it
	// leaves through sys.exit, which PyRun_SimpleString turns into the process's exit).
	_, err := StartPython(venv, src)
	if err != nil {
		return err
	}
	select {}
}

func cloneAll(s []string) []string {
	c := make([]string, len(s))
	for i, v := range s {
		c[i] = strings.Clone(v)
	}
	return c
}
