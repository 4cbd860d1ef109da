package jsonl

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"
)

type doc struct {
	ID    string   `json:"id"`
	Score float64  `json:"score"`
	Tags  []string `json:"tags,omitempty"`
}

func TestCompressionFor(t *testing.T) {
	tests := []struct {
		name string
		want Compression
	}{
		{"a.jsonl", None},
		{"a.jsonl.gz", Gzip},
		{"A.JSONL.GZ", Gzip},
		{"dir.gz/a.jsonl", None},
		{"a.jsonl.zst", Zstd},
		{"a.zstd", Zstd},
		{"", None},
	}
	for _, tc := range tests {
		if got := CompressionFor(tc.name); got != tc.want {
			t.Errorf("CompressionFor(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestRoundTripTyped(t *testing.T) {
	in := []doc{{"a", 1.5, []string{"x"}}, {"b<&>", -2, nil}, {"ü\n\"q\"", 0, []string{}}}
	for _, name := range []string{"d.jsonl", "d.jsonl.gz", "d.jsonl.zst"} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			w, err := NewWriter[doc](&buf, CompressionFor(name))
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range in {
				if err := w.Write(d); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if w.Count() != int64(len(in)) {
				t.Fatalf("Count = %d", w.Count())
			}
			if name == "d.jsonl" && bytes.Count(buf.Bytes(), []byte("\n")) != len(in) {
				t.Fatalf("want %d lines, got %q", len(in), buf.String())
			}
			got, err := ReadAll[doc](&buf, Options{Name: name})
			if err != nil {
				t.Fatal(err)
			}
			in[2].Tags = nil // omitempty
			if !reflect.DeepEqual(got, in) {
				t.Fatalf("got %+v, want %+v", got, in)
			}
		})
	}
}

func TestReadRecords(t *testing.T) {
	src := "{\"a\":1}\n\n  \r\n{\"b\":\"x\",\"n\":null}\r\n[1]\n"
	rd, err := NewReader[any](strings.NewReader(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []any
	for v, err := range rd.All() {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	want := []any{map[string]any{"a": 1.0}, map[string]any{"b": "x", "n": nil}, []any{1.0}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v", got)
	}
	if rd.Line() != 5 {
		t.Fatalf("Line = %d, want 5", rd.Line())
	}
}

func TestReaderErrors(t *testing.T) {
	tests := []struct {
		name     string
		input    string
		opts     Options
		wantLine int
		wantSub  string
		tooLong  bool
		good     int
	}{
		{name: "malformed", input: "{\"id\":\"a\"}\n{bad\n", opts: Options{Name: "f.jsonl"}, wantLine: 2, wantSub: "f.jsonl:2:", good: 1},
		{name: "trailing", input: "{} {}\n", opts: Options{Name: "t", UseNumber: true}, wantLine: 1, wantSub: "trailing data"},
		{name: "trailing fast", input: "{} x\n", opts: Options{Name: "t"}, wantLine: 1, wantSub: "t:1:"},
		{name: "type mismatch", input: "\n\n{\"score\":\"x\"}\n", opts: Options{Name: "m"}, wantLine: 3, wantSub: "m:3:"},
		{name: "unknown field", input: "{\"zzz\":1}\n", opts: Options{DisallowUnknownFields: true}, wantLine: 1, wantSub: "<input>:1:"},
		{name: "too long", input: "{\"id\":\"ok\"}\n{\"id\":\"" + strings.Repeat("x", 100) + "\"}\n{}\n", opts: Options{Name: "big", MaxLineBytes: 50}, wantLine: 2, tooLong: true, wantSub: "big:2: jsonl: line too long", good: 1},
		{name: "too long no newline", input: strings.Repeat(" ", 200), opts: Options{MaxLineBytes: 10}, wantLine: 1, tooLong: true},
		{name: "gzip header", input: "not gzip", opts: Options{Name: "x.gz"}, wantLine: 0, wantSub: "x.gz:0: gzip header"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var recs []doc
			rd, err := NewReader[doc](strings.NewReader(tc.input), tc.opts)
			if err == nil {
				for {
					var d doc
					d, err = rd.Next()
					if err != nil {
						break
					}
					recs = append(recs, d)
				}
			}
			var le *LineError
			if !errors.As(err, &le) {
				t.Fatalf("want *LineError, got %v", err)
			}
			if le.Line != tc.wantLine {
				t.Errorf("line = %d, want %d (%v)", le.Line, tc.wantLine, err)
			}
			if !strings.Contains(err.Error(), tc.wantSub) {
				t.Errorf("error %q does not contain %q", err, tc.wantSub)
			}
			if errors.Is(err, ErrLineTooLong) != tc.tooLong {
				t.Errorf("ErrLineTooLong = %v, want %v", !tc.tooLong, tc.tooLong)
			}
			if len(recs) != tc.good {
				t.Errorf("decoded %d good records before error, want %d", len(recs), tc.good)
			}
			if rd != nil {
				if _, err2 := rd.Next(); err2 != err {
					t.Errorf("error not sticky: %v then %v", err, err2)
				}
			}
		})
	}
}

func TestLongLineWithinLimit(t *testing.T) {
	// Lines longer than the internal buffer but within the limit are fine.
	val := strings.Repeat("y", 300<<10)
	src := fmt.Sprintf("{\"id\":%q}\n{\"id\":\"z\"}", val)
	got, err := ReadAll[doc](strings.NewReader(src), Options{MaxLineBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != val || got[1].ID != "z" {
		t.Fatalf("bad decode: %d records", len(got))
	}
}

func TestTruncatedGzip(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(zw, "{\"id\":\"%d\"}\n", i)
	}
	zw.Close()
	trunc := buf.Bytes()[:buf.Len()/2]
	_, err := ReadAll[doc](bytes.NewReader(trunc), Options{Name: "t.jsonl.gz"})
	var le *LineError
	if !errors.As(err, &le) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("want LineError wrapping unexpected EOF, got %v", err)
	}
}

func TestWriterUnsupportedValueNotSticky(t *testing.T) {
	var buf bytes.Buffer
	w, _ := NewWriter[Record](&buf, None)
	if err := w.Write(Record{"x": math.NaN()}); err == nil {
		t.Fatal("want error for NaN")
	}
	if err := w.Write(Record{"x": 1}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if buf.String() != "{\"x\":1}\n" {
		t.Fatalf("got %q", buf.String())
	}
	if err := w.Close(); err != nil {
		t.Fatal("double close:", err)
	}
}

func FuzzReader(f *testing.F) {
	f.Add([]byte("{\"id\":\"a\",\"score\":1}\n{}\n"), uint8(0))
	f.Add([]byte("\n\r\n[1,2]\n\"s\"\n"), uint8(0))
	f.Add([]byte("{bad"), uint8(1))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("{\"a\":1}\n"))
	zw.Close()
	f.Add(gz.Bytes(), uint8(1))
	f.Add([]byte("(\xb5/\xfd\x00\x00"), uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, codec uint8) {
		c := Compression(codec % 3)
		for _, max := range []int{0, 16} {
			rd, err := NewReader[Record](bytes.NewReader(data), Options{Compression: &c, MaxLineBytes: max})
			if err != nil {
				return
			}
			n := 0
			for {
				_, err := rd.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					var le *LineError
					if !errors.As(err, &le) || le.Line < 1 {
						t.Fatalf("bad error %T %v", err, err)
					}
					break
				}
				n++
				if rd.Line() < n {
					t.Fatalf("line %d < records %d", rd.Line(), n)
				}
			}
			rd.Close()
		}
		// Plain input that decodes must survive a write/read round trip.
		if c == None {
			recs, err := ReadAll[any](bytes.NewReader(data), Options{})
			if err != nil {
				return
			}
			var buf bytes.Buffer
			w, _ := NewWriter[any](&buf, Zstd)
			for _, r := range recs {
				if err := w.Write(r); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			c2 := Zstd
			back, err := ReadAll[any](&buf, Options{Compression: &c2})
			if err != nil {
				t.Fatal(err)
			}
			if len(back) != len(recs) {
				t.Fatalf("round trip %d != %d", len(back), len(recs))
			}
		}
	})
}

func BenchmarkReadPlain(b *testing.B) {
	var buf bytes.Buffer
	w, _ := NewWriter[doc](&buf, None)
	for i := 0; i < 1000; i++ {
		w.Write(doc{ID: fmt.Sprint(i), Score: float64(i) / 3, Tags: []string{"a", "b"}})
	}
	w.Close()
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := ReadAll[doc](bytes.NewReader(data), Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "records/s")
}
