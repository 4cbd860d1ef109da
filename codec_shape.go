package fray

import (
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"sync"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// The codec's shape check: what Marshal does before encoding so that a value the decoder
// would refuse, or that would crash the encoder, fails at the call site with a
// *SerializationError. fxamacker/cbor's EncOptions (v2.10) have no nesting or cycle limit: a
// cyclic value (n.Next = n) recurses until the goroutine's stack overflows, which kills the
// process (no recover), and a value nested deeper than DecOptions.MaxNestedLevels encodes
// fine and only fails at Get, in another process. So Marshal walks the value first, the way
// the encoder will, and:
//
//   - refuses a cycle (a pointer, map or slice met again inside itself);
//   - refuses a path of more than maxSteps pointers, interfaces and containers outright;
//   - otherwise keeps an over-estimate of how deeply arrays and maps nest, and when that
//     may exceed MaxNesting (or the value holds a cbor.Marshaler, whose output only the
//     bytes tell), checks the encoded bytes with the decoder's own well-formedness check,
//     so a value encodes exactly when it decodes.
//
// Types whose values are finite trees of known depth (no interfaces, no recursive types:
// most structs, []float64, map[string]int) are settled once per type and never walked.

// maxSteps bounds the pointers, interfaces, arrays, maps and structs on one path through a
// value. A value within MaxNesting levels takes a few steps per level; a path this long is
// either far too deep or a chain of pointers to pointers no decoder would produce.
const maxSteps = 16 * MaxNesting

// shape is what a type's values look like to the encoder.
type shape struct {
	// fixed: every value of the type is a finite tree at most depth levels deep (no
	// interfaces, not recursive), so its values need no walk.
	fixed bool
	// depth: for a fixed type, the most levels of arrays and maps its values encode to
	// (an over-estimate: embedded structs count as a level though the encoder flattens them).
	depth int
	// opaque: the type holds a cbor.Marshaler, whose output's depth only the bytes tell.
	opaque bool
}

var (
	shapes       sync.Map // reflect.Type → shape
	structFields sync.Map // reflect.Type → []fieldRef

	tagT          = reflect.TypeOf(cbor.Tag{})
	sliceAnyT     = reflect.TypeOf([]any(nil))
	mapStringAnyT = reflect.TypeOf(map[string]any(nil))
	byteStringT   = reflect.TypeOf(cbor.ByteString(""))
	simpleValueT  = reflect.TypeOf(cbor.SimpleValue(0))
	timeT         = reflect.TypeOf(time.Time{})
	bigIntT       = reflect.TypeOf(big.Int{})
	oneLevelT     = reflect.TypeOf((*oneLevel)(nil)).Elem()
)

// oneLevel is implemented by fray's own cbor.Marshalers (Ref, ActorHandle), whose encoding
// is one array of strings: their depth is known without looking at their bytes.
type oneLevel interface{ encodesOneLevel() }

// fieldRef is a struct field the encoder writes.
type fieldRef struct {
	index int
	name  string
}

// fieldsOf lists the fields of struct type t that the encoder writes: exported ones and
// embedded structs (whose fields it flattens in), less those tagged "-" (cbor, or json when
// there is no cbor tag, as the encoder reads them).
func fieldsOf(t reflect.Type) []fieldRef {
	if fs, ok := structFields.Load(t); ok {
		return fs.([]fieldRef)
	}
	var fs []fieldRef
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if !f.IsExported() && !(f.Anonymous && ft.Kind() == reflect.Struct) {
			continue
		}
		tag, ok := f.Tag.Lookup("cbor")
		if !ok || tag == "" {
			tag = f.Tag.Get("json")
		}
		if tag == "-" {
			continue
		}
		fs = append(fs, fieldRef{index: i, name: f.Name})
	}
	structFields.Store(t, fs)
	return fs
}

// dynamicFields is what the walk needs of a struct type that is not fixed.
type dynamicFields struct {
	fields []fieldRef // the fields whose types are not fixed: walked per value
	depth  int        // the most levels below the struct in its fixed fields
	opaque bool       // a fixed field holds a cbor.Marshaler
}

var dynamicStructs sync.Map // reflect.Type → *dynamicFields

