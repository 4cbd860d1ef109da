package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/fray-go/fray"
)

// parseShardResources parses --shard-resources: comma-separated NAME=AMOUNT pairs (spaces
// around a pair allowed), each a custom resource every shard task of the sharded steps
// requests (and every classify actor holds) beside its CPUs, e.g. "node_b=0.1"
// pins the shard work to the node started with {"node_b": 1}. "" is none. Strict: an
// empty pair, a name given twice, CPU (that is --shard-cpus), an amount that is not a
// positive number, or anything fray.Resources.Validate refuses is an error saying why.
func parseShardResources(s string) (fray.Resources, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	out := fray.Resources{}
	for _, pair := range strings.Split(s, ",") {
		pair = strings.TrimSpace(pair)
		name, amount, ok := strings.Cut(pair, "=")
		name, amount = strings.TrimSpace(name), strings.TrimSpace(amount)
		switch {
		case pair == "":
			return nil, fmt.Errorf("empty NAME=AMOUNT pair (a stray comma?)")
		case !ok:
			return nil, fmt.Errorf("%q is not NAME=AMOUNT", pair)
		case name == "":
			return nil, fmt.Errorf("%q has no resource name", pair)
		case strings.ContainsAny(name, " \t="):
			return nil, fmt.Errorf("resource name %q contains a space or '='", name)
		case name == fray.CPU:
			return nil, fmt.Errorf("CPU is --shard-cpus, not a --shard-resources entry")
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("resource %q given twice", name)
		}
		v, err := strconv.ParseFloat(amount, 64)
		if err != nil {
			return nil, fmt.Errorf("amount %q of %s is not a number", amount, name)
		}
		if !(v > 0) { // also NaN
			return nil, fmt.Errorf("amount of %s must be above 0, got %s", name, amount)
		}
		out[name] = v
	}
	if err := out.Validate(); err != nil {
		return nil, err
	}
	return out, nil
}
