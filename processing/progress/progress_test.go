package progress_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/fray-go/fray/processing/progress"
)

// syncBuffer is a bytes.Buffer safe for the View's renderer and the test at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func boolp(b bool) *bool { return &b }

// TestTerminalTwoBars draws two bars at once, as two steps running side by side do: each
// summary is printed on its own line, and no summary line holds the other bar's name.
func TestTerminalTwoBars(t *testing.T) {
	var out syncBuffer
	v := progress.New(&out, progress.Options{Terminal: boolp(true)})
	if progress.Lookup(&out) != v {
		t.Fatal("Lookup does not return the open View of its writer")
	}
	status := v.AddStatus(func() string { return "running 2 (a, b)" })
	a := v.AddBar("tokenize", 3, "shards")
	b := v.AddBar("classify", 2, "shards")
	var wg sync.WaitGroup
	for _, bar := range []*progress.Bar{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 3; i++ {
				bar.Add(1, fmt.Sprintf("%d records", (i+1)*100))
			}
		}()
	}
	wg.Wait()
	a.Done("tokenize: 3 shards done")
	b.Abort("classify: 1 shard FAILED")
	status.Done()
	v.Close()
	if progress.Lookup(&out) != nil {
		t.Fatal("Lookup still returns a closed View")
	}
	text := out.String()
	lines := strings.Split(strings.ReplaceAll(text, "\r", "\n"), "\n")
	for _, want := range []string{"tokenize: 3 shards done", "classify: 1 shard FAILED", "running 2 (a, b)"} {
		found := false
		for _, l := range lines {
			if strings.Contains(l, want) {
				found = true
				if strings.Contains(want, "tokenize") && strings.Contains(l, "classify") ||
					strings.Contains(want, "classify") && strings.Contains(l, "tokenize") {
					t.Errorf("one line holds both steps: %q", l)
				}
			}
		}
		if !found {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
}

// TestNotTerminalLogs checks the log mode: a record when a bar starts and when it ends,
// none of the terminal's escape sequences.
func TestNotTerminalLogs(t *testing.T) {
	var out, logs syncBuffer
	v := progress.New(&out, progress.Options{Terminal: boolp(false), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	bar := v.AddBar("tokenize", 2, "shards")
	bar.Add(1, "100 records")
	bar.Add(1, "200 records")
	bar.Done("tokenize: 2 shards done")
	st := v.AddStatus(func() string { return "done 1" })
	st.Done()
	v.Printf("summary line")
	v.Close()
	got := logs.String()
	for _, want := range []string{"step=tokenize", "started, 2 shards", "tokenize: 2 shards done", "status=\"done 1\""} {
		if !strings.Contains(got, want) {
			t.Errorf("log lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(out.String()+got, "\x1b[") {
		t.Errorf("escape sequences on a non-terminal: %q", out.String())
	}
	if !strings.Contains(out.String(), "summary line\n") {
		t.Errorf("Printf on a non-terminal wrote %q", out.String())
	}
}

// TestPlainLinesWithoutLogger checks that a non-terminal View without a logger writes one
// plain line per event to its writer.
func TestPlainLinesWithoutLogger(t *testing.T) {
	var out syncBuffer
	v := progress.New(&out, progress.Options{Terminal: boolp(false)})
	bar := v.AddBar("filter", 1, "shards")
	bar.Add(1, "")
	bar.Done("")
	v.Close()
	want := "filter: started, 1 shards\nfilter: 1/1 shards\n"
	if out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}

// TestRelayedBar feeds the driver's View the lines a worker process's View writes to its
// stderr (the relay of the local backend's process workers): the bar is drawn (here:
// logged) by the driver, and ordinary lines pass through.
func TestRelayedBar(t *testing.T) {
	var out, logs syncBuffer
	v := progress.New(&out, progress.Options{Terminal: boolp(false), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	w := v.Writer()
	lines := "plain text from a worker\n" +
		"\x00fray-progress {\"id\":\"7-1\",\"op\":\"add\",\"name\":\"tokenize\",\"total\":2,\"unit\":\"shards\"}\n" +
		"\x00fray-progress {\"id\":\"7-1\",\"op\":\"add\",\"n\":1,\"detail\":\"100 records\"}\n" +
		"\x00fray-progress {not json}\n" +
		"\x00fray-progress {\"id\":\"7-1\",\"op\":\"done\",\"summary\":\"tokenize: 2 shards done\"}\n"
	if n, err := w.Write([]byte(lines)); err != nil || n != len(lines) {
		t.Fatalf("Write = %d, %v", n, err)
	}
	v.Close()
	if out.String() != "plain text from a worker\n" {
		t.Errorf("passed through %q, want only the plain line", out.String())
	}
	for _, want := range []string{"step=tokenize", "started, 2 shards", "tokenize: 2 shards done"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}
