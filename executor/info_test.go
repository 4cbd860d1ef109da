package executor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"testing"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/backend/local"
	"github.com/fray-go/fray/executor"
)

// strictJSON checks that data is exactly one JSON value in which no object repeats a key:
// encoding/json accepts duplicates (the last one wins), Python's json keeps the last too,
// and other readers keep the first or fail, so a record with one must never be written.
func strictJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := strictValue(dec, "$"); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("data after the first JSON value (%v)", err)
	}
	return nil
}

// strictValue reads one value from dec; at is its path, for messages.
func strictValue(dec *json.Decoder, at string) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("%s: %w", at, err)
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return fmt.Errorf("%s: %w", at, err)
			}
			key := k.(string) // the decoder only yields strings in key position
			if seen[key] {
				return fmt.Errorf("%s: duplicate key %q", at, key)
			}
			seen[key] = true
			if err := strictValue(dec, at+"."+key); err != nil {
				return err
			}
		}
		_, err = dec.Token() // '}'
		return err
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			if err := strictValue(dec, fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
		_, err = dec.Token() // ']'
		return err
	}
	return nil
}

func TestStrictJSON(t *testing.T) {
	for _, c := range []struct {
		in string
		ok bool
	}{
		{`{"a":1,"b":{"a":2},"c":[{"a":1},{"a":1}]}`, true},
		{`{"version":null,"x":1,"version":{"a":1}}`, false},
		{`{"s":[{"k":1,"k":2}]}`, false},
		{`{"a":1}{"b":2}`, false},
		{`{"a":`, false},
	} {
		if err := strictJSON([]byte(c.in)); (err == nil) != c.ok {
			t.Errorf("strictJSON(%s) = %v, want ok %v", c.in, err, c.ok)
		}
	}
}

// TestInfoRecordsAreStrictJSON: each step's .executor_info and the experiment record are
// valid JSON with unique keys (the version used to appear twice: null, then the real one),
// and the version read back is the step's real one.
func TestInfoRecordsAreStrictJSON(t *testing.T) {
	jc, err := local.New(local.Options{Resources: fray.Resources{"CPU": 4, "head_node": 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer jc.Close()
	ctx := fray.WithJobContext(context.Background(), jc)
	a := executor.NewStep("info/a", memStep, memConfig{Out: executor.ThisOutputPath(), N: executor.Versioned(1)})
	b := executor.NewStep("info/b", memStep, memConfig{In: executor.OutputPathOf(a), Out: executor.ThisOutputPath()})
	rep, err := executor.Run(ctx, executor.Options{Prefix: t.TempDir(), ExperimentName: "info", GitCommit: "x"}, b)
	if err != nil {
		t.Fatal(err)
	}
	type versioned struct {
		Name    string          `json:"name"`
		Version json.RawMessage `json:"version"`
	}
	infos := map[string]json.RawMessage{} // step name → version
	for _, s := range rep.Steps {
		data, err := executor.ReadFile(ctx, executor.JoinPath(s.OutputPath, executor.InfoFileName))
		if err != nil {
			t.Fatal(err)
		}
		if err := strictJSON(data); err != nil {
			t.Fatalf("%s's %s: %v\n%s", s.Name, executor.InfoFileName, err, data)
		}
		var v versioned
		if err := json.Unmarshal(data, &v); err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(v.Version, []byte(`"name"`)) {
			t.Errorf("%s's version = %s, want the version object", s.Name, v.Version)
		}
		infos[v.Name] = v.Version
	}
	data, err := executor.ReadFile(ctx, rep.ExperimentPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := strictJSON(data); err != nil {
		t.Fatalf("experiment record: %v\n%s", err, data)
	}
	var exp struct {
		Steps []versioned `json:"steps"`
	}
	if err := json.Unmarshal(data, &exp); err != nil {
		t.Fatal(err)
	}
	if len(exp.Steps) != len(infos) {
		t.Fatalf("experiment record has %d steps, want %d", len(exp.Steps), len(infos))
	}
	for _, s := range exp.Steps {
		if want, ok := infos[s.Name]; !ok || !bytes.Equal(s.Version, want) {
			t.Errorf("experiment record's step %s has version %s, want %s (from its %s)", s.Name, s.Version, want, executor.InfoFileName)
		}
	}
}
