package local

import (
	"bufio"
	"strings"
	"testing"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
)

func TestShapeKeyCanonical(t *testing.T) {
	cases := []struct {
		name       string
		r          fray.Resources
		defaultCPU bool
		want       string
	}{
		{"empty", nil, false, ""},
		{"empty task gets 1 CPU", nil, true, "CPU=10000;"},
		{"explicit CPU kept", fray.Resources{fray.CPU: 2}, true, "CPU=20000;"},
		{"zero CPU means none", fray.Resources{fray.CPU: 0}, true, ""},
		{"zero amounts dropped", fray.Resources{fray.GPU: 0, "x": 0.5}, false, "x=5000;"},
		{"sorted by name", fray.Resources{"b": 1, "a": 1, fray.CPU: 0.5}, false, "CPU=5000;a=10000;b=10000;"},
		{"default CPU sorted in", fray.Resources{"zz": 1, "AA": 1}, true, "AA=10000;CPU=10000;zz=10000;"},
		{"fractions to units", fray.Resources{"head_node": 0.0001}, false, "head_node=1;"},
		{"many names", fray.Resources{"a": 1, "b": 1, "c": 1, "d": 1, "e": 1, "f": 1, "g": 1, "h": 1, "i": 1}, false,
			"a=10000;b=10000;c=10000;d=10000;e=10000;f=10000;g=10000;h=10000;i=10000;"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := string(shapeKey(nil, c.r, c.defaultCPU)); got != c.want {
				t.Fatalf("shapeKey(%v, %v) = %q, want %q", c.r, c.defaultCPU, got, c.want)
			}
		})
	}
}

func TestLedger(t *testing.T) {
	l := newLedger(fray.Resources{fray.CPU: 2, fray.GPU: 1, "head_node": 1})
	type step struct {
		op   string // "fits", "acquire", "release"
		r    fray.Resources
		want bool // for fits
	}
	cases := []struct {
		name  string
		steps []step
		avail fray.Resources // afterwards
	}{
		{"exact capacity fits", []step{{"fits", fray.Resources{fray.CPU: 2, fray.GPU: 1}, true}}, nil},
		{"more than what is left does not fit", []step{
			{"acquire", fray.Resources{fray.CPU: 0.0001}, false}, {"fits", fray.Resources{fray.CPU: 2}, false},
			{"fits", fray.Resources{fray.CPU: 1.9999}, true}, {"release", fray.Resources{fray.CPU: 0.0001}, false},
		}, fray.Resources{fray.CPU: 2}},
		{"fractions add up exactly", []step{
			{"acquire", fray.Resources{fray.CPU: 0.1}, false}, {"acquire", fray.Resources{fray.CPU: 0.2}, false},
			{"acquire", fray.Resources{fray.CPU: 0.7}, false}, {"fits", fray.Resources{fray.CPU: 1}, true},
			{"fits", fray.Resources{fray.CPU: 1.0001}, false},
			{"release", fray.Resources{fray.CPU: 0.1}, false}, {"release", fray.Resources{fray.CPU: 0.2}, false},
			{"release", fray.Resources{fray.CPU: 0.7}, false},
		}, fray.Resources{fray.CPU: 2, fray.GPU: 1, "head_node": 1}},
		{"zero request always fits", []step{
			{"acquire", fray.Resources{fray.CPU: 2, fray.GPU: 1, "head_node": 1}, false},
			{"fits", fray.Resources{fray.CPU: 0}, true},
			{"fits", fray.Resources{"head_node": 0.0001}, false},
			{"release", fray.Resources{fray.CPU: 2, fray.GPU: 1, "head_node": 1}, false},
		}, fray.Resources{fray.CPU: 2, fray.GPU: 1, "head_node": 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for i, s := range c.steps {
				sh := l.shapeOf(s.r)
				if sh.infeasible != nil {
					t.Fatalf("step %d: %v infeasible: %v", i, s.r, sh.infeasible)
				}
				switch s.op {
				case "fits":
					if got := l.fits(sh); got != s.want {
						t.Fatalf("step %d: fits(%v) = %v", i, s.r, got)
					}
				case "acquire":
					l.acquire(sh)
				case "release":
					l.release(sh)
				}
			}
			if c.avail != nil {
				got := l.snapshot(l.avail)
				for k, v := range c.avail {
					if got[k] != v {
						t.Fatalf("available %v, want %v", got, c.avail)
					}
				}
			}
		})
	}
}

