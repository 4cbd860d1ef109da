// Package o200k links the o200k_base BPE encoding (about 6 MB of vocabulary) into a binary:
//
//	import _ "github.com/fray-go/fray/processing/tokenize/o200k"
//
// after which tokenize.New(tokenize.O200kBase) works. Without the import it fails with a
// *tokenize.NotLinkedError naming this import, and cl100k_base, built into package tokenize,
// is the only encoding.
package o200k

import (
	"github.com/tiktoken-go/tokenizer"
	"github.com/tiktoken-go/tokenizer/codec"

	"github.com/fray-go/fray/processing/tokenize/internal/encodings"
)

func init() {
	encodings.Register(string(tokenizer.O200kBase), func() tokenizer.Codec { return codec.NewO200kBase() })
}
