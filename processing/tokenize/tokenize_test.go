package tokenize

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/fray-go/fray/processing/jsonl"
	"github.com/fray-go/fray/processing/tokenize/internal/encodings"
	_ "github.com/fray-go/fray/processing/tokenize/o200k" // the opt-in encoding, for the tests that use it
	"github.com/tiktoken-go/tokenizer"
)

// TestLinked: cl100k_base is built in, o200k_base is there once its package is imported, and
// an opt-in encoding that is not imported fails with a NotLinkedError naming the import.
func TestLinked(t *testing.T) {
	defer func(l func(string) (func() tokenizer.Codec, bool)) { lookup = l }(lookup)
	tests := []struct {
		enc     string
		unlink  bool
		wantErr string
	}{
		{enc: Cl100kBase},
		{enc: O200kBase},
		{enc: O200kBase, unlink: true, wantErr: `add import _ "github.com/fray-go/fray/processing/tokenize/o200k"`},
		{enc: "p50k_base", wantErr: "unsupported encoding"},
	}
	for _, tt := range tests {
		lookup = encodings.Lookup
		if tt.unlink {
			lookup = func(name string) (func() tokenizer.Codec, bool) {
				if name == tt.enc {
					return nil, false
				}
				return encodings.Lookup(name)
			}
		}
		err := Linked(tt.enc)
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("Linked(%s) = %v, want nil", tt.enc, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("Linked(%s, unlinked %v) = %v, want an error containing %q", tt.enc, tt.unlink, err, tt.wantErr)
		}
		var nl *NotLinkedError
		if tt.unlink && (!errors.As(err, &nl) || nl.Encoding != tt.enc) {
			t.Errorf("Linked(%s) = %#v, want a *NotLinkedError for it", tt.enc, err)
		}
		if _, nerr := New(tt.enc); nerr == nil || nerr.Error() != err.Error() {
			t.Errorf("New(%s) = %v, want Linked's error %v", tt.enc, nerr, err)
		}
	}
}

func TestEncodeKnownIDs(t *testing.T) {
	tests := []struct {
		enc, text string
		want      []uint32
	}{
		{Cl100kBase, "hello world", []uint32{15339, 1917}},
		{O200kBase, "hello world", []uint32{24912, 2375}},
		{Cl100kBase, "", []uint32{}},
	}
	for _, tc := range tests {
		tok, err := New(tc.enc)
		if err != nil {
			t.Fatal(err)
		}
		got, err := tok.Encode(tc.text)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s Encode(%q) = %v, want %v", tc.enc, tc.text, got, tc.want)
		}
		n, err := tok.Count(tc.text)
		if err != nil || n != len(tc.want) {
			t.Errorf("Count = %d, %v", n, err)
		}
	}
	if _, err := New("p50k_base"); err == nil {
		t.Error("want error for unsupported encoding")
	}
}

func TestRoundTrip(t *testing.T) {
	texts := []string{
		"The quick brown fox jumps over the lazy dog.",
		"func main() {\n\tfmt.Println(\"héllo, 世界\")\n}\n",
		"  leading and trailing spaces  \n\n",
		"<|endoftext|> is encoded as plain text",
	}
	for _, enc := range []string{Cl100kBase, O200kBase} {
		tok, _ := New(enc)
		for _, s := range texts {
			ids, err := tok.Encode(s)
			if err != nil {
				t.Fatal(err)
			}
			back, err := tok.Decode(ids)
			if err != nil || back != s {
				t.Errorf("%s round trip %q -> %q (%v)", enc, s, back, err)
			}
		}
		if _, err := tok.Decode([]uint32{1 << 30}); err == nil {
			t.Errorf("%s: want error for invalid id", enc)
		}
	}
}

func TestStats(t *testing.T) {
	var a, b Stats
	a.Add(10, 4)
	a.Add(30, 6)
	b.Add(8, 2)
	a.Merge(b)
	a.Merge(Stats{})
	want := Stats{Docs: 3, Tokens: 12, Bytes: 48, MinTokens: 2, MaxTokens: 6}
	if a != want {
		t.Fatalf("stats = %+v, want %+v", a, want)
	}
	if a.TokensPerDoc() != 4 || a.BytesPerToken() != 4 {
		t.Fatalf("ratios %v %v", a.TokensPerDoc(), a.BytesPerToken())
	}
	if (Stats{}).TokensPerDoc() != 0 || (Stats{}).BytesPerToken() != 0 {
		t.Fatal("empty ratios not 0")
	}
	if !strings.Contains(a.String(), "tokens/doc=4.0") {
		t.Fatal(a.String())
	}
}

func sampleDocs(n int) []Input {
	docs := make([]Input, n)
	for i := range docs {
		docs[i] = Input{ID: fmt.Sprintf("d%03d", i), Text: strings.Repeat(fmt.Sprintf("Document %d talks about tokenizers. ", i), 1+i%7)}
	}
	return docs
}

