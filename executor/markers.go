package executor

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/fxamacker/cbor/v2"

	"github.com/fray-go/fray"
)

// pathKind says what a Path stands for before the executor resolves it.
type pathKind uint8

const (
	pathConcrete pathKind = iota // a plain path string (also the zero Path, "")
	pathOutputOf                 // another step's output (OutputPathOf)
	pathInput                    // a hard-coded input under the prefix (InputPath)
	pathThis                     // this step's own output (ThisOutputPath)
)

// Path is a config field that holds a path. Before a step runs it is a marker that says
// where the path comes from (OutputPathOf, InputPath, ThisOutputPath); the executor
// replaces every marker with the concrete path (a local path or a bucket URL) in the copy
// of the config that the step function receives. A concrete Path marshals (JSON, and
// fray's codec) as a plain string, so a resolved config reads like an ordinary struct of
// strings in the .executor_info record and on the worker side.
//
// The zero Path is the concrete empty path "". LiteralPath makes a concrete Path from a
// string; such a path is an ordinary unversioned value and does not affect the version.
type Path struct {
	kind     pathKind
	step     *Step
	sub      string
	blocking bool
	concrete string
}

// OutputPathOf is an input that is step's output directory, or the sub-path sub of it
// (Marin's output_path_of). It makes step a dependency: it runs first, and its version is
// part of this step's version, as is sub.
func OutputPathOf(step *Step, sub ...string) Path {
	return Path{kind: pathOutputOf, step: step, sub: joinSub(sub), blocking: true}
}

// NonBlocking turns an OutputPathOf marker into a pseudo-dependency: the upstream step's
// version still counts in this step's version (under "pseudo_dependencies") and the path
// still resolves to its output, but the upstream step is neither run nor waited on. Other
// markers are returned unchanged.
func (p Path) NonBlocking() Path {
	if p.kind == pathOutputOf {
		p.blocking = false
	}
	return p
}

// InputPath is a hard-coded input at name relative to the executor's prefix (data that is
// not produced by the pipeline). name, not the prefix, is part of the version, so moving
// the prefix does not change any hash.
func InputPath(name string) Path {
	return Path{kind: pathInput, sub: strings.Trim(name, "/")}
}

// ThisOutputPath is the running step's own output directory, or the sub-path sub of it
// (Marin's this_output_path). As in Marin it is not part of the version.
func ThisOutputPath(sub ...string) Path {
	return Path{kind: pathThis, sub: joinSub(sub)}
}

// LiteralPath is a concrete path. It is an unversioned value like any other literal.
func LiteralPath(p string) Path { return Path{concrete: p} }

func joinSub(sub []string) string {
	var parts []string
	for _, s := range sub {
		if s = strings.Trim(s, "/"); s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, "/")
}

// IsMarker reports whether p still has to be resolved by the executor.
func (p Path) IsMarker() bool { return p.kind != pathConcrete }

// String returns the concrete path. For a marker it returns a description such as
// "<output of step tokenize/x>/sub", which is never a valid path.
func (p Path) String() string {
	switch p.kind {
	case pathOutputOf:
		name := "<nil step>"
		if p.step != nil {
			name = p.step.Name
		}
		s := "<output of step " + name + ">"
		if !p.blocking {
			s = "<non-blocking output of step " + name + ">"
		}
		return withSub(s, p.sub)
	case pathInput:
		return withSub("<prefix>", p.sub)
	case pathThis:
		return withSub("<this step's output>", p.sub)
	}
	return p.concrete
}

func withSub(s, sub string) string {
	if sub == "" {
		return s
	}
	return s + "/" + sub
}

// Join returns the concrete path p/elem... (for use inside a step function, where p is
// resolved). It panics on a marker: markers are only resolved by the executor.
func (p Path) Join(elem ...string) string {
	if p.IsMarker() {
		panic(fmt.Sprintf("executor: Path.Join on unresolved marker %s; only the executor resolves markers", p))
	}
	return JoinPath(p.concrete, elem...)
}

func (p Path) unresolved(what string) error {
	return fmt.Errorf("executor: cannot %s unresolved path marker %s: markers are replaced by concrete paths only in the config a step receives", what, p)
}

// MarshalJSON encodes a concrete path as a JSON string.
func (p Path) MarshalJSON() ([]byte, error) {
	if p.IsMarker() {
		return nil, p.unresolved("JSON-encode")
	}
	return json.Marshal(p.concrete)
}

// UnmarshalJSON decodes a JSON string into a concrete path.
func (p *Path) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("executor: Path: %w", err)
	}
	*p = LiteralPath(s)
	return nil
}

// MarshalCBOR encodes a concrete path for fray's codec (as a CBOR text string).
func (p Path) MarshalCBOR() ([]byte, error) {
	if p.IsMarker() {
		return nil, p.unresolved("encode")
	}
	return cbor.Marshal(p.concrete)
}

// UnmarshalCBOR decodes a concrete path.
func (p *Path) UnmarshalCBOR(b []byte) error {
	var s string
	if err := cbor.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("executor: Path: %w", err)
	}
	*p = LiteralPath(s)
	return nil
}

// Value is a config field whose value is part of the step's version when it was made with
// Versioned (Marin's versioned(v)). Plain Go fields are unversioned: changing them does
// not change the output path. A Value marshals (JSON and fray's codec) as its bare value.
//
//	type TrainConfig struct {
//		Data  executor.Path            // OutputPathOf(tokenize)
//		LR    executor.Value[float64]  // executor.Versioned(3e-4): changes the hash
//		Steps int                      // unversioned: does not
//	}
type Value[T any] struct {
	v         T
	versioned bool
}

// Versioned marks v as part of the version. v must not itself be (or contain) a Value or a
// Path marker; the executor reports that as an error when it plans the step.
func Versioned[T any](v T) Value[T] { return Value[T]{v: v, versioned: true} }

// Unversioned wraps v in a Value that does not count in the version.
func Unversioned[T any](v T) Value[T] { return Value[T]{v: v} }

// Get returns the value.
func (v Value[T]) Get() T { return v.v }

// IsVersioned reports whether the value counts in the version.
func (v Value[T]) IsVersioned() bool { return v.versioned }

// String formats the value.
func (v Value[T]) String() string { return fmt.Sprint(v.v) }

// MarshalJSON encodes the bare value.
func (v Value[T]) MarshalJSON() ([]byte, error) { return json.Marshal(v.v) }

// UnmarshalJSON decodes a bare value (the result counts as versioned).
func (v *Value[T]) UnmarshalJSON(b []byte) error {
	v.versioned = true
	return json.Unmarshal(b, &v.v)
}

// MarshalCBOR encodes the bare value.
func (v Value[T]) MarshalCBOR() ([]byte, error) { return fray.Marshal(v.v) }

// UnmarshalCBOR decodes a bare value (the result counts as versioned).
func (v *Value[T]) UnmarshalCBOR(b []byte) error {
	v.versioned = true
	return fray.Unmarshal(b, &v.v)
}

// versionedValue lets the config walker see inside a Value without knowing T.
type versionedValue interface {
	versionedInner() (reflect.Value, bool)
}

func (v Value[T]) versionedInner() (reflect.Value, bool) {
	return reflect.ValueOf(&v.v).Elem(), v.versioned
}

var (
	pathType           = reflect.TypeFor[Path]()
	versionedValueType = reflect.TypeFor[versionedValue]()
)
