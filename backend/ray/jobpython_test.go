package ray

import (
	"reflect"
	"testing"
)

func TestPythonsFromMaps(t *testing.T) {
	const lib = "7f3a2c000000-7f3a2c100000 r-xp 00000000 08:01 1234   "
	for _, c := range []struct {
		name, maps string
		want       []string
	}{
		{"virtualenv", "55d0-55e0 r-xp 0 08:01 1 /root/.pyenv/versions/3.11.7/bin/python3.11\n" +
			lib + "/work/main/.venv/lib/python3.11/site-packages/ray/_raylet.so\n",
			[]string{"/work/main/.venv/bin/python", "/work/main/.venv/bin/python3.11", "/work/main/.venv/bin/python3"}},
		{"system dist-packages", lib + "/usr/lib/python3/dist-packages/ray/_raylet.so",
			[]string{"/usr/bin/python", "/usr/bin/python3", "/usr/bin/python3"}},
		{"path with a space", lib + "/opt/my env/lib64/python3.12/site-packages/ray/_raylet.so",
			[]string{"/opt/my env/bin/python", "/opt/my env/bin/python3.12", "/opt/my env/bin/python3"}},
		{"no ray", lib + "/usr/lib/x86_64-linux-gnu/libc.so.6\n55d0-55e0 rw-p 0 00:00 0 [heap]", nil},
		{"a _raylet.so outside a ray package", lib + "/tmp/x/_raylet.so", nil},
		{"not below lib", lib + "/srv/site-packages/ray/_raylet.so", nil},
		{"empty", "", nil},
	} {
		if got := pythonsFromMaps(c.maps); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: pythonsFromMaps = %q, want %q", c.name, got, c.want)
		}
	}
}

// A program that is no Ray job's driver does not look at its ancestors.
func TestJobDriverPythonOutsideAJob(t *testing.T) {
	t.Setenv(jobConfigEnv, "")
	if p := jobDriverPython(); p != "" {
		t.Fatalf("jobDriverPython() = %q outside a Ray job, want \"\"", p)
	}
}

func TestJobWorkingDirBinary(t *testing.T) {
	const wd = `{"runtime_env": {"working_dir": "gcs://_ray_pkg_0123.zip", "env_vars": {}}, "metadata": {}}`
	const cwd = "/tmp/ray/session_1/runtime_resources/working_dir_files/_ray_pkg_0123"
	for _, c := range []struct {
		name, bin, cwd, cfg, want string
	}{
		{"submitted driver", cwd + "/pipeline", cwd, wd, "./pipeline"},
		{"in a subdirectory", cwd + "/bin/tool", cwd, wd, "./bin/tool"},
		{"not a job's driver", cwd + "/pipeline", cwd, "", ""},
		{"a job without working_dir", "/usr/local/bin/tool", cwd, `{"runtime_env": {}}`, ""},
		{"binary outside the working dir", "/usr/local/bin/tool", cwd, wd, ""},
		{"binary beside it", cwd + "-x/tool", cwd, wd, ""},
		{"unreadable config", cwd + "/pipeline", cwd, "{", ""},
		{"no cwd", cwd + "/pipeline", "", wd, ""},
	} {
		if got := jobWorkingDirBinary(c.bin, c.cwd, c.cfg); got != c.want {
			t.Errorf("%s: jobWorkingDirBinary = %q, want %q", c.name, got, c.want)
		}
	}
}
