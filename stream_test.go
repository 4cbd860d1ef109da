package fray_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"time"

	"testing"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
	"github.com/fray-go/fray/backend/local"
)

// snippet:streams-decl
// Countdown yields n, n-1, ..., 1 and fails on a negative n after yielding nothing.
var Countdown = fray.NewStreamTask("examples.countdown", func(ctx context.Context, n int, yield func(int) error) error {
	if n < 0 {
		return fmt.Errorf("countdown from %d", n)
	}
	for i := n; i > 0; i-- {
		if err := yield(i); err != nil {
			return err // the stream was cancelled: stop
		}
	}
	return nil
})

// end snippet:streams-decl

// Tokens is a model actor whose Generate method streams tokens as it produces them.
type Tokens struct{ vocab []string }

// Generate yields the first n words of the vocabulary.
func (t *Tokens) Generate(ctx context.Context, n int, yield func(string) error) error {
	for i := range n {
		if err := yield(t.vocab[i%len(t.vocab)]); err != nil {
			return err
		}
	}
	return nil
}

// Model is the actor class; Generate its streaming method.
var (
	Model = fray.NewActor("examples.Model", func(ctx context.Context, vocab []string) (*Tokens, error) {
		return &Tokens{vocab: vocab}, nil
	})
	Generate = fray.NewStreamMethod(Model, "Generate", (*Tokens).Generate)
)

// A streaming task is consumed as it produces: with Next, or with range over All.
func ExampleNewStreamTask() {
	jc, err := local.New(local.Options{Resources: fray.Resources{"CPU": 2}})
	if err != nil {
		log.Fatal(err)
	}
	defer jc.Close()
	ctx := fray.WithJobContext(context.Background(), jc)

	// snippet:streams-call
	// Backpressure 2: the producer runs at most two values ahead of the consumer.
	s, err := Countdown.Remote(ctx, 3, fray.StreamOptions{Backpressure: 2})
	if err != nil {
		log.Fatal(err)
	}
	for v, err := range s.All(ctx) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(v)
	}
	// end snippet:streams-call

	// A failing producer's error comes after its values, as a *fray.TaskError.
	s, _ = Countdown.Remote(ctx, -1)
	_, err = s.Next(ctx)
	fmt.Println(errors.Is(err, fray.ErrTaskFailed), err)

	// Actor methods stream too.
	h, _ := Model.Create(ctx, []string{"the", "cat", "sat"})
	words, _ := Generate.Remote(ctx, h, 4)
	for {
		w, err := words.Next(ctx)
		if err == io.EOF {
			break
		}
		fmt.Print(w, " ")
	}
	fmt.Println()
	// Output:
	// 3
	// 2
	// 1
	// true fray: task examples.countdown failed: countdown from -1
	// the cat sat the
}

// noStreams is a JobContext without backend.StreamJobContext.
type noStreams struct{ backend.JobContext }

func TestStreamUnsupported(t *testing.T) {
	jc, err := local.New(local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer jc.Close()
	ctx := fray.WithJobContext(context.Background(), noStreams{jc})
	_, err = Countdown.Remote(ctx, 1)
	var ue *fray.UnsupportedError
	if !errors.As(err, &ue) || !errors.Is(err, fray.ErrUnsupported) {
		t.Fatalf("a stream on a backend without streams: %v (%T), want *fray.UnsupportedError", err, err)
	}
}

func TestStreamOptionsChecked(t *testing.T) {
	jc, err := local.New(local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer jc.Close()
	ctx := fray.WithJobContext(context.Background(), jc)
	for _, tc := range []struct {
		name string
		opts []fray.StreamOptions
		ok   bool
	}{
		{"default", nil, true},
		{"bound", []fray.StreamOptions{{Backpressure: 1}}, true},
		{"unbounded", []fray.StreamOptions{{Backpressure: -1}}, true},
		{"bad bound", []fray.StreamOptions{{Backpressure: -3}}, false},
		{"retries", []fray.StreamOptions{{Task: fray.TaskOptions{MaxRetries: fray.Retries(1)}}}, false},
		{"no retries", []fray.StreamOptions{{Task: fray.TaskOptions{MaxRetries: fray.Retries(0)}}}, true},
		{"retry exceptions", []fray.StreamOptions{{Task: fray.TaskOptions{RetryExceptions: true}}}, false},
		{"bad resources", []fray.StreamOptions{{Task: fray.TaskOptions{Resources: fray.Resources{"num_cpus": 1}}}}, false},
		{"two options", []fray.StreamOptions{{}, {}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Countdown.Remote(ctx, 2, tc.opts...)
			if tc.ok != (err == nil) {
				t.Fatalf("Remote: %v, want ok=%v", err, tc.ok)
			}
			if err != nil {
				if !errors.Is(err, fray.ErrInvalidArgument) && !errors.Is(err, fray.ErrInvalidResources) {
					t.Fatalf("Remote: %v is not an invalid-argument error", err)
				}
				return
			}
			var got []int
			for v, err := range s.All(ctx) {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, v)
			}
			if fmt.Sprint(got) != "[2 1]" {
				t.Fatalf("values %v", got)
			}
		})
	}
}

// TestStreamNextTimeout: a Next bounded by a deadline gives a *fray.TimeoutError and leaves
// the stream running.
func TestStreamNextTimeout(t *testing.T) {
	jc, err := local.New(local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer jc.Close()
	ctx := fray.WithJobContext(context.Background(), jc)
	h, err := Model.Create(ctx, []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	// The actor runs one call at a time: a second stream waits behind a blocked first one.
	blocked, err := Generate.Remote(ctx, h, 10, fray.StreamOptions{Backpressure: 1})
	if err != nil {
		t.Fatal(err)
	}
	waiting, err := Generate.Remote(ctx, h, 1)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, time.Millisecond)
	defer cancel()
	if _, err := waiting.Next(short); !errors.Is(err, fray.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next past its deadline: %v", err)
	}
	if err := blocked.Cancel(); err != nil {
		t.Fatal(err)
	}
	if w, err := waiting.Next(ctx); err != nil || w != "a" {
		t.Fatalf("Next after the timeout: %q, %v", w, err)
	}
}
