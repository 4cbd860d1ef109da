package fray

import (
	"encoding"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"

	"github.com/fxamacker/cbor/v2"

	"github.com/fray-go/fray/internal/wire/cborhead"
)

// The codec: every value that crosses a process boundary (task arguments and results, Put
// values, actor constructor arguments, errors) is CBOR, encoded by this one codec on every
// backend. The local backend round-trips values through it by default so that a value that
// cannot travel to a Ray worker fails in a local test too.
//
// Beyond what CBOR itself refuses (channels, functions), Marshal refuses cyclic values and
// values nested deeper than the decoder accepts (codec_shape.go, codec_walk.go), and struct
// types with unexported fields: those fields would silently arrive as zero values on the other
// side, which is the most common way a Go program breaks when it moves to a cluster. Export the
// field, tag it `cbor:"-"` if it is deliberately local, or implement encoding.BinaryMarshaler
// or cbor.Marshaler on the type.

// MaxValueSize bounds a single encoded value (256 MiB). Larger values belong in storage.
const MaxValueSize = 256 << 20

// MaxNesting is how many levels of arrays, slices, maps and structs (each one level; a
// pointer or interface none; a []byte or time.Time is a scalar) a value may nest. The decoder refuses deeper input, so Marshal
// refuses deeper values, and every value it encodes decodes. A linked list is as deep as it
// is long: send long ones as slices.
const MaxNesting = 256

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

func init() {
	var err error
	encMode, err = cbor.EncOptions{
		Time:    cbor.TimeRFC3339Nano,
		TimeTag: cbor.EncTagRequired,
	}.EncMode()
	if err != nil {
		panic(err)
	}
	decMode, err = cbor.DecOptions{
		MaxNestedLevels:  MaxNesting,
		MaxArrayElements: math.MaxInt32,
		MaxMapPairs:      math.MaxInt32,
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		// Untyped maps decode with string keys where possible, like JSON, so a
		// map[string]any survives a round trip unchanged.
		DefaultMapType: reflect.TypeOf(map[string]any(nil)),
	}.DecMode()
	if err != nil {
		panic(err)
	}
}

// Marshal encodes v with fray's codec. It fails with a *SerializationError for values that
// cannot cross a process boundary intact.
func Marshal(v any) ([]byte, error) {
	if b, ok := v.([]byte); ok && b != nil && len(b) <= MaxValueSize-9 {
		// The common large value: its encoding is a head and the bytes, written here with
		// one copy (the general encoder copies twice: into a pooled buffer, then out).
		var head [cborhead.MaxLen]byte
		return cborhead.AppendBytes(head[:0], b), nil
	}
	checkBytes := false
	if v != nil {
		ct := codecTypeOf(reflect.TypeOf(v))
		if ct.err != nil {
			return nil, &SerializationError{Type: typeName(v), Op: "encode", Cause: ct.err}
		}
		var err error
		if checkBytes, err = checkShape(v, ct.shape); err != nil { // before the encoder: a cycle would crash it
			return nil, &SerializationError{Type: typeName(v), Op: "encode", Cause: err}
		}
	}
	b, err := encMode.Marshal(v)
	if err != nil {
		return nil, &SerializationError{Type: typeName(v), Op: "encode", Cause: err}
	}
	if checkBytes {
		if err := checkNesting(b); err != nil {
			return nil, &SerializationError{Type: typeName(v), Op: "encode", Cause: err}
		}
	}
	if len(b) > MaxValueSize {
		return nil, &SerializationError{Type: typeName(v), Op: "encode",
			Cause: fmt.Errorf("encoded size %d exceeds the %d-byte limit; write large data to storage and pass its path", len(b), MaxValueSize)}
	}
	return b, nil
}

// Unmarshal decodes data produced by Marshal into v (a non-nil pointer).
func Unmarshal(data []byte, v any) error {
	if err := decMode.Unmarshal(data, v); err != nil {
		return &SerializationError{Type: strings.TrimPrefix(typeName(v), "*"), Op: "decode", Cause: err}
	}
	return nil
}

