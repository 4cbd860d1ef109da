package ray

import (
	"log/slog"
	"testing"
)

// TestParseLogLine: each kind of line the bridge prints reaches the Go logger with the
// level it states and its message without the foreign prefix.
func TestParseLogLine(t *testing.T) {
	cases := []struct {
		line  string
		level slog.Level
		msg   string
		attr  string // one attribute key=value the record must carry ("" for none)
	}{
		{"2026-12-03 08:06:16,123\tINFO worker.py:1654 -- Connecting to existing Ray cluster at address: 127.0.0.1:6379...",
			slog.LevelInfo, "Connecting to existing Ray cluster at address: 127.0.0.1:6379...", "where=worker.py:1654"},
		{"2026-12-03 08:06:16,123\tWARNING services.py:2000 -- low memory", slog.LevelWarn, "low memory", "where=services.py:2000"},
		{"[2026-12-03 08:06:16,123 E 1234 5678] core_worker.cc:12: lost", slog.LevelError, "core_worker.cc:12: lost", ""},
		{"fray-bridge: WARNING shared memory unavailable (x); values cross through the pipes", slog.LevelWarn,
			"shared memory unavailable (x); values cross through the pipes", "from=fray-bridge"},
		{"fray-bridge: ERROR request 0x05 failed: boom", slog.LevelError, "request 0x05 failed: boom", "from=fray-bridge"},
		{"fray-bridge: old style message", slog.LevelWarn, "old style message", "from=fray-bridge"},
		{"(fray_task pid=9) fray-shim: ERROR Go worker child died (exit status 2); exiting this Ray worker", slog.LevelError,
			"Go worker child died (exit status 2); exiting this Ray worker", "from=fray-shim"},
		// A Go worker child's JSON record, forwarded by Ray with its colored prefix.
		{"\x1b[36m(fray_task pid=4242)\x1b[0m {\"time\":\"2026-12-03T08:06:16Z\",\"level\":\"DEBUG\",\"msg\":\"fray worker serving\",\"worker_pid\":77}",
			slog.LevelDebug, "fray worker serving", "worker_pid=77"},
		{"(pid=4242) {\"level\":\"WARN\",\"msg\":\"w\"}", slog.LevelWarn, "w", "ray_worker=pid=4242"},
		// Ray's deduplication suffix, seen on a real run.
		{"(numbers:demo/numbers pid=11262) {\"level\":\"DEBUG\",\"msg\":\"fray worker serving\",\"worker_pid\":11322} [repeated 2x across cluster] (Ray deduplicates logs by default. Set RAY_DEDUP_LOGS=0 to disable log deduplication, or see https://docs.ray.io/en/master/ray-observability/user-guides/configure-logging.html#log-deduplication for more options.)",
			slog.LevelDebug, "fray worker serving", "ray_repeated=2"},
		{"(pid=1) hello [repeated 5x across cluster]", slog.LevelInfo, "hello", "ray_repeated=5"},
		{"(pid=4242) time=2026-12-03T08:06:16Z level=ERROR msg=bad", slog.LevelError, "time=2026-12-03T08:06:16Z level=ERROR msg=bad", "ray_worker=pid=4242"},
		{"(pid=4242) hello from a task", slog.LevelInfo, "hello from a task", "ray_worker=pid=4242"},
		{"Traceback (most recent call last):", slog.LevelError, "Traceback (most recent call last):", ""},
		{"{not json", slog.LevelInfo, "{not json", ""},
	}
	for _, c := range cases {
		got := parseLogLine(c.line)
		if got.level != c.level || got.msg != c.msg {
			t.Errorf("%q: level %v msg %q; want %v %q", c.line, got.level, got.msg, c.level, c.msg)
		}
		if c.attr == "" {
			continue
		}
		found := false
		for _, a := range got.attrs {
			if a.String() == c.attr {
				found = true
			}
		}
		if !found {
			t.Errorf("%q: attrs %v lack %s", c.line, got.attrs, c.attr)
		}
	}
}

// TestJobEnv: the driver's log setup travels to the Go children on Ray workers unless the
// options set it.
func TestJobEnv(t *testing.T) {
	t.Setenv("FRAY_LOG_FORMAT", "json")
	t.Setenv("FRAY_LOG_LEVEL", "")
	env := jobEnv(map[string]string{"A": "1"})
	if env["A"] != "1" || env["FRAY_LOG_FORMAT"] != "json" || len(env) != 2 {
		t.Errorf("jobEnv = %v", env)
	}
	if env := jobEnv(map[string]string{"FRAY_LOG_FORMAT": "text"}); env["FRAY_LOG_FORMAT"] != "text" {
		t.Errorf("opts.Env is overridden: %v", env)
	}
	if env := jobEnv(nil); env["FRAY_LOG_FORMAT"] != "json" {
		t.Errorf("jobEnv(nil) = %v", env)
	}
}
