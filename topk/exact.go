package topk

import (
	"cmp"
	"iter"
)

// Exact counts every key it is given, exactly.
//
// The zero value is an empty Exact ready to use. An Exact is not safe for
// concurrent use: guard it with a lock, or give each goroutine its own; the
// methods that only read it (Count, Top, All, Len, MarshalBinary,
// AppendBinary) may run together under a read lock.
//
// Cost: Add, Count and Len are O(1) on average, and Add allocates nothing
// once the key is known; Top(k) is O(Len log k). Memory grows with the
// number of distinct keys whose count is not 0, as a Go map's does.
//
// Float keys work as Go maps treat them: a NaN key is never found again, so
// each Add of NaN makes a new entry. Don't count NaN.
type Exact[K cmp.Ordered] struct {
	counts map[K]int64
	// negative is the number of keys whose count is below 0. While there
	// are none, adding n > 0 cannot bring a count to 0, and Add needs one
	// map operation instead of a lookup and a store.
	negative int
}

// NewExact returns an empty Exact.
func NewExact[K cmp.Ordered]() *Exact[K] {
	return &Exact[K]{counts: make(map[K]int64)}
}

// Add adds n to key's count. n may be negative, so that a sliding window can
// take back what expires. A count that reaches exactly 0 forgets the key; a
// count may go below 0 (a retraction that arrives before what it retracts),
// and a key with a negative count is kept, ranked below every positive count.
//
// Add costs one map update: O(1) on average, and allocation-free once the key
// is known.
func (e *Exact[K]) Add(key K, n int64) {
	if e.counts == nil {
		e.counts = make(map[K]int64)
	}
	if n > 0 && e.negative == 0 {
		e.counts[key] += n
		return
	}
	if n == 0 {
		return
	}
	old := e.counts[key]
	c := old + n
	if old < 0 {
		e.negative--
	}
	if c < 0 {
		e.negative++
	}
	if c == 0 {
		delete(e.counts, key)
		return
	}
	e.counts[key] = c
}

// Count returns key's count: 0 for a key never seen or whose count came back
// to 0. O(1) on average.
func (e *Exact[K]) Count(key K) int64 {
	return e.counts[key]
}

// Len returns the number of keys whose count is not 0. O(1).
func (e *Exact[K]) Len() int {
	return len(e.counts)
}

// Top returns the k keys with the highest counts, ordered by count
// descending, then key ascending. It returns nil for k <= 0 or an empty Exact,
// and every key when k >= Len. Every Entry's Err is 0.
//
// Top costs O(n log k) time and O(k) memory for n keys.
func (e *Exact[K]) Top(k int) []Entry[K] {
	if k <= 0 || len(e.counts) == 0 {
		return nil
	}
	// One pass with a heap of the best k so far: a key that cannot make
	// the cut costs one comparison.
	k = min(k, len(e.counts))
	b := newBest[K](k)
	for key, c := range e.counts {
		b.offer(Entry[K]{Key: key, Count: c})
	}
	return b.sorted()
}

// All returns an iterator over every key whose count is not 0, with its
// count: what Top(Len()) holds, in no particular order (it changes from one
// iteration to the next, as a Go map's does) and without the sorting. Use
// Top for ranked results. Each key costs O(1), and the iteration allocates
// nothing.
//
// Add may be called from the loop, with the effects changing a Go map has on
// a range over it: a key is yielded with its count when it is reached, and a
// key whose count reaches 0 before it is reached is not yielded. A key that
// had no count when the iteration began, or lost it during the iteration,
// may or may not be yielded once it is counted again.
func (e *Exact[K]) All() iter.Seq2[K, int64] {
	return func(yield func(K, int64) bool) {
		// Ranging over e.counts when the loop starts, not when All is
		// called, so that an iterator made before an Add or an
		// UnmarshalBinary sees what they did.
		for key, c := range e.counts {
			if !yield(key, c) {
				return
			}
		}
	}
}
