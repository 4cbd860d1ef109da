package main

// micro: the fixed cost of one Go -> Python operation in each GIL mode, without Ray: n calls
// of a Python identity function with an 8-byte bytes argument built from Go memory, the
// result copied back into Go (what Remote does, minus Ray). Also the bare purego call.

import (
	"flag"
	"fmt"
	"strings"
	"time"
)

func microMain(args []string) error {
	fs := flag.NewFlagSet("micro", flag.ExitOnError)
	c := commonFlags(fs)
	n := fs.Int("n", 200000, "calls per mode")
	modes := fs.String("modes", "ensure,pinned,thread", "GIL modes, in this order (ensure before pinned: once pinned ran, every thread it used keeps a thread state, and ensure on it then costs what pinned does)")
	fs.Parse(args)
	if c.python == "" {
		return fmt.Errorf("need -python (or FRAY_PYTHON)")
	}
	py, err := StartPython(c.python, "def ident(x):\n    return x\n")
	if err != nil {
		return err
	}
	var ident obj
	py.Do(GILThread, func() { ident, err = py.global("ident") })
	if err != nil {
		return err
	}
	arg := []byte("12345678")
	one := func() {
		a := py.pyBytes(arg)
		r := py.call(py.c.CallOneArg, ident, a)
		py.decref(a)
		if _, err := py.bytesOf(r); err != nil {
			panic(err)
		}
		py.decref(r)
	}
	// Held: all n calls under one acquisition: the cost of the calls themselves.
	t := time.Now()
	py.Do(GILThread, func() { // on the Python thread: leaves no thread state elsewhere
		for i := 0; i < *n; i++ {
			one()
		}
	})
	fmt.Printf("micro_call_gil_held %.0f ns/op\n", float64(time.Since(t).Nanoseconds())/float64(*n))
	t = time.Now()
	py.Do(GILThread, func() {
		for i := 0; i < *n; i++ {
			py.call(py.c.IncRef, ident)
			py.call(py.c.DecRef, ident)
		}
	})
	fmt.Printf("micro_purego_call %.0f ns/op (one of the two calls Py_IncRef+Py_DecRef)\n", float64(time.Since(t).Nanoseconds())/float64(2**n))
	for _, m := range strings.Split(*modes, ",") {
		mode := map[string]GILMode{"ensure": GILEnsure, "pinned": GILPinned, "thread": GILThread}[m]
		t = time.Now()
		for i := 0; i < *n; i++ {
			py.Do(mode, one)
		}
		fmt.Printf("micro_op_%s %.0f ns/op (one GIL acquisition per call)\n", mode, float64(time.Since(t).Nanoseconds())/float64(*n))
	}
	return nil
}
