// Package cborhead is the one place fray's Go code writes and reads CBOR heads by hand
// (RFC 8949 section 3: a major type and an argument, definite lengths only), for the hot
// paths that skip the general codec: a []byte value's encoding (its head, then the bytes),
// a byte string decoded as a slice of its frame, the job id text searched for in a result,
// and the Ray backend's bridge messages. Everything else goes through fxamacker/cbor.
//
//	b := cborhead.AppendBytes(nil, data)        // the CBOR byte string of data
//	v, ok := cborhead.ByteString(b)             // data again, as a slice of b
//	major, n, next, ok := cborhead.Read(b, 0)   // cborhead.MajorBytes, len(data), the index of data
//
// It imports nothing of fray, so the root package's codec can use it as well as the wire.
// internal/wire/PROTOCOL.md ("Framing") is the spec of the bodies built from these heads.
package cborhead

import "encoding/binary"

// Major types (RFC 8949 section 3.1) that fray writes or reads by hand.
const (
	MajorUint  byte = 0 // unsigned integer: the argument is the value
	MajorBytes byte = 2 // byte string: the argument is its length
	MajorText  byte = 3 // UTF-8 text string: the argument is its length
	MajorArray byte = 4 // array: the argument is its number of items
	MajorMap   byte = 5 // map: the argument is its number of pairs
)

// MaxLen is the longest head: the initial byte and an eight-byte argument.
const MaxLen = 9

// Append appends the head of major type major with argument n, in its shortest form.
func Append(dst []byte, major byte, n uint64) []byte {
	m := major << 5
	switch {
	case n < 24:
		return append(dst, m|byte(n))
	case n <= 0xff:
		return append(dst, m|24, byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(dst, m|25), uint16(n))
	case n <= 0xffffffff:
		return binary.BigEndian.AppendUint32(append(dst, m|26), uint32(n))
	default:
		return binary.BigEndian.AppendUint64(append(dst, m|27), n)
	}
}

// AppendBytes appends b as a definite-length CBOR byte string: its head, then b. With a
// small dst (a [MaxLen]byte array's slice), the append allocates the result once, without
// zeroing it first.
func AppendBytes(dst, b []byte) []byte {
	return append(Append(dst, MajorBytes, uint64(len(b))), b...)
}

// AppendText appends s as a definite-length CBOR text string: its head, then s.
func AppendText(dst []byte, s string) []byte {
	return append(Append(dst, MajorText, uint64(len(s))), s...)
}

// Read decodes the head at b[i:]: its major type, its argument and the index after it. ok
// is false for an indefinite length (additional information 31), a reserved value (28 to
// 30) and a head cut short. A head of major type 7 (simple values and floats) reads as its
// raw argument.
func Read(b []byte, i int) (major byte, arg uint64, next int, ok bool) {
	if i < 0 || i >= len(b) {
		return 0, 0, 0, false
	}
	major, info := b[i]>>5, b[i]&0x1f
	i++
	switch {
	case info < 24:
		return major, uint64(info), i, true
	case info <= 27:
		k := 1 << (info - 24)
		if i+k > len(b) {
			return 0, 0, 0, false
		}
		var v uint64
		for _, c := range b[i : i+k] {
			v = v<<8 | uint64(c)
		}
		return major, v, i + k, true
	}
	return 0, 0, 0, false
}

// ByteString returns the content of data when data is exactly one definite-length CBOR
// byte string, as a slice of data whose capacity is its length (so appending to it never
// writes into data). ok is false for anything else: another type, an indefinite-length
// string (chunks to join), bytes before or after it.
func ByteString(data []byte) (v []byte, ok bool) {
	major, n, i, ok := Read(data, 0)
	if !ok || major != MajorBytes || n != uint64(len(data)-i) {
		return nil, false
	}
	return data[i:len(data):len(data)], true
}
