package executor

import (
	"context"
	"errors"
	"strings"
	"testing"
)

type vInner struct {
	K   Value[string]
	Raw Path
}

type vConfig struct {
	In     Path                   `json:"input"`
	Out    Path                   `json:"output"`
	N      Value[int]             `json:"n"`
	LR     Value[float64]         `json:"lr"`
	Note   string                 `json:"note"`
	Tags   []Value[string]        `json:"tags"`
	Opts   map[string]Value[bool] `json:"opts"`
	Nested *vInner                `json:"nested"`
	Any    any                    `json:"any,omitempty"`
}

var versionTestFn = NewStepFn("executor.test.version", func(ctx context.Context, c vConfig) error { return nil })

func chain(n int, note string, sub string) (*Step, *Step) {
	a := NewStep("data/a", versionTestFn, vConfig{In: InputPath("raw/x"), Out: ThisOutputPath(), N: Versioned(n), LR: Versioned(0.001)})
	b := NewStep("b", versionTestFn, vConfig{
		In:     OutputPathOf(a, sub),
		Note:   note,
		Tags:   []Value[string]{Versioned("x"), Versioned("y")},
		Opts:   map[string]Value[bool]{"z": Versioned(true), "b": Versioned(false)},
		Nested: &vInner{K: Versioned("k"), Raw: OutputPathOf(a).NonBlocking()},
	})
	return a, b
}

func planMap(t *testing.T, prefix string, steps ...*Step) map[string]PlannedStep {
	t.Helper()
	ps, err := Plan(prefix, steps...)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]PlannedStep{}
	for _, p := range ps {
		m[p.Name] = p
	}
	return m
}

// The expected versions and hashes were computed independently with Python:
// hashlib.md5(json.dumps(version, sort_keys=True).encode()).hexdigest()[:6].
func TestVersionGolden(t *testing.T) {
	_, b := chain(1, "hi", "part")
	m := planMap(t, "/data/prefix", b)
	const wantA = `{"config": {"input": "raw/x", "lr": 0.001, "n": 1}, "dependencies": [], "name": "data/a"}`
	const wantB = `{"config": {"input": "DEP[0]/part", "nested.K": "k", "nested.Raw": "DEP[1]", "opts.b": false, "opts.z": true, "tags.[0]": "x", "tags.[1]": "y"}, "dependencies": [` + wantA + `], "name": "b", "pseudo_dependencies": [` + wantA + `]}`
	pa, pb := m["data/a"], m["b"]
	if pa.Version != wantA || pa.Hash != "9f08a9" || pa.OutputPath != "/data/prefix/data/a-9f08a9" {
		t.Errorf("a: version %s hash %s path %s", pa.Version, pa.Hash, pa.OutputPath)
	}
	if pb.Version != wantB || pb.Hash != "4aa8a6" || pb.OutputPath != "/data/prefix/b-4aa8a6" {
		t.Errorf("b: version %s hash %s path %s", pb.Version, pb.Hash, pb.OutputPath)
	}
	cb := pb.Config.(vConfig)
	if got := cb.In.String(); got != pa.OutputPath+"/part" {
		t.Errorf("b.In resolved to %q", got)
	}
	if got := cb.Nested.Raw.String(); got != pa.OutputPath {
		t.Errorf("b.Nested.Raw resolved to %q", got)
	}
	ca := pa.Config.(vConfig)
	if ca.In.String() != "/data/prefix/raw/x" || ca.Out.String() != pa.OutputPath {
		t.Errorf("a: In %q Out %q", ca.In, ca.Out)
	}
	if len(pb.Deps) != 1 || pb.Deps[0] != pa.OutputPath || len(pb.Pseudo) != 1 {
		t.Errorf("b deps %v pseudo %v", pb.Deps, pb.Pseudo)
	}
	// The user's config is untouched.
	if !b.Config.(vConfig).In.IsMarker() || !b.Config.(vConfig).Nested.Raw.IsMarker() {
		t.Error("Plan modified the step's own config")
	}
	// Same hash whatever the prefix, and map order cannot matter: plan again many times.
	for i := 0; i < 20; i++ {
		_, b2 := chain(1, "hi", "part")
		if got := planMap(t, "gs://bucket/other?x=1", b2)["b"].Hash; got != "4aa8a6" {
			t.Fatalf("hash changed with prefix/run: %s", got)
		}
	}
	if got := planMap(t, "gs://bucket/other?x=1", b)["b"].OutputPath; got != "gs://bucket/other/b-4aa8a6?x=1" {
		t.Errorf("URL output path %q", got)
	}
}

