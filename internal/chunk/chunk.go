// Package chunk cuts bytes into content-defined chunks: where a chunk ends
// depends only on the bytes just before the cut, so an insertion or a
// deletion moves the cuts near it and no others, and two states that share
// a run of bytes (a window's closed panes, say) share the chunks inside it.
// A store that names chunks by their content then writes only what changed.
//
// The cut test is a gear hash (Xia et al., "FastCDC", USENIX ATC 2016): one
// shift and one add per byte, cutting where the hash's top bits are zero,
// which depends on the last 64 bytes alone.
package chunk

// Sizes of the chunks Cut makes. Every chunk but the last is at least Min
// and at most Max bytes; the cut test fires on average every 2^avgBits bytes
// past Min, so chunks average about 12 KiB.
const (
	Min     = 4 << 10
	Max     = 64 << 10
	avgBits = 13
)

// gear maps a byte to a random 64-bit value. The values only decide where
// cuts fall, so any fixed table works; changing it costs one rewrite of
// every stored chunk, never a wrong read, as long as stores name chunks by
// content.
var gear = func() (t [256]uint64) {
	x := uint64(0x5eed5eed5eed5eed)
	for i := range t {
		// splitmix64
		x += 0x9e3779b97f4a7c15
		z := x
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		t[i] = z ^ z>>31
	}
	return t
}()

// Cut appends to ends the end offsets of b's chunks, in order, and returns
// it: the last is len(b), and there is none for an empty b.
//
// Cost: O(len(b)), about a nanosecond a byte; no allocation beyond ends.
func Cut(b []byte, ends []int) []int {
	start := 0
	for len(b)-start > Min {
		ends = append(ends, start+next(b[start:]))
		start = ends[len(ends)-1]
	}
	if start < len(b) {
		ends = append(ends, len(b))
	}
	return ends
}

// next returns the length of the chunk that starts b, len(b) > Min.
func next(b []byte) int {
	end := min(len(b), Max)
	var h uint64
	// The hash of the 64 bytes before Min starts the test at Min as if it
	// had run all along, so a cut depends on the bytes before it alone.
	for _, c := range b[Min-64 : Min] {
		h = h<<1 + gear[c]
	}
	for i := Min; i < end; i++ {
		h = h<<1 + gear[b[i]]
		if h>>(64-avgBits) == 0 {
			return i + 1
		}
	}
	return end
}
