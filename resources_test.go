package fray

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestResourcesValidate(t *testing.T) {
	cases := []struct {
		name string
		r    Resources
		want string // substring of the error, "" for valid
	}{
		{"empty", Resources{}, ""},
		{"nil", nil, ""},
		{"cpu", Resources{"CPU": 2}, ""},
		{"fractional cpu", Resources{"CPU": 1.5}, ""},
		{"head node fraction", Resources{"CPU": 0, "head_node": 0.0001}, ""},
		{"fractional gpu below one", Resources{"GPU": 0.5}, ""},
		{"whole gpus", Resources{"GPU": 4}, ""},
		{"tpu", Resources{"TPU": 4, "TPU-v4-32-head": 1}, ""},
		{"eight tpus", Resources{"TPU": 8}, ""},
		{"zero tpus", Resources{"TPU": 0}, ""},
		{"memory bytes", Resources{"memory": 8 << 30}, ""},
		{"num_cpus", Resources{"num_cpus": 1}, `use "CPU"`},
		{"num_gpus", Resources{"num_gpus": 1}, `use "GPU"`},
		{"lowercase gpu", Resources{"gpu": 1}, `use "GPU"`},
		{"negative", Resources{"CPU": -1}, "negative"},
		{"nan", Resources{"CPU": math.NaN()}, "finite"},
		{"inf", Resources{"CPU": math.Inf(1)}, "finite"},
		{"below precision", Resources{"head_node": 0.00001}, "0.0001"},
		{"fractional gpu above one", Resources{"GPU": 1.5}, "whole"},
		{"fractional tpu above one", Resources{"TPU": 2.5}, "whole"},
		{"fractional tpu", Resources{"TPU": 0.5}, "1, 2, 4 or 8"},
		{"three tpus", Resources{"TPU": 3}, "1, 2, 4 or 8"},
		{"empty name", Resources{"": 1}, "empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.r.Validate()
			if c.want == "" {
				if err != nil {
					t.Fatalf("Validate(%v) = %v, want nil", c.r, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Validate(%v) = %v, want error containing %q", c.r, err, c.want)
			}
			if !errors.Is(err, ErrInvalidResources) {
				t.Fatalf("error %v does not match ErrInvalidResources", err)
			}
			var re *ResourceError
			if !errors.As(err, &re) {
				t.Fatalf("error %T is not a *ResourceError", err)
			}
		})
	}
}

func TestResourceDefaults(t *testing.T) {
	if got := TaskResources(nil); got[CPU] != 1 {
		t.Fatalf("default task resources = %v", got)
	}
	if got := TaskResources(Resources{"TPU": 4}); got[CPU] != 1 || got["TPU"] != 4 {
		t.Fatalf("task resources without CPU = %v, want CPU 1 added", got)
	}
	if got := TaskResources(Resources{"CPU": 0}); got[CPU] != 0 {
		t.Fatalf("explicit CPU 0 = %v", got)
	}
	p, h := ActorResources(nil)
	if p[CPU] != 1 || len(h) != 0 {
		t.Fatalf("default actor resources = %v / %v", p, h)
	}
	p, h = ActorResources(Resources{"CPU": 0, "head_node": 0.0001})
	if p["head_node"] != 0.0001 || h["head_node"] != 0.0001 || h[CPU] != 0 {
		t.Fatalf("explicit actor resources = %v / %v", p, h)
	}
}

func TestUnits(t *testing.T) {
	for _, c := range []struct {
		v float64
		u int64
	}{{0, 0}, {0.0001, 1}, {1, 10000}, {0.1 + 0.2, 3000}, {1.5, 15000}} {
		if got := Units(c.v); got != c.u {
			t.Errorf("Units(%v) = %d, want %d", c.v, got, c.u)
		}
	}
	// Ten 0.1 requests add up exactly to one unit of 1.0: no float drift.
	var sum int64
	for i := 0; i < 10; i++ {
		sum += Units(0.1)
	}
	if sum != Units(1) {
		t.Fatalf("10 x 0.1 = %d units, want %d", sum, Units(1))
	}
}

func TestRuntimeEnvValidateAndMerge(t *testing.T) {
	bad := []RuntimeEnv{
		{Env: map[string]string{"": "x"}},
		{Env: map[string]string{"A=B": "x"}},
		{Env: map[string]string{"A": "x\x00y"}},
		{PackageRequirements: []string{" "}},
		{PackageRequirements: []string{"six\nidna"}},
	}
	for _, e := range bad {
		if err := e.Validate(); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("Validate(%+v) = %v, want ErrInvalidArgument", e, err)
		}
	}
	parent := RuntimeEnv{Env: map[string]string{"A": "1", "B": "1"}, PackageRequirements: []string{"six"}}
	child := RuntimeEnv{Env: map[string]string{"B": "2"}, PackageRequirements: []string{"six", "idna"}}
	m := parent.Merge(child)
	if m.Env["A"] != "1" || m.Env["B"] != "2" || strings.Join(m.PackageRequirements, ",") != "six,idna" {
		t.Fatalf("Merge = %+v", m)
	}
	if got := strings.Join(m.EnvList(), " "); got != "A=1 B=2" {
		t.Fatalf("EnvList = %q", got)
	}
}
