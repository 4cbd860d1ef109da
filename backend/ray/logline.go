package ray

import (
	"encoding/json"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// The bridge's output is a mix of formats: Ray's Python loggers, Ray's C++ core, the
// bridge's own messages, and the output of the job's Ray workers that Ray forwards to the
// driver with a "(task pid=N)" prefix, which includes the Go worker children's slog
// records. parseLogLine turns one line into a record for the Go logger, with the level
// the line states, so that everything ends up in the program's one log format.
var (
	ansiRe = regexp.MustCompile("\x1b\\[[0-9;]*m")
	// (pid=123) / (MyTask pid=123, ip=10.0.0.1) / (raylet) ...
	workerPrefixRe = regexp.MustCompile(`^\(([^()]*(?:pid=\d+|raylet|gcs_server)[^()]*)\) (.*)$`)
	// Ray's Python logging: "2026-12-03 08:06:16,123\tINFO worker.py:1654 -- message"
	pyLogRe = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[,.]\d+\s+(DEBUG|INFO|WARNING|ERROR|CRITICAL)\s+(\S+)\s+--\s+(.*)$`)
	// Ray's C++ core: "[2026-12-03 08:06:16,123 W 1234 5678] file.cc:12: message"
	coreLogRe = regexp.MustCompile(`^\[\d{4}-\d\d-\d\d [\d:,.]+ ([DIWEF]) \d+ \d+\] (.*)$`)
	// Ray's log deduplication: "line [repeated 2x across cluster]", the first time with a
	// note on how to turn it off
	repeatedRe = regexp.MustCompile(`^(.*?) \[repeated (\d+)x across cluster\](?: \(Ray deduplicates logs.*\))?$`)
	// slog's text handler: "time=... level=WARN msg=..."
	slogTextLevelRe = regexp.MustCompile(`(?:^|\s)level=([A-Z]+(?:[+-]\d+)?)(?:\s|$)`)
)

// logLine is one parsed line of the bridge's output.
type logLine struct {
	level slog.Level
	msg   string
	attrs []slog.Attr
}

func parseLogLine(line string) logLine {
	line = ansiRe.ReplaceAllString(line, "")
	var out logLine
	if m := workerPrefixRe.FindStringSubmatch(line); m != nil {
		out.attrs = append(out.attrs, slog.String("ray_worker", m[1]))
		line = m[2]
	}
	if m := repeatedRe.FindStringSubmatch(line); m != nil {
		line = m[1]
		out.attrs = append(out.attrs, slog.String("ray_repeated", m[2]))
	}
	// fray's own Python: "fray-bridge: LEVEL message" (the driver), "fray-shim: LEVEL
	// message" (the shim on a Ray worker).
	for _, from := range []string{"fray-bridge", "fray-shim"} {
		rest, ok := strings.CutPrefix(line, from+": ")
		if !ok {
			continue
		}
		out.attrs = append(out.attrs, slog.String("from", from))
		if word, msg, ok := strings.Cut(rest, " "); ok {
			if l, ok := pythonLevel(word); ok {
				out.level, out.msg = l, msg
				return out
			}
		}
		out.level, out.msg = slog.LevelWarn, rest
		return out
	}
	if strings.HasPrefix(line, "{") && parseJSONRecord(line, &out) {
		return out
	}
	if m := pyLogRe.FindStringSubmatch(line); m != nil {
		out.level, _ = pythonLevel(m[1])
		out.msg = m[3]
		out.attrs = append(out.attrs, slog.String("where", m[2]))
		return out
	}
	if m := coreLogRe.FindStringSubmatch(line); m != nil {
		out.level = map[string]slog.Level{"D": slog.LevelDebug, "I": slog.LevelInfo, "W": slog.LevelWarn, "E": slog.LevelError, "F": slog.LevelError + 4}[m[1]]
		out.msg = m[2]
		return out
	}
	out.msg = line
	if m := slogTextLevelRe.FindStringSubmatch(line); m != nil {
		var l slog.Level
		if l.UnmarshalText([]byte(m[1])) == nil {
			out.level = l
			return out
		}
	}
	switch {
	case strings.Contains(line, "ERROR") || strings.Contains(line, "Traceback"):
		out.level = slog.LevelError
	case strings.Contains(line, "WARNING"):
		out.level = slog.LevelWarn
	default:
		out.level = slog.LevelInfo
	}
	return out
}

// pythonLevel maps a Python logging level name to slog's.
func pythonLevel(name string) (slog.Level, bool) {
	switch name {
	case "DEBUG":
		return slog.LevelDebug, true
	case "INFO":
		return slog.LevelInfo, true
	case "WARNING", "WARN":
		return slog.LevelWarn, true
	case "ERROR":
		return slog.LevelError, true
	case "CRITICAL", "FATAL":
		return slog.LevelError + 4, true
	}
	return 0, false
}

// parseJSONRecord reads a record of slog's JSON handler (a Go worker child's log line):
// its level and message, and its other fields as attributes (its time is dropped: the
// record is stamped again when logged here).
func parseJSONRecord(line string, out *logLine) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal([]byte(line), &m) != nil {
		return false
	}
	var msg, level string
	if json.Unmarshal(m[slog.MessageKey], &msg) != nil || json.Unmarshal(m[slog.LevelKey], &level) != nil {
		return false
	}
	if out.level.UnmarshalText([]byte(level)) != nil {
		return false
	}
	out.msg = msg
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if k == slog.MessageKey || k == slog.LevelKey || k == slog.TimeKey {
			continue
		}
		var v any
		if json.Unmarshal(m[k], &v) == nil {
			out.attrs = append(out.attrs, slog.Any(k, v))
		}
	}
	return true
}
