// The version walk: a config's versioned values and dependencies, keyed as Marin keys
// them, and the checks that find markers where none may be.

package executor

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"sync"
)

// depRef is one OutputPathOf marker found in a config, in walk order.
type depRef struct {
	step     *Step
	blocking bool
}

// walker collects a config's version entries and dependencies. Keys follow Marin: struct
// fields "a.b" (JSON names), slice and array items "a.[i]", map values "a.k" (string keys,
// visited in sorted order so dependency indices are deterministic).
type walker struct {
	step   *Step
	config map[string]any
	deps   []depRef
}

func joinKey(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

func (w *walker) errf(key, format string, args ...any) error {
	return &ConfigError{Step: w.step.Name, Key: key, Reason: fmt.Sprintf(format, args...)}
}

func (w *walker) walk(v reflect.Value, key string) error {
	if !v.IsValid() || !mayContainMarkers(v.Type()) {
		return nil
	}
	t := v.Type()
	if t == pathType {
		p := v.Interface().(Path)
		switch p.kind {
		case pathOutputOf:
			if p.step == nil {
				return w.errf(key, "OutputPathOf(nil)")
			}
			idx := len(w.deps)
			w.deps = append(w.deps, depRef{step: p.step, blocking: p.blocking})
			s := "DEP[" + strconv.Itoa(idx) + "]"
			if p.sub != "" {
				s += "/" + p.sub
			}
			w.config[key] = s
		case pathInput:
			w.config[key] = p.sub
		}
		return nil // ThisOutputPath and literals are not versioned
	}
	if t.Implements(versionedValueType) {
		inner, versioned := v.Interface().(versionedValue).versionedInner()
		if where, ok := findMarker(inner, ""); ok {
			return w.errf(key, "Versioned value contains %s; Versioned of a versioned value or of a path marker is not allowed (markers carry their own versioning)", where)
		}
		if !versioned {
			return nil
		}
		c, err := toCanonical(inner, key)
		if err != nil {
			return w.errf(key, "%v", err)
		}
		w.config[key] = c
		return nil
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return w.walk(v.Elem(), key)
	case reflect.Struct:
		for _, f := range structFields(t) {
			if err := w.walk(v.FieldByIndex(f.index), joinKey(key, f.name)); err != nil {
				return err
			}
		}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() && !f.Anonymous && mayContainMarkers(f.Type) {
				if _, ok := findMarker(v.Field(i), ""); ok {
					return w.errf(joinKey(key, f.Name), "unexported field holds a marker; export the field so the executor can resolve it")
				}
			}
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			if err := w.walk(v.Index(i), joinKey(key, "["+strconv.Itoa(i)+"]")); err != nil {
				return err
			}
		}
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			if where, ok := findMarker(v, ""); ok {
				return w.errf(key, "map with %s keys holds %s; maps holding markers need string keys", t.Key(), where)
			}
			return nil
		}
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		for _, k := range keys {
			if err := w.walk(v.MapIndex(k), joinKey(key, k.String())); err != nil {
				return err
			}
		}
	}
	return nil
}

// findMarker reports whether v holds a Path marker or a Value anywhere, and describes it.
func findMarker(v reflect.Value, at string) (string, bool) {
	if !v.IsValid() || !mayContainMarkers(v.Type()) {
		return "", false
	}
	t := v.Type()
	if t == pathType {
		if p := v.Interface().(Path); p.IsMarker() {
			return "the path marker " + p.String(), true
		}
		return "", false
	}
	if t.Implements(versionedValueType) {
		return "a Value (" + t.String() + ")", true
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			return findMarker(v.Elem(), at)
		}
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			if s, ok := findMarker(v.Field(i), at); ok {
				return s, true
			}
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			if s, ok := findMarker(v.Index(i), at); ok {
				return s, true
			}
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			if s, ok := findMarker(it.Value(), at); ok {
				return s, true
			}
		}
	}
	return "", false
}

var markerTypes sync.Map // reflect.Type → bool

// mayContainMarkers reports whether values of type t can hold a Path or Value (types made
// only of numbers, strings and the like are skipped by the walker and copied as they are).
func mayContainMarkers(t reflect.Type) bool {
	if v, ok := markerTypes.Load(t); ok {
		return v.(bool)
	}
	r := typeMayContain(t, map[reflect.Type]bool{})
	markerTypes.Store(t, r)
	return r
}

func typeMayContain(t reflect.Type, seen map[reflect.Type]bool) bool {
	if t == pathType || t.Implements(versionedValueType) {
		return true
	}
	if seen[t] {
		return false
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Interface:
		return true
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return typeMayContain(t.Elem(), seen)
	case reflect.Map:
		return typeMayContain(t.Elem(), seen)
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			if typeMayContain(t.Field(i).Type, seen) {
				return true
			}
		}
	}
	return false
}
