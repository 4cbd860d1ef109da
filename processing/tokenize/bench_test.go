package tokenize

import (
	"bytes"
	"context"
	"io"
	"sync"
	"testing"

	"github.com/fray-go/fray/processing/corpus"
)

var (
	benchOnce sync.Once
	benchDocs []Input
)

// realDocs returns up to 300 real documents (Go package docs, Go sources,
// man pages), falling back to synthetic text without a Go installation.
func realDocs(b *testing.B) []Input {
	benchOnce.Do(func() {
		docs, err := corpus.Collect(context.Background(), corpus.Options{
			Sources:      []string{corpus.SourcePackageDoc, corpus.SourceGoSource, corpus.SourceMan},
			MaxPerSource: 100,
			MaxTextBytes: 16 << 10,
		})
		if err != nil || len(docs) == 0 {
			benchDocs = sampleDocs(300)
			return
		}
		for _, d := range docs {
			benchDocs = append(benchDocs, Input{ID: d.ID, Text: d.Text})
		}
	})
	return benchDocs
}

func benchEncode(b *testing.B, enc string, workers int) {
	tok, err := New(enc)
	if err != nil {
		b.Fatal(err)
	}
	docs := realDocs(b)
	var bytesPerBatch int64
	for _, d := range docs {
		bytesPerBatch += int64(len(d.Text))
	}
	b.SetBytes(bytesPerBatch)
	var st Stats
	b.ResetTimer()
	for b.Loop() {
		_, s, err := tok.EncodeBatch(context.Background(), docs, workers)
		if err != nil {
			b.Fatal(err)
		}
		st = s
	}
	b.ReportMetric(float64(b.N*len(docs))/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(int64(b.N)*st.Tokens)/b.Elapsed().Seconds(), "tokens/s")
	b.ReportMetric(st.BytesPerToken(), "bytes/token")
}

func BenchmarkEncodeCl100k(b *testing.B)         { benchEncode(b, Cl100kBase, 1) }
func BenchmarkEncodeCl100kParallel(b *testing.B) { benchEncode(b, Cl100kBase, 0) }
func BenchmarkEncodeO200k(b *testing.B)          { benchEncode(b, O200kBase, 1) }

func BenchmarkShardWriteRead(b *testing.B) {
	tok, _ := New(Cl100kBase)
	recs, _, err := tok.EncodeBatch(context.Background(), realDocs(b), 0)
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	b.ResetTimer()
	for b.Loop() {
		buf.Reset()
		w, _ := NewShardWriter(&buf, Cl100kBase)
		for _, r := range recs {
			w.Write(r)
		}
		w.Close()
		r, _ := NewShardReader(bytes.NewReader(buf.Bytes()))
		for {
			if _, err := r.Next(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*len(recs))/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(buf.Len()), "shard-bytes")
}
