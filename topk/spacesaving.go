package topk

import (
	"cmp"
	"fmt"
	"hash/maphash"
	"iter"
	"math"
	"math/bits"
	"slices"
	"unsafe"
)

// MaxCapacity is the largest capacity NewSpaceSaving accepts: about 67
// million keys, a summary of about 4 GB. Beyond it, Exact serves better.
//
// The bound keeps entry indexes within 27 of the 32 bits of a hash table
// slot, leaving at least 5 bits of the key's hash to skip most key
// comparisons.
const MaxCapacity = 1 << 26

// seed is shared by every SpaceSaving in the process, so Merge can reuse the
// hashes both sides already hold instead of hashing every key again.
var seed = maphash.MakeSeed()

// SpaceSaving estimates the most frequent keys of a stream in bounded memory.
// It monitors at most capacity keys, and reports every count as an upper
// bound together with a bound on its error: the true count lies in
// [Count-Err, Count].
//
// With N the total weight added (Total), it guarantees at every moment:
//   - Err <= N/capacity for every key, monitored or not (see Count);
//   - every key whose true count exceeds N/capacity is monitored, so it is
//     in Top(capacity);
//   - every count is exact (Err = 0) while at most capacity distinct keys
//     have been added;
//   - after Merge, the same over the union of both streams.
//
// Within those bounds, the counts reported once more than capacity distinct
// keys have arrived depend on a hash seed chosen at random per process, so
// two runs over the same stream may report different counts.
//
// The zero value is not usable: make a SpaceSaving with NewSpaceSaving, or
// decode one with UnmarshalBinary. A SpaceSaving is not safe for concurrent
// use; the methods that only read it (Count, Top, All, Len, Capacity, Total,
// MarshalBinary, AppendBinary), and the functions that do (TopOf, another
// summary's Merge), may run together under a read lock.
//
// Cost: Add, Count and Len are O(1) and allocate nothing (but see Add for
// weights in the billions); Add also visits about one counter per 128 of
// weight added, amortised, which only weights in the hundreds make
// noticeable. Top(k) is O(Len log k). Memory is fixed at creation: 44 bytes
// per unit of capacity plus the size of a key, so about 60 bytes for string
// keys (61 KiB at capacity 1024), plus whatever the monitored keys hold: a
// string key's bytes are kept, not copied.
//
// Float keys behave as in Go maps: a NaN key never matches itself, so don't
// count NaN.
type SpaceSaving[K cmp.Ordered] struct {
	// This is Space-Saving (Metwally, Agrawal and El Abbadi, 2005) with the
	// admission filter of Filtered Space-Saving (Homem and Carvalho, 2010).
	// A key that is not monitored first accumulates its weight in one of a
	// fixed array of shared filter counters (alpha), and takes over the
	// smallest monitored counter only once its filter counter exceeds that
	// count, inheriting the filter counter as its error. On streams with a
	// long flat tail this spares plain Space-Saving's churn, where nearly
	// every record evicts a counter and overstates the newcomer by the
	// evicted count.
	//
	// The smallest counter comes from a bucket queue (next, head, base,
	// cur) of the counters within queueBuckets of the smallest, filed by
	// exact count and read by a cursor that only moves up, since counts and
	// the smallest count only grow. A counter that grew since it was filed
	// is refiled when the cursor meets it, which the Adds that grew it pay
	// for. A scan of all counters, O(capacity), refills the queue only
	// after the smallest count has risen by queueBuckets; as capacity times
	// the smallest count is at most N, the scans visit at most
	// N/queueBuckets + capacity counters over a whole stream. That is the
	// "one counter per 128 of weight" of the type's doc.
	//
	// Memory: 4 bytes per slot of index (2 x capacity, rounded up to a
	// power of two) and of alpha (4 x capacity, likewise), 20 per entry
	// (hash, count, err, next) plus the key's own size: 44 bytes per unit
	// of capacity besides the key. Four filter cells per counter are worth
	// their 16 bytes: at two per counter, the tail's keys share cells
	// enough to double the evictions and the errors of the top 100 on the
	// shifting and all-distinct streams.

	capacity int
	total    int64 // N: the weight added, merged streams included

	// The monitored entries, struct of arrays so that a probe touches only
	// the arrays it needs. Entry i's key was admitted with error errOf(i);
	// its true count lies in [counts[i]-errOf(i), counts[i]]. An error is
	// at most the smallest count, so it takes 32 bits until that passes 4
	// billion; a larger one is kept in bigErrs, its errs slot holding
	// saturated. Counts take int64: weights are int64.
	keys    []K
	hashes  []uint32
	counts  []int64
	errs    []uint32
	bigErrs map[int32]int64

	// index is a power-of-two open-addressed table with linear probing. A
	// slot is 0 when empty, else the entry's index plus one in the bits of
	// idxMask, under the rest of the key's hash (a tag that skips most key
	// comparisons). A key's home slot is its hash's low bits, so the tag is
	// mostly other bits than the home's.
	index   []uint32
	mask    uint32
	idxMask uint32

	// alpha is the admission filter. A key that is not monitored has a true
	// count of at most filter(cell(hash)), and every filter counter is at
	// most the smallest monitored count, so admitting a key with error
	// filter(cell) never breaks the bound Err <= N/capacity.
	//
	// A cell holds its counter in 32 bits, half the memory of an int64.
	// Counters that reach saturated (once the smallest count does, past 4
	// billion) share one int64, alphaSat, instead: a cell that holds
	// saturated reads as alphaSat, which is at least every value any such
	// cell was set to, so a filter counter never understates. Those cells
	// then act as one counter, a coarser filter under the same invariant,
	// and nothing else changes.
	alpha     []uint32
	alphaMask uint32
	alphaSat  int64

	// The bucket queue that finds the smallest counter of a full summary.
	// Bucket b lists, through next, entries filed with count base+b; an
	// entry's count may have grown since. Buckets below cur are empty, no
	// entry has a count below base+cur, and every entry not filed has a
	// count >= base+queueBuckets. Idle (before the summary fills, and after
	// a Merge or Reset), cur is queueBuckets and base+cur is 0.
	next []int32
	head [queueBuckets]int32
	base int64
	cur  int
}