func TestVersioningRules(t *testing.T) {
	_, base := chain(1, "hi", "part")
	h := planMap(t, "p", base)["b"].Hash
	cases := []struct {
		name    string
		b       func() *Step
		changes bool
	}{
		{"unversioned field", func() *Step { _, b := chain(1, "other note", "part"); return b }, false},
		{"sub-path", func() *Step { _, b := chain(1, "hi", "other"); return b }, true},
		{"upstream versioned field", func() *Step { _, b := chain(2, "hi", "part"); return b }, true},
		{"versioned field", func() *Step {
			_, b := chain(1, "hi", "part")
			c := b.Config.(vConfig)
			c.Tags = []Value[string]{Versioned("x"), Versioned("z")}
			b.Config = c
			return b
		}, true},
		{"unversioned Value", func() *Step {
			_, b := chain(1, "hi", "part")
			c := b.Config.(vConfig)
			c.N = Unversioned(42)
			b.Config = c
			return b
		}, false},
		{"this output sub-path", func() *Step {
			_, b := chain(1, "hi", "part")
			c := b.Config.(vConfig)
			c.Out = ThisOutputPath("x")
			b.Config = c
			return b
		}, false},
		{"function description and resources", func() *Step {
			_, b := chain(1, "hi", "part")
			b.Description = "changed"
			return b
		}, false},
	}
	for _, c := range cases {
		got := planMap(t, "p", c.b())["b"].Hash
		if (got != h) != c.changes {
			t.Errorf("%s: hash %s vs base %s, want change=%v", c.name, got, h, c.changes)
		}
	}
}

func TestVersionedOfMarkerIsError(t *testing.T) {
	a, _ := chain(1, "", "")
	cases := map[string]any{
		"versioned of versioned": Versioned(Versioned(3)),
		"versioned of output":    Versioned(OutputPathOf(a)),
		"versioned of input":     Versioned(InputPath("x")),
		"versioned of nested":    Versioned(vInner{Raw: ThisOutputPath()}),
	}
	for name, v := range cases {
		s := NewStep("s", versionTestFn, vConfig{Any: v})
		_, err := Plan("p", s)
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Key != "any" || !strings.Contains(ce.Reason, "Versioned") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	// A literal path inside Versioned is fine.
	if _, err := Plan("p", NewStep("s", versionTestFn, vConfig{Any: Versioned(LiteralPath("x"))})); err != nil {
		t.Errorf("Versioned(LiteralPath): %v", err)
	}
}

func TestDedupIdenticalGraphs(t *testing.T) {
	_, b1 := chain(1, "hi", "part")
	_, b2 := chain(1, "hi", "part")
	ps, err := Plan("p", b1, b2)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 {
		t.Fatalf("two identical graphs planned as %d steps, want 2", len(ps))
	}
	// Unversioned differences do not make a separate step either.
	_, b3 := chain(1, "different note", "part")
	ps, _ = Plan("p", b1, b3)
	if len(ps) != 2 {
		t.Fatalf("graphs differing in an unversioned field planned as %d steps, want 2", len(ps))
	}
}

func TestCycleAndTypeErrors(t *testing.T) {
	x := NewStep("x", versionTestFn, vConfig{})
	y := NewStep("y", versionTestFn, vConfig{In: OutputPathOf(x)})
	x.Config = vConfig{In: OutputPathOf(y)}
	_, err := Plan("p", x)
	var ce *ConfigError
	if !errors.As(err, &ce) || !strings.Contains(ce.Reason, "cycle: x -> y -> x") {
		t.Errorf("cycle: %v", err)
	}
	bad := &Step{Name: "bad", Fn: versionTestFn, Config: 3}
	if _, err := Plan("p", bad); !errors.As(err, &ce) || !strings.Contains(ce.Reason, "int") {
		t.Errorf("wrong config type: %v", err)
	}
	for _, name := range []string{"", "/a", "a/", "a//b", "a/../b", "a*"} {
		if _, err := Plan("p", NewStep(name, versionTestFn, vConfig{})); !errors.As(err, &ce) {
			t.Errorf("name %q accepted", name)
		}
	}
	m := map[int]Path{1: ThisOutputPath()}
	if _, err := Plan("p", NewStep("m", versionTestFn, vConfig{Any: m})); !errors.As(err, &ce) || !strings.Contains(ce.Reason, "string keys") {
		t.Errorf("int-keyed map of markers: %v", err)
	}
}

func TestOverrideOutputPath(t *testing.T) {
	s := NewStep("s", versionTestFn, vConfig{Out: ThisOutputPath("f")})
	s.OutputPath = "custom/dir"
	p := planMap(t, "/pre", s)["s"]
	if p.OutputPath != "/pre/custom/dir" || p.Config.(vConfig).Out.String() != "/pre/custom/dir/f" {
		t.Errorf("override: %s, Out %s", p.OutputPath, p.Config.(vConfig).Out)
	}
	s.OutputPath = "/abs/dir"
	if p := planMap(t, "/pre", s)["s"]; p.OutputPath != "/abs/dir" {
		t.Errorf("absolute override: %s", p.OutputPath)
	}
}

func TestJoinPath(t *testing.T) {
	cases := []struct {
		base string
		elem []string
		want string
	}{
		{"/a/b", []string{"c", "d/"}, "/a/b/c/d"},
		{"/a/b/", []string{"/c"}, "/a/b/c"},
		{"rel", []string{"x"}, "rel/x"},
		{"gs://bkt/p", []string{"x", "y"}, "gs://bkt/p/x/y"},
		{"s3://bkt?region=us", []string{"x"}, "s3://bkt/x?region=us"},
		{"mem://t", []string{"a"}, "mem://t/a"},
		{"/", []string{"a"}, "/a"},
		{"", []string{"a"}, "a"},
	}
	for _, c := range cases {
		if got := JoinPath(c.base, c.elem...); got != c.want {
			t.Errorf("JoinPath(%q, %q) = %q, want %q", c.base, c.elem, got, c.want)
		}
	}
}
