// Named actor cases: lookup, GetIfExists, duplicates, namespaces, names freed by kill,
// a status actor, detached and job-scoped lifetimes.

package fraytest

import (
	"context"
	"errors"

	"github.com/fray-go/fray"
)

func namedActorCases() []testCase {
	return []testCase{
		{"LookupByName", testNamedLookup},
		{"GetIfExistsIgnoresNewArgument", testNamedGetIfExists},
		{"DuplicateNameRejected", testNamedDuplicate},
		{"NamespacesIsolateNames", testNamedNamespaces},
		{"UnknownName", testNamedUnknown},
		{"LookupOfAnotherClassRejected", testNamedWrongClass},
		{"NameFreeAfterKill", testNamedFreedByKill},
		{"StatusActorSeedOptions", testNamedStatusActor},
		{"DetachedSurvivesCreator", testNamedDetached},
		{"JobScopedDiesWithJob", testNamedJobScoped},
	}
}

func testNamedLookup(s *env) {
	name := uniq("fraytest-counter")
	h, err := Counter.Create(s.Ctx, 3, fray.ActorOptions{Name: name})
	s.must(err, "create named Counter")
	if h.Name() != name {
		s.Errorf("handle Name = %q, want %q", h.Name(), name)
	}
	l, err := Counter.Lookup(s.Ctx, name, "")
	s.must(err, "Lookup")
	if l.ID() != h.ID() || l.Name() != name || l.Namespace() != h.Namespace() {
		s.Fatalf("Lookup = %v/%q/%q, want %v/%q/%q", l.ID(), l.Name(), l.Namespace(), h.ID(), name, h.Namespace())
	}
	if v, err := counterAdd.Call(s.Ctx, l, 1); err != nil || v != 4 {
		s.Fatalf("Add through the looked-up handle = %d, %v; want 4", v, err)
	}
	if ns := h.Namespace(); ns != "" {
		l2, err := Counter.Lookup(s.Ctx, name, ns)
		s.must(err, "Lookup in the explicit namespace "+ns)
		if l2.ID() != h.ID() {
			s.Fatalf("Lookup(%q, %q) found another actor", name, ns)
		}
	}
}

func testNamedGetIfExists(s *env) {
	name := uniq("fraytest-gie")
	h1, err := Counter.Create(s.Ctx, 1, fray.ActorOptions{Name: name, GetIfExists: true})
	s.must(err, "first Create with GetIfExists")
	if _, err := counterAdd.Call(s.Ctx, h1, 1); err != nil {
		s.Fatalf("Add: %v", err)
	}
	h2, err := Counter.Create(s.Ctx, 100, fray.ActorOptions{Name: name, GetIfExists: true})
	s.must(err, "second Create with GetIfExists")
	if h2.ID() != h1.ID() {
		s.Fatalf("GetIfExists made a new actor %v instead of returning %v", h2.ID(), h1.ID())
	}
	if v, err := counterValue.Call(s.Ctx, h2, struct{}{}); err != nil || v != 2 {
		s.Fatalf("Value = %d, %v; want 2 (the existing actor, its state kept, the new argument 100 ignored)", v, err)
	}
}

func testNamedDuplicate(s *env) {
	name := uniq("fraytest-dup")
	h, err := Counter.Create(s.Ctx, 1, fray.ActorOptions{Name: name})
	s.must(err, "create")
	_, err = Counter.Create(s.Ctx, 2, fray.ActorOptions{Name: name})
	s.wantErr(err, fray.ErrNameTaken, "second actor with the same name")
	s.wantContains(err, "message", name)
	if v, err := counterValue.Call(s.Ctx, h, struct{}{}); err != nil || v != 1 {
		s.Fatalf("original actor Value = %d, %v; want 1", v, err)
	}
	// Another class under the same name is just as taken.
	_, err = CounterB.Create(s.Ctx, 2, fray.ActorOptions{Name: name})
	s.wantErr(err, fray.ErrNameTaken, "actor of another class with the same name")
}