// saturated marks a filter cell whose counter is alphaSat (see SpaceSaving).
const saturated = math.MaxUint32

// queueBuckets is the span of counts the bucket queue holds above its base.
// Wider makes the O(capacity) refills rarer, and a weight above it may skip
// the queue; 128 buckets cost half a kilobyte.
const queueBuckets = 128

// NewSpaceSaving returns an empty SpaceSaving that monitors at most capacity
// keys. It returns an error wrapping ErrInvalidOption if capacity is not
// positive or exceeds MaxCapacity.
func NewSpaceSaving[K cmp.Ordered](capacity int) (*SpaceSaving[K], error) {
	if capacity <= 0 || capacity > MaxCapacity {
		return nil, fmt.Errorf("%w: capacity %d must be in [1, %d]", ErrInvalidOption, capacity, MaxCapacity)
	}
	// A load factor of at most 1/2 keeps linear probes short; a filter four
	// times the capacity keeps the tail's keys from sharing filter counters
	// so much that they are admitted on each other's weight.
	slots := pow2(2 * capacity)
	cells := pow2(4 * capacity)
	s := &SpaceSaving[K]{
		capacity:  capacity,
		keys:      make([]K, 0, capacity),
		hashes:    make([]uint32, 0, capacity),
		counts:    make([]int64, 0, capacity),
		errs:      make([]uint32, 0, capacity),
		index:     make([]uint32, slots),
		mask:      uint32(slots - 1),
		idxMask:   1<<bits.Len(uint(capacity)) - 1,
		alpha:     make([]uint32, cells),
		alphaMask: uint32(cells - 1),
		next:      make([]int32, capacity),
	}
	s.idle()
	return s, nil
}

// pow2 returns the smallest power of two >= n, for n >= 1.
func pow2(n int) int {
	p := 1
	for p < n {
		p <<= 1
	}
	return p
}

