package wire

// Bytes is a byte-string field that decodes without a copy: a definite-length CBOR byte
// string becomes a slice of the body it was decoded from (its capacity capped at its
// length, so appending to it never writes into the rest of the body). A frame's body from
// Reader.Read is a buffer of its own that the reader never reuses, so such a slice is the
// receiver's alone once the frame is decoded (backend.Payload.Owned). Anything else (an
// indefinite-length string, null) decodes as a []byte field would.
//
// It encodes as a []byte does. Decode into a Bytes field only a body that nothing else
// writes to afterwards.
type Bytes []byte

// UnmarshalCBOR implements cbor.Unmarshaler: data is the raw item, a slice of the body.
func (b *Bytes) UnmarshalCBOR(data []byte) error {
	if v, ok := byteStringAt(data); ok {
		*b = v
		return nil
	}
	var v []byte
	if err := decMode.Unmarshal(data, &v); err != nil {
		return err
	}
	*b = v
	return nil
}

// byteStringAt returns the content of data when data is exactly one definite-length CBOR
// byte string, as a slice of data with capacity equal to its length.
func byteStringAt(data []byte) ([]byte, bool) {
	if len(data) == 0 || data[0]>>5 != 2 {
		return nil, false
	}
	info := data[0] & 0x1f
	i := 1
	var n uint64
	switch {
	case info < 24:
		n = uint64(info)
	case info <= 27:
		k := 1 << (info - 24)
		if len(data) < 1+k {
			return nil, false
		}
		for _, c := range data[1 : 1+k] {
			n = n<<8 | uint64(c)
		}
		i += k
	default:
		return nil, false // indefinite length (31) or reserved (28-30)
	}
	if n != uint64(len(data)-i) {
		return nil, false
	}
	return data[i:len(data):len(data)], true
}
