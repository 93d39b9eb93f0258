package topk

import (
	"encoding/binary"
	"maps"
	"slices"

	"github.com/streamtop/streamtop/internal/keycodec"
)

// MarshalBinary encodes e (see encoding.BinaryMarshaler) in a versioned
// format: every key whose count is not 0, with its count. Equal Exacts encode
// to equal bytes. It never fails.
//
// Cost: O(Len log Len) to sort the keys; 1 to 3 bytes per count of up to a
// million, besides the key's own encoding.
func (e *Exact[K]) MarshalBinary() ([]byte, error) {
	return e.AppendBinary(make([]byte, 0, 8+len(e.counts)*8))
}

// AppendBinary appends the encoding MarshalBinary returns to b (see
// encoding.BinaryAppender). It never fails.
func (e *Exact[K]) AppendBinary(b []byte) ([]byte, error) {
	// Layout: magic, version, key kind, the number of keys as a uvarint,
	// then each key in ascending order with its count as a zigzag varint.
	keys := slices.AppendSeq(make([]K, 0, len(e.counts)), maps.Keys(e.counts))
	slices.Sort(keys)
	b = append(b, magicExact, formatVersion, keycodec.Kind[K]())
	b = binaryAppendUvarints(b, uint64(len(keys)))
	for _, k := range keys {
		b = keycodec.AppendKey(b, k)
		b = binary.AppendVarint(b, e.counts[k])
	}
	return b, nil
}

// UnmarshalBinary replaces e's state with the one data encodes (see
// encoding.BinaryUnmarshaler); e may be a zero Exact. It returns an error
// wrapping ErrCorrupt, and leaves e unchanged, if data is not an Exact of
// the same key kind in a version this package reads, or holds a key twice
// or a count of 0.
//
// Memory: a map of the encoded keys, whose number data's length bounds.
func (e *Exact[K]) UnmarshalBinary(data []byte) error {
	r := keycodec.NewReader(data, ErrCorrupt)
	checkHeader(r, magicExact, keycodec.Kind[K]())
	// A key takes at least a byte, and its count another.
	n := r.Count("number of keys", 2)
	counts := make(map[K]int64, n)
	negative := 0
	var prev K
	for i := 0; i < n && r.Err() == nil; i++ {
		key := keycodec.Key[K](r, "key")
		c := r.Varint("count")
		switch {
		case r.Err() != nil:
		case i > 0 && !keycodec.Ascending(prev, key):
			r.Fail("key %v after %v: not ascending", key, prev)
		case c == 0:
			r.Fail("key %v with count 0", key)
		}
		prev = key
		// A NaN key makes a new entry, as it does in Add.
		counts[key] = c
		if c < 0 {
			negative++
		}
	}
	if r.Err() == nil && r.Len() != 0 {
		r.Fail("%d bytes after the end", r.Len())
	}
	if r.Err() != nil {
		return r.Err()
	}
	e.counts, e.negative = counts, negative
	return nil
}
