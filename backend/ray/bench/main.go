// Command bench compares fray on Ray with Ray used directly from Python, on one Ray cluster
// in one invocation, and the local backend on the same workloads: (a) 200 tasks that each
// busy-wait 10 ms (wall time), (b) 2,000 no-op tasks submitted then gathered (throughput),
// (c) 2,000 calls on one actor (throughput), (d) put then get of 1 MiB objects (throughput).
// Each is repeated -reps times; medians are printed as `name value unit` lines, then ratios.
//
//	go run ./backend/ray/bench -address 127.0.0.1:6379 -reps 3
//
// or scripts/bench-ray.sh, which starts a cluster if none is running.
package main

import (
	"bytes"
	"context"
	_ "embed"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend/local"
	"github.com/fray-go/fray/backend/ray"
)

//go:embed bench_direct.py
var directPy []byte

const (
	spinTasks  = 200
	spinTime   = 10 * time.Millisecond
	noopTasks  = 2000
	actorCalls = 2000
	putObjects = 100
	putSize    = 1 << 20
)

var (
	spin = fray.NewTask("bench.spin", func(ctx context.Context, _ int) (int, error) {
		t := time.Now()
		for time.Since(t) < spinTime {
		}
		return 0, nil
	})
	noop    = fray.NewTask("bench.noop", func(ctx context.Context, x int) (int, error) { return x, nil })
	counter = fray.NewActor("bench.Counter", func(ctx context.Context, _ int) (*Counter, error) { return &Counter{}, nil })
	add     = fray.NewMethod(counter, "Add", func(c *Counter, ctx context.Context, d int) (int, error) {
		c.N += d
		return c.N, nil
	})
)

// Counter is the benchmark actor's state.
type Counter struct{ N int }

func main() {
	fray.Init()
	address := flag.String("address", os.Getenv("RAY_ADDRESS"), "Ray cluster address")
	reps := flag.Int("reps", 3, "repetitions (medians are reported)")
	python := flag.String("python", "", "Python with ray (default: as ray.Options)")
	only := flag.String("only", "spin,noop,actor,put_get", "workloads to run (comma-separated: spin, noop, actor, put_get)")
	sides := flag.String("sides", "direct,fray,local", "what to run them on (comma-separated: direct, fray, local); ratios need direct and fray")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of this process (the fray side) to this file")
	flag.Parse()
	selected = set(*only)
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if err := run(*address, *reps, *python, set(*sides)); err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// selected holds the workloads -only picked.
var selected map[string]bool

func set(list string) map[string]bool {
	m := map[string]bool{}
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s != "" {
			m[s] = true
		}
	}
	return m
}

