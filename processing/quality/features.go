package quality

import (
	"math"
	"slices"
	"unicode"
	"unicode/utf8"
)

// DefaultBits is the default feature-space size exponent (2^18 features).
const DefaultBits = 18

// MaxWords bounds the words featurized per document; later words are
// ignored so a single huge document costs bounded time.
const MaxWords = 1 << 16

// Vector is a sparse feature vector with strictly increasing indices.
type Vector struct {
	Index []uint32  // feature indices, strictly increasing
	Value []float32 // feature values, parallel to Index
}

// Words splits text into lowercase word tokens: maximal runs of Unicode
// letters and digits. Everything else (punctuation, symbols, whitespace,
// line structure, letter case) is discarded; see Label for why that
// matters.
func Words(text string) []string {
	var out []string
	start := -1
	for i, r := range text {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			out = append(out, toLower(text[start:i]))
			start = -1
			if len(out) >= MaxWords {
				return out
			}
		}
	}
	if start >= 0 {
		out = append(out, toLower(text[start:]))
	}
	return out
}

func toLower(s string) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf || ('A' <= c && c <= 'Z') {
			return lowerSlow(s)
		}
	}
	return s
}

func lowerSlow(s string) string {
	b := make([]rune, 0, len(s))
	for _, r := range s {
		b = append(b, unicode.ToLower(r))
	}
	return string(b)
}

// hashWord is 64-bit FNV-1a.
func hashWord(w string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(w); i++ {
		h ^= uint64(w[i])
		h *= 1099511628211
	}
	return h
}

// mix is the SplitMix64 finalizer, used to derive unigram and bigram
// feature hashes from word hashes.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// eachWordHash calls fn with the FNV-1a hash of each lowercase word of
// text (the words of Words, at most MaxWords), without allocating.
func eachWordHash(text string, fn func(h uint64)) {
	const offset, prime = 14695981039346656037, 1099511628211
	h, inWord, n := uint64(offset), false, 0
	var buf [utf8.UTFMax]byte
	for i := 0; i < len(text); {
		c := text[i]
		if c < utf8.RuneSelf {
			i++
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') {
				h = (h ^ uint64(c)) * prime
				inWord = true
				continue
			}
		} else {
			r, size := utf8.DecodeRuneInString(text[i:])
			i += size
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				k := utf8.EncodeRune(buf[:], unicode.ToLower(r))
				for _, b := range buf[:k] {
					h = (h ^ uint64(b)) * prime
				}
				inWord = true
				continue
			}
		}
		if inWord {
			fn(h)
			h, inWord = offset, false
			if n++; n >= MaxWords {
				return
			}
		}
	}
	if inWord {
		fn(h)
	}
}

// Featurize maps text to a hashed bag of word unigrams and bigrams in a
// space of 2^bits features. Values are log(1+count), L2-normalized, so
// document length does not dominate the score.
func Featurize(text string, bits int) Vector {
	mask := uint64(1)<<bits - 1
	idx := make([]uint32, 0, len(text)/3+2)
	var prev uint64
	first := true
	eachWordHash(text, func(h uint64) {
		idx = append(idx, uint32(mix(h^0x9e3779b97f4a7c15)&mask))
		if !first {
			idx = append(idx, uint32(mix(prev*31+h+0x632be59bd9b4e019)&mask))
		}
		prev, first = h, false
	})
	slices.Sort(idx)
	n := 0
	for i := range idx {
		if i == 0 || idx[i] != idx[i-1] {
			n++
		}
	}
	v := Vector{Index: make([]uint32, 0, n), Value: make([]float32, 0, n)}
	var norm float64
	for i := 0; i < len(idx); {
		j := i + 1
		for j < len(idx) && idx[j] == idx[i] {
			j++
		}
		val := math.Log1p(float64(j - i))
		norm += val * val
		v.Index = append(v.Index, idx[i])
		v.Value = append(v.Value, float32(val))
		i = j
	}
	if norm > 0 {
		inv := 1 / math.Sqrt(norm)
		for i := range v.Value {
			v.Value[i] = float32(float64(v.Value[i]) * inv)
		}
	}
	return v
}
