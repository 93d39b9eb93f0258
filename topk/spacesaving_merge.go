package topk

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"sync"
)

// Merge adds other's stream to s, so that s summarises the union of both
// streams with the guarantees of a SpaceSaving of s's capacity over their
// combined weight: Err <= (N1+N2)/capacity, and every key whose true count in
// the union exceeds that is monitored. The guarantees go on holding as s
// counts on. A merged count may be higher than the sum of the counts it came
// from, though within the bound: Merge raises small counts so that later Adds
// keep the guarantees. other is not modified, and may be s itself (which
// doubles every count); a nil other changes nothing.
//
// Merge returns an error wrapping ErrInvalidOption, and changes nothing, if
// other's capacity is smaller than s's: other's error bound would then be too
// loose for s's guarantee.
//
// Cost: O(Len(s) + Len(other) + capacity) time, and scratch space for both
// summaries' entries, which later Merges reuse; a merge of s with itself
// also copies s first.
func (s *SpaceSaving[K]) Merge(other *SpaceSaving[K]) error {
	if other == nil || (other.total == 0 && len(other.keys) == 0) {
		return nil
	}
	if other.capacity < s.capacity {
		return fmt.Errorf("%w: cannot merge a SpaceSaving of capacity %d into one of capacity %d", ErrInvalidOption, other.capacity, s.capacity)
	}
	if other == s {
		other = s.clone()
	}
	if len(s.keys) == 0 && s.total == 0 && other.capacity == s.capacity {
		// Merging into an empty summary of the same shape is a copy; a
		// sliding window does this on every query.
		s.copyFrom(other)
		return nil
	}

	// This is the merge of the mergeable summaries of Agarwal, Cormode,
	// Huang, Phillips, Wei and Yi (2012): each key's bounds are the sums of
	// its bounds in both summaries, where a side that does not monitor the
	// key contributes its filter counter as both count and error, and the
	// capacity keys with the highest upper bounds are kept. The keys that do
	// not fit pass their upper bounds on to the filter, and the kept counts
	// are raised to the largest filter counter, which restores the
	// invariant later Adds rely on: no filter counter exceeds the smallest
	// monitored count.
	buf := getCandidates[K](len(s.keys) + len(other.keys))
	defer putCandidates(buf)
	cands := *buf
	for i, key := range s.keys {
		h := s.hashes[i]
		c := candidate[K]{key: key, h: h, ub: s.counts[i], lb: s.counts[i] - s.errOf(i)}
		if j := other.find(key, h); j >= 0 {
			c.ub += other.counts[j]
			c.lb += other.counts[j] - other.errOf(j)
		} else {
			c.ub += other.filter(other.cell(h))
		}
		cands = append(cands, c)
	}
	for j, key := range other.keys {
		h := other.hashes[j]
		if s.find(key, h) >= 0 {
			continue
		}
		cands = append(cands, candidate[K]{
			key: key, h: h,
			ub: other.counts[j] + s.filter(s.cell(h)),
			lb: other.counts[j] - other.errOf(j),
		})
	}

	// A key neither side monitors is bounded by the sum of its two filter
	// counters. other's filter is at least as large as s's (capacities
	// decide both), so each of s's cells takes the largest of the cells of
	// other's that fold onto it.
	if s.alphaSat == 0 && other.alphaSat == 0 {
		// No cell is saturated on either side, the common case, so the
		// cells hold their counters as they are.
		for j, a := range s.alpha {
			var most uint32
			if len(other.alpha) == len(s.alpha) {
				most = other.alpha[j]
			} else {
				for j2 := j; j2 < len(other.alpha); j2 += len(s.alpha) {
					most = max(most, other.alpha[j2])
				}
			}
			if sum := uint64(a) + uint64(most); sum < saturated {
				s.alpha[j] = uint32(sum)
			} else {
				s.setFilter(uint32(j), int64(sum))
			}
		}
	} else {
		// The saturated cells' shared counter is read as it was before
		// the merge, while setFilter raises it to cover every new value.
		sat := s.alphaSat
		for j, a := range s.alpha {
			var most int64
			for j2 := j; j2 < len(other.alpha); j2 += len(s.alpha) {
				most = max(most, other.filter(uint32(j2)))
			}
			before := int64(a)
			if a == saturated {
				before = sat
			}
			s.setFilter(uint32(j), before+most)
		}
	}

	if len(cands) > s.capacity {
		selectLargest(cands, s.capacity)
		for _, c := range cands[s.capacity:] {
			if cell := s.cell(c.h); s.filter(cell) < c.ub {
				s.setFilter(cell, c.ub)
			}
		}
		clear(cands[s.capacity:]) // let the dropped keys go
		cands = cands[:s.capacity]
	}
	floor := s.filterFloor()

	*buf = cands // so that putCandidates clears what was used

	total := s.total + other.total
	clear(s.keys)
	s.keys, s.hashes, s.counts, s.errs = s.keys[:0], s.hashes[:0], s.counts[:0], s.errs[:0]
	clear(s.bigErrs)
	clear(s.index)
	for i, c := range cands {
		// Raising a count to the floor only loosens its upper bound, and it
		// keeps every filter counter at most the smallest count.
		count := max(c.ub, floor)
		s.keys = append(s.keys, c.key)
		s.hashes = append(s.hashes, c.h)
		s.counts = append(s.counts, count)
		if e := count - c.lb; e < saturated {
			s.errs = append(s.errs, uint32(e))
		} else {
			s.errs = append(s.errs, 0)
			s.setErr(i, e)
		}
		s.link(i, c.h)
	}
	s.total = total
	s.idle()
	return nil
}

