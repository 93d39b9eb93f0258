// Package baseline holds the obvious implementations that streamtop's
// structures are measured against: a bare map increment, a sliding window
// kept as a ring of per-bucket maps with a totals map, and plain Space-Saving
// on container/heap. They are correct and simple rather than fast, so that
// every benchmark figure reads as a ratio to what a user would write first.
// One copy lives here so that every benchmark compares with the same thing.
package baseline

import (
	"cmp"
	"errors"
	"slices"

	"github.com/streamtop/streamtop/topk"
)

// ErrInvalidOption is wrapped by every error a constructor returns for a bad
// argument.
var ErrInvalidOption = errors.New("baseline: invalid option")

// Map counts keys in a plain Go map: the floor for any exact counter, since
// it does nothing but the increment.
//
// The zero value is an empty Map ready to use. A Map is not safe for
// concurrent use. Add is one map update; Top sorts every key, O(n log n).
type Map[K cmp.Ordered] struct {
	m   map[K]int64
	neg int // keys whose count is negative
}

// Add adds n to key's count; a count that reaches 0 forgets the key, as
// topk.Exact does, so both hold the same keys. While no count is negative, a
// positive Add is the bare increment m[key] += n: one map operation, the
// baseline the issue asks every structure to be measured against.
func (m *Map[K]) Add(key K, n int64) {
	if m.m == nil {
		m.m = make(map[K]int64)
	}
	if n > 0 && m.neg == 0 {
		m.m[key] += n
		return
	}
	old := m.m[key]
	c := old + n
	if old < 0 {
		m.neg--
	}
	if c < 0 {
		m.neg++
	}
	if c == 0 {
		delete(m.m, key)
		return
	}
	m.m[key] = c
}

// Count returns key's count.
func (m *Map[K]) Count(key K) int64 { return m.m[key] }

// Len returns the number of keys with a count that is not 0.
func (m *Map[K]) Len() int { return len(m.m) }

// Top returns the k highest counts in topk's order, by sorting them all.
func (m *Map[K]) Top(k int) []topk.Entry[K] { return sortedTop(m.m, k) }

// sortedTop is the full-sort top-k every baseline uses: copy every count,
// sort, cut.
func sortedTop[K cmp.Ordered](counts map[K]int64, k int) []topk.Entry[K] {
	if k <= 0 || len(counts) == 0 {
		return nil
	}
	all := make([]topk.Entry[K], 0, len(counts))
	for key, c := range counts {
		all = append(all, topk.Entry[K]{Key: key, Count: c})
	}
	slices.SortFunc(all, compareEntries[K])
	return all[:min(k, len(all))]
}

// compareEntries is topk's order: count descending, then key ascending.
func compareEntries[K cmp.Ordered](a, b topk.Entry[K]) int {
	if c := cmp.Compare(b.Count, a.Count); c != 0 {
		return c
	}
	return cmp.Compare(a.Key, b.Key)
}
