package fray

import (
	"bytes"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"
)

type okConfig struct {
	Name  string
	Paths []string
	Meta  map[string]any
	When  time.Time
	Big   *big.Int
	Inner struct{ N int }
	Local int `cbor:"-"`
}

type hiddenField struct {
	Name string
	n    int
}

type withChan struct{ C chan int }

type customErr struct{ Code int }

func (e *customErr) Error() string { return "custom" }

func TestMarshalRoundTrip(t *testing.T) {
	in := okConfig{Name: "x", Paths: []string{"a", "b"}, Meta: map[string]any{"k": "v", "n": uint64(3)},
		When: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), Big: big.NewInt(42), Local: 9}
	in.Inner.N = 7
	b, err := Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out okConfig
	if err := Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out.Name != in.Name || len(out.Paths) != 2 || out.Meta["k"] != "v" || !out.When.Equal(in.When) ||
		out.Big.Cmp(in.Big) != 0 || out.Inner.N != 7 || out.Local != 0 {
		t.Fatalf("round trip = %+v", out)
	}
}

func TestMarshalRejects(t *testing.T) {
	cases := []struct {
		name string
		v    any
		want string
	}{
		{"unexported field", hiddenField{Name: "a", n: 1}, `unexported field "n"`},
		{"nested unexported", struct{ H []hiddenField }{}, `unexported field "n"`},
		{"chan", make(chan int), "chan"},
		{"func", func() {}, "func"},
		{"chan field", withChan{}, "field C"},
		{"complex", complex(1, 2), "complex"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Marshal(c.v)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Marshal(%T) = %v, want error containing %q", c.v, err, c.want)
			}
			if !errors.Is(err, ErrSerialization) {
				t.Fatalf("%v is not ErrSerialization", err)
			}
		})
	}
}

func TestUnmarshalMalformed(t *testing.T) {
	var v okConfig
	for _, b := range [][]byte{{}, {0xff}, {0x9f}, {0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}} {
		if err := Unmarshal(b, &v); !errors.Is(err, ErrSerialization) {
			t.Errorf("Unmarshal(%x) = %v, want ErrSerialization", b, err)
		}
	}
}

func TestErrorRoundTrip(t *testing.T) {
	RegisterError[*customErr]("fray_test.customErr")
	cases := []struct {
		err   error
		check func(error) bool
	}{
		{&TaskError{Task: "t", TypeName: "*errors.errorString", Message: "boom", Cause: errors.New("boom")},
			func(e error) bool {
				var re *RemoteError
				return errors.Is(e, ErrTaskFailed) && errors.As(e, &re) && re.Message == "boom"
			}},
		{wrapTaskError("t", "id", &customErr{Code: 7}),
			func(e error) bool {
				var ce *customErr
				return errors.As(e, &ce) && ce.Code == 7
			}},
		{&TaskError{Task: "t", Message: "p", Panic: true, Stack: "goroutine 1", Cause: errors.New("p")},
			func(e error) bool {
				var te *TaskError
				return errors.As(e, &te) && te.Panic && te.Stack == "goroutine 1"
			}},
		{wrapTaskError("outer", "", &ActorDiedError{ActorID: "a9", Reason: "killed"}),
			func(e error) bool {
				var ad *ActorDiedError
				return errors.Is(e, ErrTaskFailed) && errors.As(e, &ad) && ad.ActorID == "a9"
			}},
		{&ActorDiedError{ActorID: "a1", Name: "n", Reason: "killed"},
			func(e error) bool {
				var ad *ActorDiedError
				return errors.As(e, &ad) && ad.Reason == "killed" && !ad.Restarting && errors.Is(e, ErrActorDied)
			}},
		{&ActorDiedError{ActorID: "a2", Reason: "its process died", Restarting: true},
			func(e error) bool {
				var ad *ActorDiedError
				return errors.As(e, &ad) && ad.Restarting && errors.Is(e, ErrActorDied) && strings.Contains(e.Error(), "restarting")
			}},
		{&WorkerDiedError{Task: "t", Reason: "signal: killed"}, func(e error) bool { return errors.Is(e, ErrWorkerDied) }},
		{&CancelledError{TaskID: "x"}, func(e error) bool { return errors.Is(e, ErrCancelled) }},
		{&InfeasibleError{Resource: "GPU", Requested: 2, Capacity: 1},
			func(e error) bool {
				var ie *InfeasibleError
				return errors.As(e, &ie) && ie.Requested == 2 && ie.Capacity == 1
			}},
		{&UnknownNameError{What: "task", Name: "x"}, func(e error) bool { return errors.Is(e, ErrUnknownName) }},
		{&RuntimeEnvError{Detail: "pip said no"}, func(e error) bool { return errors.Is(e, ErrRuntimeEnv) && strings.Contains(e.Error(), "pip said no") }},
		{&ObjectLostError{ObjectID: "o", Reason: "freed"}, func(e error) bool { return errors.Is(e, ErrObjectLost) }},
		{&UnsupportedError{Backend: "local", Feature: "MaxCalls"}, func(e error) bool { return errors.Is(e, ErrUnsupported) }},
		{newKind(ErrNameTaken, "taken"), func(e error) bool { return errors.Is(e, ErrNameTaken) }},
		{errors.New("plain"), func(e error) bool { return e.Error() == "plain" }},
	}
	for _, c := range cases {
		got := DecodeError(EncodeError(c.err))
		if !c.check(got) {
			t.Errorf("round trip of %T %q gave %T %q", c.err, c.err, got, got)
		}
		if got.Error() != c.err.Error() {
			t.Errorf("message changed: %q -> %q", c.err, got)
		}
	}
}