// candidates holds the scratch slices of Merge, so that a window merging on
// every query does not allocate (and fault in) a fresh one each time. It
// holds *[]candidate[K] for whichever K merged last; a Get of another K's
// slice just allocates.
var candidates sync.Pool

func getCandidates[K cmp.Ordered](n int) *[]candidate[K] {
	if p, ok := candidates.Get().(*[]candidate[K]); ok && cap(*p) >= n {
		*p = (*p)[:0]
		return p
	}
	c := make([]candidate[K], 0, n)
	return &c
}

func putCandidates[K cmp.Ordered](p *[]candidate[K]) {
	clear(*p) // let go of the keys
	candidates.Put(p)
}

// candidate is a key's combined bounds during a Merge.
type candidate[K any] struct {
	key    K
	h      uint32
	ub, lb int64
}

// selectLargest reorders c so that its first k elements have the k largest
// upper bounds (ties broken arbitrarily), by quickselect: O(len(c)) expected.
func selectLargest[K any](c []candidate[K], k int) {
	lo, hi := 0, len(c)-1
	for lo < hi {
		// Median of three keeps sorted and reversed inputs linear.
		mid := lo + (hi-lo)/2
		if c[mid].ub > c[lo].ub {
			c[mid], c[lo] = c[lo], c[mid]
		}
		if c[hi].ub > c[lo].ub {
			c[hi], c[lo] = c[lo], c[hi]
		}
		if c[mid].ub > c[hi].ub {
			c[mid], c[hi] = c[hi], c[mid]
		}
		pivot := c[hi].ub // the median of the three, now at hi
		i, j := lo, hi
		for i <= j {
			for c[i].ub > pivot {
				i++
			}
			for c[j].ub < pivot {
				j--
			}
			if i <= j {
				c[i], c[j] = c[j], c[i]
				i++
				j--
			}
		}
		// Now c[lo..j] >= pivot >= c[i..hi], and c[j+1..i-1] == pivot.
		switch {
		case k-1 <= j:
			hi = j
		case k-1 >= i:
			lo = i
		default:
			return
		}
	}
}

// clone returns a deep copy of s.
func (s *SpaceSaving[K]) clone() *SpaceSaving[K] {
	c := *s
	c.keys = append(make([]K, 0, cap(s.keys)), s.keys...)
	c.hashes = append(make([]uint32, 0, cap(s.hashes)), s.hashes...)
	c.counts = append(make([]int64, 0, cap(s.counts)), s.counts...)
	c.errs = append(make([]uint32, 0, cap(s.errs)), s.errs...)
	c.bigErrs = maps.Clone(s.bigErrs)
	c.index = slices.Clone(s.index)
	c.alpha = slices.Clone(s.alpha)
	c.next = slices.Clone(s.next)
	return &c
}

// copyFrom makes s a copy of other, of the same capacity, reusing s's memory.
func (s *SpaceSaving[K]) copyFrom(other *SpaceSaving[K]) {
	clear(s.keys)
	s.keys = append(s.keys[:0], other.keys...)
	s.hashes = append(s.hashes[:0], other.hashes...)
	s.counts = append(s.counts[:0], other.counts...)
	s.errs = append(s.errs[:0], other.errs...)
	clear(s.bigErrs)
	for i, e := range other.bigErrs {
		if s.bigErrs == nil {
			s.bigErrs = make(map[int32]int64, len(other.bigErrs))
		}
		s.bigErrs[i] = e
	}
	copy(s.index, other.index)
	copy(s.alpha, other.alpha)
	s.alphaSat = other.alphaSat
	copy(s.next, other.next)
	s.head, s.base, s.cur = other.head, other.base, other.cur
	s.total = other.total
}
