package worker

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/internal/wire"
)

var echoBytes = fray.NewTask("wtest.echoBytes", func(ctx context.Context, b []byte) ([]byte, error) { return b, nil })

func TestPlain(t *testing.T) {
	for _, tc := range []struct {
		name string
		job  string
		data []byte
		want bool
	}{
		{"no job text", "job-1", []byte("just bytes, job-1 without its head"), true},
		{"job text inside", "job-1", append([]byte{0x82, 0x65}, "job-1"...), false},
		{"empty data", "job-1", nil, true},
		{"long job id", strings.Repeat("a", 30), append([]byte{0x78, 30}, strings.Repeat("a", 30)...), false},
	} {
		if got := plain(tc.job, tc.data); got != tc.want {
			t.Errorf("%s: plain = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// A Run's Result says plain exactly when its value lacks the Hello's job id text ("j").
func TestServeMarksPlainResults(t *testing.T) {
	w, r, in, code := servePipes(t)
	for i, tc := range []struct {
		arg  []byte
		want bool
	}{
		{bytes.Repeat([]byte{'x'}, 1<<20), true},
		{[]byte{0x61, 'j'}, false}, // the CBOR text "j"
	} {
		arg, err := fray.Marshal(tc.arg)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(wire.TypeRun, uint64(i+1), &wire.Run{Function: echoBytes.Name(), Arg: arg}); err != nil {
			t.Fatal(err)
		}
		f, err := r.Read()
		if err != nil {
			t.Fatal(err)
		}
		var res wire.Result
		if err := f.Decode(&res); err != nil || res.Err != nil {
			t.Fatalf("run %d: %v %v", i, err, fray.DecodeError(res.Err))
		}
		var back []byte
		if err := fray.Unmarshal(res.Data, &back); err != nil || !bytes.Equal(back, tc.arg) {
			t.Fatalf("run %d: echoed %d bytes, %v", i, len(back), err)
		}
		if res.Plain != tc.want {
			t.Fatalf("run %d: plain = %v, want %v", i, res.Plain, tc.want)
		}
	}
	in.Close()
	if c := <-code; c != ExitOK {
		t.Fatalf("exit code %d", c)
	}
}
