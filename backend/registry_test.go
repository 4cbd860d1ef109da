package backend

import (
	"context"
	"reflect"
	"strings"
	"testing"
)

type fakeImpl struct{}

func (fakeImpl) DecodeArg(p Payload) (any, error) { return p.Value, nil }
func (fakeImpl) Invoke(_ context.Context, _, arg any) (any, error) {
	return arg, nil
}
func (fakeImpl) GoexitError(string) error { return nil }

func TestRegistry(t *testing.T) {
	f := &Function{Name: "backend_test.echo", Kind: KindTask, DefinedAt: "here",
		ArgType: reflect.TypeFor[int](), ResultType: reflect.TypeFor[int]()}
	if !Register(f, fakeImpl{}) {
		t.Fatal("Register refused before the registry froze")
	}
	got, ok := LookupFunction("backend_test.echo")
	if !ok || got != f {
		t.Fatalf("LookupFunction = %v, %v", got, ok)
	}
	if v, err := got.Invoke(context.Background(), nil, 7); err != nil || v != 7 {
		t.Fatalf("Invoke = %v, %v", v, err)
	}
	if _, ok := LookupFunction("backend_test.none"); ok {
		t.Fatal("LookupFunction found an unregistered name")
	}
	if m := strings.Join(RegistryManifest(), "\n"); !strings.Contains(m, "task backend_test.echo(int) int") {
		t.Fatalf("manifest = %s", m)
	}
	if d := RegistryDigest(); len(d) != 32 || d != RegistryDigest() {
		t.Fatalf("digest %q is not 32 stable hex digits", d)
	}
	func() {
		defer func() {
			if p, _ := recover().(string); !strings.Contains(p, "defined twice") {
				t.Fatalf("duplicate registration: panic %q", p)
			}
		}()
		Register(&Function{Name: "backend_test.echo", Kind: KindTask}, fakeImpl{})
	}()
	FreezeRegistry()
	if Register(&Function{Name: "backend_test.late", Kind: KindTask}, fakeImpl{}) {
		t.Fatal("Register accepted a function after FreezeRegistry")
	}
	if names := RegisteredNames(); len(names) != 1 || names[0] != "backend_test.echo" {
		t.Fatalf("RegisteredNames = %v", names)
	}
}

func TestPayloadEncoded(t *testing.T) {
	marshal := func(v any) ([]byte, error) { return []byte{byte(v.(int))}, nil }
	if b, _ := (Payload{Data: []byte{9}, Value: 1}).Encoded(marshal); len(b) != 1 || b[0] != 9 {
		t.Fatalf("Encoded with Data = %v, want Data", b)
	}
	if b, _ := (Payload{Value: 3}).Encoded(marshal); len(b) != 1 || b[0] != 3 {
		t.Fatalf("Encoded of a Value = %v, want the marshalled value", b)
	}
}
