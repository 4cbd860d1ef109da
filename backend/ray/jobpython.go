package ray

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
)

// jobConfigEnv is set by Ray's job supervisor for the entrypoint of a job submitted through
// the Jobs API (`fray submit`, `ray job submit`): it marks a driver that runs on the cluster.
const jobConfigEnv = "RAY_JOB_CONFIG_JSON_ENV_VAR"

// jobDriverPython is, for a Go program run as a Ray job's entrypoint, the Python of the job
// supervisor that started it (an ancestor process; Ray's own Python, so one with Ray): the
// fallback when neither FRAY_PYTHON nor a .venv names one, as on a cluster started by `ray
// start` rather than `fray cluster start`. It returns "" elsewhere or when none is found.
func jobDriverPython() string {
	if os.Getenv(jobConfigEnv) == "" {
		return ""
	}
	for _, maps := range ancestorMaps(8) {
		for _, p := range pythonsFromMaps(maps) {
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				return p
			}
		}
	}
	return ""
}

// pythonsFromMaps reads a process's memory map (Linux's /proc/PID/maps) for the Ray module
// it loaded (…/lib/pythonX.Y/site-packages/ray/_raylet.so) and returns the interpreters of
// that installation's prefix (a virtualenv's or the system's), most specific first. The
// executable itself is no help: a virtualenv's python is a link to the base interpreter,
// which lacks the virtualenv's packages, and Ray rewrites its workers' command lines.
func pythonsFromMaps(maps string) []string {
	for _, line := range strings.Split(maps, "\n") {
		f := strings.Fields(line)
		if len(f) < 6 {
			continue
		}
		p := strings.Join(f[5:], " ")
		if filepath.Base(p) != "_raylet.so" || filepath.Base(filepath.Dir(p)) != "ray" {
			continue
		}
		lib := filepath.Dir(filepath.Dir(filepath.Dir(filepath.Dir(p)))) // …/lib of …/lib/pythonX.Y/site-packages/ray
		if filepath.Base(lib) != "lib" && filepath.Base(lib) != "lib64" {
			continue
		}
		bin := filepath.Join(filepath.Dir(lib), "bin")
		ver := filepath.Base(filepath.Dir(filepath.Dir(filepath.Dir(p)))) // pythonX.Y
		return []string{filepath.Join(bin, "python"), filepath.Join(bin, ver), filepath.Join(bin, "python3")}
	}
	return nil
}

// jobWorkingDirBinary is, for a program run as a Ray job's entrypoint whose job has a
// working_dir (`fray submit` ships the program so) and whose binary bin lies in it (the
// driver's working directory cwd), bin's path relative to cwd, which is where every worker
// of the job finds the same files on its own node (Ray copies the job's working_dir to each
// node, below that node's temp dir). It returns "" otherwise: then workers get bin's
// absolute path (ShipPath). jobConfig is Ray's RAY_JOB_CONFIG_JSON_ENV_VAR.
func jobWorkingDirBinary(bin, cwd, jobConfig string) string {
	if jobConfig == "" || cwd == "" {
		return ""
	}
	var cfg struct {
		RuntimeEnv struct {
			WorkingDir string `json:"working_dir"`
		} `json:"runtime_env"`
	}
	if json.Unmarshal([]byte(jobConfig), &cfg) != nil || cfg.RuntimeEnv.WorkingDir == "" {
		return ""
	}
	rel, err := filepath.Rel(cwd, bin)
	if err != nil || !filepath.IsLocal(rel) {
		return ""
	}
	return "./" + filepath.ToSlash(rel)
}
