package executor

import (
	"bytes"
	"math"
	"testing"
)

// Expected strings come from Python 3.11: json.dumps(x) and json.dumps(v, sort_keys=True).
func TestPyFloatRepr(t *testing.T) {
	cases := []struct {
		f    float64
		want string
	}{
		{0.1, "0.1"}, {1.0, "1.0"}, {100.0, "100.0"}, {1e-05, "1e-05"}, {0.0001, "0.0001"},
		{1e16, "1e+16"}, {1e15, "1000000000000000.0"}, {123456789012345678.0, "1.2345678901234568e+17"},
		{1.5e-10, "1.5e-10"}, {-2.5, "-2.5"}, {3e-4, "0.0003"}, {1.0 / 3, "0.3333333333333333"},
		{9007199254740992.0, "9007199254740992.0"}, {1e22, "1e+22"}, {5e-324, "5e-324"},
		{1.7976931348623157e308, "1.7976931348623157e+308"}, {math.Copysign(0, -1), "-0.0"},
		{12345.678, "12345.678"}, {math.NaN(), "NaN"}, {math.Inf(1), "Infinity"}, {math.Inf(-1), "-Infinity"},
	}
	for _, c := range cases {
		if got := pyFloatRepr(c.f); got != c.want {
			t.Errorf("pyFloatRepr(%v) = %q, want %q", c.f, got, c.want)
		}
	}
}

func TestPyString(t *testing.T) {
	cases := []struct{ in, want string }{
		{"plain", `"plain"`},
		{"quote\"back\\slash", `"quote\"back\\slash"`},
		{"nl\ncr\rtab\tbs\bff\f", `"nl\ncr\rtab\tbs\bff\f"`},
		{"\x01\x1f\x7f", `"\u0001\u001f\u007f"`},
		{"é ü 中文", `"\u00e9 \u00fc \u4e2d\u6587"`},
		{"😀 emoji", `"\ud83d\ude00 emoji"`},
		{"</script>", `"</script>"`},
	}
	for _, c := range cases {
		var b bytes.Buffer
		writePyString(&b, c.in)
		if b.String() != c.want {
			t.Errorf("writePyString(%q) = %s, want %s", c.in, b.String(), c.want)
		}
	}
}

func TestCanonicalJSONMatchesPython(t *testing.T) {
	v := map[string]any{
		"name": "a/b",
		"config": map[string]any{"x": "DEP[0]/sub", "lr": 0.0003, "n": int64(3),
			"list.[0]": []any{int64(1), 2.0, "é"}, "m": map[string]any{"z": int64(1), "a": nil, "B": true}},
		"dependencies": []any{map[string]any{"name": "dep", "config": map[string]any{}, "dependencies": []any{}}},
	}
	const want = `{"config": {"list.[0]": [1, 2.0, "\u00e9"], "lr": 0.0003, "m": {"B": true, "a": null, "z": 1}, "n": 3, "x": "DEP[0]/sub"}, "dependencies": [{"config": {}, "dependencies": [], "name": "dep"}], "name": "a/b"}`
	b, err := canonicalJSON(v)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
}
