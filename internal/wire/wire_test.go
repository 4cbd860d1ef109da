package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
)

func frameBytes(t Type, id uint64, body []byte) []byte { return AppendFrame(nil, t, id, body) }

func TestReadFrameTable(t *testing.T) {
	good := frameBytes(TypeRun, 7, []byte{0xa0})
	huge := make([]byte, 4)
	binary.BigEndian.PutUint32(huge, 0xffffffff)
	short := make([]byte, 4)
	binary.BigEndian.PutUint32(short, 5)
	overLimit := frameBytes(TypeResult, 1, make([]byte, MinMaxFrame))
	tests := []struct {
		name    string
		in      []byte
		max     int
		want    Frame
		wantErr error
	}{
		{"empty stream is EOF", nil, 0, Frame{}, io.EOF},
		{"good frame", good, 0, Frame{Type: TypeRun, ID: 7, Body: []byte{0xa0}}, nil},
		{"header only, empty body", frameBytes(TypeShutdown, 0, nil), 0, Frame{Type: TypeShutdown, Body: []byte{}}, nil},
		{"cut in length prefix", []byte{0, 0}, 0, Frame{}, io.ErrUnexpectedEOF},
		{"cut in header", good[:8], 0, Frame{}, io.ErrUnexpectedEOF},
		{"cut in body", good[:len(good)-1], 0, Frame{}, io.ErrUnexpectedEOF},
		{"length over default limit", huge, 0, Frame{}, ErrFrameTooLarge},
		{"length over configured limit", overLimit, MinMaxFrame, Frame{}, ErrFrameTooLarge},
		{"length below header size", append(short, 1, 2, 3, 4, 5), 0, Frame{}, ErrMalformed},
		{"max id", frameBytes(TypeResult, ^uint64(0), []byte{0xa0}), 0, Frame{Type: TypeResult, ID: ^uint64(0), Body: []byte{0xa0}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := ReadFrame(bytes.NewReader(tc.in), tc.max)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(f, tc.want) {
				t.Fatalf("frame = %+v, want %+v", f, tc.want)
			}
		})
	}
}

// A length prefix that promises 60 MiB on a stream of a few bytes must not allocate 60 MiB.
func TestLyingLengthDoesNotAllocate(t *testing.T) {
	in := make([]byte, 4, 20)
	binary.BigEndian.PutUint32(in, 60<<20)
	in = append(in, byte(TypeRun), 0, 0, 0, 0, 0, 0, 0, 1, 0xa0)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := ReadFrame(bytes.NewReader(in), 0)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v", err)
	}
	if d := after.TotalAlloc - before.TotalAlloc; d > 4<<20 {
		t.Fatalf("reading a frame that lies about its length allocated %d bytes", d)
	}
}

func TestWriterRefusesLargeFrame(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf, MinMaxFrame)
	err := w.Write(TypeResult, 1, &Result{Data: make([]byte, MinMaxFrame)})
	if !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("err = %v, want ErrFrameTooLarge", err)
	}
	if !strings.Contains(err.Error(), "storage") {
		t.Fatalf("error should say what to do: %v", err)
	}
	if buf.Len() != 0 {
		t.Fatalf("%d bytes written for a refused frame", buf.Len())
	}
	if err := w.Write(TypeResult, 2, &Result{Data: []byte("ok")}); err != nil {
		t.Fatalf("writer unusable after a refused frame: %v", err)
	}
}

