// The codec's value walk: for a type whose shape is not fixed, Marshal walks the value as
// the encoder will, catching cycles and over-deep paths (see codec_shape.go).

package fray

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// ref identifies a pointer, map or slice on the walk's current path.
type ref struct {
	p uintptr
	n int // a slice's length: a slice and its first element share an address
	t reflect.Type
}

// step is one element of the walk's current path, for messages.
type step struct {
	field string // ".Name" for a struct field
	index int    // element index, or -1
	key   reflect.Value
}

func (s step) String() string {
	switch {
	case s.field != "":
		return "." + s.field
	case s.key.IsValid():
		return fmt.Sprintf("[%v]", s.key)
	case s.index >= 0:
		return "[" + strconv.Itoa(s.index) + "]"
	}
	return ""
}

// walker walks one value.
type walker struct {
	deepest int // the most levels of arrays and maps on any path so far (an over-estimate)
	opaque  bool
	path    []step // the current path past MaxNesting steps
	// onPath maps the pointers, maps and slices on the current path beyond MaxNesting steps
	// to their place in path. A cycle repeats forever, so it is caught past any threshold;
	// starting late keeps the map out of the way of ordinary values.
	onPath map[ref]int
	// lastT and lastS cache the most recent shape lookup: elements of a []any or
	// map[string]any tend to share a type.
	lastT reflect.Type
	lastS shape
}

var errCyclic = errors.New("cyclic value")

func (w *walker) shape(t reflect.Type) shape {
	if t != w.lastT {
		w.lastT, w.lastS = t, shapeOf(t)
	}
	return w.lastS
}

