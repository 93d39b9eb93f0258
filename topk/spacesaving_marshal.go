package topk

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/streamtop/streamtop/internal/keycodec"
)

// ErrCorrupt is wrapped by every error UnmarshalBinary returns for bytes it
// cannot decode: truncated, of another structure, type or version, or whose
// counts break the structure's invariants.
var ErrCorrupt = errors.New("topk: corrupt encoding")

// The first byte of each encoding names the structure, the second its format
// version.
const (
	magicSpaceSaving = 'S'
	magicExact       = 'E'
	formatVersion    = 1
)

// maxDecodeCapacity bounds the capacity UnmarshalBinary accepts; tests lower
// it so that fuzzing does not spend its time allocating huge summaries.
var maxDecodeCapacity = MaxCapacity

// MarshalBinary encodes s (see encoding.BinaryMarshaler) in a versioned
// format: the capacity, the total weight, the monitored keys with the bounds
// of their counts, and the largest filter counter. Equal summaries encode to
// equal bytes. It never fails.
//
// A decoded summary keeps every bound and guarantee, and answers as s for
// every monitored key. A key that s does not monitor may get a looser answer
// from it: the largest of s's filter counters rather than its own, smaller
// one, since the filter counters are indexed by a hash whose seed is chosen
// per process and cannot be written as they are.
//
// Cost: O(Len log Len) to sort the keys; about 3 bytes per monitored key
// besides the key's own encoding (its length and bytes for a string, a
// varint for an integer).
func (s *SpaceSaving[K]) MarshalBinary() ([]byte, error) {
	return s.AppendBinary(make([]byte, 0, 16+len(s.keys)*8))
}

// AppendBinary appends the encoding MarshalBinary returns to b (see
// encoding.BinaryAppender), so that a caller writing several summaries
// into one buffer copies each once. It never fails.
func (s *SpaceSaving[K]) AppendBinary(b []byte) ([]byte, error) {
	// Layout: magic, version, key kind; capacity, total, filter floor and
	// number of keys as uvarints; then each key in ascending order with the
	// lower bound of its count and its error as uvarints. Sorting makes the
	// bytes independent of the order entries were admitted in.
	order := make([]int32, len(s.keys))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int { return cmp.Compare(s.keys[a], s.keys[b]) })
	floor := s.filterFloor()
	b = append(b, magicSpaceSaving, formatVersion, keycodec.Kind[K]())
	b = binaryAppendUvarints(b, uint64(s.capacity), uint64(s.total), uint64(floor), uint64(len(s.keys)))
	for _, i := range order {
		b = keycodec.AppendKey(b, s.keys[i])
		e := s.errOf(int(i))
		b = binaryAppendUvarints(b, uint64(s.counts[i]-e), uint64(e))
	}
	return b, nil
}

