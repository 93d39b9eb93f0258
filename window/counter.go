package window

import (
	"cmp"
	"fmt"
	"hash/maphash"
	"iter"
	"math"
	"slices"
	"time"

	"github.com/streamtop/streamtop/topk"
)

// Counter counts keys exactly over a sliding window of event time.
//
// The window is size long, cut into buckets of the bucket length aligned to
// the Unix epoch; it is the size/bucket buckets ending with the bucket that
// holds the latest time seen by Add or Advance. Count, Total, Len, Top and
// All describe exactly the events inside the window: a bucket's counts leave
// the window with it.
//
// The zero value is not usable: make a Counter with NewCounter, or decode one
// with UnmarshalBinary. A Counter is not safe for concurrent use; the methods
// that only read it (Count, Top, TopAt, All, Total, TotalAt, Len, Bounds,
// MarshalBinary, AppendBinary) may run together under a read lock while Add
// and Advance take the write lock.
//
// Cost: Add is O(1) on average and allocation-free once a key is known and
// the buckets have grown to their working size; an Add or Advance that
// slides the window also pays for the buckets it expires, O(1) per (key,
// bucket) pair counted in them. Count, Total and Len are O(1); Top(k) is
// O(m log k) and All O(m), where m is the most distinct keys the window has
// held at once. Memory, for string keys, is about 50 to 60 bytes per
// distinct key in the window plus 12 bytes per distinct (key, bucket) pair,
// besides the bytes of the keys, which the Counter keeps alive while they are
// in the window, and about 56 bytes per bucket, taken by NewCounter.
//
// With WithHistory(d), a Counter also keeps the buckets of the last d before
// its window, so that TopAt and TotalAt can read, exactly, any window ending
// on a bucket boundary up to d before the end of the newest bucket, and Add
// counts records up to d older than the window. The history costs the
// memory of its pairs, and 56 bytes per bucket of it taken by NewCounter; a
// slide visits each pair twice, as its bucket leaves the window and as it
// leaves the history; and the keys counted only in the history count
// towards m. Add into the window costs what it does without history.
//
// Float keys behave as in a Go map: a NaN is never found again, so each Add
// of NaN makes a new key. Don't count NaN.
type Counter[K cmp.Ordered] struct {
	bucket time.Duration
	// ring holds the buckets of the window and, before them, those of the
	// history: ring[head] is the newest bucket, and the window is the
	// newest window buckets of them. Counts in the history are kept in their
	// buckets but not in the totals below, which are the window's.
	ring []counterBucket
	head int
	// headCounts is ring[head].counts, where nearly every Add counts, one
	// indirection nearer.
	headCounts []int64
	// newest is the absolute index (see bucketOf) of the newest bucket; it
	// means nothing until started is set by the first Add or Advance.
	newest  int64
	started bool
	// headFrom and headTo are the newest bucket's span in Unix nanoseconds,
	// so that the common Add, into the newest bucket, needs no division.
	headFrom, headTo int64

	// Keys are interned to dense ids so that buckets hold small (id, count)
	// pairs instead of keys, and an Add costs one hash lookup. An id is
	// released when the last bucket that counted its key expires.
	seed  maphash.Seed
	index counterIndex
	meta  []counterKey[K] // by id
	free  []int32

	live  int   // ids whose total is not 0
	total int64 // sum of totals

	// window is the number of buckets in the window; it is kept last so
	// that the fields the fast path of Add reads keep their cache lines.
	window int
}

// counterKey is what Counter knows of an interned key, in one record so that
// an Add touches one cache line for it.
type counterKey[K cmp.Ordered] struct {
	key   K
	total int64
	hash  uint32 // the key's hash in index, kept so it is never recomputed
	// bucket is the low 32 bits of the absolute index of the newest bucket
	// holding a pair for the key, and pos the pair's position there. While
	// the key is interned that bucket is inside the ring, and so is any
	// bucket Add compares it with, and a ring has far fewer than 2^31
	// buckets: the low bits are enough to tell them apart and order them.
	bucket uint32
	pos    int32
}

// counterBucket holds one bucket's counts as parallel slices of (id, count)
// pairs, at most one pair per id.
type counterBucket struct {
	ids    []int32
	counts []int64
	// index maps an id to its pair's position. It is built only when an
	// out-of-order Add lands in an older bucket, where counterKey does not
	// say where the key's pair is, and dropped when the bucket expires.
	index map[int32]int32
}