// dynamicFieldsOf sorts struct type t's fields into those to walk and those settled by type.
func dynamicFieldsOf(t reflect.Type) *dynamicFields {
	if d, ok := dynamicStructs.Load(t); ok {
		return d.(*dynamicFields)
	}
	d := &dynamicFields{}
	for _, f := range fieldsOf(t) {
		s := shapeOf(t.Field(f.index).Type)
		if !s.fixed {
			d.fields = append(d.fields, f)
			continue
		}
		d.depth, d.opaque = max(d.depth, s.depth), d.opaque || s.opaque
	}
	dynamicStructs.Store(t, d)
	return d
}

// ptrImplements reports whether t or *t implements it, as the encoder tests.
func ptrImplements(t, it reflect.Type) bool { return reflect.PointerTo(t).Implements(it) }

// shapeOf returns t's shape.
func shapeOf(t reflect.Type) shape {
	if s, ok := shapes.Load(t); ok {
		return s.(shape)
	}
	return computeShape(t, map[reflect.Type]bool{})
}

// computeShape works out t's shape; visiting holds the types whose shape is being worked out
// further up, so a recursive type comes out not fixed. Storing shapes found inside the
// recursion is sound: a type that reaches a type being worked out is on a cycle with it.
func computeShape(t reflect.Type, visiting map[reflect.Type]bool) shape {
	if s, ok := shapes.Load(t); ok {
		return s.(shape)
	}
	if visiting[t] {
		return shape{}
	}
	visiting[t] = true
	s := newShape(t, visiting)
	delete(visiting, t)
	shapes.Store(t, s)
	return s
}

// newShape follows the encoder's choice of encoding for t (cbor's newEncodeFunc).
func newShape(t reflect.Type, visiting map[reflect.Type]bool) shape {
	if t.Kind() == reflect.Pointer {
		return computeShape(t.Elem(), visiting) // the encoder dereferences first
	}
	switch {
	case t == tagT:
		return shape{} // its content is an interface
	case t == timeT, t == bigIntT, t == byteStringT, t == simpleValueT:
		return shape{fixed: true} // a tag and a scalar or string at most
	case ptrImplements(t, oneLevelT):
		return shape{fixed: true, depth: 1}
	case ptrImplements(t, cborMarshalerT):
		return shape{fixed: true, opaque: true}
	case ptrImplements(t, binaryMarshalerT):
		return shape{fixed: true} // a byte string
	}
	switch t.Kind() {
	case reflect.Interface:
		return shape{}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return shape{fixed: true} // a byte string
		}
		return levelAbove(computeShape(t.Elem(), visiting))
	case reflect.Map:
		k, e := computeShape(t.Key(), visiting), computeShape(t.Elem(), visiting)
		if !k.fixed || !e.fixed {
			return shape{}
		}
		return shape{fixed: true, depth: 1 + max(k.depth, e.depth), opaque: k.opaque || e.opaque}
	case reflect.Struct:
		s := shape{fixed: true}
		for _, f := range fieldsOf(t) {
			fs := computeShape(t.Field(f.index).Type, visiting)
			if !fs.fixed {
				return shape{}
			}
			s.depth, s.opaque = max(s.depth, fs.depth), s.opaque || fs.opaque
		}
		s.depth++
		return s
	}
	return shape{fixed: true} // scalars and strings
}

func levelAbove(s shape) shape {
	if !s.fixed {
		return s
	}
	s.depth++
	return s
}

// checkShape refuses values (v, whose type has shape s) the encoder must not be given (cyclic, far too deep) and
// reports whether the encoded bytes need checkNesting.
func checkShape(v any, s shape) (checkBytes bool, err error) {
	if s.fixed {
		return s.opaque || s.depth > MaxNesting, nil
	}
	w := walker{}
	if err := w.walkAny(v, 0, 0); err != nil {
		return false, err
	}
	return w.opaque || w.deepest > MaxNesting, nil
}

// checkNesting checks encoded bytes with the decoder's own well-formedness check (which
// is where its nesting limit lives), so that what Marshal returns, Unmarshal accepts.
func checkNesting(b []byte) error {
	err := decMode.Wellformed(b)
	var mn *cbor.MaxNestedLevelError
	if errors.As(err, &mn) {
		return fmt.Errorf("value nests more than %d levels of arrays and maps (a struct is a map), the most the decoder accepts: flatten it (a slice instead of a linked list, for example), or write it to storage and pass its path", MaxNesting)
	}
	return err
}