// hashOf hashes a key with the process-wide seed, to the 32 bits a summary
// keeps of it: enough for a table of at most 2^27 slots and its tags, and
// half the memory of the whole hash. maphash mixes every bit, so the low
// half serves. Strings take the direct path: maphash.Comparable would make
// the key escape to the heap. (Folding the high half into the low made
// AddAll 11% slower, as measured at Zipf 0.9.)
func hashOf[K cmp.Ordered](key K) uint32 {
	if s, ok := any(key).(string); ok {
		return uint32(maphash.String(seed, s))
	}
	return uint32(maphash.Comparable(seed, key))
}

// cell returns the filter counter of a hash. It takes the hash's bits from
// the 16th up, while the table's home slot takes the lowest, so keys that
// collide in one rarely collide in the other. Rotating rather than shifting
// keeps a smaller filter's cell the larger one's modulo its size, which
// Merge relies on.
func (s *SpaceSaving[K]) cell(h uint32) uint32 {
	return bits.RotateLeft32(h, -16) & s.alphaMask
}

// filter returns the filter counter of cell c.
func (s *SpaceSaving[K]) filter(c uint32) int64 {
	if a := s.alpha[c]; a != saturated {
		return int64(a)
	}
	return s.alphaSat
}

// setFilter sets the filter counter of cell c to v, which must be at least
// filter(c): counters only grow.
func (s *SpaceSaving[K]) setFilter(c uint32, v int64) {
	if v < saturated {
		s.alpha[c] = uint32(v)
		return
	}
	s.alpha[c] = saturated
	s.alphaSat = max(s.alphaSat, v)
}

// filterFloor returns the largest filter counter.
func (s *SpaceSaving[K]) filterFloor() int64 {
	if m := slices.Max(s.alpha); m != saturated {
		return int64(m)
	}
	return s.alphaSat
}

// errOf returns the error of entry i.
func (s *SpaceSaving[K]) errOf(i int) int64 {
	if e := s.errs[i]; e != saturated {
		return int64(e)
	}
	return s.bigErrs[int32(i)]
}

// setErr sets the error of entry i, which must exist. Only an error of 4
// billion or more allocates, in bigErrs.
func (s *SpaceSaving[K]) setErr(i int, e int64) {
	if s.errs[i] == saturated {
		delete(s.bigErrs, int32(i))
	}
	if e < saturated {
		s.errs[i] = uint32(e)
		return
	}
	s.errs[i] = saturated
	if s.bigErrs == nil {
		s.bigErrs = make(map[int32]int64)
	}
	s.bigErrs[int32(i)] = e
}

// find returns the entry index of key, or -1 if it is not monitored.
func (s *SpaceSaving[K]) find(key K, h uint32) int {
	tag := h &^ s.idxMask
	for p := h & s.mask; ; p = (p + 1) & s.mask {
		slot := s.index[p]
		if slot == 0 {
			return -1
		}
		if slot&^s.idxMask == tag {
			if i := int(slot&s.idxMask) - 1; s.keys[i] == key {
				return i
			}
		}
	}
}

// link puts entry i, of hash h, into the table.
func (s *SpaceSaving[K]) link(i int, h uint32) {
	p := h & s.mask
	for s.index[p] != 0 {
		p = (p + 1) & s.mask
	}
	s.index[p] = h&^s.idxMask | uint32(i+1)
}

// unlink takes entry i out of the table, shifting later slots of the probe
// run back so that no tombstones are needed.
func (s *SpaceSaving[K]) unlink(i int) {
	p := s.hashes[i] & s.mask
	for s.index[p]&s.idxMask != uint32(i+1) {
		p = (p + 1) & s.mask
	}
	for q := p; ; {
		s.index[p] = 0
		for {
			q = (q + 1) & s.mask
			slot := s.index[q]
			if slot == 0 {
				return
			}
			home := s.hashes[slot&s.idxMask-1] & s.mask
			// The slot may move back to p only if p lies on its probe path,
			// from its home to q.
			if (q-home)&s.mask >= (q-p)&s.mask {
				s.index[p] = slot
				p = q
				break
			}
		}
	}
}

