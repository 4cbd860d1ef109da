// Command bench measures the records per second of the flagship pipeline's tokenize and
// inference steps, and what fray adds to them, printing `name value unit` lines.
//
//	go run ./examples/pipeline/bench [-docs 1200] [-runs 3]
//
// For each step it times, over the same ingested shards:
//
//   - plain: the step's record function (TokenizeDoc, ScoreDoc) in a plain loop over the
//     documents in memory: no files, no tasks, one goroutine;
//   - direct: the step's shard function over the shard files, one after another in this
//     goroutine (shards.Spec.Direct): files, no tasks;
//   - fray_1w and fray_2w: the same shard function as fray tasks on the local backend with
//     1 and 2 CPUs ({"CPU": 1} per task); inference with MaxCalls 1, as the pipeline runs
//     it, so every shard gets a fresh worker process (and loads the model again), and also
//     with MaxCalls 0 (in-process);
//   - pool_1a and pool_2a (inference only): the pipeline's classify step as it runs now,
//     batch inference on an actor pool of 1 and 2 Classifier actors (shards.RunBatchesWith,
//     -batch-size documents per call, the model loaded once per actor).
//
// Then, in fresh child processes of this binary, the peak RSS of batch inference with 1
// and 4 actors over the input, and with 1 actor over 4 copies of the input (rss_* lines):
// it must not grow with the input size.
//
// and prints the median of -runs runs of each (records per second of wall time, and CPU
// microseconds per record of this process and its exited worker processes), then the
// ratios: scaling (fray_2w / fray_1w) and overhead (fray_1w / plain and fray_1w / direct in
// records/s, where 1.0 means fray costs nothing; and in CPU per record, where 1.0 means the
// same). On a busy machine the wall-time figures are noisy; CPU per record much less so.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend/local"
	"github.com/fray-go/fray/examples/pipeline/steps"
	"github.com/fray-go/fray/executor"
	"github.com/fray-go/fray/internal/osproc"
	"github.com/fray-go/fray/processing/corpus"
	"github.com/fray-go/fray/processing/shards"
	"github.com/fray-go/fray/processing/tokenize"
)

