package streamend

import (
	"errors"
	"io"
	"testing"

	"github.com/fray-go/fray"
)

func TestState(t *testing.T) {
	boom := errors.New("boom")
	cancelled := &fray.CancelledError{TaskID: "s1"}
	type op struct {
		do   string // "finish EOF", "finish boom", "cancel", "release", "ended"
		want error  // what Finish or Ended returns (nil for the others)
	}
	cases := []struct {
		name      string
		ops       []op
		cancels   int // calls of the cancel func
		releases  int // calls of the release func
		endedWant error
	}{
		{"fresh", []op{{"ended", nil}}, 0, 0, nil},
		{"end of stream", []op{{"finish EOF", io.EOF}, {"ended", io.EOF}}, 0, 1, io.EOF},
		{"the first end stays", []op{{"finish boom", boom}, {"finish EOF", boom}}, 0, 1, boom},
		{"cancel a running stream", []op{{"cancel", nil}, {"ended", cancelled}}, 1, 1, cancelled},
		{"finish after cancel", []op{{"cancel", nil}, {"finish EOF", cancelled}}, 1, 1, cancelled},
		{"cancel after the end", []op{{"finish EOF", io.EOF}, {"cancel", nil}}, 0, 1, io.EOF},
		{"cancel twice", []op{{"cancel", nil}, {"cancel", nil}}, 1, 1, cancelled},
		{"release then end", []op{{"release", nil}, {"finish EOF", io.EOF}}, 0, 1, io.EOF},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var cancels, releases int
			s := New("s1", func() { releases++ })
			for i, o := range c.ops {
				var got error
				switch o.do {
				case "finish EOF":
					got = s.Finish(io.EOF)
				case "finish boom":
					got = s.Finish(boom)
				case "cancel":
					s.Cancel(func() { cancels++ })
				case "release":
					s.Release()
				case "ended":
					got = s.Ended()
				}
				if !sameErr(got, o.want) {
					t.Fatalf("op %d (%s) = %v, want %v", i, o.do, got, o.want)
				}
			}
			if cancels != c.cancels || releases != c.releases {
				t.Fatalf("cancel called %d times, release %d; want %d and %d", cancels, releases, c.cancels, c.releases)
			}
			if got := s.Ended(); !sameErr(got, c.endedWant) {
				t.Fatalf("Ended() = %v, want %v", got, c.endedWant)
			}
		})
	}
}

// sameErr compares errors, a *fray.CancelledError by its task id.
func sameErr(got, want error) bool {
	var g, w *fray.CancelledError
	if errors.As(want, &w) {
		return errors.As(got, &g) && g.TaskID == w.TaskID
	}
	return got == want
}
