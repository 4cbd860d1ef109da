package executor

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// ConfigError reports a step whose declaration is wrong: a bad name, a config of the wrong
// type, a marker where none may be (Versioned of a marker, an unexported field holding a
// marker, a map with non-string keys holding markers), a nil step, or a dependency cycle.
type ConfigError struct {
	Step   string // step name
	Key    string // config key ("a.b.[2].c"), when the problem is in the config
	Reason string
}

func (e *ConfigError) Error() string {
	if e.Key != "" {
		return fmt.Sprintf("executor: step %q, config key %q: %s", e.Step, e.Key, e.Reason)
	}
	return fmt.Sprintf("executor: step %q: %s", e.Step, e.Reason)
}

// node is a planned step: one per distinct version.
type node struct {
	step       *Step
	name       string
	fnName     string
	version    map[string]any // canonical tree (dependencies as rawCanonical)
	versionStr string         // canonical JSON of version
	hash       string         // first 6 hex digits of md5(versionStr)
	output     string
	deps       []*node // blocking dependencies, deduplicated, in first-reference order
	depPaths   []string
	pseudo     []*node
	config     any // the resolved config (markers replaced by concrete paths)
	index      int // position in topological order
}

// planner computes versions, output paths and resolved configs.
type planner struct {
	prefix    string
	byStep    map[*Step]*node
	byVersion map[string]*node
	visiting  map[*Step]bool
	stack     []*Step
	order     []*node
	warn      func(msg string, args ...any)
}

func newPlanner(prefix string, warn func(string, ...any)) *planner {
	return &planner{prefix: prefix, byStep: map[*Step]*node{}, byVersion: map[string]*node{},
		visiting: map[*Step]bool{}, warn: warn}
}

// add plans step and everything it references.
func (p *planner) add(step *Step) (*node, error) {
	if step == nil {
		return nil, &ConfigError{Step: "<nil>", Reason: "nil *Step"}
	}
	if n, ok := p.byStep[step]; ok {
		return n, nil
	}
	if p.visiting[step] {
		var names []string
		start := 0
		for i, s := range p.stack {
			if s == step {
				start = i
			}
		}
		for _, s := range p.stack[start:] {
			names = append(names, s.Name)
		}
		names = append(names, step.Name)
		return nil, &ConfigError{Step: step.Name, Reason: "dependency cycle: " + strings.Join(names, " -> ")}
	}
	if err := validateStep(step); err != nil {
		return nil, err
	}
	p.visiting[step] = true
	p.stack = append(p.stack, step)
	defer func() {
		delete(p.visiting, step)
		p.stack = p.stack[:len(p.stack)-1]
	}()

	w := &walker{step: step, config: map[string]any{}}
	if err := w.walk(configValue(step), ""); err != nil {
		return nil, err
	}
	n := &node{step: step, name: step.Name, fnName: step.Fn.Name()}
	var depVersions, pseudoVersions []any
	seenDep := map[*node]bool{}
	for _, d := range w.deps {
		dn, err := p.add(d.step)
		if err != nil {
			return nil, err
		}
		if d.blocking {
			depVersions = append(depVersions, rawCanonical(dn.versionStr))
			if !seenDep[dn] {
				seenDep[dn] = true
				n.deps = append(n.deps, dn)
			}
		} else {
			pseudoVersions = append(pseudoVersions, rawCanonical(dn.versionStr))
			n.pseudo = append(n.pseudo, dn)
		}
	}
	if depVersions == nil {
		depVersions = []any{}
	}
	n.version = map[string]any{"name": step.Name, "config": w.config, "dependencies": depVersions}
	if len(pseudoVersions) > 0 {
		n.version["pseudo_dependencies"] = pseudoVersions
	}
	b, err := canonicalJSON(n.version)
	if err != nil {
		return nil, &ConfigError{Step: step.Name, Reason: err.Error()}
	}
	n.versionStr = string(b)
	sum := md5.Sum(b)
	n.hash = hex.EncodeToString(sum[:])[:6]
	if same, ok := p.byVersion[n.versionStr]; ok {
		p.byStep[step] = same
		return same, nil
	}
	n.output = JoinPath(p.prefix, step.Name+"-"+n.hash)
	if step.OutputPath != "" {
		override := step.OutputPath
		if !isAbsolute(override) {
			override = JoinPath(p.prefix, override)
		}
		if override != n.output && p.warn != nil {
			p.warn("step output path overridden", "step", step.Name, "computed", n.output, "override", override)
		}
		n.output = override
	}
	for _, d := range n.deps {
		n.depPaths = append(n.depPaths, d.output)
	}
	r := &resolver{p: p, self: n}
	cfg, err := r.copy(configValue(step))
	if err != nil {
		return nil, err
	}
	n.config = cfg.Interface()
	n.index = len(p.order)
	p.order = append(p.order, n)
	p.byStep[step] = n
	p.byVersion[n.versionStr] = n
	return n, nil
}

func configValue(s *Step) reflect.Value {
	if s.Config == nil {
		return reflect.Zero(s.Fn.configType())
	}
	return reflect.ValueOf(s.Config)
}

// validateStep checks the parts of a step that do not need the config walk.
func validateStep(s *Step) error {
	if err := validateName(s.Name); err != nil {
		return &ConfigError{Step: s.Name, Reason: err.Error()}
	}
	if s.Fn == nil || reflect.ValueOf(s.Fn).IsNil() {
		return &ConfigError{Step: s.Name, Reason: "Fn is nil; declare the function with executor.NewStepFn at package level"}
	}
	want := s.Fn.configType()
	if s.Config == nil {
		switch want.Kind() {
		case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice:
			return nil
		}
		return &ConfigError{Step: s.Name, Reason: fmt.Sprintf("Config is nil; %s takes a %s", s.Fn.Name(), want)}
	}
	if got := reflect.TypeOf(s.Config); got != want {
		return &ConfigError{Step: s.Name, Reason: fmt.Sprintf("Config is a %s but %s takes a %s", got, s.Fn.Name(), want)}
	}
	if err := s.Resources.Validate(); err != nil {
		return &ConfigError{Step: s.Name, Reason: err.Error()}
	}
	if err := s.RuntimeEnv.Validate(); err != nil {
		return &ConfigError{Step: s.Name, Reason: err.Error()}
	}
	return nil
}

func validateName(name string) error {
	if name == "" {
		return fmt.Errorf("empty step name")
	}
	if strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") {
		return fmt.Errorf("step name must not start or end with \"/\"")
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("step name has an empty, \".\" or \"..\" segment")
		}
	}
	if strings.ContainsAny(name, "\x00\n\r\t\\?#*") {
		return fmt.Errorf("step name contains a control character or one of \\ ? # *")
	}
	return nil
}

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
