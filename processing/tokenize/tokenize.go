// Package tokenize wraps the tiktoken BPE encodings (cl100k_base and
// o200k_base, vocabularies embedded in the binary, no network) for batch
// document encoding, token statistics and compact token shards.
//
// cl100k_base is built in. o200k_base is opt-in, like gocloud's cloud drivers, because its
// vocabulary is about 6 MB of every binary that links it:
//
//	import _ "github.com/fray-go/fray/processing/tokenize/o200k"
//
//	tk, err := tokenize.New(tokenize.Cl100kBase)
//	ids, err := tk.Encode("hello world") // []uint32
//
//	sw, err := tokenize.NewShardWriter(file, tokenize.Cl100kBase)
//	err = sw.Write(tokenize.Record{ID: "doc-1", Tokens: ids})
//	err = sw.Close()
//
// # Shard format
//
// A token shard is a byte stream (usually a file named *.tok):
//
//	shard   = header record*
//	header  = "FRAYTOK\n" (8 bytes) version:u8 (=1) uvarint(len(enc)) enc hcrc:u32le
//	record  = uvarint(len(payload)) payload crc:u32le
//	payload = uvarint(len(id)) id uvarint(n) n*uvarint(token)
//
// enc is the encoding name (e.g. "cl100k_base"); hcrc is the CRC-32C
// (Castagnoli) of the header bytes before it and crc that of payload. Token ids are unsigned varints, so typical ids
// take 2–3 bytes instead of 4. Records are self-delimiting and checksummed:
// truncation and corruption are detected and reported, never silently
// decoded.
package tokenize

import (
	"context"
	"fmt"
	"runtime"
	"sync"

	"github.com/tiktoken-go/tokenizer"
	"github.com/tiktoken-go/tokenizer/codec"

	"github.com/fray-go/fray/processing/tokenize/internal/encodings"
)

func init() {
	encodings.Register(Cl100kBase, func() tokenizer.Codec { return codec.NewCl100kBase() })
}

// Supported encodings.
const (
	Cl100kBase = string(tokenizer.Cl100kBase)
	O200kBase  = string(tokenizer.O200kBase)
)

// Tokenizer encodes text with one BPE encoding. It is safe for concurrent
// use.
type Tokenizer struct {
	name  string
	codec tokenizer.Codec
}

var (
	cacheMu sync.Mutex
	cache   = map[string]*Tokenizer{}
)

// NotLinkedError is returned by New for a supported encoding whose vocabulary this binary
// does not link: add the import it names (in the program's main package) and rebuild.
type NotLinkedError struct {
	Encoding string // the encoding asked for
	Import   string // the package whose blank import links it
}

func (e *NotLinkedError) Error() string {
	return fmt.Sprintf("tokenize: encoding %s is not linked into this binary; add import _ %q to the program and rebuild", e.Encoding, e.Import)
}

// lookup finds a linked encoding (a variable so that a test can unlink one).
var lookup = encodings.Lookup

// optIn names the package that links each opt-in encoding.
var optIn = map[string]string{O200kBase: "github.com/fray-go/fray/processing/tokenize/o200k"}

// Linked reports whether New(encoding) can succeed in this binary: nil for a linked
// encoding, a *NotLinkedError for an opt-in one that is not imported, another error for an
// unknown one.
func Linked(encoding string) error {
	if encoding != Cl100kBase && encoding != O200kBase {
		return fmt.Errorf("tokenize: unsupported encoding %q (want %s or %s)", encoding, Cl100kBase, O200kBase)
	}
	if _, ok := lookup(encoding); !ok {
		return &NotLinkedError{Encoding: encoding, Import: optIn[encoding]}
	}
	return nil
}

// New returns the tokenizer for encoding (Cl100kBase, or O200kBase where its package is
// imported; see Linked). Tokenizers are cached: building the vocabulary happens once per
// process.
func New(encoding string) (*Tokenizer, error) {
	if err := Linked(encoding); err != nil {
		return nil, err
	}
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if t, ok := cache[encoding]; ok {
		return t, nil
	}
	// The codecs are built directly rather than through tokenizer.Get, which links every
	// vocabulary the library has (p50k and r50k too: megabytes in every binary).
	build, _ := lookup(encoding)
	t := &Tokenizer{name: encoding, codec: build()}
	cache[encoding] = t
	return t, nil
}

// Name returns the encoding name.
func (t *Tokenizer) Name() string { return t.name }

// Encode returns the token ids of text. Special-token text (such as
// "<|endoftext|>") is encoded as ordinary text.
func (t *Tokenizer) Encode(text string) ([]uint32, error) {
	ids, _, err := t.codec.Encode(text)
	if err != nil {
		return nil, fmt.Errorf("tokenize: %w", err)
	}
	out := make([]uint32, len(ids))
	for i, id := range ids {
		out[i] = uint32(id)
	}
	return out, nil
}