// Every message type round-trips through Writer and Reader with its body intact.
func TestRoundTripAllMessages(t *testing.T) {
	three := 3
	msgs := []struct {
		t    Type
		body any
	}{
		{TypeHello, &Hello{Version: Version, JobID: "job1", Namespace: "ns", Digest: "abc", Manifest: []string{"task a(int) int"}, MaxFrame: 1 << 20, Options: WorkerOptions{ParentPID: 42, MaxInFlight: 2}}},
		{TypeHelloOK, &HelloOK{Version: Version, Digest: "abc", PID: 99}},
		{TypeHelloErr, &HelloErr{Message: "no", Digest: "d", MissingInWorker: []string{"x"}, MissingInParent: []string{"y"}, Version: 1}},
		{TypeRun, &Run{Function: "f", Arg: []byte{1, 2}, Info: TaskInfo{JobID: "j", TaskID: "t", Name: "n", Attempt: 2}}},
		{TypeCreateActor, &CreateActor{Class: "C", Arg: []byte{0xf6}, ActorID: "a1", MaxConcurrency: 4, Info: TaskInfo{ActorID: "a1"}}},
		{TypeCallActor, &CallActor{ActorID: "a1", Method: "C.m", Arg: []byte{1}}},
		{TypeResult, &Result{Data: []byte{9}}},
		{TypeResult, &Result{Err: fray.EncodeError(&fray.CancelledError{TaskID: "t"})}},
		{TypeResult, &Result{Objects: []Object{{Data: []byte{1}}, {Err: []byte{2}}}}},
		{TypeResult, &Result{Ready: []bool{true, false}}},
		{TypeResult, &Result{Actor: &ActorInfo{ID: "a", Class: "C", Name: "n", Namespace: "ns"}}},
		{TypeResult, &Result{ObjectID: "o1"}},
		{TypeCancel, nil},
		{TypeShutdown, nil},
		{TypeReleaseActor, &ReleaseActor{ActorID: "a1"}},
		{TypeSubmit, &Submit{Function: "f", ArgRef: "o1", Options: TaskOptions{Name: "x", Resources: map[string]float64{"CPU": 0.5}, MaxCalls: 1, MaxRetries: &three, RetryExceptions: true, RuntimeEnv: RuntimeEnv{Pip: []string{"six"}, Env: map[string]string{"A": "b"}}}}},
		{TypePut, &Put{Data: []byte{1}}},
		{TypeGet, &Get{IDs: []string{"a", "b"}}},
		{TypeWait, &Wait{IDs: []string{"a"}, NumReturns: 1, Timeout: 1.5}},
		{TypeCancelTask, &CancelTask{ObjectID: "o", Force: true}},
		{TypeCreateActorNested, &CreateActorNested{Class: "C", Arg: []byte{1}, Options: ActorOptions{Name: "n", Namespace: "ns", GetIfExists: true, Lifetime: "detached", MaxRestarts: -1, MaxTaskRetries: 2, MaxConcurrency: 3}}},
		{TypeGetActor, &GetActor{Origin: Origin{From: 5}, Name: "n", Namespace: "ns"}},
		{TypeCallActorNested, &CallActorNested{ActorID: "a", Method: "C.m", Arg: []byte{1}}},
		{TypeKillActor, &KillActor{ActorID: "a", NoRestart: true}},
		{TypeRelease, &Release{IDs: []string{"a"}}},
	}
	var buf bytes.Buffer
	w := NewWriter(&buf, 0)
	for i, m := range msgs {
		if err := w.Write(m.t, uint64(i+1), m.body); err != nil {
			t.Fatalf("%v: %v", m.t, err)
		}
	}
	r := NewReader(&buf, 0)
	for i, m := range msgs {
		f, err := r.Read()
		if err != nil {
			t.Fatalf("%v: %v", m.t, err)
		}
		if f.Type != m.t || f.ID != uint64(i+1) {
			t.Fatalf("frame %d: got %v/%d, want %v/%d", i, f.Type, f.ID, m.t, i+1)
		}
		if !f.Type.Known() {
			t.Fatalf("%v not Known", f.Type)
		}
		if m.body == nil {
			if !bytes.Equal(f.Body, emptyMap) {
				t.Fatalf("%v: body %x, want empty map", m.t, f.Body)
			}
			continue
		}
		got := reflect.New(reflect.TypeOf(m.body).Elem())
		if err := f.Decode(got.Interface()); err != nil {
			t.Fatalf("%v: %v", m.t, err)
		}
		if !reflect.DeepEqual(got.Interface(), m.body) {
			t.Fatalf("%v: decoded %+v, want %+v", m.t, got.Interface(), m.body)
		}
	}
	if _, err := r.Read(); err != io.EOF {
		t.Fatalf("after last frame: %v, want EOF", err)
	}
	// The embedded Origin is a flat key of the body, as PROTOCOL.md says.
	b, _ := EncodeBody(&Put{Origin: Origin{From: 3}, Data: []byte{1}})
	var m map[string]any
	if err := DecodeBody(b, &m); err != nil || m["fr"] != uint64(3) {
		t.Fatalf("Origin not flattened: %v %v", m, err)
	}
}

