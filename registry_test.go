package fray

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/fray-go/fray/backend"
)

var regTestTask = NewTask("fray_test.double", func(ctx context.Context, x int) (int, error) { return 2 * x, nil })

func TestDuplicateNamePanicsNamingBoth(t *testing.T) {
	defer func() {
		p := recover()
		msg, _ := p.(string)
		if !strings.Contains(msg, "fray_test.double") || strings.Count(msg, "registry_test.go") != 2 {
			t.Fatalf("panic = %v, want both definition sites named", p)
		}
	}()
	NewTask("fray_test.double", func(ctx context.Context, x int) (int, error) { return x, nil })
}

func TestInvalidNamePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for an empty name")
		}
	}()
	NewTask("", func(ctx context.Context, x int) (int, error) { return x, nil })
}

func TestInvokeWrapsErrorsAndPanics(t *testing.T) {
	f, ok := backend.LookupFunction("fray_test.double")
	if !ok {
		t.Fatal("fray_test.double is not registered")
	}
	arg, err := f.DecodeArg(backend.Payload{Value: 21})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := f.Invoke(context.Background(), nil, arg); err != nil || v.(int) != 42 {
		t.Fatalf("Invoke = %v, %v", v, err)
	}
	if _, err := f.DecodeArg(backend.Payload{Value: "not an int"}); !errors.Is(err, ErrSerialization) {
		t.Fatalf("DecodeArg of a wrong type = %v", err)
	}
	b, _ := Marshal(5)
	if v, err := f.DecodeArg(backend.Payload{Data: b}); err != nil || v.(int) != 5 {
		t.Fatalf("DecodeArg(data) = %v, %v", v, err)
	}
	panicky := &funcImpl{name: "p", call: func(context.Context, any, any) (any, error) { panic("kaboom") }}
	_, err = panicky.Invoke(context.Background(), nil, nil)
	var te *TaskError
	if !errors.As(err, &te) || !te.Panic || !strings.Contains(te.Stack, "TestInvokeWrapsErrorsAndPanics") {
		t.Fatalf("panic gave %#v", err)
	}
}

func TestNoJobContextSaysHowToSetOne(t *testing.T) {
	_, err := regTestTask.Remote(context.Background(), 1)
	if !errors.Is(err, ErrNoJobContext) || !strings.Contains(err.Error(), "WithJobContext") {
		t.Fatalf("Remote without a job context = %v", err)
	}
}

func TestManifestAndDigest(t *testing.T) {
	m := strings.Join(backend.RegistryManifest(), "\n")
	if !strings.Contains(m, "task fray_test.double(int) int") {
		t.Fatalf("manifest = %s", m)
	}
	if backend.RegistryDigest() != backend.RegistryDigest() || len(backend.RegistryDigest()) != 32 {
		t.Fatal("digest not stable")
	}
}

// TestZLateRegistration runs last in file order; it freezes the registry for this binary.
func TestZLateRegistration(t *testing.T) {
	backend.FreezeRegistry()
	late := NewTask("fray_test.late", func(ctx context.Context, x int) (int, error) { return x, nil })
	_, err := late.Remote(context.Background(), 1)
	if !errors.Is(err, ErrRegistryFrozen) || !strings.Contains(err.Error(), "package-level") {
		t.Fatalf("late task Remote = %v", err)
	}
	if _, ok := backend.LookupFunction("fray_test.late"); ok {
		t.Fatal("late task was registered")
	}
}