func testNamedNamespaces(s *env) {
	name := uniq("fraytest-ns")
	nsA, nsB := uniq("fraytest-a"), uniq("fraytest-b")
	a, err := Counter.Create(s.Ctx, 1, fray.ActorOptions{Name: name, Namespace: nsA})
	s.must(err, "create in namespace A")
	b, err := Counter.Create(s.Ctx, 2, fray.ActorOptions{Name: name, Namespace: nsB})
	s.must(err, "create the same name in namespace B")
	if a.ID() == b.ID() {
		s.Fatal("the same name in two namespaces gave one actor")
	}
	if a.Namespace() != nsA || b.Namespace() != nsB {
		s.Errorf("handle namespaces = %q, %q; want %q, %q", a.Namespace(), b.Namespace(), nsA, nsB)
	}
	la, err := Counter.Lookup(s.Ctx, name, nsA)
	s.must(err, "Lookup in A")
	lb, err := Counter.Lookup(s.Ctx, name, nsB)
	s.must(err, "Lookup in B")
	if la.ID() != a.ID() || lb.ID() != b.ID() {
		s.Fatalf("Lookup crossed namespaces: A→%v (want %v), B→%v (want %v)", la.ID(), a.ID(), lb.ID(), b.ID())
	}
	if v, err := counterValue.Call(s.Ctx, lb, struct{}{}); err != nil || v != 2 {
		s.Fatalf("B's actor Value = %d, %v; want 2", v, err)
	}
	_, err = Counter.Lookup(s.Ctx, name, uniq("fraytest-c"))
	s.wantErr(err, fray.ErrUnknownName, "Lookup in a third namespace")
	_, err = Counter.Lookup(s.Ctx, name, "")
	s.wantErr(err, fray.ErrUnknownName, "Lookup in the job's own namespace")
}

func testNamedUnknown(s *env) {
	name := uniq("fraytest-nobody")
	_, err := Counter.Lookup(s.Ctx, name, "")
	s.wantErr(err, fray.ErrUnknownName, "Lookup of a name nobody registered")
	s.wantContains(err, "message", name)
	var ue *fray.UnknownNameError
	if !errors.As(err, &ue) {
		s.Errorf("%v is not a *fray.UnknownNameError", err)
	}
}

func testNamedWrongClass(s *env) {
	name := uniq("fraytest-class")
	_, err := CounterB.Create(s.Ctx, 0, fray.ActorOptions{Name: name})
	s.must(err, "create CounterB")
	_, err = Counter.Lookup(s.Ctx, name, "")
	s.wantErr(err, fray.ErrInvalidArgument, "Lookup of a CounterB as a Counter")
	_, err = Counter.Create(s.Ctx, 0, fray.ActorOptions{Name: name, GetIfExists: true})
	if err == nil {
		s.Fatal("GetIfExists returned an actor of another class")
	}
}

func testNamedFreedByKill(s *env) {
	name := uniq("fraytest-reuse")
	h, err := Counter.Create(s.Ctx, 1, fray.ActorOptions{Name: name})
	s.must(err, "create")
	s.must(h.Kill(s.Ctx), "Kill")
	_, err = Counter.Lookup(s.Ctx, name, "")
	s.wantErr(err, fray.ErrUnknownName, "Lookup of a killed actor")
	h2, err := Counter.Create(s.Ctx, 2, fray.ActorOptions{Name: name})
	s.must(err, "create again under the freed name")
	if h2.ID() == h.ID() {
		s.Fatal("the new actor has the killed actor's id")
	}
	if v, err := counterValue.Call(s.Ctx, h2, struct{}{}); err != nil || v != 2 {
		s.Fatalf("new actor Value = %d, %v; want 2", v, err)
	}
}

// statusOptionsFor are the options Marin's executor creates its StatusActor with
// (MIGRATION.md, Patterns 2 and 7: get-if-exists, detached, zero CPU on the head node), with
// the suite's own name and namespace so that runs on a shared cluster never meet each other
// or a real executor's marin/status_actor.
func statusOptionsFor(name, namespace string, res fray.Resources) fray.ActorOptions {
	return fray.ActorOptions{
		Name:        name,
		GetIfExists: true,
		Lifetime:    fray.Detached,
		Namespace:   namespace,
		Resources:   res,
	}
}

// statusOptions are statusOptionsFor with a name and namespace fresh for the subtest.
func (s *env) statusOptions() fray.ActorOptions {
	if s.status.Name == "" {
		s.status = statusOptionsFor("status_actor", uniq("fraytest"), s.onHead())
	}
	return s.status
}

