package executor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/fray-go/fray"
)

// The StatusActor is the one lock table per cluster that keeps concurrent executors (even
// of different experiments that share a step) from running one output path at once. It maps
// output path → owner id. It is created exactly as MIGRATION.md, Pattern 2 creates Marin's:
// named "status_actor", get-if-exists, detached, in namespace "marin", on the head node.
//
// Ownership is a lock: an executor takes it with CompareAndSetOwner before it takes the
// step's lease (lease.go) and gives it back (CAS to "") when the step is finished. An owner
// that died holding a lock is detected through its owner actor (see ownerActor below) and
// its lock is taken over. The StatusActor only orders executors of one cluster; the lease
// is what holds across clusters and processes.

// StatusActorName, StatusActorNamespace and StatusActorResources are the StatusActor's
// creation options.
const (
	StatusActorName      = "status_actor"
	StatusActorNamespace = "marin"
)

// StatusActorResources places the StatusActor on the head node without holding a CPU.
func StatusActorResources() fray.Resources {
	return fray.Resources{"CPU": 0, "head_node": 0.0001}
}

// StatusActor is the state of the lock table actor.
type StatusActor struct {
	owners map[string]string
}

// CASArgs is CompareAndSetOwner's argument.
type CASArgs struct {
	Path     string // the step's output path
	Expected string // the owner the caller saw ("" for none)
	Owner    string // the new owner ("" to release)
}

// CASResult is CompareAndSetOwner's result.
type CASResult struct {
	Swapped bool   // the owner was Expected and is now Owner
	Current string // the owner after the call
}

// StatusActorClass is the registered actor class.
var StatusActorClass = fray.NewActor("executor.StatusActor", func(ctx context.Context, _ struct{}) (*StatusActor, error) {
	return &StatusActor{owners: map[string]string{}}, nil
})

// GetOwner returns the owner id of an output path ("" for none).
var GetOwner = fray.NewMethod(StatusActorClass, "GetOwner", (*StatusActor).GetOwner)

// CompareAndSetOwner sets the owner of a path to Owner if it is Expected.
var CompareAndSetOwner = fray.NewMethod(StatusActorClass, "CompareAndSetOwner", (*StatusActor).CompareAndSetOwner)

// ListOwners returns every path with an owner.
var ListOwners = fray.NewMethod(StatusActorClass, "List", (*StatusActor).List)

// GetOwner implements the GetOwner method.
func (s *StatusActor) GetOwner(_ context.Context, path string) (string, error) {
	return s.owners[path], nil
}

// CompareAndSetOwner implements the CompareAndSetOwner method.
func (s *StatusActor) CompareAndSetOwner(_ context.Context, a CASArgs) (CASResult, error) {
	cur := s.owners[a.Path]
	if cur != a.Expected {
		return CASResult{Swapped: false, Current: cur}, nil
	}
	if a.Owner == "" {
		delete(s.owners, a.Path)
	} else {
		s.owners[a.Path] = a.Owner
	}
	return CASResult{Swapped: true, Current: a.Owner}, nil
}

// OwnerEntry is one row of List.
type OwnerEntry struct {
	Path  string
	Owner string
}

// List implements the List method (sorted by path).
func (s *StatusActor) List(_ context.Context, _ struct{}) ([]OwnerEntry, error) {
	out := make([]OwnerEntry, 0, len(s.owners))
	for p, o := range s.owners {
		out = append(out, OwnerEntry{Path: p, Owner: o})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// GetStatusActor creates the StatusActor or returns the existing one.
func GetStatusActor(ctx context.Context) (fray.ActorHandle[StatusActor], error) {
	return StatusActorClass.Create(ctx, struct{}{}, fray.ActorOptions{
		Name:        StatusActorName,
		Namespace:   StatusActorNamespace,
		GetIfExists: true,
		Lifetime:    fray.Detached,
		Resources:   StatusActorResources(),
	})
}

// Owner liveness. Every executor run creates an owner actor: a named, job-scoped actor
// ("fray-executor-<random>") in the StatusActor's namespace, and uses its name as its owner
// id. The owner id therefore is something any other executor can check on every backend:
// look the actor up by name and ping it. A job-scoped actor dies with the job that created
// it — when the executor finishes (it kills the actor), when its job context closes, and on
// Ray when the driver process dies, SIGKILL included — so "lookup fails or the ping says
// the actor died" means the owner is gone and its locks may be taken over. (On the local
// backend the whole cluster lives in the executor's process, so each executor process has
// a StatusActor of its own: there the step's lease beside the output orders them.)

// ownerState is the owner actor's (empty) state.
type ownerState struct{}

var ownerClass = fray.NewActor("executor.Owner", func(ctx context.Context, _ struct{}) (*ownerState, error) {
	return &ownerState{}, nil
})

var ownerPing = fray.NewMethod(ownerClass, "Ping", func(_ *ownerState, _ context.Context, _ struct{}) (bool, error) {
	return true, nil
})

const ownerPrefix = "fray-executor-"

func newOwnerID() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return ownerPrefix + hex.EncodeToString(b[:])
}

// startOwner creates this executor's owner actor.
func startOwner(ctx context.Context, id string) (fray.ActorHandle[ownerState], error) {
	return ownerClass.Create(ctx, struct{}{}, fray.ActorOptions{
		Name:      id,
		Namespace: StatusActorNamespace,
		Lifetime:  fray.JobScoped,
		Resources: fray.Resources{"CPU": 0},
	})
}

// ownerAlive reports whether the executor with owner id is still running. Errors other than
// "not found" and "died" (for example a backend that is shutting down) are returned; a ping
// that does not answer within timeout counts as alive, so a slow owner is never robbed.
func ownerAlive(ctx context.Context, id string, timeout time.Duration) (bool, error) {
	if id == "" {
		return false, nil
	}
	h, err := ownerClass.Lookup(ctx, id, StatusActorNamespace)
	if err != nil {
		if errors.Is(err, fray.ErrUnknownName) || errors.Is(err, fray.ErrActorDied) {
			return false, nil
		}
		return false, fmt.Errorf("executor: looking up owner %s: %w", id, err)
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err = ownerPing.Call(pctx, h, struct{}{})
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fray.ErrActorDied):
		return false, nil
	case ctx.Err() != nil:
		return false, ctx.Err()
	case errors.Is(err, fray.ErrTimeout) || errors.Is(err, context.DeadlineExceeded):
		return true, nil
	}
	return false, fmt.Errorf("executor: pinging owner %s: %w", id, err)
}