// UnmarshalBinary replaces s's state with the one data encodes (see
// encoding.BinaryUnmarshaler), capacity included; s may be a zero
// SpaceSaving, and its memory is reused when the capacity is the same. It
// returns an error wrapping ErrCorrupt, and leaves s unchanged, if data is
// not a SpaceSaving of the same key kind in a version this package reads,
// or if its counts break the guarantees (an error above Total/capacity, a
// key twice, more keys than the capacity, ...).
//
// Memory: what NewSpaceSaving allocates for the encoded capacity, which
// nothing in data bounds (up to MaxCapacity, about 60 bytes a unit); the
// keys themselves take no more than data's length.
func (s *SpaceSaving[K]) UnmarshalBinary(data []byte) error {
	r := keycodec.NewReader(data, ErrCorrupt)
	checkHeader(r, magicSpaceSaving, keycodec.Kind[K]())
	capacity := int(r.Uint64("capacity", uint64(maxDecodeCapacity)))
	total := int64(r.Uint64("total", math.MaxInt64))
	floor := int64(r.Uint64("filter floor", math.MaxInt64))
	// A key takes at least a byte, and its two bounds a byte each.
	n := r.Count("number of keys", 3)
	if r.Err() != nil {
		return r.Err()
	}
	if capacity == 0 {
		r.Fail("capacity 0")
	}
	if n > capacity {
		r.Fail("%d keys for a capacity of %d", n, capacity)
	}
	// Err <= N/capacity, for monitored keys and the filter alike.
	bound := total / max(int64(capacity), 1)
	if floor > bound {
		r.Fail("filter floor %d above total/capacity %d", floor, bound)
	}
	if floor > 0 && n < capacity {
		// The filter takes weight only once every counter is in use.
		r.Fail("filter floor %d with %d of %d counters used", floor, n, capacity)
	}
	keys := make([]K, 0, n)
	counts := make([]int64, 0, n)
	errs := make([]int64, 0, n)
	var sum int64 // sum of the counts so far, at most the total
	for i := 0; i < n && r.Err() == nil; i++ {
		key := keycodec.Key[K](r, "key")
		lb := int64(r.Uint64("lower bound", math.MaxInt64))
		e := int64(r.Uint64("error", math.MaxInt64))
		switch {
		case r.Err() != nil:
		case i > 0 && !keycodec.Ascending(keys[i-1], key):
			r.Fail("key %v after %v: not ascending", key, keys[i-1])
		case e > bound:
			r.Fail("error %d of key %v above total/capacity %d", e, key, bound)
		case lb > total-sum-e:
			// SpaceSaving keeps the sum of its counts within the
			// total, through evictions and merges alike.
			r.Fail("counts add up to more than the total %d", total)
		case lb+e < floor:
			r.Fail("count %d of key %v below the filter floor %d", lb+e, key, floor)
		}
		sum += lb + e
		keys = append(keys, key)
		counts = append(counts, lb+e) // cannot overflow: e <= bound <= total
		errs = append(errs, e)
	}
	if r.Err() == nil && r.Len() != 0 {
		r.Fail("%d bytes after the end", r.Len())
	}
	if r.Err() != nil {
		return r.Err()
	}

	if s.capacity == capacity && s.index != nil {
		s.Reset()
	} else {
		fresh, err := NewSpaceSaving[K](capacity)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		*s = *fresh
	}
	s.total = total
	for i, key := range keys {
		h := hashOf(key)
		s.keys = append(s.keys, key)
		s.hashes = append(s.hashes, h)
		s.counts = append(s.counts, counts[i])
		s.errs = append(s.errs, 0)
		s.setErr(i, errs[i])
		s.link(i, h)
	}
	if floor > 0 {
		for c := range s.alpha {
			s.setFilter(uint32(c), floor)
		}
	}
	return nil
}

// Capacity returns the most keys s monitors, as given to NewSpaceSaving or
// read by UnmarshalBinary. O(1).
func (s *SpaceSaving[K]) Capacity() int { return s.capacity }

// Total returns N, the total weight s summarises, merged streams included:
// the bound on every error is Total/Capacity. O(1).
func (s *SpaceSaving[K]) Total() int64 { return s.total }

// checkHeader reads and checks an encoding's magic, version and key kind.
func checkHeader(r *keycodec.Reader, magic, kind byte) {
	if m := r.Byte("magic"); r.Err() == nil && m != magic {
		r.Fail("starts with %#x, not %#x (%q)", m, magic, magic)
	}
	if v := r.Byte("version"); r.Err() == nil && v != formatVersion {
		r.Fail("format version %d, this package reads %d", v, formatVersion)
	}
	if k := r.Byte("key kind"); r.Err() == nil && k != kind {
		r.Fail("key kind %d, want %d", k, kind)
	}
}

func binaryAppendUvarints(b []byte, vs ...uint64) []byte {
	for _, v := range vs {
		b = binary.AppendUvarint(b, v)
	}
	return b
}