// maxCounterBuckets bounds the ring a Counter allocates up front (about 56
// bytes a bucket): a week of one-second buckets fits.
const maxCounterBuckets = 1 << 20

// NewCounter returns an empty Counter for a window of size cut into buckets of
// the bucket length, configured by opts. It returns an error wrapping
// ErrInvalidOption if size or bucket is not positive, size or the history
// is not a whole multiple of bucket, or the window and its history would
// hold more than 1<<20 buckets.
func NewCounter[K cmp.Ordered](size, bucket time.Duration, opts ...Option) (*Counter[K], error) {
	n, h, err := shapeOf(size, bucket, opts)
	if err != nil {
		return nil, err
	}
	if n > maxCounterBuckets-h {
		// Every bucket has a ring slot allocated up front, so a window of a
		// day cut into nanoseconds is a mistake to report, not memory to take.
		return nil, fmt.Errorf("%w: size %v and history %v hold %d buckets of %v, more than %d", ErrInvalidOption, size, time.Duration(h)*bucket, n+h, bucket, maxCounterBuckets)
	}
	return &Counter[K]{
		bucket: bucket,
		ring:   make([]counterBucket, n+h),
		window: n,
		seed:   maphash.MakeSeed(),
		index:  newCounterIndex(),
		// An empty span: the first Add takes the slow path and starts.
		headFrom: 1,
	}, nil
}

// Add adds n to key's count at time t and reports whether it was counted.
// A t in a bucket that has already left the window, and its history if
// there is one, is too late: Add returns false and counts nothing. A t
// after the newest bucket first slides the window forward to the bucket
// holding t. A t in any bucket still inside the window, older ones
// included, is counted in that bucket and leaves the window with it; a t in
// the history counts only in the windows TopAt and TotalAt read that hold
// it.
//
// n may be negative, to retract what was counted; a key whose count in the
// window is 0 is forgotten (Count 0, not in Len, Top or All) however it got
// there. n = 0 counts nothing but still slides the window like Advance.
//
// Add is O(1) on average, plus what a slide expires (see Counter).
func (c *Counter[K]) Add(key K, t time.Time, n int64) bool {
	// The fast path, kept small so that it runs in registers: a known key,
	// counted again in the newest bucket, which already holds a pair for it.
	if ns := t.UnixNano(); ns >= c.headFrom && ns < c.headTo && n != 0 {
		id, hash, known := c.lookup(key)
		if known {
			if m := &c.meta[id]; m.bucket == uint32(c.newest) {
				c.headCounts[m.pos] += n
				old := m.total
				m.total += n
				c.total += n
				c.live += liveDelta(old, m.total)
				return true
			}
		}
		c.addNewest(key, hash, id, known, n)
		return true
	}
	return c.add(key, t, n)
}

// addNewest counts n for key in the newest bucket, which holds no pair for
// it yet; id is the key's if known, and hash its hash.
//
//go:noinline
func (c *Counter[K]) addNewest(key K, hash uint32, id int32, known bool, n int64) {
	if !known {
		id = c.intern(key, hash)
	}
	c.appendPair(id, c.newest, c.head, n, true)
	c.count(id, n)
}

// count adds n to id's total.
func (c *Counter[K]) count(id int32, n int64) {
	m := &c.meta[id]
	old := m.total
	m.total += n
	c.total += n
	c.live += liveDelta(old, m.total)
}

// lookup returns key's hash and, if the key is interned, its id.
func (c *Counter[K]) lookup(key K) (id int32, hash uint32, ok bool) {
	hash = uint32(maphash.Comparable(c.seed, key))
	slots := c.index.slots
	mask := uint32(len(slots) - 1)
	for i := hash & mask; ; i = (i + 1) & mask {
		s := slots[i]
		if s.id1 == 0 {
			return 0, hash, false
		}
		if s.hash == hash && c.meta[s.id1-1].key == key {
			return s.id1 - 1, hash, true
		}
	}
}