func run(address string, reps int, python string, sides map[string]bool) error {
	if address == "" {
		return fmt.Errorf("no Ray cluster: pass -address or set RAY_ADDRESS (scripts/ray-cluster.sh start)")
	}
	results := map[string]float64{}
	// Ray directly, from Python.
	dir, err := os.MkdirTemp("", "fray-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "bench_direct.py")
	if err := os.WriteFile(script, directPy, 0o644); err != nil {
		return err
	}
	py := python
	if py == "" {
		py = pythonPath()
	}
	var out bytes.Buffer
	if sides["direct"] {
		var only []string
		for k := range selected {
			only = append(only, k)
		}
		cmd := exec.Command(py, script, address, strconv.Itoa(reps), strings.Join(only, ","))
		cmd.Stdout = io.MultiWriter(os.Stdout, &out)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("python direct benchmark: %w", err)
		}
	}
	for _, line := range strings.Split(out.String(), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 {
			v, _ := strconv.ParseFloat(f[1], 64)
			results[f[0]] = v
		}
	}
	// fray on Ray.
	ctx := context.Background()
	if sides["fray"] {
		jc, err := ray.Connect(ctx, ray.Options{Address: address, Python: python, Quiet: true,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			return err
		}
		if err := workloads(fray.WithJobContext(ctx, jc), "fray", reps, true, results); err != nil {
			jc.Close()
			return err
		}
		jc.Close()
	}
	// The local backend, same process.
	if sides["local"] {
		lj, err := local.New(local.Options{Resources: fray.Resources{"CPU": 4}})
		if err != nil {
			return err
		}
		if err := workloads(fray.WithJobContext(ctx, lj), "local", reps, false, results); err != nil {
			return err
		}
		lj.Close()
	}

	fmt.Println()
	ratio := func(name, a, b, target string) {
		if results[b] == 0 {
			return
		}
		fmt.Printf("%s %.3f ratio (%s)\n", name, results[a]/results[b], target)
	}
	ratio("ratio_spin_wall_fray_over_direct", "fray_spin_wall", "direct_spin_wall", "target <= 1.05")
	ratio("ratio_noop_tput_fray_over_direct", "fray_noop_tput", "direct_noop_tput", "target >= 0.7")
	ratio("ratio_actor_tput_fray_over_direct", "fray_actor_tput", "direct_actor_tput", "target >= 0.7")
	ratio("ratio_put_get_tput_fray_over_direct", "fray_put_get_tput", "direct_put_get_tput", "target >= 0.7")
	ratio("ratio_noop_tput_local_over_fray_ray", "local_noop_tput", "fray_noop_tput", "local/Ray")
	ratio("ratio_actor_tput_local_over_fray_ray", "local_actor_tput", "fray_actor_tput", "local/Ray")
	return nil
}

func workloads(ctx context.Context, prefix string, reps int, full bool, results map[string]float64) error {
	h, err := counter.Create(ctx, 0)
	if err != nil {
		return err
	}
	// warm-up, as in the Python side
	if err := gather(ctx, noop, 200); err != nil {
		return err
	}
	if err := gather(ctx, spin, 8); err != nil {
		return err
	}
	if err := calls(ctx, h, 100); err != nil {
		return err
	}
	m := map[string][]float64{}
	payload := bytes.Repeat([]byte("x"), putSize)
	for i := 0; i < reps; i++ {
		if full && selected["spin"] {
			t := time.Now()
			if err := gather(ctx, spin, spinTasks); err != nil {
				return err
			}
			m["spin_wall"] = append(m["spin_wall"], time.Since(t).Seconds())
		}
		if selected["noop"] {
			t := time.Now()
			if err := gather(ctx, noop, noopTasks); err != nil {
				return err
			}
			m["noop_tput"] = append(m["noop_tput"], noopTasks/time.Since(t).Seconds())
		}
		if selected["actor"] {
			t := time.Now()
			if err := calls(ctx, h, actorCalls); err != nil {
				return err
			}
			m["actor_tput"] = append(m["actor_tput"], actorCalls/time.Since(t).Seconds())
		}
		if full && selected["put_get"] {
			t := time.Now()
			for j := 0; j < putObjects; j++ {
				r, err := fray.Put(ctx, payload)
				if err != nil {
					return err
				}
				v, err := r.Get(ctx)
				if err != nil {
					return err
				}
				if len(v) != putSize {
					return fmt.Errorf("put/get returned %d bytes", len(v))
				}
			}
			m["put_get_tput"] = append(m["put_get_tput"], putObjects/time.Since(t).Seconds())
		}
	}
	units := map[string]string{"spin_wall": "s", "noop_tput": "tasks/s", "actor_tput": "calls/s", "put_get_tput": "ops/s"}
	for _, k := range []string{"spin_wall", "noop_tput", "actor_tput", "put_get_tput"} {
		if v, ok := m[k]; ok {
			results[prefix+"_"+k] = median(v)
			fmt.Printf("%s_%s %.4f %s\n", prefix, k, median(v), units[k])
		}
	}
	return nil
}

func gather(ctx context.Context, t *fray.Task[int, int], n int) error {
	refs := make([]fray.Ref[int], n)
	for i := range refs {
		r, err := t.Remote(ctx, i)
		if err != nil {
			return err
		}
		refs[i] = r
	}
	_, err := fray.GetAll(ctx, refs)
	return err
}

func calls(ctx context.Context, h fray.ActorHandle[Counter], n int) error {
	refs := make([]fray.Ref[int], n)
	for i := range refs {
		r, err := add.Remote(ctx, h, 1)
		if err != nil {
			return err
		}
		refs[i] = r
	}
	_, err := fray.GetAll(ctx, refs)
	return err
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// pythonPath finds the venv Python the way ray.Options does.
func pythonPath() string {
	if p := os.Getenv("FRAY_PYTHON"); p != "" {
		return p
	}
	dir, _ := os.Getwd()
	for dir != "" {
		p := filepath.Join(dir, ".venv", "bin", "python")
		if _, err := os.Stat(p); err == nil {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return "python3"
}
