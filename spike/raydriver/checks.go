package main

// checks: the open questions that are not throughput: signal dispositions before and after
// Py_InitializeEx(0) and ray.init, Go's own signal handling and nil-dereference panics after
// them, the GIL from many goroutines, that put hands Go memory over without a copy, error
// mapping, and shutdown (ray.shutdown, Py_FinalizeEx) in a child process.

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// sigHandler reads a signal's current handler address (rt_sigaction with no new action).
func sigHandler(sig syscall.Signal) uintptr {
	var old [4]uintptr // struct kernel_sigaction: handler, flags, restorer, mask
	syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(sig), 0, uintptr(unsafe.Pointer(&old)), 8, 0, 0)
	return old[0]
}

var watched = []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGQUIT, syscall.SIGHUP, syscall.SIGPIPE,
	syscall.SIGSEGV, syscall.SIGBUS, syscall.SIGFPE, syscall.SIGILL, syscall.SIGABRT, syscall.SIGCHLD,
	syscall.SIGPROF, syscall.SIGURG, syscall.SIGUSR1, syscall.SIGXFSZ}

func snapshot() map[syscall.Signal]uintptr {
	m := map[syscall.Signal]uintptr{}
	for _, s := range watched {
		m[s] = sigHandler(s)
	}
	return m
}

func diff(stage string, before, after map[syscall.Signal]uintptr) {
	changed := 0
	for _, s := range watched {
		if before[s] != after[s] {
			changed++
			fmt.Printf("check signals %s: %v handler %#x -> %#x\n", stage, s, before[s], after[s])
		}
	}
	if changed == 0 {
		fmt.Printf("check signals %s: no handler changed (%d signals)\n", stage, len(watched))
	}
}

func nilDeref() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	var p *int
	return fmt.Errorf("no panic: %d", *p)
}

