package worker

import "bytes"

// plain reports whether data holds none of job's refs and actor handles: every encoded Ref
// or actor handle of the job contains the job id as a CBOR text string, so data without
// that text holds none (wire.Result.Plain). Go's search is vectorised; the Ray shim's, in
// Python, costs about 0.7 ms per MiB, which this flag lets it skip.
func plain(job string, data []byte) bool {
	var buf [64]byte
	return !bytes.Contains(data, appendCBORText(buf[:0], job))
}

// appendCBORText appends the CBOR encoding of s as a definite-length text string.
func appendCBORText(dst []byte, s string) []byte {
	n := uint64(len(s))
	switch {
	case n < 24:
		dst = append(dst, 0x60|byte(n))
	case n <= 0xff:
		dst = append(dst, 0x78, byte(n))
	case n <= 0xffff:
		dst = append(dst, 0x79, byte(n>>8), byte(n))
	case n <= 0xffffffff:
		dst = append(dst, 0x7a, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x7b, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32), byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(dst, s...)
}
