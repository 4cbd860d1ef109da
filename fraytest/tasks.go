package fraytest

import (
	"reflect"
	"time"

	"github.com/fray-go/fray"
)

func taskCases() []testCase {
	return []testCase{
		{"RoundTrip", testTaskRoundTrip},
		{"StructArgsAndResults", testTaskStructs},
		{"NestedFromCtx", testTaskNested},
		{"Many", testTaskMany},
		{"TopLevelRefResolvedBeforeRun", testTaskRefResolved},
		{"FailedUpstreamFailsDependentWithoutRunning", testTaskFailedUpstream},
		{"RefsNestedInStructArePassedAsRefs", testTaskNestedRefs},
		{"RefAsResult", testTaskRefAsResult},
		{"TaskInfo", testTaskInfo},
	}
}

func testTaskRoundTrip(s *env) {
	v := sub(square.Remote(s.Ctx, 7)).get(s)
	if v != 49 {
		s.Fatalf("square(7) = %d, want 49", v)
	}
	v, err := square.Call(s.Ctx, -12)
	s.must(err, "square.Call")
	if v != 144 {
		s.Fatalf("square.Call(-12) = %d, want 144", v)
	}
}

func testTaskStructs(s *env) {
	when := time.Date(2025, 10, 15, 12, 30, 45, 123456789, time.UTC)
	in := Record{
		Name: "shard-0007", Values: []int{1, 2, 3, 40}, Tags: map[string]string{"a": "x", "b": "y"},
		Nested: &Inner{Path: "gs://bucket/dir", Depth: 3}, When: when, Bytes: []byte{0, 1, 2, 255},
		Ratio: 0.25, Enabled: true,
	}
	got := sub(echoRecord.Remote(s.Ctx, in)).get(s)
	if got.Name != in.Name || got.Sum != 46 || got.NTags != 2 || got.Path != "gs://bucket/dir" ||
		got.Depth != 3 || got.NBytes != 4 || got.Ratio != 0.25 {
		s.Errorf("echoRecord summary = %+v", got)
	}
	if !got.When.Equal(when) {
		s.Errorf("time round trip: got %v, want %v", got.When, when)
	}
	echo := got.Echo
	echo.When = when
	if !reflect.DeepEqual(echo, in) {
		s.Errorf("struct round trip:\n got %+v\nwant %+v", echo, in)
	}
}

func testTaskNested(s *env) {
	// sum of i*i for i in 0..9 = 285; the task launches ten nested tasks with its own ctx.
	v := sub(sumSquares.Remote(s.Ctx, 10)).get(s)
	if v != 285 {
		s.Fatalf("sumSquares(10) = %d, want 285", v)
	}
	// The nested task belongs to the same job.
	info := sub(nestedInfo.Remote(s.Ctx, struct{}{})).get(s)
	if !info.OK || info.JobID != s.JC.JobID() || info.CtxJobID != s.JC.JobID() {
		s.Errorf("nested task info = %+v, want TaskInfo and job context of job %s", info, s.JC.JobID())
	}
}

func testTaskMany(s *env) {
	const n = 300
	refs := make([]fray.Ref[int], n)
	for i := range refs {
		r, err := square.Remote(s.Ctx, i)
		s.must(err, "submit")
		refs[i] = r
	}
	vs, err := fray.GetAll(s.Ctx, refs)
	s.must(err, "GetAll")
	for i, v := range vs {
		if v != i*i {
			s.Fatalf("result %d = %d, want %d", i, v, i*i)
		}
	}
}

func testTaskRefResolved(s *env) {
	rec := s.recorder()
	s.openGateAtCleanup(rec, "gate")
	up, err := gatedValue.Remote(s.Ctx, Gated{Rec: rec, StartKey: "up.start", GateKey: "gate", Value: 21})
	s.must(err, "submit upstream")
	s.await(rec, "up.start", 1)
	down, err := valueTimesTwo.RemoteRef(s.Ctx, up)
	s.must(err, "submit dependent")
	// The upstream is blocked, so the dependent cannot have its argument and must not be done.
	ready, _, err := fray.Wait(s.Ctx, []fray.AnyRef{down}, 1, 0)
	s.must(err, "Wait")
	if len(ready) != 0 {
		v, gerr := down.Get(s.Ctx)
		s.Fatalf("dependent finished (%d, %v) before its ref argument was ready", v, gerr)
	}
	s.incr(rec, "gate")
	if v := sub(down, nil).get(s); v != 42 {
		s.Fatalf("dependent = %d, want 42 (upstream value 21 resolved and doubled)", v)
	}
}

