package workermode

import (
	"testing"
)

func TestIsWorker(t *testing.T) {
	for _, tc := range []struct {
		val  string
		want bool
	}{{"", false}, {"1", true}, {"0", true}} {
		t.Setenv(Env, tc.val)
		if got := IsWorker(); got != tc.want {
			t.Errorf("%s=%q: IsWorker() = %v, want %v", Env, tc.val, got, tc.want)
		}
	}
}

func TestLink(t *testing.T) {
	if Linked() != nil {
		t.Fatal("Linked() is set before any Link")
	}
	Link(func() int { return 7 })
	if l := Linked(); l == nil || l() != 7 {
		t.Fatal("Linked() does not return the linked loop")
	}
	for name, l := range map[string]Loop{"twice": func() int { return 8 }, "nil": nil} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Link %s did not panic", name)
				}
			}()
			Link(l)
		}()
	}
	if Linked()() != 7 {
		t.Error("a refused Link replaced the loop")
	}
}

func TestEnterInDriverReturns(t *testing.T) {
	t.Setenv(Env, "")
	Enter(func() int { t.Fatal("the loop ran in a driver"); return 0 })
}
