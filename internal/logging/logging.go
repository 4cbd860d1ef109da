// Package logging is fray's one log setup: a single log/slog handler per process, chosen by
// level and format, that a driver exports to its worker processes through the environment
// (FRAY_LOG_LEVEL, FRAY_LOG_FORMAT) so that every process of a run writes the same format.
//
// Installing the handler makes it slog's default, which also routes the standard log
// package's output through it (slog.SetDefault does that), so stray log.Print lines take
// the same format.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// Environment variables a worker process (and fray.Init in a driver) reads its log setup
// from. The CLI sets them from --log-level and --log-format; worker processes inherit them.
const (
	EnvLevel  = "FRAY_LOG_LEVEL"
	EnvFormat = "FRAY_LOG_FORMAT"
)

// Formats.
const (
	FormatText = "text" // slog.TextHandler: key=value lines
	FormatJSON = "json" // slog.JSONHandler: one JSON object per line
)

// Config is a log setup. The zero value is info-level text.
type Config struct {
	Level  slog.Level
	Format string // FormatText ("" means text) or FormatJSON
}

// ParseLevel parses debug, info, warn (or warning) or error, in any case; slog's offsets
// such as "info+2" work too.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	t := strings.TrimSpace(s)
	if strings.EqualFold(t, "warning") {
		t = "warn"
	}
	if err := l.UnmarshalText([]byte(t)); err != nil {
		return 0, fmt.Errorf("log level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// ParseFormat checks a format name: text or json, in any case.
func ParseFormat(s string) (string, error) {
	switch f := strings.ToLower(strings.TrimSpace(s)); f {
	case FormatText, FormatJSON:
		return f, nil
	}
	return "", fmt.Errorf("log format %q: want text or json", s)
}

// Parse builds a Config from a level and a format name; an empty string takes the default
// (info, text).
func Parse(level, format string) (Config, error) {
	var c Config
	var err error
	if level != "" {
		if c.Level, err = ParseLevel(level); err != nil {
			return c, err
		}
	}
	c.Format = FormatText
	if format != "" {
		if c.Format, err = ParseFormat(format); err != nil {
			return c, err
		}
	}
	return c, nil
}

// FromEnv reads the Config from FRAY_LOG_LEVEL and FRAY_LOG_FORMAT. set reports whether
// either variable is set (non-empty).
func FromEnv() (c Config, set bool, err error) {
	level, format := os.Getenv(EnvLevel), os.Getenv(EnvFormat)
	c, err = Parse(level, format)
	if err != nil {
		err = fmt.Errorf("%w (from $%s / $%s)", err, EnvLevel, EnvFormat)
	}
	return c, level != "" || format != "", err
}

// Env returns the environment variables that carry c to other processes, as KEY=value.
func (c Config) Env() map[string]string {
	f := c.Format
	if f == "" {
		f = FormatText
	}
	return map[string]string{EnvLevel: c.Level.String(), EnvFormat: f}
}

// Handler returns the slog handler for c writing to w.
func (c Config) Handler(w io.Writer) slog.Handler {
	o := &slog.HandlerOptions{Level: c.Level}
	if c.Format == FormatJSON {
		return slog.NewJSONHandler(w, o)
	}
	return slog.NewTextHandler(w, o)
}

// Install makes c's handler on w the process's default logger (slog's and, through it, the
// standard log package's, whose lines become info records) and returns it.
func Install(w io.Writer, c Config, attrs ...any) *slog.Logger {
	l := slog.New(c.Handler(w)).With(attrs...)
	slog.SetDefault(l)
	return l
}

// Export sets FRAY_LOG_LEVEL and FRAY_LOG_FORMAT to c in this process's environment, so that
// worker processes started from now on (which inherit it) log the same way.
func Export(c Config) {
	for k, v := range c.Env() {
		_ = os.Setenv(k, v)
	}
}

// InstallFromEnv installs the Config of FRAY_LOG_LEVEL and FRAY_LOG_FORMAT on stderr when
// either is set, with attrs added to every record (a worker adds its pid). A bad value is
// reported through the installed default (text, info) and otherwise ignored: a worker
// cannot refuse to start over its log format.
func InstallFromEnv(attrs ...any) {
	c, set, err := FromEnv()
	if !set {
		return
	}
	l := Install(os.Stderr, c, attrs...)
	if err != nil {
		l.Warn("ignoring the log setup from the environment", "err", err)
	}
}
