// The planner: each step and everything it references becomes one node per distinct
// version, in dependency order; Plan is its public face.

package executor

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"reflect"
	"strings"
)

// ConfigError reports a step whose declaration is wrong: a bad name, a config of the wrong
// type, a marker where none may be (Versioned of a marker, an unexported field holding a
// marker, a map with non-string keys holding markers), a nil step, or a dependency cycle.
type ConfigError struct {
	Step   string // step name
	Key    string // config key ("a.b.[2].c"), when the problem is in the config
	Reason string
}

// Error names the step, the config key if any, and the problem.
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

// PlannedStep is a step as planned: its version, output path and resolved config.
type PlannedStep struct {
	Name       string
	FnName     string
	Version    string // canonical version JSON, the input of the hash
	Hash       string
	OutputPath string
	Deps       []string // output paths of blocking dependencies
	Pseudo     []string // output paths of pseudo-dependencies
	Config     any      // resolved config
}

// Plan computes versions, output paths and resolved configs for steps and everything they
// depend on, in dependency order, with identical steps merged. It needs no backend.
func Plan(prefix string, steps ...*Step) ([]PlannedStep, error) {
	p := newPlanner(prefix, nil)
	for _, s := range steps {
		if _, err := p.add(s); err != nil {
			return nil, err
		}
	}
	out := make([]PlannedStep, len(p.order))
	for i, n := range p.order {
		ps := PlannedStep{Name: n.name, FnName: n.fnName, Version: n.versionStr, Hash: n.hash,
			OutputPath: n.output, Deps: n.depPaths, Config: n.config}
		for _, d := range n.pseudo {
			ps.Pseudo = append(ps.Pseudo, d.output)
		}
		out[i] = ps
	}
	return out, nil
}
