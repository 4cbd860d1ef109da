// Command pipeline is fray's flagship example: a data-processing pipeline on real text that
// every machine has offline (the Go distribution's documentation and sources, and the
// system's manual pages), run by the fray executor as six versioned steps:
//
//	ingest → tokenize (BPE token shards and statistics)
//	       → train-quality (classifier on heuristic labels, held-out accuracy)
//	       → classify (batch inference on a pool of model actors) → filter → report (HTML)
//
// Run it end to end on the in-process backend:
//
//	go run ./examples/pipeline                        # writes under ./fray-out
//	go run ./examples/pipeline --threshold 0.7        # reruns only filter and report
//	go run ./examples/pipeline --max-docs 5000        # more data (a new ingest, so everything reruns)
//	go run ./examples/pipeline --backend ray --ray-address auto
//	go run ./examples/pipeline status                 # step status under the prefix
//
// The executor's flags (--dry-run, --run-only, --force-run-failed, --max-concurrent,
// --namespace, ...) come from executor/cli. At the end the command prints where the report
// is.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/examples/pipeline/steps"
	"github.com/fray-go/fray/executor"
	"github.com/fray-go/fray/executor/cli"
	"github.com/fray-go/fray/processing/progress"
	"github.com/fray-go/fray/processing/tokenize"
)

// DefaultPrefix is where outputs go when neither --prefix nor FRAY_PREFIX is given.
const DefaultPrefix = "fray-out"

func main() {
	fray.Init()
	os.Exit(cli.Execute(NewCommand()))
}

// NewCommand is the executor's command for the pipeline's steps, with the pipeline's own
// flags added. The steps are configured from the flags once they are parsed.
func NewCommand() *cobra.Command {
	cfg := steps.DefaultConfig()
	var shardResources string
	p := steps.New(cfg)
	cmd := cli.NewCommand(p.Steps()...)
	cmd.Use = "pipeline"
	cmd.Short = "fray's flagship pipeline: ingest, tokenize, train, classify, filter, report"
	fl := cmd.Flags()
	fl.IntVar(&cfg.MaxDocs, "max-docs", cfg.MaxDocs, "documents to ingest, spread over the corpus sources (0: all, slow)")
	fl.IntVar(&cfg.DocsPerShard, "docs-per-shard", cfg.DocsPerShard, "documents per JSONL shard")
	fl.IntVar(&cfg.MaxTextBytes, "max-text-bytes", cfg.MaxTextBytes, "truncate longer documents")
	fl.StringVar(&cfg.Encoding, "encoding", cfg.Encoding, "BPE encoding: "+tokenize.Cl100kBase+" or "+tokenize.O200kBase+" (the latter in a build with -tags o200k)")
	fl.Float64Var(&cfg.Threshold, "threshold", cfg.Threshold, "minimum quality score a document needs to be kept")
	fl.Float64Var(&cfg.TestFraction, "test-fraction", cfg.TestFraction, "fraction of documents held out to evaluate the classifier")
	fl.IntVar(&cfg.Epochs, "epochs", cfg.Epochs, "classifier training epochs")
	fl.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed of the split and of training")
	fl.IntVar(&cfg.CVFolds, "cv-folds", cfg.CVFolds, "cross-validation folds of the train step, run as workers gang-scheduled in a STRICT_PACK placement group (0 or 1: none)")
	fl.IntVar(&cfg.ClassifyActors, "classify-actors", cfg.ClassifyActors, "model actors of the classify step's batch inference (0: one shard task per shard instead)")
	fl.IntVar(&cfg.BatchSize, "batch-size", cfg.BatchSize, "documents per batch sent to a classify actor")
	fl.IntVar(&cfg.InferenceMaxCalls, "inference-max-calls", cfg.InferenceMaxCalls, "MaxCalls of the inference shard tasks with --classify-actors 0 (1: a fresh worker process per shard; 0: reuse)")
	fl.Float64Var(&cfg.ShardCPUs, "shard-cpus", cfg.ShardCPUs, "CPUs requested by each tokenize and inference shard task")
	fl.StringVar(&shardResources, "shard-resources", "", `custom resources every shard task of the sharded steps (tokenize, classify, filter) requests beside its CPUs, and every classify actor holds: NAME=AMOUNT[,NAME=AMOUNT] (e.g. node_b=0.1 pins the shard work to the node started with {"node_b": 1})`)
	fl.BoolVar(&cfg.Progress, "progress", progress.IsTerminal(os.Stderr), "draw progress bars for the sharded steps (default: when stderr is a terminal)")
	if f := fl.Lookup("prefix"); f != nil {
		f.Usage = "where step outputs go: a local path or bucket URL (default $" + executor.PrefixEnv + ", else ./" + DefaultPrefix + ")"
	}
	cmd.PreRunE = func(cmd *cobra.Command, _ []string) error {
		r, err := parseShardResources(shardResources)
		if err != nil {
			return cli.FlagError("shard-resources", fmt.Sprintf("%q", shardResources), err.Error())
		}
		cfg.ShardResources = r
		if err := validate(cfg); err != nil {
			return err
		}
		prefix, err := choosePrefix(cmd)
		if err != nil {
			return err
		}
		if err := cmd.Flags().Set("prefix", prefix); err != nil {
			return err
		}
		p.Configure(cfg)
		return nil
	}
	for _, sub := range cmd.Commands() {
		if sub.Name() == "status" {
			sub.PreRunE = func(sub *cobra.Command, _ []string) error {
				prefix, err := choosePrefix(sub)
				if err == nil {
					err = sub.Flags().Set("prefix", prefix)
				}
				return err
			}
		}
	}
	run := cmd.RunE
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := run(cmd, args); err != nil {
			return err
		}
		if dry, _ := cmd.Flags().GetBool("dry-run"); dry {
			return nil
		}
		prefix, _ := cmd.Flags().GetString("prefix")
		path, err := p.ReportPath(prefix)
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "\nreport: %s\n", path)
		return nil
	}
	return cmd
}

