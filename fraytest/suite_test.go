package fraytest

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
)

func TestMain(m *testing.M) {
	fray.Init()
	os.Exit(m.Run())
}

// TestSubtestNames checks that every subtest has a unique, -run friendly name and that the
// suite is as large as promised.
func TestSubtestNames(t *testing.T) {
	names := SubtestNames()
	if len(names) < 60 {
		t.Errorf("the suite has %d subtests, want at least 60", len(names))
	}
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			t.Errorf("duplicate subtest name %q", n)
		}
		seen[n] = true
		if strings.ContainsAny(n, " \t") || strings.Count(n, "/") != 1 {
			t.Errorf("subtest name %q must be Group/Name without spaces", n)
		}
	}
	for _, p := range []string{"Pattern1_", "Pattern2_", "Pattern3_", "Pattern4_", "Pattern5_", "Pattern7_", "Pattern8_"} {
		found := false
		for _, n := range names {
			found = found || strings.HasPrefix(n, "Patterns/"+p)
		}
		if !found {
			t.Errorf("no subtest for porting pattern %s", strings.TrimSuffix(p, "_"))
		}
	}
}

// TestRegisteredNames checks that everything the suite registers is under "fraytest." and
// that the registry is frozen (by fray.Init in TestMain), so late definitions are refused.
func TestRegisteredNames(t *testing.T) {
	names := backend.RegisteredNames()
	if len(names) < 20 {
		t.Fatalf("only %d registered names", len(names))
	}
	for _, n := range names {
		if !strings.HasPrefix(n, "fraytest.") {
			t.Errorf("registered name %q lacks the fraytest. prefix", n)
		}
	}
	late := fray.NewTask("fraytest.selfcheckLate", func(_ context.Context, x int) (int, error) { return x, nil })
	if _, err := late.Remote(context.Background(), 1); !errors.Is(err, fray.ErrRegistryFrozen) {
		t.Errorf("late task: got %v, want ErrRegistryFrozen", err)
	}
}

func TestCheckDeclared(t *testing.T) {
	ok := func(r fray.Resources) Backend { return Backend{Name: "t", Resources: r, Scarce: SuggestedScarce} }
	for _, c := range []struct {
		name string
		b    Backend
		want string // substring of the error; "" means valid
	}{
		{"suggested", ok(SuggestedResources), ""},
		{"no accelerator, no head", ok(fray.Resources{fray.CPU: 2, fray.Memory: 1 << 30, SuggestedScarce: 1}), ""},
		{"nothing declared", Backend{}, "Backend.Resources is empty"},
		{"too few CPUs", ok(fray.Resources{fray.CPU: 1, fray.Memory: 1 << 30, SuggestedScarce: 2}), "offers 1 CPU; the suite needs at least 2"},
		{"no memory", ok(fray.Resources{fray.CPU: 2, SuggestedScarce: 2}), "memory"},
		{"no scarce name", Backend{Resources: SuggestedResources}, "Backend.Scarce is empty"},
		{"scarce missing", ok(fray.Resources{fray.CPU: 2, fray.Memory: 1 << 30}), "whole amount"},
		{"scarce fractional", ok(fray.Resources{fray.CPU: 2, fray.Memory: 1 << 30, SuggestedScarce: 1.5}), "whole amount"},
		{"scarce standard", Backend{Resources: SuggestedResources, Scarce: fray.TPU}, "standard resource"},
		{"invalid amount", ok(fray.Resources{fray.CPU: -2, fray.Memory: 1 << 30, SuggestedScarce: 2}), "Backend.Resources"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := checkDeclared(c.b)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
	if err := statusOptionsFor("status", "ns", fray.Resources{fray.CPU: 0}).Validate(); err != nil {
		t.Fatalf("StatusActor options: %v", err)
	}
}

// TestRecorderLogic exercises the Recorder's state directly (no backend): Await returns once
// the counter reaches N and gives up with the ctx.
func TestRecorderLogic(t *testing.T) {
	r := &recorderState{counts: map[string]int{}, changed: make(chan struct{})}
	ctx := context.Background()
	var wg sync.WaitGroup
	got := make([]int, 3)
	errs := make([]error, 3)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = r.Await(ctx, AwaitArg{Key: "k", N: i + 1})
		}()
	}
	for i := 0; i < 3; i++ {
		if n, _ := r.Incr(ctx, "k"); n != i+1 {
			t.Fatalf("Incr = %d, want %d", n, i+1)
		}
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil || got[i] < i+1 {
			t.Errorf("Await(%d) = %d, %v", i+1, got[i], errs[i])
		}
	}
	if n, _ := r.Count(ctx, "k"); n != 3 {
		t.Errorf("Count = %d, want 3", n)
	}
	short, cancel := context.WithTimeout(ctx, time.Millisecond)
	defer cancel()
	if _, err := r.Await(short, AwaitArg{Key: "never", N: 1}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Await past its ctx: %v", err)
	}
}

// TestArriveLogic checks the Counter's barrier directly: n concurrent arrivals all return,
// fewer give up with the ctx.
func TestArriveLogic(t *testing.T) {
	c, _ := newCounter(context.Background(), 0)
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if n, err := c.Arrive(context.Background(), 3); err != nil || n < 3 {
				t.Errorf("Arrive = %d, %v", n, err)
			}
		}()
	}
	wg.Wait()
	lone, _ := newCounter(context.Background(), 0)
	short, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if _, err := lone.Arrive(short, 2); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a lone Arrive(2) returned %v", err)
	}
}
