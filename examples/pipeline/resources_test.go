package main

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/fray-go/fray"
)

func TestParseShardResources(t *testing.T) {
	cases := []struct {
		in      string
		want    fray.Resources
		wantErr string // in the error; "" for none
	}{
		{"", nil, ""},
		{"  ", nil, ""},
		{"node_b=0.1", fray.Resources{"node_b": 0.1}, ""},
		{"node_b=1, GPU=1", fray.Resources{"node_b": 1, "GPU": 1}, ""},
		{" accelerator_type:A100 = 0.5 ", fray.Resources{"accelerator_type:A100": 0.5}, ""},
		{"node_b", nil, `"node_b" is not NAME=AMOUNT`},
		{"=1", nil, "has no resource name"},
		{"node_b=", nil, "is not a number"},
		{"node_b=abc", nil, `amount "abc" of node_b is not a number`},
		{"node_b=0", nil, "must be above 0"},
		{"node_b=-1", nil, "must be above 0"},
		{"node_b=NaN", nil, "must be above 0"},
		{"node_b=Inf", nil, "must be a finite number"},
		{"node_b=1,", nil, "empty NAME=AMOUNT pair"},
		{",node_b=1", nil, "empty NAME=AMOUNT pair"},
		{"node_b=1,node_b=2", nil, `"node_b" given twice`},
		{"CPU=2", nil, "--shard-cpus"},
		{"node b=1", nil, "contains a space"},
		{"a=1=2", nil, "is not a number"},
		{"num_gpus=1", nil, `use "GPU"`},
		{"GPU=1.5", nil, "whole numbers"},
		{"node_b=0.00001", nil, "below 0.0001"},
	}
	for _, c := range cases {
		got, err := parseShardResources(c.in)
		if c.wantErr == "" {
			if err != nil || !reflect.DeepEqual(got, c.want) {
				t.Errorf("parseShardResources(%q) = %v, %v; want %v", c.in, got, err, c.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.wantErr) || got != nil {
			t.Errorf("parseShardResources(%q) = %v, %v; want an error containing %q", c.in, got, err, c.wantErr)
		}
	}
	// What Validate refuses stays typed.
	if _, err := parseShardResources("num_cpus=1"); !errors.Is(err, fray.ErrInvalidResources) {
		t.Errorf("num_cpus=1: %v, want fray.ErrInvalidResources", err)
	}
}