// aliasBytes decodes data as a []byte (when T is []byte and data is one definite-length
// CBOR byte string) by slicing it, without a copy; ok is false for anything else, which the
// general decoder handles. Only for data the caller owns (Payload.Owned).
func aliasBytes[T any](data []byte) (v T, ok bool) {
	p, isBytes := any(&v).(*[]byte)
	if !isBytes {
		return v, false
	}
	b, ok := cborhead.ByteString(data)
	if !ok {
		return v, false // not one definite-length byte string (e.g. chunks to join)
	}
	*p = b
	return v, true
}

// decodeAs decodes data into a fresh value of type T.
func decodeAs[T any](data []byte) (T, error) {
	var v T
	err := Unmarshal(data, &v)
	return v, err
}

func typeName(v any) string {
	if v == nil {
		return "nil"
	}
	return reflect.TypeOf(v).String()
}

var (
	codecTypes       sync.Map // reflect.Type → *codecType
	binaryMarshalerT = reflect.TypeOf((*encoding.BinaryMarshaler)(nil)).Elem()
	cborMarshalerT   = reflect.TypeOf((*cbor.Marshaler)(nil)).Elem()
)

// codecType is what Marshal knows of a type once it has seen one value of it.
type codecType struct {
	err   error // why values of the type cannot cross a process boundary, or nil
	shape shape // see codec_shape.go
}

// codecTypeOf returns what Marshal knows of t.
func codecTypeOf(t reflect.Type) *codecType {
	if ct, ok := codecTypes.Load(t); ok {
		return ct.(*codecType)
	}
	ct := &codecType{err: walkType(t, map[reflect.Type]bool{}, "")}
	if ct.err == nil {
		ct.shape = shapeOf(t)
	}
	codecTypes.Store(t, ct)
	return ct
}

func walkType(t reflect.Type, seen map[reflect.Type]bool, path string) error {
	if seen[t] {
		return nil
	}
	seen[t] = true
	if t.Implements(cborMarshalerT) || t.Implements(binaryMarshalerT) ||
		reflect.PointerTo(t).Implements(cborMarshalerT) || reflect.PointerTo(t).Implements(binaryMarshalerT) {
		return nil
	}
	if t.PkgPath() == "time" || t.PkgPath() == "math/big" {
		return nil // handled natively by CBOR
	}
	switch t.Kind() {
	case reflect.Chan, reflect.Func, reflect.UnsafePointer:
		return fmt.Errorf("%s%s is a %s, which cannot be serialized; pass data, not %ss", at(path), t, t.Kind(), t.Kind())
	case reflect.Complex64, reflect.Complex128:
		return fmt.Errorf("%s%s: complex numbers are not supported by the codec; use two floats", at(path), t)
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return walkType(t.Elem(), seen, path)
	case reflect.Map:
		if err := walkType(t.Key(), seen, path); err != nil {
			return err
		}
		return walkType(t.Elem(), seen, path)
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if f.Tag.Get("cbor") == "-" {
				continue
			}
			if !f.IsExported() {
				if f.Anonymous && f.Type.Kind() == reflect.Struct {
					// an embedded unexported struct type contributes its exported fields
					if err := walkType(f.Type, seen, joinPath(path, f.Name)); err != nil {
						return err
					}
					continue
				}
				return fmt.Errorf("%sstruct %s has unexported field %q that would arrive as its zero value on another process; export it, tag it `cbor:\"-\"`, or implement encoding.BinaryMarshaler", at(path), t, f.Name)
			}
			if err := walkType(f.Type, seen, joinPath(path, f.Name)); err != nil {
				return err
			}
		}
	}
	return nil
}

func at(path string) string {
	if path == "" {
		return ""
	}
	return "field " + path + ": "
}