// The Python side may encode whole numbers as CBOR integers where Go has float64 fields.
func TestIntegersDecodeIntoFloatFields(t *testing.T) {
	// {"ids": [], "n": 1, "t": -1}
	body := []byte{0xa3, 0x63, 'i', 'd', 's', 0x80, 0x61, 'n', 0x01, 0x61, 't', 0x20}
	var w Wait
	if err := DecodeBody(body, &w); err != nil {
		t.Fatal(err)
	}
	if w.Timeout != -1 || w.NumReturns != 1 {
		t.Fatalf("got %+v", w)
	}
	if TimeoutDuration(w.Timeout) != fray.Forever {
		t.Fatalf("-1 should be Forever")
	}
	// {"resources": {"CPU": 2}}
	body = []byte{0xa1, 0x69, 'r', 'e', 's', 'o', 'u', 'r', 'c', 'e', 's', 0xa1, 0x63, 'C', 'P', 'U', 0x02}
	var o TaskOptions
	if err := DecodeBody(body, &o); err != nil {
		t.Fatal(err)
	}
	if o.Resources["CPU"] != 2 {
		t.Fatalf("got %+v", o)
	}
}

func TestDecodeBodyRejectsNonMap(t *testing.T) {
	for _, body := range [][]byte{{0x01}, {0x80}, {0xff}, {0xa1}, {0x5a, 0xff, 0xff, 0xff, 0xff}} {
		var r Result
		if err := DecodeBody(body, &r); !errors.Is(err, ErrMalformed) {
			t.Errorf("body %x: err = %v, want ErrMalformed", body, err)
		}
	}
}

func TestOptionsConversion(t *testing.T) {
	to := backend.TaskOptions{Name: "a", Resources: map[string]float64{"CPU": 1, "GPU": 1}, MaxCalls: 2, MaxRetries: 0,
		RetryExceptions: true, RuntimeEnv: backend.RuntimeEnv{PackageRequirements: []string{"six"}, Env: map[string]string{"K": "v"}}}
	if got := FromTaskOptions(to).Backend(); !reflect.DeepEqual(got, to) {
		t.Fatalf("task options: %+v != %+v", got, to)
	}
	for _, ao := range []backend.ActorOptions{
		{Name: "a", Namespace: "n", GetIfExists: true, Detached: true, Placement: map[string]float64{"CPU": 1},
			Held: map[string]float64{"CPU": 1}, MaxRestarts: 2, MaxTaskRetries: -1, MaxConcurrency: 3},
		{Placement: map[string]float64{"CPU": 1}, Held: map[string]float64{}, MaxConcurrency: 1}, // Ray's actor default
	} {
		got, err := FromActorOptions(ao).Backend()
		if err != nil || !reflect.DeepEqual(got, ao) {
			t.Fatalf("actor options: %+v != %+v (%v)", got, ao, err)
		}
	}
	ao := backend.ActorOptions{Name: "a", Namespace: "n", GetIfExists: true, Detached: true,
		Placement: map[string]float64{"CPU": 1}, Held: map[string]float64{"CPU": 1}, MaxRestarts: 2, MaxConcurrency: 3}
	if _, err := (ActorOptions{Lifetime: "forever"}).Backend(); !errors.Is(err, fray.ErrInvalidArgument) {
		t.Fatalf("unknown lifetime: %v", err)
	}
	// The option keys are the documented snake_case names.
	b, _ := EncodeBody(FromActorOptions(ao))
	for _, k := range []string{"name", "namespace", "get_if_exists", "lifetime", "resources", "max_restarts", "max_concurrency"} {
		if !bytes.Contains(b, []byte(k)) {
			t.Errorf("encoded actor options lack key %q", k)
		}
	}
}

