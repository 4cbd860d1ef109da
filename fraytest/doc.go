// Package fraytest is fray's conformance suite: one function, Run, that takes a backend's
// job-context factory and checks every behaviour the fray API promises, the way a database
// driver test kit checks a driver. The local and the Ray backend both run it; Marin's
// success criterion ("all tests pass with both the local and the Ray context") is literally
// "Run passes for both".
//
// # Using the suite from a backend
//
// A backend's test package (an external _test package, so that fraytest never imports a
// backend) does three things.
//
// First, it calls fray.Init() first thing in TestMain. The suite's tasks and actors are
// registered at package level in fraytest under names starting with "fraytest."; backends
// that run work in worker processes start the test binary itself as the worker, and
// fray.Init is where that worker serves calls instead of running the tests. It also freezes
// the registry, which the suite checks.
//
//	func TestMain(m *testing.M) {
//		fray.Init()
//		os.Exit(m.Run())
//	}
//
// Second, it writes a Factory: a function that makes a fresh job context for one subtest
// and registers its teardown with t.Cleanup. With Options.PeerOf set it must instead return
// a second job context on the same cluster and default namespace (a second driver), which
// the named- and detached-actor subtests use.
//
// Third, it calls Run with the factory, the backend's Capabilities and a declaration of the
// cluster behind every job context: Backend.Resources (what it offers in all, at least
// MinimumResources) and Backend.Scarce (a custom resource with a whole amount that only the
// suite uses; it takes all of it and asks for one more). The suite sizes its requests from
// the declaration, and runs accelerator and head-node requests only where they are declared;
// a cluster made to measure can use SuggestedResources and SuggestedScarce:
//
//	func TestConformance(t *testing.T) {
//		fraytest.Run(t, fraytest.Backend{
//			Name: "local",
//			New: func(t *testing.T, o fraytest.Options) backend.JobContext {
//				opts := local.Options{}
//				if o.PeerOf != nil { // a second driver on the same cluster and namespace
//					of := o.PeerOf.(*local.JobContext)
//					opts = local.Options{Cluster: of.Cluster(), Namespace: of.Namespace()}
//				} else { // a fresh cluster for every subtest
//					c, err := local.NewCluster(local.ClusterOptions{Resources: fraytest.SuggestedResources})
//					if err != nil {
//						t.Fatal(err)
//					}
//					t.Cleanup(func() { c.Close() })
//					opts.Cluster = c
//				}
//				jc, err := local.New(opts)
//				if err != nil {
//					t.Fatal(err)
//				}
//				t.Cleanup(func() { jc.Close() })
//				return jc
//			},
//			Caps:      fraytest.Capabilities{ProcessTasks: true, InfeasibleFailsFast: true},
//			Resources: fraytest.SuggestedResources,
//			Scarce:    fraytest.SuggestedScarce,
//		})
//	}
//
// fraytest/local_smoke_test.go is this example, run on every go test of the package. Run
// one area with -run, e.g. go test -run 'TestLocalConformance/NamedActors/' ./fraytest.
// SubtestNames lists every subtest.
//
// # What the suite assumes and checks
//
// Capabilities are never a reason to skip: when a backend declares it cannot do something
// (ProcessTasks false), the suite checks that the corresponding option (TaskOptions.MaxCalls,
// RuntimeEnv) is refused with fray.ErrUnsupported instead of being ignored. Where Ray's
// documented behaviour differs from a fail-fast one (infeasible resource requests stay
// pending on Ray), the capability selects which behaviour is asserted.
//
// Subtests run one after another, each with fresh job contexts. They synchronize only
// through actors (the Recorder actor's counters and gates, a Counter's barrier), never
// through sleeps or in-process channels, so they hold on multi-process backends; no
// subtest asserts on durations. A few calls use short timeouts on purpose (a Get that must
// time out, a bounded look for a task that must not start); Backend.Timeout bounds every
// other blocking call so a hang fails with the call's name instead of stalling the run.
//
// The suite creates named actors with random suffixes, detached ones in random namespaces,
// and kills what it leaves behind, so it can run against a shared cluster. That includes its
// StatusActor fixture, created with the options Marin's executor uses (get-if-exists,
// detached, zero CPU on the head node) but under a fresh namespace per subtest, so a real
// executor's marin/status_actor on the same cluster is never touched.
//
// The porting patterns of MIGRATION.md each have a subtest named after them under
// Patterns/, except pattern 6 (actor pools and placement groups), whose pieces have groups of
// their own (ActorPools, PlacementGroups).
package fraytest
