package window

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/streamtop/streamtop/internal/keycodec"
)

// maxDecodeCounterBuckets bounds the ring a decoded Counter allocates; tests
// lower it so that fuzzing does not spend its time allocating.
var maxDecodeCounterBuckets = maxCounterBuckets

// MarshalBinary encodes c (see encoding.BinaryMarshaler) in a versioned
// format: the window's size, bucket length, history and position, and the
// counts of every bucket in the window and its history, so that a decoded
// Counter counts, slides, expires and reads past windows exactly as c
// would. A Counter without history is written in the format of the
// versions before history, which they can read. Equal Counters encode to equal bytes, whatever
// the process's hash seed. It never fails.
//
// Size: about 12 bytes of header, each key once (a string as its length and
// bytes), and 2 to 4 bytes per (key, bucket) pair with a count under
// 2^20: the visualizer's 4 resources x 6 referrers x 10 buckets, a Counter
// per resource, take 1,228 bytes in all (BenchmarkCounterSnapshot).
//
// Cost: O(p log p) for p pairs, allocating the result and a scratch of one
// int32 per key id.
func (c *Counter[K]) MarshalBinary() ([]byte, error) {
	return c.AppendBinary(make([]byte, 0, 64))
}

// AppendBinary appends the encoding MarshalBinary returns to b (see
// encoding.BinaryAppender). It never fails.
func (c *Counter[K]) AppendBinary(b []byte) ([]byte, error) {
	// Layout: magic, version, key kind; the bucket length and the number of
	// buckets of the window, then in version 2 the number of buckets of
	// history (at least 1: a Counter without history is written as version
	// 1); a byte saying whether the window has started, and if it has, its
	// newest bucket, every key counted in the window or its history once,
	// in ascending order, and for each bucket that holds counts, oldest
	// first, the gap since the previous one and its (key, count) pairs, a
	// key as the distance from the previous key's position in the list and
	// a count as a zigzag varint. Pairs whose count came back to 0 are left
	// out, as are keys left with none, so nothing depends on the order of
	// the ids.
	if h := len(c.ring) - c.window; h == 0 {
		b = append(b, magicCounter, formatVersion, keycodec.Kind[K]())
		b = appendUvarints(b, uint64(c.bucket), uint64(c.window))
	} else {
		b = append(b, magicCounter, formatHistory, keycodec.Kind[K]())
		b = appendUvarints(b, uint64(c.bucket), uint64(c.window), uint64(h))
	}
	if !c.started {
		return append(b, 0), nil
	}
	b = append(b, 1)
	b = appendVarint(b, c.newest)

	// rank[id] is the key's position in the sorted list plus one, 0 while
	// the key has no pair worth writing.
	rank := make([]int32, len(c.meta))
	var ids []int32
	n := len(c.ring)
	for age := range n {
		bk := &c.ring[(c.head-age+n)%n]
		for i, id := range bk.ids {
			if bk.counts[i] != 0 && rank[id] == 0 {
				rank[id] = 1
				ids = append(ids, id)
			}
		}
	}
	slices.SortFunc(ids, func(x, y int32) int { return cmp.Compare(c.meta[x].key, c.meta[y].key) })
	b = appendUvarints(b, uint64(len(ids)))
	for i, id := range ids {
		rank[id] = int32(i + 1)
		b = keycodec.AppendKey(b, c.meta[id].key)
	}

	var buckets int
	for age := range n {
		if hasCounts(&c.ring[(c.head-age+n)%n]) {
			buckets++
		}
	}
	b = appendUvarints(b, uint64(buckets))
	type pair struct {
		rank  int32
		count int64
	}
	var pairs []pair
	prev := -1 // position of the previous bucket written, oldest is 0
	for pos := range n {
		bk := &c.ring[(c.head-(n-1-pos)+n)%n]
		if !hasCounts(bk) {
			continue
		}
		pairs = pairs[:0]
		for i, id := range bk.ids {
			if bk.counts[i] != 0 {
				pairs = append(pairs, pair{rank[id], bk.counts[i]})
			}
		}
		slices.SortFunc(pairs, func(x, y pair) int { return cmp.Compare(x.rank, y.rank) })
		b = appendUvarints(b, uint64(pos-prev-1), uint64(len(pairs)))
		prev = pos
		last := int32(0)
		for _, p := range pairs {
			b = appendUvarints(b, uint64(p.rank-last-1))
			b = appendVarint(b, p.count)
			last = p.rank
		}
	}
	return b, nil
}

// hasCounts reports whether a bucket holds a count other than 0.
func hasCounts(bk *counterBucket) bool {
	return slices.ContainsFunc(bk.counts, func(n int64) bool { return n != 0 })
}

