// Package encodings is the registry of BPE encodings linked into a binary: package tokenize
// registers cl100k_base itself, and an opt-in package (processing/tokenize/o200k) registers
// its encoding from init, so that a binary carries only the vocabularies it imports (each is
// megabytes of static data).
package encodings

import (
	"sync"

	"github.com/tiktoken-go/tokenizer"
)

var (
	mu       sync.Mutex
	builders = map[string]func() tokenizer.Codec{}
)

// Register makes the encoding name available, built by build on first use.
func Register(name string, build func() tokenizer.Codec) {
	mu.Lock()
	defer mu.Unlock()
	builders[name] = build
}

// Lookup returns the builder of the encoding name, and whether it is linked.
func Lookup(name string) (func() tokenizer.Codec, bool) {
	mu.Lock()
	defer mu.Unlock()
	b, ok := builders[name]
	return b, ok
}
