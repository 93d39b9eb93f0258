package topk

import (
	"cmp"
	"slices"
)

// best selects the k best entries of a stream of offers, in Top's order. It
// keeps them in a heap whose root ranks last, so an entry that cannot make the
// cut costs one comparison: O(n log k) time for n offers and O(k) memory. The
// sifts are written out because container/heap's interface calls cost more
// than the comparisons here.
type best[K cmp.Ordered] struct {
	h []Entry[K]
	k int
}

func newBest[K cmp.Ordered](k int) best[K] {
	return best[K]{h: make([]Entry[K], 0, k), k: k}
}

// offer considers e for the best k.
func (b *best[K]) offer(e Entry[K]) {
	if len(b.h) < b.k {
		b.h = append(b.h, e)
		b.siftUp(len(b.h) - 1)
		return
	}
	if less(e, b.h[0]) {
		b.h[0] = e
		b.siftDown(0)
	}
}

// sorted returns the best k in Top's order; b is not used after.
func (b *best[K]) sorted() []Entry[K] {
	slices.SortFunc(b.h, rank[K])
	return b.h
}

func (b *best[K]) siftUp(i int) {
	h := b.h
	for i > 0 {
		p := (i - 1) / 2
		if !less(h[p], h[i]) {
			return
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

func (b *best[K]) siftDown(i int) {
	h := b.h
	for {
		c := 2*i + 1
		if c >= len(h) {
			return
		}
		if r := c + 1; r < len(h) && less(h[c], h[r]) {
			c = r
		}
		if !less(h[i], h[c]) {
			return
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
}

// rank orders entries as Top returns them: count descending, then key
// ascending.
func rank[K cmp.Ordered](a, b Entry[K]) int {
	if c := cmp.Compare(b.Count, a.Count); c != 0 {
		return c
	}
	return cmp.Compare(a.Key, b.Key)
}
