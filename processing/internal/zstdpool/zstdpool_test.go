package zstdpool

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
)

// TestRoundTripReuse: streams written and read through pooled encoders and decoders come
// back intact, concurrently and after a decoder met a corrupt stream.
func TestRoundTripReuse(t *testing.T) {
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				want := strings.Repeat(fmt.Sprintf("stream %d.%d ", g, i), 100*(i+1))
				var buf bytes.Buffer
				w, err := NewWriter(&buf)
				if err != nil {
					t.Error(err)
					return
				}
				io.WriteString(w, want)
				if err := w.Close(); err != nil {
					t.Error(err)
					return
				}
				if i%5 == 0 { // a corrupt stream: an error, and the decoder still serves the next
					if r, err := NewReader(bytes.NewReader([]byte("not zstd at all"))); err == nil {
						if _, err := io.ReadAll(r); err == nil {
							t.Error("corrupt stream read without error")
						}
						r.Close()
					}
				}
				r, err := NewReader(&buf)
				if err != nil {
					t.Error(err)
					return
				}
				got, err := io.ReadAll(r)
				r.Close()
				if err != nil || string(got) != want {
					t.Errorf("round trip %d.%d: %d bytes, %v; want %d", g, i, len(got), err, len(want))
					return
				}
			}
		}()
	}
	wg.Wait()
}