// Count returns the number of tokens in text without materializing them.
func (t *Tokenizer) Count(text string) (int, error) {
	n, err := t.codec.Count(text)
	if err != nil {
		return 0, fmt.Errorf("tokenize: %w", err)
	}
	return n, nil
}

// Decode maps token ids back to text.
func (t *Tokenizer) Decode(ids []uint32) (string, error) {
	u := make([]uint, len(ids))
	for i, id := range ids {
		u[i] = uint(id)
	}
	s, err := t.codec.Decode(u)
	if err != nil {
		return "", fmt.Errorf("tokenize: %w", err)
	}
	return s, nil
}

// Input is a document to encode.
type Input struct {
	ID   string `json:"id"`   // document identifier
	Text string `json:"text"` // text to encode
}

// Record is an encoded document, also the JSONL shard schema
// ({"id": ..., "tokens": [...]}).
type Record struct {
	ID     string   `json:"id"`     // document identifier
	Tokens []uint32 `json:"tokens"` // token ids
}

// Stats aggregates encoding counts. The zero value is ready to use.
type Stats struct {
	Docs      int64 `json:"docs"`       // documents encoded
	Tokens    int64 `json:"tokens"`     // total tokens
	Bytes     int64 `json:"bytes"`      // UTF-8 bytes of the encoded text
	MinTokens int64 `json:"min_tokens"` // fewest tokens in one document
	MaxTokens int64 `json:"max_tokens"` // most tokens in one document
}

// Add records one document of textBytes bytes and tokens tokens.
func (s *Stats) Add(textBytes, tokens int) {
	if s.Docs == 0 || int64(tokens) < s.MinTokens {
		s.MinTokens = int64(tokens)
	}
	if int64(tokens) > s.MaxTokens {
		s.MaxTokens = int64(tokens)
	}
	s.Docs++
	s.Tokens += int64(tokens)
	s.Bytes += int64(textBytes)
}

// Merge folds o into s (for combining per-worker or per-shard stats).
func (s *Stats) Merge(o Stats) {
	if o.Docs == 0 {
		return
	}
	if s.Docs == 0 || o.MinTokens < s.MinTokens {
		s.MinTokens = o.MinTokens
	}
	if o.MaxTokens > s.MaxTokens {
		s.MaxTokens = o.MaxTokens
	}
	s.Docs += o.Docs
	s.Tokens += o.Tokens
	s.Bytes += o.Bytes
}

// TokensPerDoc is the mean number of tokens per document (0 if empty).
func (s Stats) TokensPerDoc() float64 {
	if s.Docs == 0 {
		return 0
	}
	return float64(s.Tokens) / float64(s.Docs)
}

// BytesPerToken is the compression ratio of the encoding on this text
// (0 if no tokens).
func (s Stats) BytesPerToken() float64 {
	if s.Tokens == 0 {
		return 0
	}
	return float64(s.Bytes) / float64(s.Tokens)
}

// String summarizes s on one line.
func (s Stats) String() string {
	return fmt.Sprintf("docs=%d tokens=%d tokens/doc=%.1f bytes/token=%.2f min=%d max=%d",
		s.Docs, s.Tokens, s.TokensPerDoc(), s.BytesPerToken(), s.MinTokens, s.MaxTokens)
}

// EncodeBatch encodes docs with up to workers goroutines (0 means
// GOMAXPROCS) and returns the records in input order with their stats.
func (t *Tokenizer) EncodeBatch(ctx context.Context, docs []Input, workers int) ([]Record, Stats, error) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, max(len(docs), 1))
	out := make([]Record, len(docs))
	errs := make([]error, workers)
	stats := make([]Stats, workers)
	var wg sync.WaitGroup
	next := make(chan int)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if errs[w] != nil {
					continue
				}
				ids, err := t.Encode(docs[i].Text)
				if err != nil {
					errs[w] = fmt.Errorf("doc %q: %w", docs[i].ID, err)
					continue
				}
				out[i] = Record{ID: docs[i].ID, Tokens: ids}
				stats[w].Add(len(docs[i].Text), len(ids))
			}
		}()
	}
	var ctxErr error
feed:
	for i := range docs {
		select {
		case next <- i:
		case <-ctx.Done():
			ctxErr = ctx.Err()
			break feed
		}
	}
	close(next)
	wg.Wait()
	if ctxErr != nil {
		return nil, Stats{}, ctxErr
	}
	var total Stats
	for w := range workers {
		if errs[w] != nil {
			return nil, Stats{}, errs[w]
		}
		total.Merge(stats[w])
	}
	return out, total, nil
}