func FuzzDecodeError(f *testing.F) {
	f.Add(EncodeError(&TaskError{Task: "t", Message: "m"}))
	f.Add(EncodeError(&ActorDiedError{ActorID: "a"}))
	f.Add([]byte{0xa1, 0x61, 0x6b, 0x64, 0x74, 0x61, 0x73, 0x6b})
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := DecodeError(b); err == nil {
			t.Fatal("DecodeError returned nil")
		}
	})
}

func FuzzUnmarshal(f *testing.F) {
	b, _ := Marshal(okConfig{Name: "x", Paths: []string{"a"}})
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var v okConfig
		_ = Unmarshal(b, &v)
		var a any
		_ = Unmarshal(b, &a)
	})
}

// The []byte fast paths must agree with the general encoder and decoder byte for byte.
func TestByteSliceFastPaths(t *testing.T) {
	for _, n := range []int{0, 1, 23, 24, 255, 256, 65535, 65536, 1 << 20} {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i * 7)
		}
		got, err := Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		want, err := encMode.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("len %d: fast encoding %x... differs from the general one %x...", n, got[:min(12, len(got))], want[:min(12, len(want))])
		}
		v, ok := aliasBytes[[]byte](got)
		if !ok || !bytes.Equal(v, b) {
			t.Fatalf("len %d: aliasBytes = %v, %v", n, len(v), ok)
		}
		if n > 0 && &v[0] != &got[len(got)-n] {
			t.Fatalf("len %d: aliasBytes copied", n)
		}
		if cap(v) != len(v) {
			t.Fatalf("len %d: an aliased slice must not be able to append into the buffer", n)
		}
	}
	// What the fast decoder declines, the general decoder handles.
	for name, data := range map[string][]byte{
		"null":              {0xf6},
		"text":              {0x63, 'a', 'b', 'c'},
		"indefinite":        {0x5f, 0x41, 'a', 0xff},
		"trailing":          {0x41, 'a', 0x00},
		"truncated":         {0x59, 0x01},
		"empty":             {},
		"short of its head": {0x5a, 0, 0, 0, 9, 'a'},
	} {
		if _, ok := aliasBytes[[]byte](data); ok {
			t.Errorf("%s: aliasBytes accepted %x", name, data)
		}
	}
	if _, ok := aliasBytes[string]([]byte{0x41, 'a'}); ok {
		t.Error("aliasBytes applies to []byte only")
	}
	if got, _ := Marshal([]byte(nil)); !bytes.Equal(got, []byte{0xf6}) {
		t.Errorf("nil []byte encodes as %x, want null (f6) as before", got)
	}
}

func FuzzAliasBytes(f *testing.F) {
	f.Add([]byte{0x43, 1, 2, 3})
	f.Add([]byte{0x58, 2, 1, 2})
	f.Add([]byte{0x5f, 0x41, 'a', 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		v, ok := aliasBytes[[]byte](data)
		if !ok {
			return
		}
		want, err := decodeAs[[]byte](data)
		if err != nil {
			t.Fatalf("aliasBytes accepted %x, which the decoder rejects: %v", data, err)
		}
		if !bytes.Equal(v, want) {
			t.Fatalf("aliasBytes(%x) = %x, decoder says %x", data, v, want)
		}
	})
}
