package fray

import (
	"bytes"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// link is a linked list: n links encode to n nested maps.
type link struct {
	Label string
	Next  *link
}

// chainOf returns a list of n links (nil for 0).
func chainOf(n int) *link {
	var head *link
	for i := 0; i < n; i++ {
		head = &link{Label: "x", Next: head}
	}
	return head
}

// treeNode has a back-reference the encoder skips: not a cycle for the codec.
type treeNode struct {
	Name     string
	Children []*treeNode
	Parent   *treeNode `cbor:"-"`
}

// embedOuter flattens embedInner's fields into itself: one level per link, where a walk
// that does not know the encoder's flattening would count two.
type embedOuter struct {
	embedInner
}

type embedInner struct {
	Next *embedOuter
}

func embedChain(n int) *embedOuter {
	var head *embedOuter
	for i := 0; i < n; i++ {
		head = &embedOuter{embedInner{Next: head}}
	}
	return head
}

// withHidden flattens an unexported struct's exported field into itself.
type withHidden struct{ hiddenEmbed }

type hiddenEmbed struct{ V any }

// anyBox holds an interface: its shape is known only per value.
type anyBox struct{ V any }

func nestedSlices(n int) any {
	var v any = 1
	for i := 0; i < n; i++ {
		v = []any{v}
	}
	return v
}

func nestedMaps(n int) any {
	var v any = "leaf"
	for i := 0; i < n; i++ {
		v = map[string]any{"k": v}
	}
	return v
}

// deepRaw is a cbor.RawMessage (an opaque cbor.Marshaler) of n nested one-element arrays.
func deepRaw(n int) cbor.RawMessage {
	return append(bytes.Repeat([]byte{0x81}, n), 0x00)
}

// TestMarshalRefusesCycles: cyclic values give a *SerializationError that says what to do,
// instead of overflowing the encoder's stack (a fatal error no recover catches).
func TestMarshalRefusesCycles(t *testing.T) {
	self := &link{Label: "a"}
	self.Next = self
	ring := chainOf(3)
	ring.Next.Next.Next = ring
	m := map[string]any{"a": 1}
	m["self"] = m
	s := make([]any, 2)
	s[1] = s
	var iface any
	iface = &iface
	box := &anyBox{}
	box.V = box
	hidden := &withHidden{}
	hidden.V = hidden // reflect cannot Interface() fields reached through hiddenEmbed
	cases := []struct {
		name string
		v    any
		want string // in the message
	}{
		{"pointer to itself", self, "through .Next"},
		{"ring of three", ring, ".Next.Next.Next"},
		{"map holding itself", m, `[self]`},
		{"slice holding itself", s, "[1]"},
		{"pointer cycle through an interface", iface, "pointers and interfaces alone"},
		{"struct through its interface field", box, ".V"},
		{"cycle below an ok prefix", []any{"ok", map[string]any{"n": self}}, "*fray.link"},
		{"through an unexported embedded struct", hidden, ".V"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Marshal(c.v)
			var se *SerializationError
			if !errors.As(err, &se) || se.Op != "encode" {
				t.Fatalf("Marshal = %v, want a *SerializationError", err)
			}
			if !errors.Is(err, errCyclic) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "break the cycle") {
				t.Fatalf("Marshal error %q: want a cycle error mentioning %q and what to do", err, c.want)
			}
		})
	}
}

// TestMarshalAcceptsSharedAndSkipped: what looks like a cycle but is not one for the encoder
// is accepted: a node shared by two paths (a DAG is written as a tree), a back-reference
// tagged `cbor:"-"`.
func TestMarshalAcceptsSharedAndSkipped(t *testing.T) {
	shared := chainOf(200) // deep enough that the walk tracks references
	dag := []any{map[string]any{"a": shared, "b": shared}, shared}
	root := &treeNode{Name: "root"}
	for i := 0; i < 3; i++ {
		c := &treeNode{Name: "c", Parent: root}
		c.Children = []*treeNode{{Name: "leaf", Parent: c}}
		root.Children = append(root.Children, c)
	}
	for _, v := range []any{dag, root} {
		b, err := Marshal(v)
		if err != nil {
			t.Fatalf("Marshal(%T) = %v", v, err)
		}
		var out any
		if err := Unmarshal(b, &out); err != nil {
			t.Fatalf("Unmarshal: %v", err)
		}
	}
}

