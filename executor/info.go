package executor

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strings"
	"time"

	"github.com/fray-go/fray"
)

// StepInfoRecord is the content of a step's .executor_info file and of each entry of the
// experiment record's "steps".
type StepInfoRecord struct {
	Name               string           `json:"name"`
	FnName             string           `json:"fn_name"`
	Config             json.RawMessage  `json:"config"` // the resolved config
	Description        string           `json:"description"`
	OverrideOutputPath string           `json:"override_output_path,omitempty"`
	Version            json.RawMessage  `json:"version,omitempty"` // the canonical version object (never empty when written)
	Hash               string           `json:"hash"`
	Dependencies       []string         `json:"dependencies"` // output paths
	PseudoDependencies []string         `json:"pseudo_dependencies,omitempty"`
	OutputPath         string           `json:"output_path"`
	Resources          fray.Resources   `json:"resources,omitempty"`
	RuntimeEnv         *fray.RuntimeEnv `json:"runtime_env,omitempty"`
}

// ExperimentRecord is the content of <InfoBasePath>/<experiment>-<hash>.json.
type ExperimentRecord struct {
	Name        string           `json:"name"`
	Description string           `json:"description"`
	Prefix      string           `json:"prefix"`
	User        string           `json:"user"`
	GitCommit   string           `json:"git_commit,omitempty"`
	CreatedDate string           `json:"created_date"`
	Hash        string           `json:"hash"`
	Steps       []StepInfoRecord `json:"steps,omitempty"` // written as one line per step
}

func (r *run) infoRecord(n *node) StepInfoRecord {
	cfg, err := json.Marshal(n.config)
	if err != nil {
		r.log.Warn("config cannot be JSON-encoded; recording its Go form", "step", n.name, "err", err)
		cfg, _ = json.Marshal(fmt.Sprintf("%+v", n.config))
	}
	rec := StepInfoRecord{Name: n.name, FnName: n.fnName, Config: cfg, Description: n.step.Description,
		OverrideOutputPath: n.step.OutputPath, Version: json.RawMessage(n.versionStr), Hash: n.hash,
		Dependencies: append([]string{}, n.depPaths...), OutputPath: n.output, Resources: n.step.Resources}
	for _, d := range n.pseudo {
		rec.PseudoDependencies = append(rec.PseudoDependencies, d.output)
	}
	if !n.step.RuntimeEnv.IsZero() {
		env := n.step.RuntimeEnv
		rec.RuntimeEnv = &env
	}
	return rec
}

// encodeInfo renders an info record as one line of JSON. The version, which embeds the
// versions of all dependencies and dominates the size, is spliced in as the canonical bytes
// it already is instead of being re-encoded; the rest is encoded without it (Version is
// omitempty), so the key appears once.
func encodeInfo(rec StepInfoRecord) []byte {
	v := rec.Version
	if len(v) == 0 {
		v = json.RawMessage("null")
	}
	rec.Version = nil
	b, _ := json.Marshal(rec) // cannot fail: RawMessage config is valid JSON
	b = b[:len(b)-1]          // drop "}"
	b = append(b, `,"version":`...)
	b = append(b, v...)
	return append(b, '}')
}

// writeInfos writes every run-set step's .executor_info and the experiment record, and
// returns the record's path.
func (r *run) writeInfos(ctx context.Context) (string, error) {
	infos := make([][]byte, len(r.nodes))
	for i, n := range r.nodes {
		infos[i] = encodeInfo(r.infoRecord(n))
	}
	errs := parallel(ctx, len(r.nodes), 16, func(i int) error {
		p := JoinPath(r.nodes[i].output, InfoFileName)
		if err := r.store.WriteFileAtomic(ctx, p, append(infos[i], '\n')); err != nil {
			return fmt.Errorf("executor: writing %s: %w", p, err)
		}
		return nil
	})
	if len(errs) > 0 {
		return "", errors.Join(errs...)
	}
	h := md5.New()
	for _, n := range r.nodes {
		h.Write([]byte(n.hash))
		h.Write([]byte(n.versionStr))
	}
	hash := hex.EncodeToString(h.Sum(nil))[:6]
	exp := ExperimentRecord{Name: r.opts.ExperimentName, Description: r.opts.Description, Prefix: r.opts.Prefix,
		User: currentUser(), GitCommit: r.opts.GitCommit, CreatedDate: r.opts.Now().UTC().Format(time.RFC3339),
		Hash: hash}
	if exp.GitCommit == "" {
		exp.GitCommit = gitCommit(ctx)
	}
	b, err := json.Marshal(exp)
	if err != nil {
		return "", fmt.Errorf("executor: encoding the experiment record: %w", err)
	}
	// Splice the step records in as "steps": [...], one per line.
	b = b[:len(b)-1]
	b = append(b, `,"steps":[`...)
	for i, info := range infos {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '\n')
		b = append(b, info...)
	}
	b = append(b, "\n]}\n"...)
	p := JoinPath(r.opts.InfoBasePath, r.opts.ExperimentName+"-"+hash+".json")
	if err := r.store.WriteFileAtomic(ctx, p, b); err != nil {
		return "", fmt.Errorf("executor: writing %s: %w", p, err)
	}
	return p, nil
}

func currentUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return os.Getenv("USER")
}

// gitCommit returns FRAY_GIT_COMMIT, else the HEAD commit of the working directory's git
// repository, else "".
func gitCommit(ctx context.Context) string {
	if c := os.Getenv("FRAY_GIT_COMMIT"); c != "" {
		return c
	}
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	out, err := exec.CommandContext(cctx, "git", "rev-parse", "HEAD").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}
