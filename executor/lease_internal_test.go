package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"
)

func writeLease(t *testing.T, output string, rec LeaseRecord) {
	t.Helper()
	data, _ := json.Marshal(rec)
	if err := os.MkdirAll(output, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(output, fmt.Sprintf("%s%d", LeaseFilePrefix, rec.Generation)), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func newTestLeaser(owner string, ttl time.Duration) *leaser {
	st := newPathStore()
	return &leaser{store: st, owner: owner, ttl: ttl, poll: 10 * time.Millisecond, log: slog.New(slog.DiscardHandler)}
}

// TestLeaseTakeoverRace: many executors (each with its own store, as separate processes
// would be) find the same expired lease and take it over at once. Exactly one may win;
// the others must see the winner's live lease, and nobody may delete it.
func TestLeaseTakeoverRace(t *testing.T) {
	ctx := context.Background()
	for round := 0; round < 10; round++ {
		out := filepath.Join(t.TempDir(), "step-abc123")
		writeLease(t, out, LeaseRecord{Owner: "dead", Generation: 7, Renewed: time.Now().Add(-time.Hour), TTLMillis: 1000})
		const n = 16
		leases := make([]*lease, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				l := newTestLeaser(fmt.Sprintf("owner-%d", i), time.Minute)
				<-start
				leases[i], errs[i] = l.acquire(ctx, "s", out, false, nil)
			}()
		}
		close(start)
		wg.Wait()
		winner := -1
		for i := range leases {
			switch {
			case errs[i] == nil:
				if winner >= 0 {
					t.Fatalf("round %d: owner-%d and owner-%d both hold the lease", round, winner, i)
				}
				winner = i
			case !errors.Is(errs[i], errLeaseHeld):
				t.Fatalf("round %d: owner-%d: %v", round, i, errs[i])
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: nobody took over the expired lease", round)
		}
		rec, gen, err := readLease(ctx, newPathStore(), out)
		if err != nil || gen != 8 || rec.Owner != fmt.Sprintf("owner-%d", winner) || !rec.Live(time.Now()) {
			t.Fatalf("round %d: lease in force %+v gen %d (%v), want generation 8 of owner-%d", round, rec, gen, err, winner)
		}
		if gens, _ := leaseGens(ctx, newPathStore(), out); !reflect.DeepEqual(gens, []int64{8}) {
			t.Errorf("round %d: generations left %v, want [8] (the expired one deleted)", round, gens)
		}
		leases[winner].release(ctx)
		if rec, _, _ := readLease(ctx, newPathStore(), out); rec == nil || !rec.Released || rec.Live(time.Now()) {
			t.Errorf("round %d: after release: %+v", round, rec)
		}
	}
}

// TestLeaseWaitsForLiveOwner: a live lease of another executor is waited for (not taken),
// and taken once its owner releases it.
func TestLeaseWaitsForLiveOwner(t *testing.T) {
	ctx := context.Background()
	out := filepath.Join(t.TempDir(), "step-abc123")
	holder, err := newTestLeaser("holder", time.Minute).acquire(ctx, "s", out, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	waited := make(chan string, 1)
	got := make(chan error, 1)
	go func() {
		le, err := newTestLeaser("waiter", time.Minute).acquire(ctx, "s", out, true, func(owner string) { waited <- owner })
		if err == nil {
			if le.gen != 2 {
				err = fmt.Errorf("waiter holds generation %d, want 2", le.gen)
			}
			le.release(ctx) // before answering: the test's TempDir cleanup must not race its write
		}
		got <- err
	}()
	if owner := <-waited; owner != "holder" {
		t.Fatalf("waited for %q", owner)
	}
	select {
	case err := <-got:
		t.Fatalf("the waiter took a live lease: %v", err)
	default:
	}
	holder.release(ctx)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
}

// TestLeaseLost: a holder whose lease is taken over (a newer generation appears) notices at
// its next renewal; its ctx ends and check reports a *LeaseLostError.
func TestLeaseLost(t *testing.T) {
	ctx := context.Background()
	out := filepath.Join(t.TempDir(), "step-abc123")
	le, err := newTestLeaser("holder", 400*time.Millisecond).acquire(ctx, "s", out, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer le.release(ctx)
	if err := le.check(); err != nil {
		t.Fatal(err)
	}
	writeLease(t, out, LeaseRecord{Owner: "usurper", Generation: le.gen + 1, Renewed: time.Now(), TTLMillis: 60_000})
	select {
	case <-le.ctx.Done():
	case <-time.After(time.Minute):
		t.Fatal("the holder never noticed")
	}
	var lost *LeaseLostError
	if err := le.check(); !errors.As(err, &lost) || !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("check after takeover: %v", err)
	}
	le.release(ctx)
	if rec, _, _ := readLease(ctx, newPathStore(), out); rec.Owner != "usurper" || rec.Released {
		t.Errorf("the lost holder touched the new lease: %+v", rec)
	}
}