// TestMarshalNestingLimit: a value exactly MaxNesting levels deep encodes and decodes; one
// level more fails at Marshal, not at Unmarshal in another process. For every shape,
// including ones the walk over-counts (embedded structs) and opaque ones (a RawMessage).
func TestMarshalNestingLimit(t *testing.T) {
	shapes := []struct {
		name string
		make func(n int) any
		into func() any // a typed destination
	}{
		{"linked list", func(n int) any { return chainOf(n) }, func() any { return new(*link) }},
		{"slices in interfaces", nestedSlices, func() any { return new(any) }},
		{"maps in interfaces", nestedMaps, func() any { return new(any) }},
		{"embedded structs", func(n int) any { return embedChain(n) }, func() any { return new(*embedOuter) }},
		{"raw CBOR", func(n int) any { return deepRaw(n) }, func() any { return new(any) }},
		{"list in a box", func(n int) any { return anyBox{V: chainOf(n - 1)} }, func() any { return new(any) }},
	}
	for _, s := range shapes {
		t.Run(s.name, func(t *testing.T) {
			b, err := Marshal(s.make(MaxNesting))
			if err != nil {
				t.Fatalf("Marshal at %d levels = %v, want success", MaxNesting, err)
			}
			if err := Unmarshal(b, s.into()); err != nil {
				t.Fatalf("Unmarshal at %d levels = %v: the deepest encodable value must decode", MaxNesting, err)
			}
			_, err = Marshal(s.make(MaxNesting + 1))
			var se *SerializationError
			if !errors.As(err, &se) || !strings.Contains(err.Error(), "levels") {
				t.Fatalf("Marshal at %d levels = %v, want a *SerializationError about nesting", MaxNesting+1, err)
			}
		})
	}
}

// TestMarshalFarTooDeep: a value thousands of levels deep is refused by the walk, before
// the encoder recurses through it.
func TestMarshalFarTooDeep(t *testing.T) {
	for _, v := range []any{chainOf(1_000_000), nestedSlices(100_000)} {
		_, err := Marshal(v)
		if !errors.Is(err, ErrSerialization) || !strings.Contains(err.Error(), "deep") {
			t.Fatalf("Marshal(%T very deep) = %v, want a serialization error about depth", v, err)
		}
	}
}

// TestEncodeErrorCyclicCause: a registered error whose value is cyclic cannot travel as
// itself, but the error still does (as a RemoteError), without crashing the process that
// reports it.
func TestEncodeErrorCyclicCause(t *testing.T) {
	RegisterError[*cyclicErr]("fray.test.cyclicErr")
	e := &cyclicErr{Msg: "loop"}
	e.Self = e
	err := DecodeError(EncodeError(&TaskError{Task: "t", Message: e.Error(), TypeName: "*fray.cyclicErr", Cause: e}))
	var re *RemoteError
	if !errors.As(err, &re) || re.Message != "loop" {
		t.Fatalf("decoded %v (%T), want a RemoteError with the message", err, err)
	}
}

type cyclicErr struct {
	Msg  string
	Self *cyclicErr
}

func (e *cyclicErr) Error() string { return e.Msg }

func TestShapeOf(t *testing.T) {
	cases := []struct {
		v      any
		fixed  bool
		depth  int
		opaque bool
	}{
		{1, true, 0, false},
		{"s", true, 0, false},
		{[]byte("b"), true, 0, false},
		{[4]byte{}, true, 0, false},
		{[]float64{}, true, 1, false},
		{map[string][]int{}, true, 2, false},
		{okConfig{}, false, 0, false}, // Meta is map[string]any
		{struct{ A struct{ B []string } }{}, true, 3, false},
		{struct {
			Hidden chan int `cbor:"-"`
			N      int
		}{}, true, 1, false},
		{struct {
			Skip *link `json:"-"`
		}{}, true, 1, false},
		{link{}, false, 0, false}, // recursive
		{[]any{}, false, 0, false},
		{cbor.RawMessage{}, true, 0, true},
		{Ref[int]{}, true, 1, false},
		{[]Ref[int]{}, true, 2, false},
	}
	for _, c := range cases {
		s := shapeOf(reflect.TypeOf(c.v))
		if s.fixed != c.fixed || (c.fixed && (s.depth != c.depth || s.opaque != c.opaque)) {
			t.Errorf("shapeOf(%T) = %+v, want fixed %v depth %d opaque %v", c.v, s, c.fixed, c.depth, c.opaque)
		}
	}
}

