package logging

import (
	"bytes"
	"encoding/json"
	"log"
	"log/slog"
	"os"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		level, format string
		want          Config
		bad           string // substring of the error; "" for none
	}{
		{"", "", Config{Level: slog.LevelInfo, Format: FormatText}, ""},
		{"debug", "JSON", Config{Level: slog.LevelDebug, Format: FormatJSON}, ""},
		{"WARNING", "text", Config{Level: slog.LevelWarn, Format: FormatText}, ""},
		{"error", "", Config{Level: slog.LevelError, Format: FormatText}, ""},
		{"loud", "", Config{}, `log level "loud"`},
		{"", "xml", Config{}, `log format "xml"`},
	} {
		got, err := Parse(c.level, c.format)
		if c.bad != "" {
			if err == nil || !strings.Contains(err.Error(), c.bad) {
				t.Errorf("Parse(%q, %q) = %v; want an error with %q", c.level, c.format, err, c.bad)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("Parse(%q, %q) = %+v, %v; want %+v", c.level, c.format, got, err, c.want)
		}
	}
}

// TestInstall: the installed handler is slog's default and the standard log package's
// output goes through it; the setup is exported for worker processes and read back.
func TestInstall(t *testing.T) {
	prev := slog.Default()
	t.Cleanup(func() { slog.SetDefault(prev) })
	t.Setenv(EnvLevel, "")
	t.Setenv(EnvFormat, "")
	var buf bytes.Buffer
	c := Config{Level: slog.LevelWarn, Format: FormatJSON}
	Install(&buf, c, "worker_pid", 7)
	Export(c)
	slog.Info("dropped: below the level")
	slog.Warn("kept", "k", 1)
	log.SetFlags(0)
	log.Print("from the standard logger") // logged at info by slog's bridge: below warn
	slog.SetLogLoggerLevel(slog.LevelWarn)
	log.Print("stray std-log line")
	slog.SetLogLoggerLevel(slog.LevelInfo)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 lines, got:\n%s", buf.String())
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %q: %v", l, err)
		}
		if m["worker_pid"] != float64(7) || m["level"] != "WARN" {
			t.Errorf("record %v", m)
		}
	}
	if !strings.Contains(lines[1], "stray std-log line") {
		t.Errorf("std log line: %s", lines[1])
	}
	if os.Getenv(EnvLevel) != "WARN" || os.Getenv(EnvFormat) != FormatJSON {
		t.Errorf("exported %q %q", os.Getenv(EnvLevel), os.Getenv(EnvFormat))
	}
	got, set, err := FromEnv()
	if !set || err != nil || got != c {
		t.Errorf("FromEnv = %+v %v %v", got, set, err)
	}
}
