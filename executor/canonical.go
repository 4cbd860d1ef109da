package executor

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// Canonical JSON: the version of a step is hashed from the exact bytes Python's
// json.dumps(version, sort_keys=True) produces for the same data, so a Go step and a Marin
// step with equal versions get equal hashes, and the hash cannot drift with Go versions,
// machines or map iteration order. That means: keys sorted by code point, separators ", "
// and ": ", ASCII-only output (\uXXXX escapes, surrogate pairs above U+FFFF), floats in
// Python's repr form (1.0, 0.1, 1e-05, 1e+16), NaN and Infinity spelled as Python does.
//
// The canonical tree uses: nil, bool, int64, uint64, float64, string, json.Number (from
// json.Marshaler output), []any and map[string]any.

// rawCanonical is a subtree that is already canonical JSON (a dependency's version string):
// it is copied as is, so nested versions are encoded once, not once per dependent.
type rawCanonical string

// canonicalJSON encodes a canonical tree.
func canonicalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	if err := encodeCanonical(&b, v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func encodeCanonical(b *bytes.Buffer, v any) error {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		if x {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case uint64:
		b.WriteString(strconv.FormatUint(x, 10))
	case float64:
		b.WriteString(pyFloatRepr(x))
	case json.Number:
		b.WriteString(string(x))
	case rawCanonical:
		b.WriteString(string(x))
	case string:
		writePyString(b, x)
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			if err := encodeCanonical(b, e); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sortCodePoints(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			writePyString(b, k)
			b.WriteString(": ")
			if err := encodeCanonical(b, x[k]); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	default:
		return fmt.Errorf("executor: internal: %T in canonical tree", v)
	}
	return nil
}

// sortCodePoints sorts strings by Unicode code point, as Python does. For valid UTF-8 that
// is byte order; invalid bytes are replaced by U+FFFD when written, so normalise first.
func sortCodePoints(keys []string) {
	sort.Slice(keys, func(i, j int) bool {
		return strings.ToValidUTF8(keys[i], "\uFFFD") < strings.ToValidUTF8(keys[j], "\uFFFD")
	})
}

const hexDigits = "0123456789abcdef"

// writePyString writes s as Python's json.dumps does with ensure_ascii=True.
func writePyString(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			switch {
			case r < 0x20 || (r > 0x7e && r <= 0xffff):
				writeU(b, r)
			case r > 0xffff:
				r -= 0x10000
				writeU(b, 0xd800|(r>>10)&0x3ff)
				writeU(b, 0xdc00|r&0x3ff)
			default:
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
}

func writeU(b *bytes.Buffer, r rune) {
	b.WriteString(`\u`)
	b.WriteByte(hexDigits[r>>12&0xf])
	b.WriteByte(hexDigits[r>>8&0xf])
	b.WriteByte(hexDigits[r>>4&0xf])
	b.WriteByte(hexDigits[r&0xf])
}

// pyFloatRepr formats f as Python's repr(float): the shortest digits that round-trip, in
// positional notation when the decimal exponent is in [-4, 16), else scientific with a
// signed exponent of at least two digits; integral values keep a ".0".
func pyFloatRepr(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // -d.ddde±XX
	neg := e[0] == '-'
	if neg {
		e = e[1:]
	}
	mant, expS, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expS)
	digits := strings.Replace(mant, ".", "", 1)
	var out string
	if exp >= -4 && exp < 16 {
		if exp < 0 {
			out = "0." + strings.Repeat("0", -exp-1) + digits
		} else if len(digits) <= exp+1 {
			out = digits + strings.Repeat("0", exp+1-len(digits)) + ".0"
		} else {
			out = digits[:exp+1] + "." + digits[exp+1:]
		}
	} else {
		m := digits[:1]
		if len(digits) > 1 {
			m += "." + digits[1:]
		}
		sign := "+"
		if exp < 0 {
			sign, exp = "-", -exp
		}
		es := strconv.Itoa(exp)
		if len(es) < 2 {
			es = "0" + es
		}
		out = m + "e" + sign + es
	}
	if neg {
		return "-" + out
	}
	return out
}

var (
	jsonMarshalerType = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

// toCanonical converts a Go value into the canonical tree, the way encoding/json would see
// it (json tags, json.Marshaler, encoding.TextMarshaler), but keeping ints and floats apart
// as Python does. path names the value in errors.
func toCanonical(v reflect.Value, path string) (any, error) {
	if !v.IsValid() {
		return nil, nil
	}
	t := v.Type()
	if t.Implements(jsonMarshalerType) && !(t.Kind() == reflect.Pointer && v.IsNil()) {
		return fromJSONMarshaler(v.Interface().(json.Marshaler), path)
	}
	if t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(jsonMarshalerType) && v.CanAddr() {
		return fromJSONMarshaler(v.Addr().Interface().(json.Marshaler), path)
	}
	if t.Implements(textMarshalerType) && !(t.Kind() == reflect.Pointer && v.IsNil()) {
		s, err := v.Interface().(encoding.TextMarshaler).MarshalText()
		if err != nil {
			return nil, fmt.Errorf("executor: %s: %w", path, err)
		}
		return string(s), nil
	}
	switch t.Kind() {
	case reflect.Bool:
		return v.Bool(), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int(), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint(), nil
	case reflect.Float32:
		// Format through float32's own shortest form so 0.1f stays 0.1.
		f, _ := strconv.ParseFloat(strconv.FormatFloat(v.Float(), 'g', -1, 32), 64)
		return f, nil
	case reflect.Float64:
		return v.Float(), nil
	case reflect.String:
		return v.String(), nil
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil, nil
		}
		return toCanonical(v.Elem(), path)
	case reflect.Slice:
		if v.IsNil() {
			return nil, nil
		}
		if t.Elem().Kind() == reflect.Uint8 {
			b, _ := json.Marshal(v.Bytes()) // base64, as encoding/json
			var s string
			_ = json.Unmarshal(b, &s)
			return s, nil
		}
		fallthrough
	case reflect.Array:
		out := make([]any, v.Len())
		for i := range out {
			e, err := toCanonical(v.Index(i), fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			out[i] = e
		}
		return out, nil
	case reflect.Map:
		if v.IsNil() {
			return nil, nil
		}
		if t.Key().Kind() != reflect.String {
			return nil, fmt.Errorf("executor: %s: versioned map keys must be strings, got %s", path, t.Key())
		}
		out := make(map[string]any, v.Len())
		it := v.MapRange()
		for it.Next() {
			k := it.Key().String()
			e, err := toCanonical(it.Value(), path+"."+k)
			if err != nil {
				return nil, err
			}
			out[k] = e
		}
		return out, nil
	case reflect.Struct:
		out := map[string]any{}
		for _, f := range structFields(t) {
			fv := v.FieldByIndex(f.index)
			if f.omitEmpty && fv.IsZero() {
				continue
			}
			e, err := toCanonical(fv, path+"."+f.name)
			if err != nil {
				return nil, err
			}
			out[f.name] = e
		}
		return out, nil
	}
	return nil, fmt.Errorf("executor: %s: a %s cannot be part of a version", path, t)
}

func fromJSONMarshaler(m json.Marshaler, path string) (any, error) {
	b, err := m.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("executor: %s: %w", path, err)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var x any
	if err := d.Decode(&x); err != nil {
		return nil, fmt.Errorf("executor: %s: MarshalJSON output: %w", path, err)
	}
	return fromJSONTree(x), nil
}

// fromJSONTree normalises numbers decoded with UseNumber: integers become int64/uint64 and
// other numbers float64, as Python's json.loads would make them.
func fromJSONTree(x any) any {
	switch y := x.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(y), 10, 64); err == nil {
			return i
		}
		if u, err := strconv.ParseUint(string(y), 10, 64); err == nil {
			return u
		}
		if f, err := strconv.ParseFloat(string(y), 64); err == nil {
			return f
		}
		return y
	case []any:
		for i := range y {
			y[i] = fromJSONTree(y[i])
		}
	case map[string]any:
		for k := range y {
			y[k] = fromJSONTree(y[k])
		}
	}
	return x
}

// field is one struct field as encoding/json names it.
type field struct {
	name      string
	index     []int
	omitEmpty bool
}

// structFields lists t's exported fields under their JSON names (tag name, else the Go
// field name), skipping `json:"-"`. Embedded structs without a tag are flattened, as
// encoding/json does (without its conflict resolution: the first name wins).
func structFields(t reflect.Type) []field {
	var out []field
	seen := map[string]bool{}
	var walk func(t reflect.Type, index []int)
	walk = func(t reflect.Type, index []int) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			idx := append(append([]int{}, index...), i)
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if f.Anonymous && name == "" && ft.Kind() == reflect.Struct && f.Type.Kind() == reflect.Struct {
				walk(ft, idx)
				continue
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if seen[name] {
				continue
			}
			seen[name] = true
			out = append(out, field{name: name, index: idx, omitEmpty: strings.Contains(","+opts+",", ",omitempty,")})
		}
	}
	walk(t, nil)
	return out
}
