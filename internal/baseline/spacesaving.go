package baseline

import (
	"cmp"
	"container/heap"
	"fmt"
	"slices"

	"github.com/streamtop/streamtop/topk"
)

// SpaceSaving is Space-Saving (Metwally, Agrawal and El Abbadi, 2005) as the
// paper states it, on container/heap: a map from monitored key to counter and
// a min-heap of counters; an unmonitored key takes over the smallest counter
// and inherits its count as its error. It has the same guarantees as
// topk.SpaceSaving (Err <= N/capacity; every key above N/capacity is
// monitored) with none of its engineering.
//
// The zero value is not usable; use NewSpaceSaving. A SpaceSaving is not safe
// for concurrent use. Add is a map lookup plus an O(log capacity) heap fix,
// and allocates a counter for each of the first capacity keys; memory is a
// map entry, a heap slot and a counter per monitored key.
type SpaceSaving[K cmp.Ordered] struct {
	capacity int
	where    map[K]*counter[K]
	h        minHeap[K]
}

type counter[K cmp.Ordered] struct {
	key        K
	count, err int64
	index      int // in the heap
}

// NewSpaceSaving returns an empty summary of at most capacity counters.
func NewSpaceSaving[K cmp.Ordered](capacity int) (*SpaceSaving[K], error) {
	if capacity <= 0 {
		return nil, fmt.Errorf("%w: capacity %d is not positive", ErrInvalidOption, capacity)
	}
	return &SpaceSaving[K]{capacity: capacity, where: make(map[K]*counter[K], capacity), h: make(minHeap[K], 0, capacity)}, nil
}

// Add adds n > 0 to key's count; n <= 0 changes nothing.
func (s *SpaceSaving[K]) Add(key K, n int64) {
	if n <= 0 {
		return
	}
	if c, ok := s.where[key]; ok {
		c.count += n
		heap.Fix(&s.h, c.index)
		return
	}
	if len(s.h) < s.capacity {
		c := &counter[K]{key: key, count: n}
		s.where[key] = c
		heap.Push(&s.h, c)
		return
	}
	c := s.h[0]
	delete(s.where, c.key)
	c.key, c.err, c.count = key, c.count, c.count+n
	s.where[key] = c
	heap.Fix(&s.h, 0)
}

// Count returns an upper bound on key's true count and the bound on how much
// it may overstate it, as topk.SpaceSaving.Count does. An unmonitored key may
// have been counted up to the smallest counter.
func (s *SpaceSaving[K]) Count(key K) (count, errBound int64) {
	if c, ok := s.where[key]; ok {
		return c.count, c.err
	}
	if len(s.h) < s.capacity {
		return 0, 0
	}
	return s.h[0].count, s.h[0].count
}

// Len returns the number of monitored keys.
func (s *SpaceSaving[K]) Len() int { return len(s.h) }

// Top returns the k highest monitored counts in topk's order, by sorting
// every counter.
func (s *SpaceSaving[K]) Top(k int) []topk.Entry[K] {
	if k <= 0 || len(s.h) == 0 {
		return nil
	}
	all := make([]topk.Entry[K], len(s.h))
	for i, c := range s.h {
		all[i] = topk.Entry[K]{Key: c.key, Count: c.count, Err: c.err}
	}
	slices.SortFunc(all, compareEntries[K])
	return all[:min(k, len(all))]
}

type minHeap[K cmp.Ordered] []*counter[K]

func (h minHeap[K]) Len() int           { return len(h) }
func (h minHeap[K]) Less(i, j int) bool { return h[i].count < h[j].count }
func (h minHeap[K]) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *minHeap[K]) Push(x any) {
	c := x.(*counter[K])
	c.index = len(*h)
	*h = append(*h, c)
}
func (h *minHeap[K]) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}