// FuzzNestingAgrees builds values of every nesting shape from the input (one wrapper per
// byte) and checks that Marshal and the decoder agree: what Marshal encodes decodes, and
// what Marshal refuses for depth really is deeper than the decoder accepts.
func FuzzNestingAgrees(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3})
	f.Add(bytes.Repeat([]byte{0}, MaxNesting))
	f.Add(bytes.Repeat([]byte{3}, MaxNesting+1))
	f.Add(append(bytes.Repeat([]byte{1, 4}, MaxNesting/2), 5))
	f.Add(bytes.Repeat([]byte{6, 2}, MaxNesting))
	f.Fuzz(func(t *testing.T, shape []byte) {
		if len(shape) > 3*MaxNesting {
			return
		}
		var v any = "leaf"
		for _, c := range shape {
			switch c % 8 {
			case 0:
				v = []any{v}
			case 1:
				v = map[string]any{"k": v}
			case 2:
				v = &anyBox{V: v}
			case 3:
				v = &embedBox{anyInner{V: v}}
			case 4:
				p := v
				v = &p // a pointer to an interface: no level
			case 5:
				v = cbor.Tag{Number: 100, Content: v}
			case 6:
				v = [1]any{v}
			case 7:
				v = []map[string]any{{"k": v}} // two levels
			}
		}
		b, err := Marshal(v)
		if err == nil {
			var out any
			if err := Unmarshal(b, &out); err != nil {
				t.Fatalf("Marshal accepted a value the decoder refuses: %v", err)
			}
			return
		}
		if !errors.Is(err, ErrSerialization) {
			t.Fatalf("Marshal error %v is not a serialization error", err)
		}
		raw, rawErr := encMode.Marshal(v) // acyclic and bounded: safe without the check
		if rawErr != nil {
			t.Fatalf("Marshal refused a value (%v) that the encoder writes (%v)", err, rawErr)
		}
		if decMode.Wellformed(raw) == nil {
			t.Fatalf("Marshal refused a value the decoder accepts: %v", err)
		}
	})
}

type embedBox struct{ anyInner }

type anyInner struct{ V any }

// BenchmarkShapeCheck measures the shape check Marshal runs before encoding against the
// encoding itself, in the same run: "check" is the added cost, "encode" the baseline. Values
// of fixed-shape types (struct, floats) are settled by their type; dynamic ones are walked.
func BenchmarkShapeCheck(b *testing.B) {
	floats := make([]float64, 100_000)
	byKey := map[string]any{}
	for i := 0; i < 1000; i++ {
		byKey["k"+strconv.Itoa(i)] = []any{i, "s", 1.5}
	}
	ints := make([]any, 10_000)
	for i := range ints {
		ints[i] = i
	}
	records := make([]any, 1000)
	for i := range records {
		records[i] = map[string]any{"id": i, "name": "x", "score": 0.5}
	}
	type plain struct {
		A, B int
		C    string
		D    []float64
	}
	for _, c := range []struct {
		name string
		v    any
	}{
		{"struct", plain{1, 2, "x", []float64{1, 2, 3}}},
		{"floats100k", floats},
		{"mapOfSlices1000", byKey},
		{"anyInts10k", ints},
		{"records1000", records},
		{"structWithMap", okConfig{Meta: map[string]any{"a": 1}}},
	} {
		b.Run(c.name+"/encode", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				_, _ = encMode.Marshal(c.v)
			}
		})
		b.Run(c.name+"/check", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				_, _ = checkShape(c.v, codecTypeOf(reflect.TypeOf(c.v)).shape)
			}
		})
	}
}