func TestTimeoutConversion(t *testing.T) {
	tests := []struct {
		d    time.Duration
		s    float64
		back time.Duration
	}{
		{fray.Forever, -1, fray.Forever},
		{0, 0, 0},
		{1500 * time.Millisecond, 1.5, 1500 * time.Millisecond},
	}
	for _, tc := range tests {
		if s := TimeoutSeconds(tc.d); s != tc.s {
			t.Errorf("TimeoutSeconds(%v) = %v, want %v", tc.d, s, tc.s)
		}
		if d := TimeoutDuration(tc.s); d != tc.back {
			t.Errorf("TimeoutDuration(%v) = %v, want %v", tc.s, d, tc.back)
		}
	}
	if TimeoutDuration(1e300) != fray.Forever {
		t.Error("huge timeout should be Forever")
	}
}

func TestManifestDiff(t *testing.T) {
	tests := []struct {
		parent, worker []string
		mw, mp         []string
	}{
		{nil, nil, nil, nil},
		{[]string{"a", "b"}, []string{"a", "b"}, nil, nil},
		{[]string{"a", "b", "c"}, []string{"a"}, []string{"b", "c"}, nil},
		{[]string{"a"}, []string{"a", "z"}, nil, []string{"z"}},
		{[]string{"task f(int) int"}, []string{"task f(string) int"}, []string{"task f(int) int"}, []string{"task f(string) int"}},
	}
	for _, tc := range tests {
		mw, mp := ManifestDiff(tc.parent, tc.worker)
		if !reflect.DeepEqual(mw, tc.mw) || !reflect.DeepEqual(mp, tc.mp) {
			t.Errorf("ManifestDiff(%v, %v) = %v, %v; want %v, %v", tc.parent, tc.worker, mw, mp, tc.mw, tc.mp)
		}
	}
	e := &RegistryMismatchError{ParentDigest: "p", WorkerDigest: "w", MissingInWorker: []string{"task x(int) int"}}
	if !strings.Contains(e.Error(), "missing in the worker: task x(int) int") {
		t.Fatal(e.Error())
	}
}

func TestTypeString(t *testing.T) {
	if TypeSubmit.String() != "Submit" || Type(0xee).String() != "Type(0xee)" || Type(0xee).Known() {
		t.Fatal("type names")
	}
	if !TypeRelease.IsNested() || TypeRun.IsNested() {
		t.Fatal("IsNested")
	}
}

// The worked example in PROTOCOL.md is byte-exact.
func TestProtocolDocExample(t *testing.T) {
	arg, _ := fray.Marshal(7)
	var buf bytes.Buffer
	w := NewWriter(&buf, 0)
	if err := w.Write(TypeRun, 5, &Run{Function: "examples.square", Arg: arg, Info: TaskInfo{TaskID: "task-1"}}); err != nil {
		t.Fatal(err)
	}
	want := "0000002d04000000000000000" + "5" +
		"a361666f6578616d706c65732e7371756172656161410762746" + "9a16174667461736b2d31"
	if got := hexs(buf.Bytes()); got != want {
		t.Fatalf("Run frame\n got %s\nwant %s", got, want)
	}
	res, _ := fray.Marshal(49)
	buf.Reset()
	if err := w.Write(TypeResult, 5, &Result{Data: res}); err != nil {
		t.Fatal(err)
	}
	if got, want := hexs(buf.Bytes()), "0000000f070000000000000005a1616442183"+"1"; got != want {
		t.Fatalf("Result frame\n got %s\nwant %s", got, want)
	}
}

func hexs(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func TestManifestDigestMatchesRegistry(t *testing.T) {
	if got, want := ManifestDigest(backend.RegistryManifest()), backend.RegistryDigest(); got != want {
		t.Fatalf("ManifestDigest = %s, backend.RegistryDigest = %s", got, want)
	}
}