func main() {
	fray.Init()
	docs := flag.Int("docs", 1200, "documents to ingest")
	perShard := flag.Int("docs-per-shard", 50, "documents per shard (small shards balance two workers better: the documents differ a lot in size)")
	runs := flag.Int("runs", 3, "runs of each measurement (the median is printed)")
	flag.IntVar(&batchSize, "batch-size", 16, "documents per call of the pool measurements")
	flag.StringVar(&profile, "cpuprofile", "", "write a CPU profile of the last run of one measurement: GROUP/NAME=FILE (e.g. inference/pool_1a=pool.prof; go tool pprof reads it)")
	rssChild := flag.String("rss-child", "", "internal: measure the peak RSS of batch inference over GLOB,MODEL,ACTORS and print it")
	flag.Parse()
	if want, file, ok := strings.Cut(profile, "="); profile != "" && (!ok || !strings.Contains(want, "/") || file == "") {
		fmt.Fprintf(os.Stderr, "bench: -cpuprofile %q: want GROUP/NAME=FILE, e.g. inference/pool_1a=pool.prof\n", profile)
		os.Exit(2)
	}
	if *rssChild != "" {
		if err := measureRSS(*rssChild); err != nil {
			slog.Error("rss child failed", "err", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*docs, *perShard, *runs); err != nil {
		slog.Error("bench failed", "err", err)
		os.Exit(1)
	}
}

// profile is -cpuprofile: "GROUP/NAME=FILE", or "".
var profile string

// startProfile starts the CPU profile -cpuprofile asks for when it names measurement
// name; the function it returns stops it.
func startProfile(name string) (func(), error) {
	want, file, _ := strings.Cut(profile, "=")
	if want != name || file == "" {
		return func() {}, nil
	}
	f, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// measurement is one timed way of processing every document; it returns the records
// processed.
type measurement struct {
	name string
	fn   func(ctx context.Context, out string) (int64, error)
}

func run(nDocs, perShard, runs int) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "fray-pipeline-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg := steps.DefaultConfig()
	if err := steps.Ingest(ctx, steps.IngestConfig{
		Output: executor.LiteralPath(dir), MaxDocs: executor.Versioned(nDocs),
		DocsPerShard: executor.Versioned(perShard), MaxTextBytes: executor.Versioned(cfg.MaxTextBytes),
		Sources: executor.Versioned(corpus.AllSources),
	}); err != nil {
		return err
	}
	glob := filepath.Join(dir, steps.DocsDir, "*.jsonl.zst")
	paths, err := shards.Glob(ctx, glob)
	if err != nil {
		return err
	}
	var docs []steps.Doc
	for _, p := range paths {
		for d, err := range shards.Read[steps.Doc](ctx, p) {
			if err != nil {
				return err
			}
			docs = append(docs, d)
		}
	}
	model, _, err := steps.TrainModel(ctx, docs, cfg.TestFraction, cfg.Epochs, cfg.Seed)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := model.Save(&buf); err != nil {
		return err
	}
	modelPath := filepath.Join(dir, "model.bin")
	if err := os.WriteFile(modelPath, buf.Bytes(), 0o644); err != nil {
		return err
	}
	tk, err := tokenize.New(cfg.Encoding)
	if err != nil {
		return err
	}
	fmt.Printf("# %d documents in %d shards, %d bytes of text; %d runs each, medians\n", len(docs), len(paths), textBytes(docs), runs)

	tokenizeJob := steps.TokenizeShard.With(cfg.Encoding)
	tokSpec := func(out string) shards.Spec {
		return shards.Spec{Input: glob, Output: out, OutputExt: ".tok", Compression: shards.Plain}
	}
	classifyJob := steps.Classify.With(steps.ClassifyParams{ModelPath: modelPath})
	clsSpec := func(out string) shards.Spec { return shards.Spec{Input: glob, Output: out} }

	groups := []struct {
		name string
		ms   []measurement
	}{
		{"tokenize", []measurement{
			{"plain", func(ctx context.Context, _ string) (int64, error) {
				for _, d := range docs {
					if _, err := steps.TokenizeDoc(tk, d); err != nil {
						return 0, err
					}
				}
				return int64(len(docs)), nil
			}},
			{"direct", direct(tokenizeJob, tokSpec)},
			{"fray_1w", onFray(1, tokenizeJob, tokSpec, 0)},
			{"fray_2w", onFray(2, tokenizeJob, tokSpec, 0)},
		}},
		{"inference", []measurement{
			{"plain", func(ctx context.Context, _ string) (int64, error) {
				var sink float64
				for _, d := range docs {
					sink += steps.ScoreDoc(model, d).Score
				}
				_ = sink
				return int64(len(docs)), nil
			}},
			{"direct", direct(classifyJob, clsSpec)},
			{"fray_1w", onFray(1, classifyJob, clsSpec, 1)},
			{"fray_2w", onFray(2, classifyJob, clsSpec, 1)},
			{"fray_1w_inproc", onFray(1, classifyJob, clsSpec, 0)},
			{"fray_2w_inproc", onFray(2, classifyJob, clsSpec, 0)},
			{"pool_1a", onPool(1, modelPath, glob)},
			{"pool_2a", onPool(2, modelPath, glob)},
		}},
	}
	if want, _, _ := strings.Cut(profile, "="); profile != "" {
		var names []string
		for _, g := range groups {
			for _, m := range g.ms {
				names = append(names, g.name+"/"+m.name)
			}
		}
		if !slices.Contains(names, want) {
			return fmt.Errorf("-cpuprofile names %q, which is no measurement; one of %s", want, strings.Join(names, ", "))
		}
	}
	for _, g := range groups {
		// The runs are interleaved (run 1 of every measurement, then run 2, ...) so that
		// changes in the machine's load hit every measurement alike.
		wall := make([][]float64, len(g.ms))
		cpu := make([][]float64, len(g.ms))
		for i := range runs {
			for k, m := range g.ms {
				out := filepath.Join(dir, "out", fmt.Sprintf("%s-%s-%d", g.name, m.name, i))
				stop := func() {}
				if i == runs-1 {
					var err error
					if stop, err = startProfile(g.name + "/" + m.name); err != nil {
						return err
					}
				}
				c0 := cpuTime()
				start := time.Now()
				n, err := m.fn(ctx, out)
				stop()
				if err != nil {
					return fmt.Errorf("%s/%s: %w", g.name, m.name, err)
				}
				wall[k] = append(wall[k], float64(n)/time.Since(start).Seconds())
				cpu[k] = append(cpu[k], float64((cpuTime()-c0).Microseconds())/float64(n))
			}
		}
		rates, cpus := map[string]float64{}, map[string]float64{}
		for k, m := range g.ms {
			rates[m.name], cpus[m.name] = median(wall[k]), median(cpu[k])
			fmt.Printf("%s/%s %.0f records/s\n", g.name, m.name, rates[m.name])
		}
		for _, m := range g.ms {
			fmt.Printf("%s/%s_cpu %.0f us/record\n", g.name, m.name, cpus[m.name])
		}
		fmt.Printf("%s/scaling_2w_vs_1w %.2f ratio\n", g.name, rates["fray_2w"]/rates["fray_1w"])
		fmt.Printf("%s/fray_1w_vs_plain %.2f ratio\n", g.name, rates["fray_1w"]/rates["plain"])
		fmt.Printf("%s/fray_1w_vs_direct %.2f ratio\n", g.name, rates["fray_1w"]/rates["direct"])
		fmt.Printf("%s/cpu_fray_1w_vs_direct %.2f ratio\n", g.name, cpus["fray_1w"]/cpus["direct"])
		if r, ok := rates["fray_1w_inproc"]; ok {
			fmt.Printf("%s/scaling_2w_vs_1w_inproc %.2f ratio\n", g.name, rates["fray_2w_inproc"]/r)
			fmt.Printf("%s/fray_1w_inproc_vs_direct %.2f ratio\n", g.name, r/rates["direct"])
			fmt.Printf("%s/cpu_fray_1w_inproc_vs_direct %.2f ratio\n", g.name, cpus["fray_1w_inproc"]/cpus["direct"])
		}
		if r, ok := rates["pool_1a"]; ok {
			fmt.Printf("%s/pool_1a_vs_plain %.2f ratio\n", g.name, r/rates["plain"])
			fmt.Printf("%s/pool_1a_vs_fray_1w %.2f ratio\n", g.name, r/rates["fray_1w"])
			fmt.Printf("%s/scaling_pool_2a_vs_1a %.2f ratio\n", g.name, rates["pool_2a"]/r)
			fmt.Printf("%s/cpu_pool_1a_vs_plain %.2f ratio\n", g.name, cpus["pool_1a"]/cpus["plain"])
		}
	}
	return rssRows(dir, glob, modelPath)
}

// batchSize is -batch-size.
var batchSize int

// onPool runs the classify step's batch inference on a fresh local backend with a pool of
// actors Classifier actors.
func onPool(actors int, modelPath, glob string) func(context.Context, string) (int64, error) {
	return func(ctx context.Context, out string) (int64, error) {
		jc, err := local.New(local.Options{Resources: fray.Resources{"CPU": float64(actors)}})
		if err != nil {
			return 0, err
		}
		defer jc.Close()
		sum, err := steps.ClassifyOnPool(fray.WithJobContext(ctx, jc), steps.ClassifyParams{ModelPath: modelPath}, actors,
			shards.BatchSpec{Spec: shards.Spec{Input: glob, Output: out}, BatchSize: batchSize})
		if err != nil {
			return 0, err
		}
		return sum.RecordsIn, nil
	}
}

// rssRows measures the peak RSS of batch inference in child processes: 1 and 4 actors
// over the input, and 1 actor over 4 copies of it.
func rssRows(dir, glob, modelPath string) error {
	big := filepath.Join(dir, "docs4x")
	if err := os.MkdirAll(big, 0o755); err != nil {
		return err
	}
	paths, err := filepath.Glob(glob)
	if err != nil {
		return err
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for k := range 4 {
			if err := os.WriteFile(filepath.Join(big, fmt.Sprintf("c%d-%s", k, filepath.Base(p))), b, 0o644); err != nil {
				return err
			}
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	rows := []struct {
		name, glob string
		actors     int
	}{
		{"rss_1a_1x", glob, 1},
		{"rss_4a_1x", glob, 4},
		{"rss_1a_4x", filepath.Join(big, "*.jsonl.zst"), 1},
	}
	kb := map[string]float64{}
	for _, r := range rows {
		out, err := exec.Command(self, "-rss-child", fmt.Sprintf("%s,%s,%d", r.glob, modelPath, r.actors), "-batch-size", fmt.Sprint(batchSize)).Output()
		if err != nil {
			return fmt.Errorf("%s: %w", r.name, err)
		}
		var v float64
		if _, err := fmt.Sscan(strings.TrimSpace(string(out)), &v); err != nil {
			return fmt.Errorf("%s: child printed %q", r.name, out)
		}
		kb[r.name] = v
		fmt.Printf("inference/%s %.0f MiB\n", r.name, v/1024)
	}
	fmt.Printf("inference/rss_4a_vs_1a %.2f ratio\n", kb["rss_4a_1x"]/kb["rss_1a_1x"])
	fmt.Printf("inference/rss_4x_vs_1x_input %.2f ratio\n", kb["rss_1a_4x"]/kb["rss_1a_1x"])
	return nil
}

// measureRSS is the child side of rssRows: batch inference over GLOB with MODEL on ACTORS
// actors, then the process's peak RSS in KiB on standard output.
func measureRSS(arg string) error {
	parts := strings.Split(arg, ",")
	if len(parts) != 3 {
		return fmt.Errorf("-rss-child wants GLOB,MODEL,ACTORS, got %q", arg)
	}
	actors, err := strconv.Atoi(parts[2])
	if err != nil {
		return err
	}
	out, err := os.MkdirTemp("", "fray-bench-rss")
	if err != nil {
		return err
	}
	defer os.RemoveAll(out)
	if _, err := onPool(actors, parts[1], parts[0])(context.Background(), out); err != nil {
		return err
	}
	u, err := osproc.Rusage()
	if err != nil {
		return err
	}
	fmt.Println(u.MaxRSS) // KiB on Linux
	return nil
}

// direct runs the shard job in this goroutine, without fray.
func direct(job shards.Job, spec func(string) shards.Spec) func(context.Context, string) (int64, error) {
	return func(ctx context.Context, out string) (int64, error) {
		s := spec(out)
		s.Direct = true
		sum, err := shards.Run(ctx, job, s)
		if err != nil {
			return 0, err
		}
		return sum.RecordsIn, nil
	}
}

// onFray runs the shard job as fray tasks on a fresh local backend with cpus CPUs.
func onFray(cpus float64, job shards.Job, spec func(string) shards.Spec, maxCalls int) func(context.Context, string) (int64, error) {
	return func(ctx context.Context, out string) (int64, error) {
		jc, err := local.New(local.Options{Resources: fray.Resources{"CPU": cpus}})
		if err != nil {
			return 0, err
		}
		defer jc.Close()
		s := spec(out)
		s.Options = fray.TaskOptions{MaxCalls: maxCalls, Resources: fray.Resources{"CPU": 1}}
		sum, err := shards.Run(fray.WithJobContext(ctx, jc), job, s)
		if err != nil {
			return 0, err
		}
		return sum.RecordsIn, nil
	}
}

// cpuTime is the user and system CPU time of this process and its waited-for children
// (the worker processes of MaxCalls tasks, once they exited).
func cpuTime() time.Duration {
	u, _ := osproc.Rusage() // zero where the OS has no getrusage
	return u.CPU + u.ChildrenCPU
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func textBytes(docs []steps.Doc) int {
	n := 0
	for _, d := range docs {
		n += len(d.Text)
	}
	return n
}