// createStatusActor creates (or gets) the subtest's StatusActor and kills it at cleanup.
func createStatusActor(s *env, ctx context.Context) fray.ActorHandle[statusState] {
	s.Helper()
	h, err := StatusActor.Create(ctx, 10_000, s.statusOptions())
	s.must(err, "create StatusActor with the executor's options")
	killAtCleanup(s, ctx, h)
	return h
}

func testNamedStatusActor(s *env) {
	h := createStatusActor(s, s.Ctx)
	opts := s.statusOptions()
	if h.Name() != opts.Name || h.Namespace() != opts.Namespace {
		s.Errorf("handle = %q in %q, want %s in %s", h.Name(), h.Namespace(), opts.Name, opts.Namespace)
	}
	if isNew, err := statusSet.Call(s.Ctx, h, KV{"step-a", "SUCCESS"}); err != nil || !isNew {
		s.Fatalf("SetValue = %v, %v", isNew, err)
	}
	// A second executor gets the same actor (and its constructor argument is ignored).
	again, err := StatusActor.Create(s.Ctx, 5, opts)
	s.must(err, "second Create with the same options")
	if again.ID() != h.ID() {
		s.Fatal("get_if_exists made a second StatusActor")
	}
	if v, err := statusGet.Call(s.Ctx, again, "step-a"); err != nil || v != "SUCCESS" {
		s.Fatalf("GetValue = %q, %v; want SUCCESS", v, err)
	}
	if n, err := statusCacheSize.Call(s.Ctx, again, struct{}{}); err != nil || n != 10_000 {
		s.Fatalf("CacheSize = %d, %v; want 10000 (first constructor argument)", n, err)
	}
	l, err := StatusActor.Lookup(s.Ctx, opts.Name, opts.Namespace)
	s.must(err, "Lookup "+opts.Namespace+"/"+opts.Name)
	if l.ID() != h.ID() {
		s.Fatal("Lookup found another StatusActor")
	}
}

func testNamedDetached(s *env) {
	creator, cctx := s.JC, s.Ctx
	peer, pctx := s.peer(creator)
	if peer.JobID() == creator.JobID() {
		s.Errorf("peer job context has the creator's job id %q", peer.JobID())
	}
	name, ns := uniq("fraytest-detached"), uniq("fraytest-ns")
	h, err := Counter.Create(cctx, 7, fray.ActorOptions{Name: name, Namespace: ns, Lifetime: fray.Detached})
	s.must(err, "create detached actor")
	if _, err := counterAdd.Call(cctx, h, 1); err != nil {
		s.Fatalf("Add: %v", err)
	}
	// The peer was made before the creator closes; kill through it at cleanup.
	ph, err := Counter.Lookup(pctx, name, ns)
	s.must(err, "peer Lookup while the creator is open")
	killAtCleanup(s, pctx, ph)
	s.must(creator.Close(), "close the creator job context")
	l, err := Counter.Lookup(pctx, name, ns)
	s.must(err, "peer Lookup after the creator closed")
	if v, err := counterValue.Call(pctx, l, struct{}{}); err != nil || v != 8 {
		s.Fatalf("detached actor after its creator closed: Value = %d, %v; want 8", v, err)
	}
}

func testNamedJobScoped(s *env) {
	creator, cctx := s.JC, s.Ctx
	_, pctx := s.peer(creator)
	name, ns := uniq("fraytest-scoped"), uniq("fraytest-ns")
	h, err := Counter.Create(cctx, 1, fray.ActorOptions{Name: name, Namespace: ns})
	s.must(err, "create job-scoped actor")
	ph, err := Counter.Lookup(pctx, name, ns)
	s.must(err, "peer Lookup of a job-scoped named actor")
	if ph.ID() != h.ID() {
		s.Fatal("peer found another actor")
	}
	if v, err := counterAdd.Call(pctx, ph, 1); err != nil || v != 2 {
		s.Fatalf("peer call = %d, %v; want 2", v, err)
	}
	s.must(creator.Close(), "close the creator job context")
	ref, err := counterAdd.Remote(pctx, ph, 1)
	if err == nil {
		_, err = ref.Get(pctx)
	}
	s.wantErr(err, fray.ErrActorDied, "call to a job-scoped actor after its job closed")
	_, err = Counter.Lookup(pctx, name, ns)
	s.wantErr(err, fray.ErrUnknownName, "Lookup of a job-scoped actor after its job closed")
}