// add is Add for every case but the fast one.
//
//go:noinline
func (c *Counter[K]) add(key K, t time.Time, n int64) bool {
	slot := c.head
	b := c.newest
	if ns := t.UnixNano(); ns < c.headFrom || ns >= c.headTo {
		b = bucketOf(t, c.bucket)
		var ok bool
		if slot, ok = c.place(b); !ok {
			return false
		}
	}
	if n == 0 {
		return true
	}

	id, hash, known := c.lookup(key)
	if !known {
		id = c.intern(key, hash)
		c.appendPair(id, b, slot, n, true)
	} else if m := &c.meta[id]; m.bucket == uint32(b) {
		c.ring[slot].counts[m.pos] += n
	} else if int32(uint32(b)-m.bucket) > 0 {
		c.appendPair(id, b, slot, n, true)
	} else {
		c.addOlder(id, slot, n)
	}
	// A bucket of the history keeps its pairs out of the window's totals.
	if uint64(c.newest)-uint64(b) < uint64(c.window) {
		c.count(id, n)
	}
	return true
}

// Advance slides the window forward to the bucket holding now, expiring the
// buckets that leave it. A now within or before the newest bucket changes
// nothing. It costs O(1) per (key, bucket) pair of the buckets it expires.
func (c *Counter[K]) Advance(now time.Time) {
	if b := bucketOf(now, c.bucket); !c.started || b > c.newest {
		c.slide(b)
	}
}

// Count returns key's count in the window, 0 if it has none. O(1) on average.
func (c *Counter[K]) Count(key K) int64 {
	id, _, ok := c.lookup(key)
	if !ok {
		return 0
	}
	return c.meta[id].total
}

// Total returns the sum of all counts in the window. O(1).
func (c *Counter[K]) Total() int64 { return c.total }

// Len returns the number of keys whose count in the window is not 0. O(1).
func (c *Counter[K]) Len() int { return c.live }

// Bounds returns the window as the half-open interval [start, end): the start
// of its oldest bucket and the end of its newest, the one holding the latest
// time seen, so end-start is the window's size. Before any Add or Advance it
// returns two zero Times. O(1).
func (c *Counter[K]) Bounds() (start, end time.Time) {
	if !c.started {
		return time.Time{}, time.Time{}
	}
	return bucketStart(c.newest-int64(c.window)+1, c.bucket), bucketStart(c.newest+1, c.bucket)
}

// Top returns the k keys with the highest counts in the window, ordered by
// count descending, then key ascending, with Err 0. It returns nil for k <= 0
// or an empty window, and every key when k >= Len.
//
// Top costs O(m log k) time and O(k) memory, where m is the most distinct
// keys the window has held at once.
func (c *Counter[K]) Top(k int) []topk.Entry[K] {
	if k <= 0 || c.live == 0 {
		return nil
	}
	k = min(k, c.live)
	// One pass over every id, released ones included (hence m, not Len),
	// with h a heap of ids whose root ranks last among the best k so far, so
	// a key that cannot make the cut costs one comparison of totals.
	h := make([]int32, 0, k)
	for i := range c.meta {
		t := c.meta[i].total
		if t == 0 {
			continue
		}
		id := int32(i)
		if len(h) < k {
			h = append(h, id)
			c.siftUp(h, len(h)-1)
			continue
		}
		if r := h[0]; t > c.meta[r].total || (t == c.meta[r].total && cmp.Less(c.meta[id].key, c.meta[r].key)) {
			h[0] = id
			c.siftDown(h, 0)
		}
	}
	slices.SortFunc(h, func(a, b int32) int {
		if x := cmp.Compare(c.meta[b].total, c.meta[a].total); x != 0 {
			return x
		}
		return cmp.Compare(c.meta[a].key, c.meta[b].key)
	})
	out := make([]topk.Entry[K], len(h))
	for i, id := range h {
		out[i] = topk.Entry[K]{Key: c.meta[id].key, Count: c.meta[id].total}
	}
	return out
}

// topAt returns the k keys ranking first by their totals plus adj, by id:
// Top's selection, on counts that are not the ones in meta.
func (c *Counter[K]) topAt(k int, adj []int64) []topk.Entry[K] {
	h := make([]ranked, 0, min(k, len(c.meta)))
	for i := range c.meta {
		t := c.meta[i].total + adj[i]
		if t == 0 {
			continue
		}
		if len(h) < k {
			h = append(h, ranked{t, int32(i)})
			c.siftUpRanked(h, len(h)-1)
			continue
		}
		if r := h[0]; t > r.n || (t == r.n && cmp.Less(c.meta[i].key, c.meta[r.id].key)) {
			h[0] = ranked{t, int32(i)}
			c.siftDownRanked(h, 0)
		}
	}
	if len(h) == 0 {
		return nil
	}
	slices.SortFunc(h, func(a, b ranked) int {
		if x := cmp.Compare(b.n, a.n); x != 0 {
			return x
		}
		return cmp.Compare(c.meta[a.id].key, c.meta[b.id].key)
	})
	out := make([]topk.Entry[K], len(h))
	for i, x := range h {
		out[i] = topk.Entry[K]{Key: c.meta[x.id].key, Count: x.n}
	}
	return out
}

