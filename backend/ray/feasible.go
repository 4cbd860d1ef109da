package ray

import (
	"sort"

	"github.com/fray-go/fray"
)

// infeasible returns a *fray.InfeasibleError when no node in nodes has every resource in
// req (amounts compared in Ray's 0.0001 units), else nil. The error names the first
// resource, in name order, that even the node best placed for it lacks.
func infeasible(req fray.Resources, nodes []map[string]float64) error {
	names := make([]string, 0, len(req))
	for k, v := range req {
		if v > 0 {
			names = append(names, k)
		}
	}
	if len(names) == 0 {
		return nil
	}
	sort.Strings(names)
	for _, n := range nodes {
		fits := true
		for _, k := range names {
			if fray.Units(req[k]) > fray.Units(n[k]) {
				fits = false
				break
			}
		}
		if fits {
			return nil
		}
	}
	for _, k := range names {
		best := 0.0
		for _, n := range nodes {
			best = max(best, n[k])
		}
		if fray.Units(req[k]) > fray.Units(best) {
			return &fray.InfeasibleError{Resource: k, Requested: req[k], Capacity: best}
		}
	}
	// Each resource fits somewhere, but no single node has them all.
	k := names[0]
	best := 0.0
	for _, n := range nodes {
		best = max(best, n[k])
	}
	return &fray.InfeasibleError{Resource: "combination " + fray.Resources(req).String(), Requested: req[k], Capacity: best}
}