func TestShapeOfInfeasible(t *testing.T) {
	l := newLedger(fray.Resources{fray.CPU: 2, "head_node": 1})
	cases := []struct {
		r        fray.Resources
		resource string // "" when feasible
		capacity float64
	}{
		{fray.Resources{fray.CPU: 2}, "", 0},
		{fray.Resources{fray.CPU: 3}, fray.CPU, 2},
		{fray.Resources{fray.GPU: 1}, fray.GPU, 0},
		{fray.Resources{fray.GPU: 0}, "", 0},
		{fray.Resources{"head_node": 1.0001}, "head_node", 1},
		{fray.Resources{"b": 1, "a": 1}, "a", 0}, // the first by name
	}
	for _, c := range cases {
		s := l.shapeOf(c.r)
		switch {
		case c.resource == "" && s.infeasible != nil:
			t.Errorf("%v: unexpected %v", c.r, s.infeasible)
		case c.resource != "" && (s.infeasible == nil || s.infeasible.Resource != c.resource || s.infeasible.Capacity != c.capacity || s.infeasible.Requested != c.r[c.resource]):
			t.Errorf("%v: %v, want infeasible %s with capacity %g", c.r, s.infeasible, c.resource, c.capacity)
		}
	}
}

func TestParseMemTotal(t *testing.T) {
	cases := []struct {
		in   string
		want int64
	}{
		{"MemTotal:       24576000 kB\nMemFree: 1 kB\n", 24576000 * 1024},
		{"MemFree: 1 kB\nMemTotal: 2 kB\n", 2048},
		{"MemFree: 1 kB\n", 0},
		{"MemTotal: lots kB\n", 0},
		{"MemTotal: -5 kB\n", 0},
		{"", 0},
	}
	for _, c := range cases {
		if got := parseMemTotal(bufio.NewScanner(strings.NewReader(c.in))); got != c.want {
			t.Errorf("parseMemTotal(%q) = %d, want %d", c.in, got, c.want)
		}
	}
}

func TestParseID(t *testing.T) {
	j := &JobContext{prefix: []byte("abc123."), objects: newObjTable()}
	j.mu.Lock()
	var ids []backend.ObjectID
	for range 300 {
		ids = append(ids, j.newIDLocked(&object{}))
	}
	j.mu.Unlock()
	for i, id := range ids {
		seq, ok := j.parseID(id)
		if !ok || seq != uint64(i+1) {
			t.Fatalf("parseID(%q) = %d, %v", id, seq, ok)
		}
	}
	for _, bad := range []backend.ObjectID{"", "abc123.", "abc124.1", "abc123.x", "abc123.1A", "abc123.11111111111111111", "1"} {
		if seq, ok := j.parseID(bad); ok {
			t.Errorf("parseID(%q) = %d, accepted", bad, seq)
		}
	}
}

func FuzzParseID(f *testing.F) {
	j := &JobContext{prefix: []byte("p.")}
	f.Add("p.1")
	f.Add("p.ffffffffffffffff")
	f.Add("q.1")
	f.Fuzz(func(t *testing.T, id string) {
		seq, ok := j.parseID(backend.ObjectID(id))
		if !ok {
			return
		}
		var buf []byte
		buf = append(buf, j.prefix...)
		buf = appendHex(buf, seq)
		if strings.TrimLeft(id[2:], "0") != strings.TrimLeft(string(buf[2:]), "0") {
			t.Fatalf("parseID(%q) = %d, which formats as %q", id, seq, buf)
		}
	})
}

func appendHex(b []byte, v uint64) []byte {
	const digits = "0123456789abcdef"
	if v == 0 {
		return append(b, '0')
	}
	var tmp [16]byte
	i := len(tmp)
	for v > 0 {
		i--
		tmp[i] = digits[v&15]
		v >>= 4
	}
	return append(b, tmp[i:]...)
}

