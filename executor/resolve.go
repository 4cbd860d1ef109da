// The resolver: a copy of a step's config with every Path marker replaced by its
// concrete path.

package executor

import (
	"reflect"
)

// resolver copies a config, replacing every Path marker with a concrete path. The copy
// shares nothing that holds a marker with the original, so the user's config is untouched.
type resolver struct {
	p     *planner
	self  *node
	depth int
}

func (r *resolver) copy(v reflect.Value) (reflect.Value, error) {
	if !v.IsValid() || !mayContainMarkers(v.Type()) {
		return v, nil
	}
	r.depth++
	defer func() { r.depth-- }()
	if r.depth > 10000 {
		return v, &ConfigError{Step: r.self.name, Reason: "config nests deeper than 10000 levels (a pointer cycle?)"}
	}
	t := v.Type()
	if t == pathType {
		p := v.Interface().(Path)
		switch p.kind {
		case pathOutputOf:
			dn := r.p.byStep[p.step]
			return reflect.ValueOf(LiteralPath(JoinPath(dn.output, p.sub))), nil
		case pathInput:
			return reflect.ValueOf(LiteralPath(JoinPath(r.p.prefix, p.sub))), nil
		case pathThis:
			return reflect.ValueOf(LiteralPath(JoinPath(r.self.output, p.sub))), nil
		}
		return v, nil
	}
	if t.Implements(versionedValueType) {
		return v, nil // checked by the walker: holds no markers
	}
	switch t.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return v, nil
		}
		c, err := r.copy(v.Elem())
		if err != nil {
			return v, err
		}
		out := reflect.New(t.Elem())
		out.Elem().Set(c)
		return out, nil
	case reflect.Interface:
		if v.IsNil() {
			return v, nil
		}
		c, err := r.copy(v.Elem())
		if err != nil {
			return v, err
		}
		out := reflect.New(t).Elem()
		out.Set(c)
		return out, nil
	case reflect.Struct:
		out := reflect.New(t).Elem()
		out.Set(v)
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() || !mayContainMarkers(f.Type) {
				continue
			}
			c, err := r.copy(v.Field(i))
			if err != nil {
				return v, err
			}
			out.Field(i).Set(c)
		}
		return out, nil
	case reflect.Slice:
		if v.IsNil() {
			return v, nil
		}
		out := reflect.MakeSlice(t, v.Len(), v.Len())
		for i := 0; i < v.Len(); i++ {
			c, err := r.copy(v.Index(i))
			if err != nil {
				return v, err
			}
			out.Index(i).Set(c)
		}
		return out, nil
	case reflect.Array:
		out := reflect.New(t).Elem()
		for i := 0; i < v.Len(); i++ {
			c, err := r.copy(v.Index(i))
			if err != nil {
				return v, err
			}
			out.Index(i).Set(c)
		}
		return out, nil
	case reflect.Map:
		if v.IsNil() {
			return v, nil
		}
		out := reflect.MakeMapWithSize(t, v.Len())
		it := v.MapRange()
		for it.Next() {
			c, err := r.copy(it.Value())
			if err != nil {
				return v, err
			}
			out.SetMapIndex(it.Key(), c)
		}
		return out, nil
	}
	return v, nil
}