// validate checks the pipeline's flags before any step runs, so that a bad value is a usage
// error naming its flag rather than a step failure after ingest.
func validate(c steps.Config) error {
	switch {
	case c.MaxDocs < 0:
		return cli.FlagError("max-docs", c.MaxDocs, "must be 0 (every document) or more")
	case c.DocsPerShard < 1:
		return cli.FlagError("docs-per-shard", c.DocsPerShard, "must be at least 1")
	case c.MaxTextBytes < 1:
		return cli.FlagError("max-text-bytes", c.MaxTextBytes, "must be at least 1")
	case c.Encoding != tokenize.Cl100kBase && c.Encoding != tokenize.O200kBase:
		return cli.FlagError("encoding", fmt.Sprintf("%q", c.Encoding), "use "+tokenize.Cl100kBase+" or "+tokenize.O200kBase)
	case tokenize.Linked(c.Encoding) != nil: // o200k_base is opt-in: see o200k.go
		return cli.FlagError("encoding", c.Encoding, "not linked into this binary; build it with -tags o200k (or use "+tokenize.Cl100kBase+")")
	case !(c.Threshold >= 0 && c.Threshold <= 1): // also refuses NaN
		return cli.FlagError("threshold", c.Threshold, "a quality score is between 0 and 1")
	case !(c.TestFraction > 0 && c.TestFraction < 1):
		return cli.FlagError("test-fraction", c.TestFraction, "must be above 0 and below 1 (both the training and the held-out set need documents)")
	case c.Epochs < 1:
		return cli.FlagError("epochs", c.Epochs, "must be at least 1")
	case c.CVFolds < 0:
		return cli.FlagError("cv-folds", c.CVFolds, "must be 0 (no cross-validation) or more")
	case c.ClassifyActors < 0:
		return cli.FlagError("classify-actors", c.ClassifyActors, "must be 0 (shard tasks) or more")
	case c.BatchSize < 1:
		return cli.FlagError("batch-size", c.BatchSize, "must be at least 1")
	case c.InferenceMaxCalls < 0:
		return cli.FlagError("inference-max-calls", c.InferenceMaxCalls, "must be 0 (reuse workers) or more")
	case !(c.ShardCPUs > 0):
		return cli.FlagError("shard-cpus", c.ShardCPUs, "must be above 0")
	}
	if err := (fray.Resources{"CPU": c.ShardCPUs}).Validate(); err != nil {
		return cli.FlagError("shard-cpus", c.ShardCPUs, err.Error())
	}
	return nil
}

// choosePrefix resolves the prefix: --prefix, else FRAY_PREFIX, else ./fray-out. A local
// path is made absolute, so that worker processes and Ray workers running in other
// directories write to the same place.
func choosePrefix(cmd *cobra.Command) (string, error) {
	prefix, _ := cmd.Flags().GetString("prefix")
	if prefix == "" {
		prefix = os.Getenv(executor.PrefixEnv)
	}
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if i := strings.Index(prefix, "://"); i > 0 && !strings.HasPrefix(prefix, "file://") {
		return prefix, nil
	}
	abs, err := filepath.Abs(strings.TrimPrefix(prefix, "file://"))
	if err != nil {
		return "", fmt.Errorf("prefix %q: %w", prefix, err)
	}
	return abs, nil
}