// TestSchedulerClasses checks the dispatch order of the class queues without running tasks:
// FIFO within a class, round-robin across classes, and a class that does not fit never
// holds up one that does.
func TestSchedulerClasses(t *testing.T) {
	c, err := NewCluster(ClusterOptions{Resources: fray.Resources{fray.CPU: 2, fray.GPU: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cpu := c.classFor(nil, true)
	gpu := c.classFor(fray.Resources{fray.GPU: 1, fray.CPU: 0}, true)
	if c.classFor(fray.Resources{fray.CPU: 1}, true) != cpu {
		t.Fatal("{CPU: 1} and the default are different classes")
	}
	mk := func(cl *class, name string) *task {
		t := &task{class: cl, name: name}
		t.init()
		t.state.Store(stQueued)
		return t
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ledger.acquire(c.ledger.shapeOf(fray.Resources{fray.CPU: 2, fray.GPU: 1})) // node full
	var queued []*task
	for _, x := range []struct {
		cl   *class
		name string
	}{{gpu, "g1"}, {gpu, "g2"}, {cpu, "c1"}, {cpu, "c2"}, {cpu, "c3"}} {
		tk := mk(x.cl, x.name)
		if c.enqueueLocked(tk) {
			t.Fatalf("%s started on a full node", x.name)
		}
		queued = append(queued, tk)
	}
	if c.pickLocked() != nil {
		t.Fatal("picked a task on a full node")
	}
	queued[3].state.Store(stCancelled) // c2 is cancelled while queued
	c.ledger.release(cpu.shape)        // one CPU free: c1, then (c2 skipped) c3 once another frees
	if got := c.pickLocked(); got == nil || got.name != "c1" {
		t.Fatalf("picked %v, want c1 (the GPU class does not fit and must not block)", got)
	}
	if c.pickLocked() != nil {
		t.Fatal("picked a second task with no CPU left")
	}
	c.ledger.release(cpu.shape)
	if got := c.pickLocked(); got == nil || got.name != "c3" {
		t.Fatalf("picked %v, want c3 (c2 was cancelled)", got)
	}
	c.ledger.release(c.ledger.shapeOf(fray.Resources{fray.GPU: 1}))
	if got := c.pickLocked(); got == nil || got.name != "g1" {
		t.Fatalf("picked %v, want g1", got)
	}
	if c.pickLocked() != nil {
		t.Fatal("g2 picked while g1 holds the GPU")
	}
	if len(c.ready) != 1 || c.ready[0] != gpu || cpu.n != 0 {
		t.Fatalf("ready classes %d, cpu queue %d", len(c.ready), cpu.n)
	}
	// Drop g2 so that Close finds nothing queued.
	g2 := c.popLocked(gpu)
	c.removeReadyLocked(0)
	if g2.name != "g2" {
		t.Fatal(g2.name)
	}
	c.ledger.release(cpu.shape)
	c.ledger.release(cpu.shape)
	c.ledger.release(c.ledger.shapeOf(fray.Resources{fray.GPU: 1}))
}

func TestObjTable(t *testing.T) {
	tb := newObjTable()
	objs := map[uint64]*object{}
	// Insert 10 pages' worth, release all but every 100th, then the rest.
	for seq := uint64(1); seq <= 10*pageSize; seq++ {
		o := &object{}
		tb.put(seq, o)
		objs[seq] = o
		if seq > 3 && seq%100 != 0 {
			tb.remove(seq - 3) // release shortly after, as refs are dropped
			delete(objs, seq-3)
		}
	}
	if tb.n != len(objs) {
		t.Fatalf("n = %d, want %d", tb.n, len(objs))
	}
	for seq, o := range objs {
		if got, ok := tb.get(seq); !ok || got != o {
			t.Fatalf("get(%d) lost", seq)
		}
	}
	if _, ok := tb.get(4); ok {
		t.Fatal("removed object found")
	}
	tb.remove(4) // twice: harmless
	count := 0
	tb.each(func(*object) { count++ })
	if count != len(objs) {
		t.Fatalf("each visited %d, want %d", count, len(objs))
	}
	for seq := range objs {
		tb.remove(seq)
	}
	if tb.n != 0 || len(tb.pages) > 1 {
		t.Fatalf("after removing everything: n %d, %d pages kept", tb.n, len(tb.pages))
	}
}