// UnmarshalBinary replaces c's state with the one data encodes (see
// encoding.BinaryUnmarshaler), window size and bucket length included; c
// may be a zero Counter. The decoded Counter counts, slides, expires and
// reads past windows exactly as the original would. It reads both versions
// MarshalBinary writes. It returns an error wrapping ErrCorrupt,
// and leaves c unchanged, if data is not a Counter of the same key kind in a
// version this package reads, or is inconsistent: a key twice or out of
// order, a key no bucket counts, a count of 0, a bucket outside the window
// and its history, a total past int64 in a window TopAt can read.
//
// Cost: that of NewCounter for the encoded shape (the ring takes about 56
// bytes a bucket, up to 1<<20 buckets, which nothing in data bounds) plus an
// Add per pair; the keys and pairs allocate no more than data's length
// could describe.
func (c *Counter[K]) UnmarshalBinary(data []byte) error {
	r := keycodec.NewReader(data, ErrCorrupt)
	version := checkHeader(r, magicCounter, keycodec.Kind[K]())
	bucket := time.Duration(r.Uint64("bucket length", math.MaxInt64))
	n := int(r.Uint64("buckets", uint64(maxDecodeCounterBuckets)))
	h := 0
	if version == formatHistory && r.Err() == nil {
		h = int(r.Uint64("history", uint64(maxDecodeCounterBuckets-n)))
		if r.Err() == nil && h == 0 {
			r.Fail("version %d without history", version)
		}
	}
	started := r.Byte("started")
	if r.Err() != nil {
		return r.Err()
	}
	if _, ok := shape(r, bucket, n+h); !ok {
		return r.Err()
	}
	d, err := NewCounter[K](time.Duration(n)*bucket, bucket, WithHistory(time.Duration(h)*bucket))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if err := decodeBody(r, started, d.decodeWindow); err != nil {
		return err
	}
	*c = *d
	return nil
}

// decodeWindow reads the newest bucket, the keys and the pairs into d, a
// fresh Counter of the encoded shape, replaying each pair as an Add.
func (d *Counter[K]) decodeWindow(r *keycodec.Reader) {
	n := len(d.ring)
	newest := newestBucket(r, d.bucket, n)
	// A key takes at least a byte.
	keys := make([]K, r.Count("number of keys", 1))
	for i := range keys {
		keys[i] = keycodec.Key[K](r, "key")
		if r.Err() == nil && i > 0 && !keycodec.Ascending(keys[i-1], keys[i]) {
			r.Fail("key %v after %v: not ascending", keys[i], keys[i-1])
		}
	}
	// A bucket takes at least its gap, its number of pairs and one pair of
	// two bytes.
	buckets := r.Count("number of buckets", 4)
	if r.Err() != nil {
		return
	}
	// totals and total are those of the window ending with the bucket
	// read last: every window TopAt can read, and every one the replay
	// passes through, must total within int64. held lists the pairs read,
	// so that those of a bucket leaving that window can be taken out.
	totals := make([]int64, len(keys))
	used := make([]bool, len(keys))
	var total int64
	type pair struct {
		pos, k int
		count  int64
	}
	var held []pair
	leave := func(upTo int) bool {
		for len(held) > 0 && held[0].pos <= upTo {
			p := held[0]
			held = held[1:]
			if !takesAway(&totals[p.k], p.count) || !takesAway(&total, p.count) {
				r.Fail("the counts of key %v overflow", keys[p.k])
				return false
			}
		}
		return true
	}
	pos := -1 // the previous bucket's position, the oldest's being 0
	for range buckets {
		// Gaps and key distances are read against what is left, so
		// that neither can point past the window or the key list.
		if pos == n-1 {
			r.Fail("more buckets than the window and its history hold")
			return
		}
		pos += 1 + int(r.Uint64("bucket gap", uint64(n-2-pos)))
		pairs := r.Count("number of pairs", 2)
		if r.Err() == nil && pairs == 0 {
			r.Fail("bucket %d without pairs", pos)
		}
		if !leave(pos - d.window) {
			return
		}
		at := bucketStart(newest-int64(n-1-pos), d.bucket)
		k := -1
		for range pairs {
			if k == len(keys)-1 {
				r.Fail("more pairs in bucket %d than keys", pos)
				return
			}
			k += 1 + int(r.Uint64("key", uint64(len(keys)-2-k)))
			count := r.Varint("count")
			if r.Err() != nil {
				return
			}
			if count == 0 {
				r.Fail("a count of 0 for key %v", keys[k])
				return
			}
			if !addsUp(&totals[k], count) || !addsUp(&total, count) {
				r.Fail("the counts of key %v overflow", keys[k])
				return
			}
			used[k] = true
			held = append(held, pair{pos, k, count})
			d.Add(keys[k], at, count)
		}
	}
	if r.Err() != nil || !leave(n-1-d.window) {
		return
	}
	if i := slices.Index(used, false); i >= 0 {
		r.Fail("key %v is counted in no bucket", keys[i])
		return
	}
	d.Advance(bucketStart(newest, d.bucket))
}

// takesAway subtracts v from *sum unless that overflows an int64.
func takesAway(sum *int64, v int64) bool {
	if v < 0 && *sum > math.MaxInt64+v || v > 0 && *sum < math.MinInt64+v {
		return false
	}
	*sum -= v
	return true
}

// addsUp adds v to *sum unless that overflows an int64.
func addsUp(sum *int64, v int64) bool {
	if v > 0 && *sum > math.MaxInt64-v || v < 0 && *sum < math.MinInt64-v {
		return false
	}
	*sum += v
	return true
}
