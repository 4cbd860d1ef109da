// Command raydriver is the measurement spike for issue 13: the Ray driver inside the Go
// process (CPython loaded at run time with purego; built with CGO_ENABLED=0), against Ray
// used directly from a Python driver, on one cluster in one invocation. See README.md.
//
//	raydriver bench  -address 127.0.0.1:6379 -python .venv/bin/python -reps 5
//	raydriver checks -address 127.0.0.1:6379 -python .venv/bin/python
//	raydriver echo-child   (the worker-side hop's Go child; started by spike.py)
package main

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

//go:embed spike.py
var spikePy string

const (
	noopTasks  = 2000
	actorCalls = 2000
	putObjects = 100
	putSize    = 1 << 20
	concurrent = 4 // goroutines submitting in the noop_par workload
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: raydriver bench|checks|echo-child [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "echo-child":
		err = echoChild(os.Stdin, os.Stdout)
	case "bench":
		err = benchMain(os.Args[2:])
	case "micro":
		err = microMain(os.Args[2:])
	case "checks":
		err = checksMain(os.Args[2:])
	case "ray-worker":
		err = rayWorker(os.Args[2:])
	case "finalize-child":
		err = finalizeChild(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "raydriver:", err)
		os.Exit(1)
	}
}

// echoChild answers each frame (4-byte little-endian length, then bytes) with itself: the
// Go side of the worker-side hop estimate.
func echoChild(r io.Reader, w io.Writer) error {
	br, bw := bufio.NewReader(r), bufio.NewWriter(w)
	var hdr [4]byte
	buf := make([]byte, 0, 64)
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		n := binary.LittleEndian.Uint32(hdr[:])
		if n > 1<<20 {
			return fmt.Errorf("frame of %d bytes", n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(br, buf); err != nil {
			return err
		}
		bw.Write(hdr[:])
		bw.Write(buf)
		if err := bw.Flush(); err != nil {
			return err
		}
	}
}

type common struct{ address, python, self string }

func commonFlags(fs *flag.FlagSet) *common {
	c := &common{}
	fs.StringVar(&c.address, "address", os.Getenv("RAY_ADDRESS"), "Ray cluster address")
	fs.StringVar(&c.python, "python", os.Getenv("FRAY_PYTHON"), "the virtualenv's python (with ray)")
	return c
}

func (c *common) check() error {
	if c.address == "" || c.python == "" {
		return fmt.Errorf("need -address (or RAY_ADDRESS) and -python (or FRAY_PYTHON)")
	}
	os.Setenv("FRAY_PYTHON", c.python) // for the Go-binary workers' runtime env (spike.py)
	self, err := os.Executable()
	if err != nil {
		return err
	}
	c.self, err = filepath.EvalSymlinks(self)
	return err
}

// side runs one repetition of a workload and returns its figure (or skip).
type side func(workload string) (float64, bool, error)

var units = map[string]string{"noop_goworker": "tasks/s", "actor_hop": "calls/s", "actor_goworker": "calls/s", "noop": "tasks/s", "noop_par": "tasks/s", "noop_hop": "tasks/s", "actor": "calls/s",
	"put_get": "ops/s", "put_get_copy": "ops/s", "put_get_reuse": "ops/s"}

func benchMain(args []string) error {
	fs := flag.NewFlagSet("bench", flag.ExitOnError)
	c := commonFlags(fs)
	reps := fs.Int("reps", 5, "repetitions (medians are reported)")
	only := fs.String("only", "noop,actor,put_get,put_get_copy,put_get_reuse,noop_hop,actor_hop,noop_par,noop_goworker,actor_goworker", "workloads (the goworker ones last: its workers are another runtime env)")
	modes := fs.String("modes", "pinned,thread", "GIL modes of the embedded side (ensure is measured by micro: after pinned ran, ensure on the same threads costs what pinned does)")
	fs.Parse(args)
	if err := c.check(); err != nil {
		return err
	}
	workloads := strings.Split(*only, ",")
	py, err := StartPython(c.python, spikePy)
	if err != nil {
		return err
	}
	d, err := Connect(py, c.address, c.self, false)
	if err != nil {
		return err
	}
	fmt.Printf("# %v; %d reps; modes %s\n", d, *reps, *modes)
	direct, stop, err := startDirect(c, d.cpus)
	if err != nil {
		return err
	}
	defer stop()
	names := []string{"direct"}
	sides := map[string]side{"direct": direct}
	for _, m := range strings.Split(*modes, ",") {
		mode := map[string]GILMode{"ensure": GILEnsure, "pinned": GILPinned, "thread": GILThread}[m]
		names = append(names, "embed_"+m)
		sides["embed_"+m] = embedSide(d, mode)
	}
	samples := map[string][]float64{}
	for i := 0; i < *reps; i++ {
		turn := append([]string(nil), names...)
		if i%2 == 1 {
			for l, r := 0, len(turn)-1; l < r; l, r = l+1, r-1 {
				turn[l], turn[r] = turn[r], turn[l]
			}
		}
		for _, n := range turn {
			if _, _, err := sides[n]("warmup"); err != nil {
				return fmt.Errorf("%s warm-up: %w", n, err)
			}
			for _, w := range workloads {
				if w == "noop_goworker" || (w == "actor_goworker" && !strings.Contains(*only, "noop_goworker")) { // its workers are another runtime env: warm them
					if _, _, err := sides[n]("warmup_go"); err != nil {
						return fmt.Errorf("%s warm-up of Go workers: %w", n, err)
					}
				}
				v, ok, err := sides[n](w)
				if err != nil {
					return fmt.Errorf("%s %s: %w", n, w, err)
				}
				if ok {
					samples[n+"_"+w] = append(samples[n+"_"+w], v)
				}
			}
		}
	}
	med := map[string]float64{}
	for _, n := range names {
		for _, w := range workloads {
			if s, ok := samples[n+"_"+w]; ok {
				med[n+"_"+w] = median(s)
				fmt.Printf("%s_%s %.4f %s  # %s\n", n, w, med[n+"_"+w], units[w], fmtAll(s))
			}
		}
	}
	fmt.Println()
	for _, n := range names[1:] {
		for _, w := range workloads {
			base := w
			if w == "put_get_copy" || w == "put_get_reuse" {
				base = "put_get"
			}
			if w == "noop_par" {
				base = "noop"
			}
			if a, b := med[n+"_"+w], med["direct_"+base]; a > 0 && b > 0 {
				fmt.Printf("ratio_%s_%s_over_direct_%s %.3f ratio\n", n, w, base, a/b)
			}
		}
	}
	if a, b := med["direct_noop_goworker"], med["direct_noop"]; a > 0 && b > 0 {
		fmt.Printf("ratio_direct_noop_goworker_over_direct_noop %.3f ratio (worker process is the Go binary, Python driver)\n", a/b)
	}
	if a, b := med["embed_pinned_noop_goworker"], med["direct_noop"]; a > 0 && b > 0 {
		fmt.Printf("ratio_embed_pinned_noop_goworker_over_direct_noop %.3f ratio (both halves of the design: Go driver, Go in the worker)\n", a/b)
	}
	for _, w := range []string{"actor_hop", "actor_goworker"} {
		if a, b := med["direct_"+w], med["direct_actor"]; a > 0 && b > 0 {
			fmt.Printf("ratio_direct_%s_over_direct_actor %.3f ratio (worker side alone, Python driver)\n", w, a/b)
		}
		if a, b := med["embed_pinned_"+w], med["direct_actor"]; a > 0 && b > 0 {
			fmt.Printf("ratio_embed_pinned_%s_over_direct_actor %.3f ratio (Go driver and that worker side)\n", w, a/b)
		}
	}
	if a, b := med["embed_pinned_noop_hop"], med["direct_noop"]; a > 0 && b > 0 {
		fmt.Printf("ratio_embed_pinned_noop_hop_over_direct_noop %.3f ratio (Go driver, today's worker hop)\n", a/b)
	}
	if a, b := med["direct_noop_hop"], med["direct_noop"]; a > 0 && b > 0 {
		fmt.Printf("ratio_direct_noop_hop_over_direct_noop %.3f ratio (worker-side hop cost, Python driver)\n", a/b)
	}
	return nil
}

func fmtAll(s []float64) string {
	parts := make([]string, len(s))
	for i, v := range s {
		parts[i] = strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strings.Join(parts, " ")
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// startDirect runs spike.py as the Ray-direct server (its own Ray job, a Python driver).
func startDirect(c *common, cpus int) (side, func(), error) {
	dir, err := os.MkdirTemp("", "raydriver-")
	if err != nil {
		return nil, nil, err
	}
	script := filepath.Join(dir, "spike.py")
	if err := os.WriteFile(script, []byte(spikePy), 0o644); err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(c.python, script, "direct", c.address, strconv.Itoa(cpus), c.self)
	cmd.Stderr = os.Stderr
	in, _ := cmd.StdinPipe()
	outPipe, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	out := bufio.NewScanner(outPipe)
	stop := func() { in.Close(); cmd.Wait(); os.RemoveAll(dir) }
	for out.Scan() && out.Text() != "ready" {
		fmt.Fprintln(os.Stderr, out.Text())
	}
	supported := map[string]bool{"warmup": true, "warmup_go": true, "noop_goworker": true, "actor_hop": true, "actor_goworker": true, "noop": true, "noop_hop": true, "actor": true, "put_get": true}
	return func(w string) (float64, bool, error) {
		if !supported[w] {
			return 0, false, nil
		}
		fmt.Fprintln(in, w)
		for out.Scan() {
			f := strings.Fields(out.Text())
			if len(f) == 3 && f[0] == w {
				v, err := strconv.ParseFloat(f[1], 64)
				return v, true, err
			}
			fmt.Fprintln(os.Stderr, out.Text())
		}
		return 0, false, fmt.Errorf("direct side ended (%v)", out.Err())
	}, stop, nil
}

// embedSide runs the workloads through the in-process driver with one GIL mode. Each
// operation is what a fray call would be: Remote per task, one GetAll, Put then Get.
func embedSide(d *Driver, mode GILMode) side {
	payload := bytes.Repeat([]byte("x"), putSize)
	arg := []byte("12345678")
	return func(w string) (float64, bool, error) {
		if mode != GILPinned && (w == "put_get_copy" || w == "put_get_reuse" || w == "noop_hop" || w == "noop_goworker" || w == "warmup_go" || w == "actor_hop" || w == "actor_goworker") {
			return 0, false, nil // measured on one mode only
		}
		t := time.Now()
		switch w {
		case "warmup", "warmup_go":
			var err error
			d.py.Do(mode, func() {
				f, e := d.py.global(w)
				if e != nil {
					err = e
					return
				}
				n := d.py.call(d.py.c.LongFromLongLong, uintptr(d.cpus))
				r, e := d.py.call1("warmup", f, n)
				d.py.decref(n)
				d.py.decref(f)
				d.py.decref(r)
				err = e
			})
			return 0, true, err
		case "noop", "noop_hop", "noop_goworker":
			fn := map[string]obj{"noop": d.noopRemote, "noop_hop": d.hopRemote, "noop_goworker": d.goRemote}[w]
			refs := make([]Ref, noopTasks)
			for i := range refs {
				var err error
				if refs[i], err = d.Remote(mode, fn, arg); err != nil {
					return 0, false, err
				}
			}
			vals, err := d.GetAll(mode, refs)
			if err != nil {
				return 0, false, err
			}
			if len(vals) != noopTasks || !bytes.Equal(vals[0], arg) {
				return 0, false, fmt.Errorf("noop returned %d values, first %q", len(vals), vals[0])
			}
			return noopTasks / time.Since(t).Seconds(), true, nil
		case "noop_par":
			refs := make([]Ref, noopTasks)
			var wg sync.WaitGroup
			errs := make([]error, concurrent)
			for g := 0; g < concurrent; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := g; i < noopTasks; i += concurrent {
						var err error
						if refs[i], err = d.Remote(mode, d.noopRemote, arg); err != nil {
							errs[g] = err
							return
						}
					}
				}()
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					return 0, false, err
				}
			}
			if _, err := d.GetAll(mode, refs); err != nil {
				return 0, false, err
			}
			return noopTasks / time.Since(t).Seconds(), true, nil
		case "actor", "actor_hop", "actor_goworker":
			refs := make([]Ref, actorCalls)
			for i := range refs {
				var err error
				switch w {
				case "actor":
					refs[i], err = d.RemoteInt(mode, d.addRemote, 1)
				case "actor_hop":
					refs[i], err = d.Remote(mode, d.actorHopRemote, arg)
				default:
					refs[i], err = d.Remote(mode, d.actorGoRemote, arg)
				}
				if err != nil {
					return 0, false, err
				}
			}
			if _, err := d.GetAll(mode, refs); err != nil {
				return 0, false, err
			}
			return actorCalls / time.Since(t).Seconds(), true, nil
		case "put_get", "put_get_copy", "put_get_reuse":
			put := d.Put
			if w == "put_get_copy" {
				put = d.PutCopy
			}
			var into []byte // put_get_reuse: Get copies into one buffer, no Go allocation
			if w == "put_get_reuse" {
				into = make([]byte, putSize)
			}
			for j := 0; j < putObjects; j++ {
				r, err := put(mode, payload)
				if err != nil {
					return 0, false, err
				}
				var v []byte
				if into != nil {
					v, err = d.GetInto(mode, r, into)
				} else {
					v, err = d.Get(mode, r)
				}
				if err != nil {
					return 0, false, err
				}
				if len(v) != putSize || v[0] != 'x' || v[putSize-1] != 'x' {
					return 0, false, fmt.Errorf("put/get returned %d bytes", len(v))
				}
			}
			return putObjects / time.Since(t).Seconds(), true, nil
		}
		return 0, false, fmt.Errorf("unknown workload %q", w)
	}
}
