package actorpool

import (
	"errors"
	"fmt"
)

// Sentinel errors, matched with errors.Is by the typed errors below.
var (
	// ErrClosed: the pool was closed (Close) before or while the item ran.
	ErrClosed = errors.New("actorpool: pool closed: make a new pool with actorpool.New, or finish every Map and GetNext before Close")
	// ErrRetriesExhausted: an item's actor died under it more often than Options.MaxRetries.
	ErrRetriesExhausted = errors.New("actorpool: item retries exhausted")
	// ErrNoActors: every actor of the pool died and Options.MaxReplacements allows no more.
	ErrNoActors = errors.New("actorpool: no live actors left")
	// ErrNothingPending: GetNext or GetNextUnordered was called with no submitted item left.
	ErrNothingPending = errors.New("actorpool: nothing pending: call Submit before GetNext (HasNext reports whether a result is due)")
	// ErrInvalidOptions: Options are malformed.
	ErrInvalidOptions = errors.New("actorpool: invalid options")
)

// RetriesExhaustedError is the error of an item whose actor died under it on every one of
// its attempts (1 + Options.MaxRetries). It unwraps to the last attempt's error, so
// errors.Is(err, fray.ErrActorDied) holds as well.
type RetriesExhaustedError struct {
	Method   string // the pool's method
	Attempts int    // how often the item was run
	Last     error  // the last attempt's error
}

func (e *RetriesExhaustedError) Error() string {
	return fmt.Sprintf("actorpool: %s: the item's actor died on all %d attempts (raise Options.MaxRetries, or find out why the actors die: %v)", e.Method, e.Attempts, e.Last)
}

// Is matches ErrRetriesExhausted.
func (e *RetriesExhaustedError) Is(target error) bool { return target == ErrRetriesExhausted }

// Unwrap returns the last attempt's error.
func (e *RetriesExhaustedError) Unwrap() error { return e.Last }

// NoActorsError is the error of items left waiting when every actor of the pool died and
// no replacement may be created. Last is the error that killed the last actor, when known
// (a constructor that fails every time shows here).
type NoActorsError struct {
	Method       string
	Replacements int // replacements made over the pool's life
	Last         error
}

func (e *NoActorsError) Error() string {
	s := fmt.Sprintf("actorpool: %s: every actor died and the %d replacements Options.MaxReplacements allows are used up", e.Method, e.Replacements)
	if e.Last != nil {
		s += fmt.Sprintf("; the last actor died of: %v", e.Last)
	}
	return s
}

// Is matches ErrNoActors.
func (e *NoActorsError) Is(target error) bool { return target == ErrNoActors }

// Unwrap returns the error that killed the last actor.
func (e *NoActorsError) Unwrap() error { return e.Last }

// ItemError is Map's error: which input failed, and why.
type ItemError struct {
	Index int // position in Map's input
	Err   error
}

func (e *ItemError) Error() string { return fmt.Sprintf("actorpool: item %d: %v", e.Index, e.Err) }

// Unwrap returns the item's error.
func (e *ItemError) Unwrap() error { return e.Err }

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidOptions}, args...)...)
}
