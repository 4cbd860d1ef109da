package cpython

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// venvPython is the test Python: $FRAY_PYTHON, else the repository's ./.venv (what
// scripts/setup-python.sh makes and scripts/test.sh exports).
func venvPython(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("FRAY_PYTHON"); p != "" {
		return p
	}
	p, err := filepath.Abs("../../../../.venv/bin/python")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("no Python to embed: set FRAY_PYTHON or run scripts/setup-python.sh (%v)", err)
	}
	return p
}

func TestEmbed(t *testing.T) {
	in, err := Load(venvPython(t))
	if err != nil {
		t.Fatal(err)
	}
	if again, err := Load(venvPython(t)); err != nil || again != in {
		t.Fatalf("second Load = %p, %v; want the same interpreter", again, err)
	}
	if _, err := Load("/nonexistent/python"); err == nil {
		t.Fatal("Load of another python succeeded in a process that runs one")
	}

	in.Do(func() {
		b, err := in.Import("builtins")
		if err != nil {
			t.Fatal(err)
		}
		defer in.DecRef(b)
		length, _ := in.Attr(b, "len")
		defer in.DecRef(length)
		by := in.Bytes([]byte("ab"), nil, []byte("cde"))
		defer in.DecRef(by)
		n, err := in.Call("len", length, by)
		if err != nil {
			t.Fatal(err)
		}
		if v, err := in.Int(n); err != nil || v != 5 {
			t.Fatalf("len(b'abcde') = %d, %v", v, err)
		}
		in.DecRef(n)
		if v, err := in.BytesValue(by); err != nil || string(v) != "abcde" {
			t.Fatalf("bytes value = %q, %v", v, err)
		}
		s := in.String("héllo")
		if got := in.Str(s); got != "héllo" {
			t.Fatalf("str = %q", got)
		}
		in.DecRef(s)

		_, err = in.Import("fray_no_such_module")
		var pe *Error
		if !errors.As(err, &pe) || pe.Type != "ModuleNotFoundError" {
			t.Fatalf("import of a missing module: %v", err)
		}
	})

	// The main thread is Python's main thread.
	in.Main(func() {
		th, err := in.Import("threading")
		if err != nil {
			t.Fatal(err)
		}
		defer in.DecRef(th)
		cur, _ := in.Attr(th, "current_thread")
		main, _ := in.Attr(th, "main_thread")
		a, _ := in.Call("current_thread", cur)
		b, _ := in.Call("main_thread", main)
		if a != b {
			t.Error("Main did not run on Python's main thread")
		}
		for _, o := range []Object{cur, main, a, b} {
			in.DecRef(o)
		}
	})

	// Many goroutines, each on its own thread state, take turns with the GIL.
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				in.Do(func() {
					o := in.Bytes([]byte("x"))
					in.DecRef(o)
				})
			}
		}()
	}
	wg.Wait()
}

func TestSignalsRestored(t *testing.T) {
	s := SaveSignals()
	if changed := s.Restore(); len(changed) != 0 {
		t.Fatalf("nothing changed, but Restore put back %v", changed)
	}
}
