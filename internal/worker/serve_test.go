package worker

import (
	"io"
	"testing"

	"github.com/fray-go/fray"
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
	if err := w.Write(wire.TypeHello, 1, &wire.Hello{Version: wire.Version, JobID: "j", Digest: fray.RegistryDigest()}); err != nil {
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
	go w.Write(wire.TypeHello, 1, &wire.Hello{Version: 99, Digest: fray.RegistryDigest()})
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