// Add adds n to key's count. An n <= 0 changes nothing: the guarantees hold
// only for a stream of positive weights. The total weight must fit in an
// int64.
//
// Add is O(1) amortised, plus a counter visited per 128 of weight (see
// SpaceSaving). It allocates nothing, except when it admits a key with an
// error bound of 2^32 or more, which only a smallest count that large
// allows: such bounds are kept aside, about 16 bytes each.
func (s *SpaceSaving[K]) Add(key K, n int64) {
	if n <= 0 {
		return
	}
	s.add(key, hashOf(key), n)
}

// AddAll adds 1 to the count of each key in keys, in order, and leaves s as
// those Adds of 1 would. It is faster than the Adds when many keys are not
// in the CPU's caches: about 0.75x their time at Zipf 1.1 over a million
// keys. It allocates nothing (as Add).
func (s *SpaceSaving[K]) AddAll(keys []K) {
	// Hash a block of keys before looking any of them up, so that the
	// reads of keys whose bytes are not in cache overlap instead of each
	// waiting for the one before.
	var hashes [64]uint32
	for len(keys) > 0 {
		block := keys[:min(len(keys), len(hashes))]
		for i, k := range block {
			hashes[i] = hashOf(k)
		}
		for i, k := range block {
			s.add(k, hashes[i], 1)
		}
		keys = keys[len(block):]
	}
}

// add is Add for a positive n and the key's hash.
func (s *SpaceSaving[K]) add(key K, h uint32, n int64) {
	s.total += n
	if i := s.find(key, h); i >= 0 {
		s.counts[i] += n
		return
	}
	c := s.cell(h)
	a := s.filter(c)
	if len(s.keys) < s.capacity {
		// Room to spare: admit at once. a is 0 unless a Merge filled the
		// filter, and then it is the bound on what the key had before.
		s.admit(len(s.keys), key, h, a+n, a)
		return
	}
	// The queue's cursor is a lower bound on the smallest count, so most
	// keys of a long tail are turned away here without touching the queue.
	if a+n <= s.base+int64(s.cur) {
		s.setFilter(c, a+n)
		return
	}
	m := s.smallest()
	if a+n <= s.counts[m] {
		s.setFilter(c, a+n)
		return
	}
	// Evict m: its filter counter must cover the evicted key's true count,
	// which is at most its upper bound.
	s.head[s.cur] = s.next[m]
	if mc := s.cell(s.hashes[m]); s.filter(mc) < s.counts[m] {
		s.setFilter(mc, s.counts[m])
	}
	s.unlink(m)
	s.admit(m, key, h, a+n, a)
}

// admit stores key in entry i (appending when i == len) with the given count
// and error.
func (s *SpaceSaving[K]) admit(i int, key K, h uint32, count, err int64) {
	if i == len(s.keys) {
		s.keys = append(s.keys, key)
		s.hashes = append(s.hashes, h)
		s.counts = append(s.counts, count)
		s.errs = append(s.errs, 0)
	} else {
		s.keys[i], s.hashes[i], s.counts[i] = key, h, count
	}
	s.setErr(i, err)
	s.link(i, h)
	if count < s.base+queueBuckets {
		// Admitted over the smallest count, so at or above the cursor.
		s.file(i, count)
	}
}

// file puts entry i, of the given count, in its queue bucket.
func (s *SpaceSaving[K]) file(i int, count int64) {
	b := count - s.base
	s.next[i] = s.head[b]
	s.head[b] = int32(i)
}

// idle empties the queue until the next eviction refills it.
func (s *SpaceSaving[K]) idle() {
	s.base, s.cur = -queueBuckets, queueBuckets
}

// smallest returns the index of an entry with the smallest count, at the
// head of the cursor's bucket. The table must be full.
func (s *SpaceSaving[K]) smallest() int {
	for {
		if s.cur == queueBuckets {
			s.refill()
		}
		i := s.head[s.cur]
		if i < 0 {
			s.cur++
			continue
		}
		c := s.counts[i]
		if c == s.base+int64(s.cur) {
			return int(i)
		}
		// The counter grew since it was filed: refile it, or leave it out
		// if it outgrew the queue.
		s.head[s.cur] = s.next[i]
		if c < s.base+queueBuckets {
			s.file(int(i), c)
		}
	}
}