// ranked is a key's id with the count it ranks by.
type ranked struct {
	n  int64
	id int32
}

// All returns an iterator over every key whose count in the window is not 0,
// with its count: what Top(Len()) holds, in no particular order and without
// the sorting. Use Top for ranked results. It costs O(m), where m is the most
// distinct keys the window has held at once, as Top does, and allocates
// nothing.
//
// c must not be modified during the iteration: an Add or Advance from the
// loop may expire keys and reuse their room, and which keys the iteration
// then yields is unspecified.
func (c *Counter[K]) All() iter.Seq2[K, int64] {
	return func(yield func(K, int64) bool) {
		// The ids of released keys and of keys retracted to 0 have a total
		// of 0. The length is read again on every step, so that a loop
		// that breaks the rule above cannot index past the ids.
		for id := 0; id < len(c.meta); id++ {
			if t := c.meta[id].total; t != 0 && !yield(c.meta[id].key, t) {
				return
			}
		}
	}
}

// place returns the ring slot of bucket b, sliding the window first if b is
// newer than the newest bucket, and false if b has left the ring.
func (c *Counter[K]) place(b int64) (int, bool) {
	if !c.started || b > c.newest {
		c.slide(b)
		return c.head, true
	}
	// Unsigned, so that buckets near the ends of int64 cannot overflow.
	back := uint64(c.newest) - uint64(b)
	if back >= uint64(len(c.ring)) {
		return 0, false
	}
	slot := c.head - int(back)
	if slot < 0 {
		slot += len(c.ring)
	}
	return slot, true
}

// slide makes b, newer than any bucket seen, the newest bucket. The buckets
// that leave the ring expire oldest first (release depends on that order);
// those that leave only the window, for the history, take their counts out
// of the totals.
func (c *Counter[K]) slide(b int64) {
	if c.started {
		r := uint64(len(c.ring))
		h := len(c.ring) - c.window
		steps := uint64(b) - uint64(c.newest)
		// The i-th oldest bucket of the ring (from 1) is in the window if
		// i > h.
		drop := min(steps, r)
		for i := uint64(1); i <= drop; i++ {
			slot := (c.head + int(i)) % len(c.ring)
			c.expire(slot, c.newest-int64(r)+int64(i), int(i) > h)
		}
		for i := max(int(drop), h) + 1; i <= h+int(min(steps, uint64(c.window))); i++ {
			c.leave((c.head + i) % len(c.ring))
		}
		c.head = (c.head + int(steps%r)) % len(c.ring)
	}
	c.headCounts = c.ring[c.head].counts
	c.started = true
	c.newest = b
	c.headFrom = b * int64(c.bucket)
	c.headTo = c.headFrom + int64(c.bucket)
	if c.headFrom/int64(c.bucket) != b || c.headTo < c.headFrom {
		// The newest bucket reaches past the first or last representable
		// nanosecond: an empty span leaves every Add to bucketOf.
		c.headFrom, c.headTo = 1, 0
	}
}

// expire empties the bucket in slot, whose absolute index is abs, subtracting
// its counts first if it is in the window, and keeps its capacity for the
// bucket that reuses the slot. Every older bucket has already expired, so a
// key whose newest pair is here has no count left and its id is released.
func (c *Counter[K]) expire(slot int, abs int64, inWindow bool) {
	bk := &c.ring[slot]
	if inWindow {
		c.leave(slot)
	}
	for _, id := range bk.ids {
		if c.meta[id].bucket == uint32(abs) {
			c.release(id)
		}
	}
	bk.ids = bk.ids[:0]
	bk.counts = bk.counts[:0]
	bk.index = nil
}

// leave subtracts the counts of the bucket in slot from the totals: it is
// leaving the window.
func (c *Counter[K]) leave(slot int) {
	bk := &c.ring[slot]
	for i, id := range bk.ids {
		n := bk.counts[i]
		m := &c.meta[id]
		old := m.total
		m.total -= n
		c.total -= n
		c.live += liveDelta(old, m.total)
	}
}

