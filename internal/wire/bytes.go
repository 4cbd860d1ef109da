package wire

import "github.com/fray-go/fray/internal/wire/cborhead"

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
	if v, ok := cborhead.ByteString(data); ok {
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