func TestEncodeBatch(t *testing.T) {
	tok, _ := New(Cl100kBase)
	docs := sampleDocs(50)
	for _, workers := range []int{0, 1, 3, 100} {
		recs, st, err := tok.EncodeBatch(context.Background(), docs, workers)
		if err != nil {
			t.Fatal(err)
		}
		var want Stats
		for i, d := range docs {
			ids, _ := tok.Encode(d.Text)
			if recs[i].ID != d.ID || !reflect.DeepEqual(recs[i].Tokens, ids) {
				t.Fatalf("workers=%d: record %d out of order or wrong", workers, i)
			}
			want.Add(len(d.Text), len(ids))
		}
		if st != want {
			t.Fatalf("workers=%d: stats %+v, want %+v", workers, st, want)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := tok.EncodeBatch(ctx, docs, 2); !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	if recs, st, err := tok.EncodeBatch(context.Background(), nil, 0); err != nil || len(recs) != 0 || st.Docs != 0 {
		t.Fatal("empty batch")
	}
}

func TestShardRoundTrip(t *testing.T) {
	recs := []Record{{ID: "a", Tokens: []uint32{1, 2, 300000, 1<<32 - 1}}, {ID: "", Tokens: nil}, {ID: "ü", Tokens: []uint32{0}}}
	var buf bytes.Buffer
	w, err := NewShardWriter(&buf, O200kBase)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if w.Records() != 3 || w.Tokens() != 5 {
		t.Fatalf("counts %d %d", w.Records(), w.Tokens())
	}
	data := buf.Bytes()
	got := readShard(t, data)
	recs[1].Tokens = []uint32{}
	if !reflect.DeepEqual(got, recs) {
		t.Fatalf("got %+v", got)
	}

	// Every strict prefix and every single-byte corruption is detected.
	for cut := 0; cut < len(data); cut++ {
		if err := readErr(data[:cut]); err == nil && cut != headerLen(O200kBase) && !isRecordBoundary(data, cut) {
			t.Fatalf("truncation at %d not detected", cut)
		}
	}
	for i := 0; i < len(data); i++ {
		bad := bytes.Clone(data)
		bad[i] ^= 0x40
		if err := readErr(bad); err == nil {
			t.Fatalf("corruption at byte %d not detected", i)
		} else if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("error %v does not match ErrCorrupt", err)
		}
	}
}

func headerLen(enc string) int { return len(shardMagic) + 1 + 1 + len(enc) + 4 }

// isRecordBoundary reports whether cut falls exactly between records (a
// clean, shorter shard).
func isRecordBoundary(data []byte, cut int) bool {
	off := headerLen(O200kBase)
	for off < len(data) {
		size, k := binary.Uvarint(data[off:])
		off += k + int(size) + 4
		if off == cut {
			return true
		}
	}
	return false
}

func readShard(t *testing.T, data []byte) []Record {
	t.Helper()
	r, err := NewShardReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var out []Record
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rec)
	}
}

func readErr(data []byte) error {
	r, err := NewShardReader(bytes.NewReader(data))
	if err != nil {
		return err
	}
	for {
		_, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

type nopCloser struct{ *bytes.Buffer }

func (nopCloser) Close() error { return nil }

func TestRollingWriter(t *testing.T) {
	var shards []*bytes.Buffer
	rw := NewRollingWriter(Cl100kBase, 10, func(i int) (io.WriteCloser, error) {
		if i != len(shards) {
			t.Fatalf("create(%d) out of order", i)
		}
		b := new(bytes.Buffer)
		shards = append(shards, b)
		return nopCloser{b}, nil
	})
	for i := 0; i < 7; i++ {
		if err := rw.Write(Record{ID: fmt.Sprint(i), Tokens: make([]uint32, 4)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := rw.Close(); err != nil {
		t.Fatal(err)
	}
	// 4+4+4 >= 10 → shard of 3 records; twice; then 1 left.
	if rw.Shards() != 3 || len(shards) != 3 {
		t.Fatalf("shards = %d", rw.Shards())
	}
	var n []int
	for _, s := range shards {
		n = append(n, len(readShard(t, s.Bytes())))
	}
	if !reflect.DeepEqual(n, []int{3, 3, 1}) {
		t.Fatalf("records per shard %v", n)
	}
	failing := NewRollingWriter(Cl100kBase, 0, func(int) (io.WriteCloser, error) { return nil, errors.New("disk full") })
	if err := failing.Write(Record{}); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("want create error, got %v", err)
	}
}

func TestJSONLShardSchema(t *testing.T) {
	// Records are also the JSONL shard schema.
	var buf bytes.Buffer
	w, _ := jsonl.NewWriter[Record](&buf, jsonl.None)
	w.Write(Record{ID: "x", Tokens: []uint32{1, 2}})
	w.Close()
	if buf.String() != "{\"id\":\"x\",\"tokens\":[1,2]}\n" {
		t.Fatalf("got %q", buf.String())
	}
}

func FuzzShardReader(f *testing.F) {
	var buf bytes.Buffer
	w, _ := NewShardWriter(&buf, Cl100kBase)
	w.Write(Record{ID: "doc", Tokens: []uint32{1, 2, 3}})
	w.Write(Record{ID: "x", Tokens: []uint32{100000}})
	w.Close()
	f.Add(buf.Bytes())
	f.Add([]byte(shardMagic))
	f.Add([]byte("FRAYTOK\n\x01\x00\xff\xff\xff\xff\x0f"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewShardReader(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("header error %v not ErrCorrupt", err)
			}
			return
		}
		var recs []Record
		for {
			rec, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("error %v not ErrCorrupt", err)
				}
				return
			}
			recs = append(recs, rec)
		}
		// A shard that decodes cleanly survives a re-encode round trip.
		var out bytes.Buffer
		w, _ := NewShardWriter(&out, r.Encoding())
		for _, rec := range recs {
			w.Write(rec)
		}
		w.Close()
		if got := readShard(t, out.Bytes()); len(got) != len(recs) || (len(recs) > 0 && !reflect.DeepEqual(got, recs)) {
			t.Fatalf("re-encode mismatch")
		}
	})
}