func checksMain(args []string) error {
	fs := flag.NewFlagSet("checks", flag.ExitOnError)
	c := commonFlags(fs)
	keep := fs.Bool("keep-ray-handlers", false, "leave the signal handlers ray.init installs (shows what they break)")
	fs.Parse(args)
	if err := c.check(); err != nil {
		return err
	}
	s0 := snapshot()
	t := time.Now()
	py, err := StartPython(c.python, spikePy)
	if err != nil {
		return err
	}
	fmt.Printf("check init: libpython loaded and initialized in %v\n", time.Since(t).Round(time.Millisecond))
	s1 := snapshot()
	diff("after Py_InitializeEx(0)", s0, s1)
	t = time.Now()
	d, err := Connect(py, c.address, c.self, *keep)
	if err != nil {
		return err
	}
	fmt.Printf("check connect: ray.init in %v (keep-ray-handlers %v; handlers put back afterwards: %v)\n",
		time.Since(t).Round(time.Millisecond), *keep, d.restoredSignals)
	s2 := snapshot()
	diff("after ray.init", s1, s2)

	// Go's nil dereference is a SIGSEGV turned into a panic by Go's handler.
	fmt.Printf("check go-panic: nil dereference after ray.init recovered as: %v\n", nilDeref())

	// Go's signal.Notify still receives signals sent to the process.
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	for _, s := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		syscall.Kill(os.Getpid(), s)
		select {
		case got := <-ch:
			fmt.Printf("check go-signal: signal.Notify received %v\n", got)
		case <-time.After(5 * time.Second):
			fmt.Printf("check go-signal: FAILED, %v not received in 5s\n", s)
		}
	}
	signal.Stop(ch)

	// Zero copy: Python sees Go's bytes through the view (a change made in Go after the
	// view was made shows in Python), and ray.put leaves no export behind (put_view's
	// release() would raise).
	buf := bytes.Repeat([]byte("a"), 1<<20)
	var pin runtime.Pinner
	pin.Pin(&buf[0])
	var seen string
	py.Do(GILPinned, func() {
		mv := py.call(py.c.MemoryViewFromMemory, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0x100)
		buf[0] = 'Z' // after the view exists
		b := py.attr(mv, "tobytes")
		first := py.call(py.c.CallNoArgs, b)
		seen = string(must(py.bytesOf(first))[:1])
		py.decref(first)
		py.decref(b)
		py.decref(mv)
	})
	pin.Unpin()
	fmt.Printf("check zero-copy: Python read %q through the view after Go wrote 'Z' (a copy would read 'a')\n", seen)
	r, err := d.Put(GILPinned, buf)
	if err != nil {
		return err
	}
	v, err := d.Get(GILPinned, r)
	fmt.Printf("check put/get: %d bytes back, first %q, err %v\n", len(v), v[:1], err)

	// Error mapping: a task's Python exception becomes a Go error with its type.
	fr, err := d.Remote(GILPinned, d.failRemote, []byte("x"))
	if err != nil {
		return err
	}
	_, err = d.GetAll(GILPinned, []Ref{fr})
	var pe *PyError
	if errors.As(err, &pe) {
		fmt.Printf("check errors: GetAll of a failing task -> *PyError type %q, message starts %q\n", pe.Type, first(pe.Msg, 90))
	} else {
		fmt.Printf("check errors: FAILED, got %v\n", err)
	}

	// The Go binary as a Ray worker (py_executable): a task calls Go in-process, and Go's
	// os.Args survive Ray's setproctitle (worker.go copies them).
	gr, err := d.Remote(GILPinned, d.goRemote, []byte("env?"))
	if err != nil {
		return err
	}
	gv, err := d.GetAll(GILPinned, []Ref{gr})
	if err != nil {
		fmt.Printf("check goworker: FAILED: %v\n", err)
	} else {
		fmt.Printf("check goworker: the task's Go callback answered %q\n", first(string(gv[0]), 140))
	}

	// The GIL from many goroutines (pinned thread states), all at once.
	for _, mode := range []GILMode{GILPinned, GILEnsure, GILThread} {
		var wg sync.WaitGroup
		var mu sync.Mutex
		tids := map[int]bool{}
		errs := 0
		t = time.Now()
		for g := 0; g < 16; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				refs := make([]Ref, 50)
				for i := range refs {
					var err error
					if refs[i], err = d.Remote(mode, d.noopRemote, []byte{byte(i)}); err != nil {
						mu.Lock()
						errs++
						mu.Unlock()
						return
					}
					mu.Lock()
					tids[syscall.Gettid()] = true
					mu.Unlock()
				}
				vals, err := d.GetAll(mode, refs)
				if err != nil || len(vals) != 50 || vals[7][0] != 7 {
					mu.Lock()
					errs++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		fmt.Printf("check gil %s: 16 goroutines x 50 tasks, %d errors, goroutines ran on %d OS threads, %v\n",
			mode, errs, len(tids), time.Since(t).Round(time.Millisecond))
	}
	runtime.GC()
	diff("at the end of the checks (after tasks, puts, gets)", s2, snapshot())

	// Shutdown, in children (each its own process and Ray job).
	for _, how := range []string{"shutdown+finalize", "shutdown", "exit"} {
		t = time.Now()
		cmd := exec.Command(c.self, "finalize-child", how, c.address, c.python)
		out, err := cmd.CombinedOutput()
		fmt.Printf("check shutdown %s: exit %v in %v, output %q\n", how, exitCode(err), time.Since(t).Round(time.Millisecond), first(string(out), 300))
	}
	return nil
}

func exitCode(err error) string {
	if err == nil {
		return "0"
	}
	return err.Error()
}

func first(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// finalizeChild connects, runs a task, then ends as `how` says, printing how long each
// step took; the parent reports its exit status.
func finalizeChild(args []string) error {
	how, address, python := args[0], args[1], args[2]
	self, _ := os.Executable()
	py, err := StartPython(python, spikePy)
	if err != nil {
		return err
	}
	d, err := Connect(py, address, self, false)
	if err != nil {
		return err
	}
	r, err := d.Remote(GILPinned, d.noopRemote, []byte("x"))
	if err != nil {
		return err
	}
	if _, err := d.GetAll(GILPinned, []Ref{r}); err != nil {
		return err
	}
	if how == "exit" {
		fmt.Print("exit without ray.shutdown; ")
		os.Exit(0)
	}
	t := time.Now()
	py.Do(GILThread, func() {
		ray, _ := py.global("ray")
		sd := py.attr(ray, "shutdown")
		res := py.call(py.c.CallNoArgs, sd)
		if res == 0 {
			err = py.fetchErr("ray.shutdown")
		}
		py.decref(res)
		py.decref(sd)
		py.decref(ray)
	})
	fmt.Printf("ray.shutdown %v (err %v); ", time.Since(t).Round(time.Millisecond), err)
	if how == "shutdown+finalize" {
		t = time.Now()
		var rc uintptr
		// Py_FinalizeEx on the interpreter's main thread, holding the GIL.
		py.Do(GILThread, func() { rc = py.call(py.c.FinalizeEx); py.final = true })
		fmt.Printf("Py_FinalizeEx %v rc %d; ", time.Since(t).Round(time.Millisecond), int32(rc))
	}
	return nil
}
