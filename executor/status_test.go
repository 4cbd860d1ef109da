package executor

import (
	"errors"
	"testing"
)

func TestParseEvents(t *testing.T) {
	good := `{"date":"d","status":"RUNNING","message":"m","task_id":"t"}` + "\n\n" + `{"date":"d2","status":"SUCCESS","message":"","task_id":"t"}` + "\n"
	evs, err := ParseEvents("f", []byte(good))
	if err != nil || len(evs) != 2 || lastStatus(evs) != StatusSuccess {
		t.Fatalf("%v %v", evs, err)
	}
	if string(formatEvents(evs)) != `{"date":"d","status":"RUNNING","message":"m","task_id":"t"}`+"\n"+`{"date":"d2","status":"SUCCESS","message":"","task_id":"t"}`+"\n" {
		t.Errorf("format: %s", formatEvents(evs))
	}
	bad := []struct {
		in   string
		line int
	}{
		{"{", 1},
		{`{"date":"d","status":"RUNNING","message":"m","task_id":"t"}` + "\nnot json", 2},
		{`{"date":"d","status":"CANCELLED","message":"m","task_id":"t"}`, 1},
		{`{"date":"d","status":"SUCCESS","message":"m","task_id":"t","extra":1}`, 1},
		{`{"date":"d","status":"SUCCESS","message":"m","task_id":"t"} {}`, 1},
		{`[]`, 1},
	}
	for _, c := range bad {
		_, err := ParseEvents("dir/.executor_status", []byte(c.in))
		var se *StatusFileError
		if !errors.As(err, &se) || se.Line != c.line || se.Path != "dir/.executor_status" {
			t.Errorf("%q: %v", c.in, err)
		}
	}
}

func FuzzParseEvents(f *testing.F) {
	f.Add([]byte(`{"date":"d","status":"RUNNING","message":"m","task_id":"t"}` + "\n"))
	f.Add([]byte("garbage\n{}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		evs, err := ParseEvents("f", data)
		if err != nil {
			var se *StatusFileError
			if !errors.As(err, &se) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		again, err := ParseEvents("f", formatEvents(evs))
		if err != nil || len(again) != len(evs) {
			t.Fatalf("round trip: %v", err)
		}
		for i := range evs {
			if again[i] != evs[i] {
				t.Fatalf("round trip changed %+v to %+v", evs[i], again[i])
			}
		}
	})
}
