// Package streamend is the end-state bookkeeping of a stream reader that reads items from
// elsewhere (backend/ray's stream through the bridge, internal/worker's childStream through
// the parent): once the stream ended (io.EOF or the producer's failure) or was cancelled,
// every Next answers the same error, and the stream's object is released exactly once.
package streamend

import (
	"sync"

	"github.com/fray-go/fray"
)

// State is one stream's end. Make it with New; its methods are safe for concurrent use.
type State struct {
	id      string
	release func()

	mu        sync.Mutex
	end       error // io.EOF or the producer's failure, once seen
	cancelled bool
	released  bool
}

// New returns the state of the stream whose object is id (which a *fray.CancelledError
// names); release lets go of that object and is called at most once.
func New(id string, release func()) *State {
	return &State{id: id, release: release}
}

// Ended is the error every Next returns once the stream is over (a *fray.CancelledError
// after Cancel, else the recorded end), or nil while it goes on.
func (s *State) Ended() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancelled {
		return &fray.CancelledError{TaskID: s.id}
	}
	return s.end
}

// Finish records err as the stream's end (the first end recorded stays), releases the
// stream's object and returns the error Next answers from now on.
func (s *State) Finish(err error) error {
	s.mu.Lock()
	if s.cancelled {
		s.mu.Unlock()
		return &fray.CancelledError{TaskID: s.id}
	}
	if s.end == nil {
		s.end = err
	}
	err = s.end
	s.mu.Unlock()
	s.Release()
	return err
}

// Cancel marks the stream cancelled and calls cancel (which stops the producer), unless it
// had ended or was cancelled already; either way the object is released.
func (s *State) Cancel(cancel func()) {
	s.mu.Lock()
	if s.end != nil || s.cancelled {
		s.mu.Unlock()
		s.Release()
		return
	}
	s.cancelled = true
	s.mu.Unlock()
	cancel()
	s.Release()
}

// Release lets go of the stream's object, the first time only.
func (s *State) Release() {
	s.mu.Lock()
	r := s.released
	s.released = true
	s.mu.Unlock()
	if !r && s.release != nil {
		s.release()
	}
}
