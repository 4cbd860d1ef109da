package worker

import (
	"errors"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
	"github.com/fray-go/fray/internal/wire"
)

// servePipes runs Serve in-process and returns the parent's ends of its pipes.
func servePipes(t *testing.T) (*wire.Writer, *wire.Reader, io.Closer, chan int) {
	t.Helper()
	cr, pw := io.Pipe()
	pr, cw := io.Pipe()
	code := make(chan int, 1)
	go func() {
		code <- Serve(cr, cw)
		cw.Close()
	}()
	w, r := wire.NewWriter(pw, 0), wire.NewReader(pr, 0)
	if err := w.Write(wire.TypeHello, 1, &wire.Hello{Version: wire.Version, JobID: "j", Digest: backend.RegistryDigest()}); err != nil {
		t.Fatal(err)
	}
	f, err := r.Read()
	if err != nil || f.Type != wire.TypeHelloOK {
		t.Fatalf("handshake: %v %v", f.Type, err)
	}
	t.Cleanup(func() { pr.Close() })
	return w, r, pw, code
}

// Calls to one actor start in arrival order: frames written back to back are answered with
// the list of arguments seen so far, which must grow in request order.
func TestServeActorCallsInArrivalOrder(t *testing.T) {
	w, r, in, code := servePipes(t)
	arg := func(v int) []byte { b, _ := fray.Marshal(v); return b }
	if err := w.Write(wire.TypeCreateActor, 2, &wire.CreateActor{Class: "wtest.Counter", Arg: arg(0), ActorID: "a"}); err != nil {
		t.Fatal(err)
	}
	const n = 50
	for i := range n {
		if err := w.Write(wire.TypeCallActor, uint64(10+i), &wire.CallActor{ActorID: "a", Method: "wtest.Counter.Append", Arg: arg(i)}); err != nil {
			t.Fatal(err)
		}
	}
	for range n + 1 {
		f, err := r.Read()
		if err != nil {
			t.Fatal(err)
		}
		var res wire.Result
		if err := f.Decode(&res); err != nil {
			t.Fatal(err)
		}
		if res.Err != nil {
			t.Fatalf("request %d: %v", f.ID, fray.DecodeError(res.Err))
		}
		if f.ID < 10 {
			continue
		}
		var seen []int
		if err := fray.Unmarshal(res.Data, &seen); err != nil {
			t.Fatal(err)
		}
		i := int(f.ID - 10)
		if len(seen) != i+1 || seen[i] != i {
			t.Fatalf("call %d saw %v: calls ran out of order", i, seen)
		}
	}
	in.Close()
	if c := <-code; c != ExitOK {
		t.Fatalf("exit code %d", c)
	}
}

// Calls that run past inlineReadDelay hand the reader's role on; one after another, the
// goroutines they leave wait to read again (park) instead of piling up, and a Cancel sent
// during such a call still reaches it.
func TestServeLongCallsReuseReaders(t *testing.T) {
	w, r, in, code := servePipes(t)
	arg := func(v any) []byte { b, _ := fray.Marshal(v); return b }
	before := runtime.NumGoroutine()
	const n = 40
	most := 0
	for i := range n {
		d := 3 * inlineReadDelay
		if err := w.Write(wire.TypeRun, uint64(10+i), &wire.Run{Function: "wtest.sleep", Arg: arg(d)}); err != nil {
			t.Fatal(err)
		}
		f, err := r.Read()
		if err != nil {
			t.Fatal(err)
		}
		var res wire.Result
		if err := f.Decode(&res); err != nil || res.Err != nil || f.ID != uint64(10+i) {
			t.Fatalf("call %d: id %d %v %v", i, f.ID, err, fray.DecodeError(res.Err))
		}
		most = max(most, runtime.NumGoroutine())
	}
	if grown := most - before; grown > maxParkedReaders+4 {
		t.Fatalf("%d sequential long calls left %d more goroutines (at most %d parked readers expected)", n, grown, maxParkedReaders)
	}
	// a long call is still cancellable: some goroutine reads while it runs
	if err := w.Write(wire.TypeRun, 99, &wire.Run{Function: "wtest.sleep", Arg: arg(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * inlineReadDelay)
	if err := w.Write(wire.TypeCancel, 99, nil); err != nil {
		t.Fatal(err)
	}
	f, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	var res wire.Result
	if err := f.Decode(&res); err != nil || f.ID != 99 {
		t.Fatalf("id %d %v", f.ID, err)
	}
	var ce *fray.CancelledError
	if !errors.As(fray.DecodeError(res.Err), &ce) {
		t.Fatalf("cancelled long call answered %v, want a CancelledError", fray.DecodeError(res.Err))
	}
	in.Close()
	if c := <-code; c != ExitOK {
		t.Fatalf("exit code %d", c)
	}
}

// End of input ends the loop with code 0, cancelling what runs.
func TestServeExitsOnEOF(t *testing.T) {
	w, r, in, code := servePipes(t)
	if err := w.Write(wire.TypeRun, 2, &wire.Run{Function: "wtest.block", Arg: []byte{0x61, 'x'}}); err != nil {
		t.Fatal(err)
	}
	f, err := r.Read() // the task's nested Put
	if err != nil || f.Type != wire.TypePut {
		t.Fatalf("want nested Put, got %v %v", f.Type, err)
	}
	go func() { // the cancelled task's answer must be able to go out
		for {
			if _, err := r.Read(); err != nil {
				return
			}
		}
	}()
	in.Close()
	if c := <-code; c != ExitOK {
		t.Fatalf("exit code %d", c)
	}
}

func TestServeRefusesWrongVersion(t *testing.T) {
	cr, pw := io.Pipe()
	pr, cw := io.Pipe()
	code := make(chan int, 1)
	go func() { code <- Serve(cr, cw); cw.Close() }()
	w, r := wire.NewWriter(pw, 0), wire.NewReader(pr, 0)
	go w.Write(wire.TypeHello, 1, &wire.Hello{Version: 99, Digest: backend.RegistryDigest()})
	f, err := r.Read()
	if err != nil || f.Type != wire.TypeHelloErr {
		t.Fatalf("got %v %v", f.Type, err)
	}
	var he wire.HelloErr
	if err := f.Decode(&he); err != nil || he.Version != wire.Version {
		t.Fatalf("%+v %v", he, err)
	}
	if c := <-code; c != ExitHandshake {
		t.Fatalf("exit code %d", c)
	}
	pw.Close()
	pr.Close()
}