// refill scans every counter, bases the queue at the smallest count and
// files the counters within its span.
func (s *SpaceSaving[K]) refill() {
	least := slices.Min(s.counts)
	s.base, s.cur = least, 0
	for b := range s.head {
		s.head[b] = -1
	}
	for i, c := range s.counts {
		if c < least+queueBuckets {
			s.file(i, c)
		}
	}
}

// Count returns an upper bound on key's true count and the bound on how much
// it may overstate it, as Top's Entry.Count and Entry.Err would: the true
// count lies in [count-errBound, count], and errBound <= Total()/Capacity().
// A key that is not monitored gets the same number as count and errBound:
// all that is known is that its true count is at most that. O(1).
func (s *SpaceSaving[K]) Count(key K) (count, errBound int64) {
	h := hashOf(key)
	if i := s.find(key, h); i >= 0 {
		return s.counts[i], s.errOf(i)
	}
	// The key's filter counter bounds whatever weight it has had, and no
	// more is known: its true count lies in [0, a].
	a := s.filter(s.cell(h))
	return a, a
}

// Len returns the number of monitored keys, at most the capacity. O(1).
func (s *SpaceSaving[K]) Len() int {
	return len(s.keys)
}

// Reset empties s, keeping its capacity and memory. O(capacity).
func (s *SpaceSaving[K]) Reset() {
	clear(s.keys) // drop references to the old keys
	s.keys = s.keys[:0]
	s.hashes = s.hashes[:0]
	s.counts = s.counts[:0]
	s.errs = s.errs[:0]
	clear(s.bigErrs)
	clear(s.index)
	clear(s.alpha)
	s.alphaSat = 0
	s.idle()
	s.total = 0
}

// Top returns the k monitored keys with the highest counts, ordered by count
// descending, then key ascending, each with its error bound. It returns nil
// for k <= 0 or an empty SpaceSaving, and every monitored key when k >= Len.
// Counts are upper bounds, so a key near the cut may rank above one whose
// true count is higher; the errors say by how much that can happen.
//
// Top costs O(Len log k) time and O(k) memory.
func (s *SpaceSaving[K]) Top(k int) []Entry[K] {
	if k <= 0 || len(s.keys) == 0 {
		return nil
	}
	// One pass with a heap of the best k so far: a key that cannot make
	// the cut costs one comparison.
	k = min(k, len(s.keys))
	b := newBest[K](k)
	for i, key := range s.keys {
		b.offer(Entry[K]{Key: key, Count: s.counts[i], Err: s.errOf(i)})
	}
	return b.sorted()
}

// All returns an iterator over the monitored keys, each with its bounds as
// Top reports them: the entries of Top(Len()), in no particular order and
// without the sorting. Use Top for ranked results. Each entry costs O(1),
// and the iteration allocates nothing.
//
// s must not be modified during the iteration: an Add from the loop may
// evict a key, and which entries the iteration then yields is unspecified.
func (s *SpaceSaving[K]) All() iter.Seq[Entry[K]] {
	return func(yield func(Entry[K]) bool) {
		// The length is read again on every step, so that a loop that
		// breaks the rule above cannot index past the entries.
		for i := 0; i < len(s.keys); i++ {
			if !yield(Entry[K]{Key: s.keys[i], Count: s.counts[i], Err: s.errOf(i)}) {
				return
			}
		}
	}
}

// memBytes returns the bytes s holds in its own arrays, not counting what
// the keys point to (a string's bytes). The errors of 4 billion or more are
// counted at about 16 bytes each.
func (s *SpaceSaving[K]) memBytes() int {
	var k K
	return cap(s.keys)*int(unsafe.Sizeof(k)) +
		cap(s.counts)*8 +
		(cap(s.hashes)+cap(s.errs)+len(s.index)+len(s.alpha)+cap(s.next))*4 +
		len(s.bigErrs)*16 +
		int(unsafe.Sizeof(*s))
}