// walk walks v, which sits under depth levels of arrays and maps and steps steps.
func (w *walker) walk(v reflect.Value, depth, steps int) error {
	if v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		if v.CanInterface() {
			return w.walkAny(v.Interface(), depth, steps+1)
		}
		v, steps = v.Elem(), steps+1 // reached through an unexported embedded struct
	}
	if steps > maxSteps {
		return w.tooDeep()
	}
	t := v.Type()
	if s := w.shape(t); s.fixed {
		w.deepest = max(w.deepest, depth+s.depth)
		w.opaque = w.opaque || s.opaque
		return nil
	}
	if (t == sliceAnyT || t == mapStringAnyT) && v.CanInterface() {
		return w.walkAny(v.Interface(), depth, steps) // the faster walk
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		if err := w.push(v, steps); err != nil {
			return err
		}
		err := w.walk(v.Elem(), depth, steps+1)
		w.pop(v, steps)
		return err
	case reflect.Slice:
		if v.IsNil() {
			return nil // null
		}
		if err := w.push(v, steps); err != nil {
			return err
		}
		err := w.elems(v, depth+1, steps+1)
		w.pop(v, steps)
		return err
	case reflect.Array:
		return w.elems(v, depth+1, steps+1)
	case reflect.Map:
		if v.IsNil() {
			return nil // null
		}
		if err := w.push(v, steps); err != nil {
			return err
		}
		err := w.entries(v, depth+1, steps+1)
		w.pop(v, steps)
		return err
	case reflect.Struct:
		if t == tagT { // tag number and content: counted as a level (tags on tags are)
			if v.IsZero() {
				return nil
			}
			w.deepest = max(w.deepest, depth+1)
			return w.walk(v.FieldByName("Content"), depth+1, steps+1)
		}
		depth++
		si := dynamicFieldsOf(t)
		w.deepest = max(w.deepest, depth+si.depth)
		w.opaque = w.opaque || si.opaque
		for _, f := range si.fields {
			w.enter(step{field: f.name, index: -1}, steps+1)
			err := w.walk(v.Field(f.index), depth, steps+1)
			w.leave(steps + 1)
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// walkAny is walk for the value in an interface. The shapes a decoded or hand-built
// dynamic value is made of are told apart by a type switch, not reflection: for a []any of
// numbers, the walk then costs about what the encoder's own fast path does.
func (w *walker) walkAny(x any, depth, steps int) error {
	if isScalar(x) {
		return nil
	}
	switch x := x.(type) {
	case []any:
		if len(x) == 0 {
			w.deepest = max(w.deepest, depth+1)
			return nil
		}
		if steps > maxSteps {
			return w.tooDeep()
		}
		var rv reflect.Value // made only where references are tracked: ValueOf allocates here
		if steps > MaxNesting {
			rv = reflect.ValueOf(x)
			if err := w.push(rv, steps); err != nil {
				return err
			}
		}
		depth++
		w.deepest = max(w.deepest, depth)
		for i, e := range x {
			if isScalar(e) {
				continue
			}
			w.enter(step{index: i}, steps+1)
			err := w.walkAny(e, depth, steps+1)
			w.leave(steps + 1)
			if err != nil {
				return err
			}
		}
		if rv.IsValid() {
			w.pop(rv, steps)
		}
		return nil
	case map[string]any:
		if len(x) == 0 {
			w.deepest = max(w.deepest, depth+1)
			return nil
		}
		if steps > maxSteps {
			return w.tooDeep()
		}
		var rv reflect.Value
		if steps > MaxNesting {
			rv = reflect.ValueOf(x)
			if err := w.push(rv, steps); err != nil {
				return err
			}
		}
		depth++
		w.deepest = max(w.deepest, depth)
		for k, e := range x {
			if isScalar(e) {
				continue
			}
			if steps+1 > MaxNesting {
				w.enter(step{index: -1, key: reflect.ValueOf(k)}, steps+1)
			}
			err := w.walkAny(e, depth, steps+1)
			w.leave(steps + 1)
			if err != nil {
				return err
			}
		}
		if rv.IsValid() {
			w.pop(rv, steps)
		}
		return nil
	}
	return w.walk(reflect.ValueOf(x), depth, steps)
}

// isScalar reports whether x is nil or of a predeclared scalar type (or []byte): nothing to
// walk. Checked before a call, as it is the common element of a []any or map[string]any.
func isScalar(x any) bool {
	switch x.(type) {
	case nil, string, int, int64, float64, bool, []byte, int8, int16, int32, uint, uint8, uint16, uint32, uint64, float32:
		return true
	}
	return false
}

func (w *walker) tooDeep() error {
	return fmt.Errorf("value nests more than %d pointers, interfaces, arrays, maps and structs deep; the decoder accepts %d levels of arrays and maps: flatten it (a slice instead of a linked list, for example), or write it to storage and pass its path", maxSteps, MaxNesting)
}

// elems walks the elements of an array or slice that opens level depth.
func (w *walker) elems(v reflect.Value, depth, steps int) error {
	w.deepest = max(w.deepest, depth)
	for i := 0; i < v.Len(); i++ {
		w.enter(step{index: i}, steps)
		err := w.walk(v.Index(i), depth, steps)
		w.leave(steps)
		if err != nil {
			return err
		}
	}
	return nil
}

// entries walks the keys and values of a map that opens level depth.
func (w *walker) entries(v reflect.Value, depth, steps int) error {
	w.deepest = max(w.deepest, depth)
	it := v.MapRange()
	for it.Next() {
		k := it.Key()
		w.enter(step{index: -1, key: k}, steps)
		err := w.walk(k, depth, steps)
		if err == nil {
			err = w.walk(it.Value(), depth, steps)
		}
		w.leave(steps)
		if err != nil {
			return err
		}
	}
	return nil
}

// enter adds s, met steps steps into the value, to the path, which is kept (for messages)
// where references are tracked: past MaxNesting steps.
func (w *walker) enter(s step, steps int) {
	if steps > MaxNesting {
		w.path = append(w.path, s)
	}
}

// leave undoes enter.
func (w *walker) leave(steps int) {
	if steps > MaxNesting {
		w.path = w.path[:len(w.path)-1]
	}
}

// refOf identifies the pointer, map or slice v.
func refOf(v reflect.Value) ref {
	r := ref{p: v.Pointer(), t: v.Type()}
	if v.Kind() == reflect.Slice {
		r.n = v.Len()
	}
	return r
}

// push puts the pointer, map or slice v, met steps steps into the value, on the current
// path, and refuses it if it is there already: the value contains itself. Only past
// MaxNesting steps, which a cycle is certain to pass and ordinary values rarely reach.
func (w *walker) push(v reflect.Value, steps int) error {
	if steps <= MaxNesting {
		return nil
	}
	if w.onPath == nil {
		w.onPath = map[ref]int{}
	}
	r := refOf(v)
	if at, ok := w.onPath[r]; ok {
		how := "through " + w.where(at)
		if how == "through value" {
			how = "through pointers and interfaces alone"
		}
		return fmt.Errorf("%w: a %s refers back to itself %s; the codec writes trees, not graphs: break the cycle (tag the back-reference field `cbor:\"-\"` and rebuild it after decoding, or refer to elements by index or id)", errCyclic, v.Type(), how)
	}
	w.onPath[r] = len(w.path)
	return nil
}

// pop takes v, pushed at steps, off the current path.
func (w *walker) pop(v reflect.Value, steps int) {
	if steps > MaxNesting {
		delete(w.onPath, refOf(v))
	}
}

// where renders the current path from element from on, for messages ("value" when empty).
func (w *walker) where(from int) string {
	var b strings.Builder
	for _, s := range w.path[from:] {
		b.WriteString(s.String())
		if b.Len() > 200 {
			b.WriteString("...")
			break
		}
	}
	if b.Len() == 0 {
		return "value"
	}
	return b.String()
}