func joinPath(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

// --- errors across process boundaries ---------------------------------------------------

// wireError is the codec form of every fray error.
type wireError struct {
	Kind     string  `cbor:"k"`
	Message  string  `cbor:"m"`
	Task     string  `cbor:"t,omitempty"`
	TaskID   string  `cbor:"i,omitempty"`
	TypeName string  `cbor:"y,omitempty"`
	Stack    string  `cbor:"s,omitempty"`
	Panic    bool    `cbor:"p,omitempty"`
	CauseReg string  `cbor:"r,omitempty"` // registered name of the cause's type
	CauseVal []byte  `cbor:"v,omitempty"` // the cause, encoded
	Actor    string  `cbor:"a,omitempty"`
	Name     string  `cbor:"n,omitempty"`
	Reason   string  `cbor:"x,omitempty"`
	Extra    string  `cbor:"e,omitempty"`
	Num1     float64 `cbor:"f,omitempty"`
	Num2     float64 `cbor:"g,omitempty"`
	Flag     bool    `cbor:"u,omitempty"` // ActorDiedError.Restarting
}

var (
	errorTypesMu   sync.RWMutex
	errorTypeNames = map[reflect.Type]string{}
	errorTypes     = map[string]reflect.Type{}
)

// RegisterError makes application errors of type E survive process boundaries as themselves,
// so errors.As(err, &e) works for them on every backend. Without registration a remote error
// arrives as a *RemoteError with the original type name and message. E must be encodable by
// the codec (exported fields). Call it at package level, before the registry is frozen.
func RegisterError[E error](name string) {
	t := reflect.TypeOf((*E)(nil)).Elem()
	errorTypesMu.Lock()
	defer errorTypesMu.Unlock()
	if prev, ok := errorTypes[name]; ok && prev != t {
		panic(fmt.Sprintf("fray: error name %q registered for both %s and %s", name, prev, t))
	}
	errorTypes[name] = t
	errorTypeNames[t] = name
}

// EncodeError turns any error into bytes that DecodeError rebuilds on another process with
// the same type (for fray's own errors and registered application errors). Backends use it
// for errors that cross a process boundary (see package backend).
func EncodeError(err error) []byte {
	w := toWire(err)
	b, e := encMode.Marshal(w)
	if e != nil { // cannot happen for wireError; keep the message at least
		b, _ = encMode.Marshal(wireError{Kind: "other", Message: err.Error()})
	}
	return b
}

func toWire(err error) wireError {
	w := wireError{Kind: errorKindOf(err), Message: err.Error()}
	var te *TaskError
	var ad *ActorDiedError
	var wd *WorkerDiedError
	var ce *CancelledError
	var ol *ObjectLostError
	var se *SerializationError
	var ue *UnsupportedError
	var ie *InfeasibleError
	var un *UnknownNameError
	var re *RuntimeEnvError
	var pr *PlacementGroupRemovedError
	var pe *PlacementError
	switch {
	case errors.As(err, &te):
		w.Task, w.TaskID, w.TypeName, w.Stack, w.Panic = te.Task, te.TaskID, te.TypeName, te.Stack, te.Panic
		w.Message = te.Message
		if te.Cause != nil && errorKindOf(te.Cause) != "other" {
			// a fray error from a nested call (actor died, worker died, ...) keeps its type
			w.CauseReg, w.CauseVal = frayCause, EncodeError(te.Cause)
		} else if te.Cause != nil {
			errorTypesMu.RLock()
			name, ok := errorTypeNames[reflect.TypeOf(te.Cause)]
			errorTypesMu.RUnlock()
			if ok {
				if b, e := Marshal(te.Cause); e == nil { // checked: a cyclic cause must not crash the worker
					w.CauseReg, w.CauseVal = name, b
				}
			}
		}
	case errors.As(err, &ad):
		w.Actor, w.Name, w.Reason, w.Flag = ad.ActorID, ad.Name, ad.Reason, ad.Restarting
	case errors.As(err, &wd):
		w.Task, w.Reason = wd.Task, wd.Reason
	case errors.As(err, &ce):
		w.TaskID = ce.TaskID
	case errors.As(err, &ol):
		w.Name, w.Reason = ol.ObjectID, ol.Reason
	case errors.As(err, &se):
		w.TypeName, w.Reason = se.Type, se.Op
		if se.Cause != nil {
			w.Extra = se.Cause.Error()
		}
	case errors.As(err, &ue):
		w.Name, w.Reason, w.Extra = ue.Backend, ue.Feature, ue.Hint
	case errors.As(err, &ie):
		w.Name, w.Num1, w.Num2 = ie.Resource, ie.Requested, ie.Capacity
	case errors.As(err, &un):
		w.Name, w.Reason, w.Extra = un.Name, un.What, un.Hint
	case errors.As(err, &re):
		w.Reason = re.Detail
	case errors.As(err, &pr):
		w.Name, w.Reason = pr.Group, pr.What
	case errors.As(err, &pe):
		w.Name, w.Reason, w.Num1, w.Flag = pe.Group, pe.Reason, float64(pe.Bundle), pe.Infeasible
	}
	return w
}

// DecodeError rebuilds an error encoded by EncodeError. Malformed input yields an error that
// says so rather than a panic.
func DecodeError(b []byte) error { return decodeError(b, 0) }

// frayCause marks a TaskError cause that is itself a fray error, encoded recursively.
const frayCause = "fray"

func decodeError(b []byte, depth int) error {
	var w wireError
	if err := decMode.Unmarshal(b, &w); err != nil {
		return &SerializationError{Type: "error", Op: "decode", Cause: err}
	}
	switch w.Kind {
	case "task":
		te := &TaskError{Task: w.Task, TaskID: w.TaskID, TypeName: w.TypeName, Message: w.Message,
			Stack: w.Stack, Panic: w.Panic}
		te.Cause = &RemoteError{TypeName: w.TypeName, Message: w.Message}
		if w.CauseReg == frayCause && depth < 16 {
			te.Cause = decodeError(w.CauseVal, depth+1)
		} else if w.CauseReg != "" {
			errorTypesMu.RLock()
			t, ok := errorTypes[w.CauseReg]
			errorTypesMu.RUnlock()
			if ok {
				pv := reflect.New(t)
				if decMode.Unmarshal(w.CauseVal, pv.Interface()) == nil {
					if c, ok := pv.Elem().Interface().(error); ok && c != nil {
						te.Cause = c
					}
				}
			}
		}
		return te
	case "cancelled":
		return &CancelledError{TaskID: w.TaskID}
	case "timeout":
		return &TimeoutError{Op: "get"}
	case "actor_died":
		return &ActorDiedError{ActorID: w.Actor, Name: w.Name, Reason: w.Reason, Restarting: w.Flag}
	case "worker_died":
		return &WorkerDiedError{Task: w.Task, Reason: w.Reason}
	case "object_lost":
		return &ObjectLostError{ObjectID: w.Name, Reason: w.Reason}
	case "serialization":
		return &SerializationError{Type: w.TypeName, Op: w.Reason, Cause: errors.New(w.Extra)}
	case "unsupported":
		return &UnsupportedError{Backend: w.Name, Feature: w.Reason, Hint: w.Extra}
	case "infeasible":
		return &InfeasibleError{Resource: w.Name, Requested: w.Num1, Capacity: w.Num2}
	case "unknown_name":
		return &UnknownNameError{What: w.Reason, Name: w.Name, Hint: w.Extra}
	case "runtime_env":
		return &RuntimeEnvError{Detail: w.Reason}
	case "pg_removed":
		return &PlacementGroupRemovedError{Group: w.Name, What: w.Reason}
	case "placement":
		return &PlacementError{Group: w.Name, Reason: w.Reason, Bundle: int(w.Num1), Infeasible: w.Flag}
	}
	if s, ok := sentinelByKind[w.Kind]; ok {
		return newKind(s, w.Message)
	}
	return errors.New(w.Message)
}

// wrapTaskError turns what a task function returned (or its panic) into a *TaskError.
func wrapTaskError(task, taskID string, err error) *TaskError {
	var te *TaskError
	if errors.As(err, &te) && te.Task == task {
		return te
	}
	return &TaskError{Task: task, TaskID: taskID, TypeName: fmt.Sprintf("%T", err), Message: err.Error(), Cause: err}
}