func testTaskFailedUpstream(s *env) {
	rec := s.recorder()
	up, err := upstream.Remote(s.Ctx, Stage{Rec: rec, Key: "down.runs", Value: 1, Fail: "upstream exploded"})
	s.must(err, "submit upstream")
	down, err := downstream.RemoteRef(s.Ctx, up)
	s.must(err, "submit dependent")
	_, err = down.Get(s.Ctx)
	s.wantErr(err, fray.ErrTaskFailed, "dependent of a failed task")
	s.wantContains(err, "dependent error", "upstream exploded")
	if n := s.count(rec, "down.runs"); n != 0 {
		s.Fatalf("dependent of a failed upstream ran %d times, want 0", n)
	}
	// Control: with a succeeding upstream the same dependent runs exactly once.
	up2, err := upstream.Remote(s.Ctx, Stage{Rec: rec, Key: "down.runs", Value: 4})
	s.must(err, "submit upstream 2")
	if v := sub(downstream.RemoteRef(s.Ctx, up2)).get(s); v != 40 {
		s.Fatalf("dependent = %d, want 40", v)
	}
	if n := s.count(rec, "down.runs"); n != 1 {
		s.Fatalf("dependent ran %d times, want 1", n)
	}
}

func testTaskNestedRefs(s *env) {
	var refs []fray.Ref[int]
	for i := 1; i <= 4; i++ {
		r, err := square.Remote(s.Ctx, i)
		s.must(err, "submit")
		refs = append(refs, r)
	}
	p, err := fray.Put(s.Ctx, 100)
	s.must(err, "Put")
	refs = append(refs, p)
	one, err := fray.Put(s.Ctx, "inside")
	s.must(err, "Put string")
	got := sub(sumBag.Remote(s.Ctx, RefBag{Label: "bag", Refs: refs, One: one})).get(s)
	if got.Sum != 1+4+9+16+100 || got.One != "inside" || got.Label != "bag" {
		s.Fatalf("sumBag = %+v, want Sum 130, One %q", got, "inside")
	}
	if len(got.IDs) != len(refs) {
		s.Fatalf("task saw %d refs, want %d", len(got.IDs), len(refs))
	}
	for i, id := range got.IDs {
		if id != refs[i].ID() {
			s.Errorf("ref %d arrived with id %q, want %q (refs inside structs must stay refs)", i, id, refs[i].ID())
		}
	}
}

func testTaskRefAsResult(s *env) {
	inner := sub(makeSquareRef.Remote(s.Ctx, 9)).get(s)
	if inner.IsZero() {
		s.Fatal("task returned a zero Ref")
	}
	v, err := inner.Get(s.Ctx)
	s.must(err, "Get the ref a task returned")
	if v != 81 {
		s.Fatalf("inner ref value = %d, want 81", v)
	}
	// The returned ref can feed another task.
	if w := sub(addOne.RemoteRef(s.Ctx, inner)).get(s); w != 82 {
		s.Fatalf("addOne(ref) = %d, want 82", w)
	}
}

func testTaskInfo(s *env) {
	info := sub(taskInfo.Remote(s.Ctx, struct{}{})).get(s)
	if !info.OK {
		s.Fatal("fray.TaskInfoFrom(ctx) found no TaskInfo inside a task")
	}
	if info.JobID != s.JC.JobID() {
		s.Errorf("TaskInfo.JobID = %q, want %q", info.JobID, s.JC.JobID())
	}
	if info.Name != taskInfo.Name() {
		s.Errorf("TaskInfo.Name = %q, want the registered name %q by default", info.Name, taskInfo.Name())
	}
	if info.TaskID == "" {
		s.Error("TaskInfo.TaskID is empty")
	}
	if info.Attempt != 0 {
		s.Errorf("TaskInfo.Attempt = %d on a first try", info.Attempt)
	}
	if info.PID != info.GetPID {
		s.Errorf("TaskInfo.PID = %d but the task runs in process %d", info.PID, info.GetPID)
	}
	if !info.HasJobCtx || info.CtxJobID != s.JC.JobID() {
		s.Errorf("task ctx carries job context %q (present %v), want %q", info.CtxJobID, info.HasJobCtx, s.JC.JobID())
	}
	named := sub(taskInfo.Remote(s.Ctx, struct{}{}, fray.TaskOptions{Name: "custom-name"})).get(s)
	if named.Name != "custom-name" {
		s.Errorf("TaskInfo.Name = %q, want TaskOptions.Name %q", named.Name, "custom-name")
	}
}