// intern gives key, whose hash is hash, an id, reusing a released one if
// there is one.
func (c *Counter[K]) intern(key K, hash uint32) int32 {
	var id int32
	if n := len(c.free); n > 0 {
		id = c.free[n-1]
		c.free = c.free[:n-1]
	} else {
		if len(c.meta) == math.MaxInt32-1 {
			panic("window: Counter holds 2^31-2 distinct keys, the most it can")
		}
		id = int32(len(c.meta))
		c.meta = append(c.meta, counterKey[K]{})
	}
	c.meta[id] = counterKey[K]{key: key, hash: hash}
	c.index.insert(hash, id)
	return id
}

// release forgets the key of id, whose total is 0 and which no live bucket
// counts, and keeps the id for reuse.
func (c *Counter[K]) release(id int32) {
	c.index.remove(c.meta[id].hash, id)
	var zero K
	c.meta[id].key = zero // let a released string be collected
	c.free = append(c.free, id)
}

// appendPair adds a pair for id, which the bucket in slot (absolute index b)
// does not hold yet. newest says whether b is now the newest bucket holding
// the id.
func (c *Counter[K]) appendPair(id int32, b int64, slot int, n int64, newest bool) {
	bk := &c.ring[slot]
	pos := int32(len(bk.ids))
	bk.ids = append(bk.ids, id)
	bk.counts = append(bk.counts, n)
	if slot == c.head {
		c.headCounts = bk.counts
	}
	if bk.index != nil {
		bk.index[id] = pos
	}
	if newest {
		c.meta[id].bucket, c.meta[id].pos = uint32(b), pos
	}
}

// addOlder adds n to id's count in the bucket in slot, which is older than
// the newest bucket holding the id, so the pair, if any, must be looked up.
func (c *Counter[K]) addOlder(id int32, slot int, n int64) {
	bk := &c.ring[slot]
	if bk.index == nil {
		bk.index = make(map[int32]int32, len(bk.ids))
		for i, x := range bk.ids {
			bk.index[x] = int32(i)
		}
	}
	if pos, ok := bk.index[id]; ok {
		bk.counts[pos] += n
		return
	}
	c.appendPair(id, 0, slot, n, false)
}

// liveDelta is how the number of keys with a non-zero count changes when one
// count goes from old to now.
func liveDelta(old, now int64) int {
	switch {
	case old == 0 && now != 0:
		return 1
	case old != 0 && now == 0:
		return -1
	}
	return 0
}

// siftUp and siftDown keep h a heap whose root ranks last (lowest count, then
// greatest key).
func (c *Counter[K]) siftUp(h []int32, i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !c.ranksBefore(h[p], h[i]) {
			return
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

func (c *Counter[K]) siftDown(h []int32, i int) {
	for {
		ch := 2*i + 1
		if ch >= len(h) {
			return
		}
		if r := ch + 1; r < len(h) && c.ranksBefore(h[ch], h[r]) {
			ch = r
		}
		if !c.ranksBefore(h[i], h[ch]) {
			return
		}
		h[i], h[ch] = h[ch], h[i]
		i = ch
	}
}

// ranksBefore reports whether id a comes before id b in a Top result.
func (c *Counter[K]) ranksBefore(a, b int32) bool {
	if ta, tb := c.meta[a].total, c.meta[b].total; ta != tb {
		return ta > tb
	}
	return cmp.Less(c.meta[a].key, c.meta[b].key)
}

// siftUpRanked and siftDownRanked are siftUp and siftDown for topAt's heap.
func (c *Counter[K]) siftUpRanked(h []ranked, i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !c.rankedBefore(h[p], h[i]) {
			return
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

func (c *Counter[K]) siftDownRanked(h []ranked, i int) {
	for {
		ch := 2*i + 1
		if ch >= len(h) {
			return
		}
		if r := ch + 1; r < len(h) && c.rankedBefore(h[ch], h[r]) {
			ch = r
		}
		if !c.rankedBefore(h[i], h[ch]) {
			return
		}
		h[i], h[ch] = h[ch], h[i]
		i = ch
	}
}

// rankedBefore reports whether a comes before b in a TopAt result.
func (c *Counter[K]) rankedBefore(a, b ranked) bool {
	if a.n != b.n {
		return a.n > b.n
	}
	return cmp.Less(c.meta[a.id].key, c.meta[b.id].key)
}
