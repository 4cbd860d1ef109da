// Plain tasks: arithmetic, records, nested refs, task info, environment and bytes.

package fraytest

import (
	"context"
	"os"
	"time"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend"
)

// --- plain tasks ------------------------------------------------------------------------

var square = fray.NewTask("fraytest.square", func(_ context.Context, x int) (int, error) {
	return x * x, nil
})

var addOne = fray.NewTask("fraytest.addOne", func(_ context.Context, x int) (int, error) {
	return x + 1, nil
})

// Record is a struct argument with the shapes a real pipeline passes around.
type Record struct {
	Name    string
	Values  []int
	Tags    map[string]string
	Nested  *Inner
	When    time.Time
	Bytes   []byte
	Ratio   float64
	Enabled bool
}

// Inner is nested inside Record.
type Inner struct {
	Path  string
	Depth int
}

// Summary is echoRecord's result.
type Summary struct {
	Name   string
	Sum    int
	NTags  int
	Path   string
	Depth  int
	When   time.Time
	NBytes int
	Ratio  float64
	Echo   Record
}

var echoRecord = fray.NewTask("fraytest.echoRecord", func(_ context.Context, r Record) (Summary, error) {
	s := Summary{Name: r.Name, NTags: len(r.Tags), When: r.When, NBytes: len(r.Bytes), Ratio: r.Ratio, Echo: r}
	for _, v := range r.Values {
		s.Sum += v
	}
	if r.Nested != nil {
		s.Path, s.Depth = r.Nested.Path, r.Nested.Depth
	}
	return s, nil
})

// sumSquares launches n nested square tasks using nothing but the ctx it was given.
var sumSquares = fray.NewTask("fraytest.sumSquares", func(ctx context.Context, n int) (int, error) {
	refs := make([]fray.Ref[int], n)
	for i := range refs {
		r, err := square.Remote(ctx, i)
		if err != nil {
			return 0, err
		}
		refs[i] = r
	}
	vs, err := fray.GetAll(ctx, refs)
	if err != nil {
		return 0, err
	}
	sum := 0
	for _, v := range vs {
		sum += v
	}
	return sum, nil
})

// RefBag carries refs inside a struct: they travel as refs, not values.
type RefBag struct {
	Label string
	Refs  []fray.Ref[int]
	One   fray.Ref[string]
}

// BagResult reports what sumBag found.
type BagResult struct {
	Label string
	Sum   int
	One   string
	IDs   []backend.ObjectID
}

var sumBag = fray.NewTask("fraytest.sumBag", func(ctx context.Context, b RefBag) (BagResult, error) {
	out := BagResult{Label: b.Label}
	for _, r := range b.Refs {
		out.IDs = append(out.IDs, r.ID())
	}
	vs, err := fray.GetAll(ctx, b.Refs)
	if err != nil {
		return out, err
	}
	for _, v := range vs {
		out.Sum += v
	}
	if !b.One.IsZero() {
		s, err := b.One.Get(ctx)
		if err != nil {
			return out, err
		}
		out.One = s
	}
	return out, nil
})

// makeSquareRef returns a Ref (to a nested square task) as its result.
var makeSquareRef = fray.NewTask("fraytest.makeSquareRef", func(ctx context.Context, x int) (fray.Ref[int], error) {
	return square.Remote(ctx, x)
})

// InfoView is what a task sees of itself.
type InfoView struct {
	OK        bool
	JobID     string
	TaskID    string
	Name      string
	Attempt   int
	PID       int
	GetPID    int
	HasJobCtx bool
	CtxJobID  string
}

func infoOf(ctx context.Context) InfoView {
	info, ok := fray.TaskInfoFrom(ctx)
	v := InfoView{OK: ok, JobID: info.JobID, TaskID: info.TaskID, Name: info.Name, Attempt: info.Attempt,
		PID: info.PID, GetPID: os.Getpid()}
	if jc, err := fray.JobContextFrom(ctx); err == nil {
		v.HasJobCtx, v.CtxJobID = true, jc.JobID()
	}
	return v
}

var taskInfo = fray.NewTask("fraytest.taskInfo", func(ctx context.Context, _ struct{}) (InfoView, error) {
	return infoOf(ctx), nil
})

// nestedInfo returns the TaskInfo of a nested task it launches.
var nestedInfo = fray.NewTask("fraytest.nestedInfo", func(ctx context.Context, _ struct{}) (InfoView, error) {
	return taskInfo.Call(ctx, struct{}{})
})

var getenv = fray.NewTask("fraytest.getenv", func(_ context.Context, key string) (string, error) {
	return os.Getenv(key), nil
})

// nestedGetenv reads key in a nested task launched without a RuntimeEnv of its own.
var nestedGetenv = fray.NewTask("fraytest.nestedGetenv", func(ctx context.Context, key string) (string, error) {
	return getenv.Call(ctx, key)
})

var getpid = fray.NewTask("fraytest.getpid", func(_ context.Context, _ int) (int, error) {
	return os.Getpid(), nil
})

var byteLen = fray.NewTask("fraytest.byteLen", func(_ context.Context, b []byte) (int, error) {
	return len(b), nil
})

// checksum is a cheap order-sensitive checksum of b.
func checksum(b []byte) uint64 {
	var h uint64 = 1469598103934665603
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

var byteChecksum = fray.NewTask("fraytest.byteChecksum", func(_ context.Context, b []byte) (uint64, error) {
	return checksum(b), nil
})
