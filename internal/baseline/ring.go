package baseline

import (
	"cmp"
	"fmt"
	"time"

	"github.com/streamtop/streamtop/topk"
)

// Ring is the sliding window as one first writes it: one map per bucket in a
// ring, plus a map of totals; a bucket that leaves the window is walked and
// subtracted from the totals, and Top sorts every total. Its window follows
// window.Counter's rules exactly (buckets aligned to the Unix epoch, the
// window ends with the bucket of the latest time seen, a time before it is
// too late), so the two count the same records.
//
// The zero value is not usable; use NewRing. A Ring is not safe for
// concurrent use. Add is two map updates plus, when the window slides, one
// map update per (key, bucket) pair that expires; memory is a map entry per
// distinct key in the window plus one per (key, bucket) pair.
type Ring[K cmp.Ordered] struct {
	bucket  int64 // nanoseconds
	ring    []map[K]int64
	newest  int64 // bucket index of the latest time seen
	started bool
	totals  map[K]int64
	total   int64
}

// NewRing returns an empty window of size cut into buckets of bucket. size
// must be a positive whole multiple of bucket.
func NewRing[K cmp.Ordered](size, bucket time.Duration) (*Ring[K], error) {
	if bucket <= 0 || size <= 0 || size%bucket != 0 {
		return nil, fmt.Errorf("%w: window %v is not a positive multiple of bucket %v", ErrInvalidOption, size, bucket)
	}
	r := &Ring[K]{bucket: int64(bucket), ring: make([]map[K]int64, size/bucket), totals: make(map[K]int64)}
	for i := range r.ring {
		r.ring[i] = make(map[K]int64)
	}
	return r, nil
}

func (r *Ring[K]) index(t time.Time) int64 {
	ns := t.UnixNano()
	b := ns / r.bucket
	if ns%r.bucket < 0 {
		b--
	}
	return b
}

func (r *Ring[K]) slot(b int64) map[K]int64 {
	n := int64(len(r.ring))
	return r.ring[((b%n)+n)%n]
}

// Advance slides the window forward to the bucket holding now.
func (r *Ring[K]) Advance(now time.Time) { r.advance(r.index(now)) }

func (r *Ring[K]) advance(b int64) {
	if !r.started {
		r.started, r.newest = true, b
		return
	}
	n := int64(len(r.ring))
	if b-r.newest > n { // every bucket expires: skip the empty ones between
		r.newest = b - n
	}
	for ; r.newest < b; r.newest++ {
		old := r.slot(r.newest + 1) // the slot the next bucket reuses
		for k, c := range old {
			r.total -= c
			if t := r.totals[k] - c; t == 0 {
				delete(r.totals, k)
			} else {
				r.totals[k] = t
			}
		}
		clear(old)
	}
}

// Add adds n to key's count at time t and reports whether t was still inside
// the window.
func (r *Ring[K]) Add(key K, t time.Time, n int64) bool {
	b := r.index(t)
	r.advance(b)
	if b <= r.newest-int64(len(r.ring)) {
		return false
	}
	if n == 0 {
		return true
	}
	s := r.slot(b)
	if c := s[key] + n; c == 0 {
		delete(s, key)
	} else {
		s[key] = c
	}
	if c := r.totals[key] + n; c == 0 {
		delete(r.totals, key)
	} else {
		r.totals[key] = c
	}
	r.total += n
	return true
}

// Count returns key's count in the window.
func (r *Ring[K]) Count(key K) int64 { return r.totals[key] }

// Len returns the number of keys whose count in the window is not 0.
func (r *Ring[K]) Len() int { return len(r.totals) }

// Total returns the sum of the counts in the window.
func (r *Ring[K]) Total() int64 { return r.total }

// Top returns the k highest counts in the window, by sorting them all.
func (r *Ring[K]) Top(k int) []topk.Entry[K] { return sortedTop(r.totals, k) }
