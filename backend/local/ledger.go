package local

import (
	"bufio"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"

	"github.com/fray-go/fray"
)

// ledger is the node's resource accounting in fixed-point units of fray.ResourceUnit. It is
// not safe for concurrent use; the cluster guards it with its mutex.
type ledger struct {
	names []string       // index → resource name, sorted
	index map[string]int // resource name → index
	total []int64
	avail []int64 // may go below zero while a blocked task's CPU is lent out and taken back
	cpu   int     // index of "CPU", or -1
}

func newLedger(capacity fray.Resources) *ledger {
	l := &ledger{index: make(map[string]int, len(capacity)), cpu: -1}
	for name := range capacity {
		l.names = append(l.names, name)
	}
	sort.Strings(l.names)
	for i, name := range l.names {
		l.index[name] = i
		u := fray.Units(capacity[name])
		l.total = append(l.total, u)
		l.avail = append(l.avail, u)
		if name == fray.CPU {
			l.cpu = i
		}
	}
	return l
}

// demand is one resource amount of a request, in units.
type demand struct {
	idx   int
	units int64
}

// shape is a canonical resource request: the nonzero demands sorted by resource index.
type shape struct {
	demands    []demand
	cpu        int64          // the CPU part, in units
	gpu        int64          // the GPU part, in units
	resources  fray.Resources // the request as given (after defaults), for messages
	infeasible *fray.InfeasibleError
}

// shapeOf resolves a request against the ledger. A resource the node lacks, or an amount above
// its capacity, makes the shape infeasible (the first such resource by name is reported).
func (l *ledger) shapeOf(r fray.Resources) *shape {
	s := &shape{resources: r}
	names := make([]string, 0, len(r))
	for name := range r {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		u := fray.Units(r[name])
		if u <= 0 {
			continue
		}
		i, ok := l.index[name]
		var capacity int64
		if ok {
			capacity = l.total[i]
		}
		if u > capacity {
			if s.infeasible == nil {
				s.infeasible = &fray.InfeasibleError{Resource: name, Requested: r[name], Capacity: fray.FromUnits(capacity)}
			}
			continue
		}
		s.demands = append(s.demands, demand{i, u})
		if i == l.cpu {
			s.cpu = u
		}
		if name == fray.GPU {
			s.gpu = u
		}
	}
	sort.Slice(s.demands, func(a, b int) bool { return s.demands[a].idx < s.demands[b].idx })
	return s
}

// shapeKey is the canonical key of a request: "name=units;" for each nonzero amount, sorted
// by name. With defaultCPU, a request without a CPU amount counts as asking for 1 CPU
// (fray.TaskResources). The key is built into buf so that lookups do not allocate.
func shapeKey(buf []byte, r fray.Resources, defaultCPU bool) []byte {
	var stack [8]string
	names := stack[:0]
	for name := range r {
		names = append(names, name)
	}
	_, hasCPU := r[fray.CPU]
	if defaultCPU && !hasCPU {
		names = append(names, fray.CPU)
	}
	if len(names) > 1 {
		sort.Strings(names)
	}
	for _, name := range names {
		v, ok := r[name]
		if !ok { // the default CPU
			v = 1
		}
		if u := fray.Units(v); u > 0 {
			buf = appendDemand(buf, name, u)
		}
	}
	return buf
}

func appendDemand(buf []byte, name string, u int64) []byte {
	buf = append(buf, name...)
	buf = append(buf, '=')
	buf = strconv.AppendInt(buf, u, 10)
	return append(buf, ';')
}

func (l *ledger) fits(s *shape) bool {
	for _, d := range s.demands {
		if l.avail[d.idx] < d.units {
			return false
		}
	}
	return true
}

func (l *ledger) acquire(s *shape) {
	for _, d := range s.demands {
		l.avail[d.idx] -= d.units
	}
}

func (l *ledger) release(s *shape) {
	for _, d := range s.demands {
		l.avail[d.idx] += d.units
	}
}

// releaseExceptCPU returns everything s holds but its CPU part, plus cpu units of CPU.
func (l *ledger) releaseExceptCPU(s *shape, cpu int64) {
	for _, d := range s.demands {
		if d.idx == l.cpu {
			l.avail[d.idx] += cpu
		} else {
			l.avail[d.idx] += d.units
		}
	}
}

func (l *ledger) snapshot(v []int64) fray.Resources {
	out := make(fray.Resources, len(l.names))
	for i, name := range l.names {
		out[name] = fray.FromUnits(v[i])
	}
	return out
}

// defaultResources is what a node has unless told otherwise: every CPU of the machine, its
// physical memory and no GPU. given is merged over it.
func defaultResources(given fray.Resources) fray.Resources {
	r := fray.Resources{fray.CPU: float64(runtime.NumCPU()), fray.GPU: 0}
	if m := physicalMemory(); m > 0 {
		r[fray.Memory] = float64(m)
	}
	for k, v := range given {
		r[k] = v
	}
	return r
}

// physicalMemory reads MemTotal from /proc/meminfo, in bytes; 0 when unavailable.
func physicalMemory() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	return parseMemTotal(bufio.NewScanner(f))
}

func parseMemTotal(sc *bufio.Scanner) int64 {
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil || kb < 0 {
				return 0
			}
			return kb * 1024
		}
	}
	return 0
}
