package window

import (
	"cmp"
	"fmt"
	"iter"
	"slices"
	"time"

	"github.com/streamtop/streamtop/topk"
)

// maxSketchBuckets bounds the panes a Sketch allocates up front, so that a
// mistaken bucket length is reported rather than taken as memory.
const maxSketchBuckets = 1 << 16

// Sketch estimates the most frequent keys over a sliding window of event
// time in bounded memory, with an error bound on every count.
//
// Its window is Counter's: size long, cut into buckets aligned to the Unix
// epoch, ending with the bucket that holds the latest time seen; a bucket
// leaving the window takes exactly its own records with it. Each bucket
// keeps at most capacity keys. With N = Total(), the exact weight in the
// window, it guarantees at every moment:
//   - every count is an upper bound whose error is at most N/capacity: the
//     true count lies in [Count-Err, Count];
//   - every key whose true count in the window exceeds N/capacity is in
//     Top(capacity);
//   - every count is exact while the window holds at most capacity distinct
//     keys.
//
// Unlike Counter's, its counts cannot be taken back: Add ignores n < 0.
//
// With WithHistory(d), a Sketch also keeps the buckets of the last d before
// its window, so that TopAt and TotalAt can read any window ending on a
// bucket boundary up to d before the end of the newest bucket, with the
// same guarantees over that window's exact weight, and Add counts records
// up to d older than the window.
//
// The zero value is not usable: make a Sketch with NewSketch, or decode one
// with UnmarshalBinary. A Sketch is not safe for concurrent use. Top, Len and
// All write a cache, so they need the write lock as Add does, and so does
// TopAt of the current window; Count, Total, TotalAt, Bounds, MarshalBinary,
// AppendBinary and TopAt of a past window only read it, and may run
// together under a read lock.
//
// Cost: an Add into the newest bucket is a topk.SpaceSaving Add, O(1)
// amortised; an Add into an older bucket still in the window or its history
// is up to 2 x size/bucket of them. Sliding costs O(capacity) amortised per
// bucket, though one slide in size/bucket costs O(size/bucket x capacity).
// Count is O(1); Top, Len and All cost O(capacity log capacity) after a
// change and little after none (see Top). Memory is fixed at creation:
// size/bucket+2 topk.SpaceSavings of the capacity, about 60 bytes per unit
// of capacity each for string keys (44 besides the keys' string headers),
// plus the keys' bytes, which are kept, not copied. A history of h buckets
// adds 2h-1 of them, and a merge (a copy of a summary) to each slide when
// h > 1. TopAt and TotalAt of a past window cost O(capacity log k) and
// O(d) (see them).
type Sketch[K cmp.Ordered] struct {
	// Each bucket is summarised by its own topk.SpaceSaving (a pane), so
	// that an expiring bucket takes exactly its records with it. Summaries
	// cannot subtract, so merges of panes are kept as in the two-stacks
	// scheme of sliding-window aggregation (Tangwongsan, Hirzel and
	// Schneider, "In-order sliding-window aggregation in worst-case
	// constant time"), or rather its fixed-size form (van Herk; Gil and
	// Werman): the buckets are cut into blocks of size/bucket, and every
	// window of size/bucket buckets is a suffix of one block followed by a
	// prefix of the next. Panes of closed blocks hold suffix merges (each
	// pane merged with the later ones of its block); the open block, from
	// split, keeps its raw panes plus the prefix merge up to each closed
	// bucket. The current window is then the suffix merge of its oldest
	// bucket, the prefix merge up to the bucket before the newest, and the
	// newest pane. The merge of the first two is cached (closed) until the
	// window slides or a late record arrives, so a query combines it with
	// the newest pane alone, through topk.TopOf. Sliding by one bucket
	// merges one pane into a prefix, O(capacity); when the open block is
	// full it closes and its suffix merges are built, O(size/bucket x
	// capacity): O(capacity) amortised. A late record must also reach the
	// suffix and prefix merges that cover its bucket, hence the
	// O(size/bucket) Adds.
	//
	// Without history one prefix merge, the latest, is enough, and it is
	// emptied when its block closes. With h buckets of history, a past
	// window ends up to h buckets before the newest: its last block may
	// have closed since, so the prefix merges up to each of the h latest
	// closed buckets are kept, whichever block they belong to.

	bucket   time.Duration
	capacity int
	window   int // buckets in the window

	// panes is a ring of the window's and the history's buckets: bucket
	// b's pane is panes[b mod len]. A bucket older than split holds the
	// merge of its own pane with every later one of its block (a suffix
	// merge). prefix is a ring of the merges of a block from its first
	// bucket up to bucket j, at prefix[j mod len], for the closed buckets j
	// of the last max(h, 1); without history, only from split on.
	panes  []*topk.SpaceSaving[K]
	totals []int64 // records counted per bucket, by ring slot
	prefix []*topk.SpaceSaving[K]
	split  int64

	newest           int64 // absolute bucket index (see bucketOf) of the newest bucket
	started          bool
	headFrom, headTo int64 // the newest bucket's span in Unix nanoseconds
	head             int   // the newest bucket's ring slot, sparing a division per Add
	total            int64 // records counted in the window

	// closed caches the merge of the closed buckets, which changes only
	// when the window slides or a late record arrives, so a query combines
	// it with the newest pane alone. top caches the last answer of Top,
	// whose prefixes answer smaller k, until the next change.
	closed      *topk.SpaceSaving[K]
	closedValid bool
	top         []topk.Entry[K]
	topK        int // the k top was computed for; 0 when stale
}

// NewSketch returns an empty Sketch for a window of size cut into buckets of
// the bucket length, keeping at most capacity keys per bucket, configured by
// opts. It returns an error wrapping ErrInvalidOption if size or bucket is
// not positive, size or the history is not a whole multiple of bucket, the
// window and its history would hold more than 1<<16 buckets, or capacity is
// out of topk.NewSpaceSaving's range.
func NewSketch[K cmp.Ordered](size, bucket time.Duration, capacity int, opts ...Option) (*Sketch[K], error) {
	n, h, err := shapeOf(size, bucket, opts)
	if err != nil {
		return nil, err
	}
	if n > maxSketchBuckets-h {
		return nil, fmt.Errorf("%w: size %v and history %v hold %d buckets of %v, more than %d", ErrInvalidOption, size, time.Duration(h)*bucket, n+h, bucket, maxSketchBuckets)
	}
	// One summary per bucket, the prefix merges, and the cached merge of
	// the closed buckets.
	r, p := n+h, max(h, 1)
	all := make([]*topk.SpaceSaving[K], r+p+1)
	for i := range all {
		if all[i], err = topk.NewSpaceSaving[K](capacity); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidOption, err)
		}
	}
	s := &Sketch[K]{
		bucket:   bucket,
		capacity: capacity,
		window:   n,
		panes:    all[:r:r],
		totals:   make([]int64, r),
		prefix:   all[r : r+p : r+p],
		closed:   all[r+p],
	}
	return s, nil
}

// slot returns the ring slot of absolute bucket b.
func (s *Sketch[K]) slot(b int64) int {
	i := int(b % int64(len(s.panes)))
	if i < 0 {
		i += len(s.panes)
	}
	return i
}

// prefixOf returns the prefix merge up to closed bucket j, which must be
// kept (see kept).
func (s *Sketch[K]) prefixOf(j int64) *topk.SpaceSaving[K] {
	i := int(j % int64(len(s.prefix)))
	if i < 0 {
		i += len(s.prefix)
	}
	return s.prefix[i]
}

// kept reports whether the prefix merge up to bucket j is kept.
func (s *Sketch[K]) kept(j int64) bool {
	if j >= s.newest || j < s.newest-int64(len(s.prefix)) {
		return false
	}
	return len(s.panes) > s.window || j >= s.split
}

// oldest returns the absolute index of the oldest bucket in the window.
func (s *Sketch[K]) oldest() int64 {
	return s.newest - int64(s.window) + 1
}

// retained returns the absolute index of the oldest bucket of the history,
// the window's oldest when there is none.
func (s *Sketch[K]) retained() int64 {
	return s.newest - int64(len(s.panes)) + 1
}

// blockStart returns the first bucket of the block of bucket b, which must
// be retained.
func (s *Sketch[K]) blockStart(b int64) int64 {
	if b >= s.split {
		return s.split
	}
	n := int64(s.window)
	return s.split - n*((s.split-b+n-1)/n)
}

// Add adds n to key's count at time t and reports whether it was counted. A t
// in a bucket that has already left the window, and its history if there is
// one, is too late: Add returns false and counts nothing. A t after the
// newest bucket first slides the window forward to the bucket holding t. A t
// in any bucket still inside the window, older ones included, is counted in
// that bucket and leaves the window with it; a t in the history counts only
// in the windows TopAt and TotalAt read that hold it.
//
// A summary cannot take counts back, so unlike Counter.Add an n < 0 counts
// nothing and returns false; n = 0 counts nothing and returns whether t is
// inside the window or its history. Both still slide the window like
// Advance.
//
// Add is O(1) amortised into the newest bucket, and up to 2 x size/bucket
// topk.SpaceSaving Adds into an older one, plus what a slide costs (see
// Sketch).
func (s *Sketch[K]) Add(key K, t time.Time, n int64) bool {
	b := s.newest
	if ns := t.UnixNano(); !s.started || ns < s.headFrom || ns >= s.headTo {
		b = bucketOf(t, s.bucket)
		if !s.started || b > s.newest {
			s.slide(b)
		} else if uint64(s.newest)-uint64(b) >= uint64(len(s.panes)) {
			return false // too late; unsigned so far-off buckets cannot overflow
		}
	}
	if n <= 0 {
		return n == 0
	}
	slot := s.head
	if b != s.newest {
		slot = s.slot(b)
	}
	s.panes[slot].Add(key, n)
	s.totals[slot] += n
	if b == s.newest {
		s.total += n
		s.topK = 0
		return true
	}
	s.addLate(key, b, n)
	return true
}

// addLate counts n for key, already in bucket b's pane, in the merges that
// cover b, an older bucket than the newest.
func (s *Sketch[K]) addLate(key K, b, n int64) {
	// A bucket of the history is in none of the summaries the current
	// window reads (the suffix merge of its oldest bucket starts after it,
	// and b's block ends before the newest bucket but one), so its cache
	// stays valid.
	if s.newest-b < int64(s.window) {
		s.total += n
		s.topK = 0
		s.closedValid = false
	}
	last := s.newest - 1 // the last bucket whose prefix merge covers b
	if b < s.split {
		first := s.blockStart(b)
		last = first + int64(s.window) - 1
		for j := max(first, s.retained()); j < b; j++ {
			s.panes[s.slot(j)].Add(key, n)
		}
	}
	for j := max(b, s.newest-int64(len(s.prefix))); j <= last; j++ {
		if s.kept(j) {
			s.prefixOf(j).Add(key, n)
		}
	}
}

// Advance slides the window forward to the bucket holding now, expiring the
// buckets that leave it. A now within or before the newest bucket changes
// nothing. It costs O(capacity) amortised per bucket the window slides, and
// O((size+history)/bucket x capacity) at most, however far it jumps.
func (s *Sketch[K]) Advance(now time.Time) {
	if b := bucketOf(now, s.bucket); !s.started || b > s.newest {
		s.slide(b)
	}
}

// slide makes b the newest bucket. b must be after the newest bucket, or the
// Sketch not started.
func (s *Sketch[K]) slide(b int64) {
	s.topK = 0
	s.closedValid = false
	if !s.started || uint64(b)-uint64(s.newest) >= uint64(len(s.panes)) {
		// Every bucket leaves the window and its history: start afresh.
		for i, p := range s.panes {
			p.Reset()
			s.totals[i] = 0
		}
		for _, p := range s.prefix {
			p.Reset()
		}
		s.total = 0
		s.started = true
		s.newest, s.split = b, b
	} else {
		for s.newest < b {
			s.step()
		}
	}
	s.head = s.slot(b)
	start := bucketStart(b, s.bucket)
	s.headFrom = start.UnixNano()
	s.headTo = s.headFrom + int64(s.bucket)
}

// step slides the window by one bucket.
func (s *Sketch[K]) step() {
	// The newest bucket closes: the prefix merge of its block up to it is
	// the one up to the bucket before, if in the same block, and its pane.
	p := s.prefixOf(s.newest)
	if s.newest == s.split || len(s.prefix) > 1 {
		prev := s.prefixOf(s.newest - 1)
		p.Reset()
		if s.newest > s.split {
			_ = p.Merge(prev) // same capacity: cannot fail
		}
	}
	_ = p.Merge(s.panes[s.slot(s.newest)])
	s.newest++
	s.total -= s.totals[s.slot(s.newest-int64(s.window))]
	expired := s.newest - int64(len(s.panes))
	if s.newest-s.split >= int64(s.window) {
		// The open block is full: it closes, each of its panes becoming a
		// suffix merge, newest first (those about to leave the history are
		// skipped). This is the O(buckets) rebuild that two-stacks
		// amortises over the next buckets' slides.
		for j := s.newest - 2; j >= s.split && j > expired; j-- {
			_ = s.panes[s.slot(j)].Merge(s.panes[s.slot(j+1)])
		}
		if len(s.panes) == s.window {
			s.prefix[0].Reset() // without history, no past window reads it
		}
		s.split = s.newest
	}
	// The expired bucket's slot becomes the new newest bucket.
	slot := s.slot(expired)
	s.panes[slot].Reset()
	s.totals[slot] = 0
}

// parts returns the summaries whose merge is the window ending d buckets
// before the newest bucket's end: the suffix merge of its oldest bucket (if
// that is in a closed block), the prefix merge up to its last closed bucket
// (if any) and, for the current window, the newest pane, which is then
// last.
func (s *Sketch[K]) parts(d int, buf *[3]*topk.SpaceSaving[K]) []*topk.SpaceSaving[K] {
	if !s.started {
		return nil
	}
	ps := buf[:0]
	last := s.newest - int64(d)
	first := last - int64(s.window) + 1
	if first < s.blockStart(last) {
		ps = append(ps, s.panes[s.slot(first)])
	}
	if d == 0 {
		if s.split < s.newest {
			ps = append(ps, s.prefixOf(s.newest-1))
		}
		return append(ps, s.panes[s.head])
	}
	return append(ps, s.prefixOf(last))
}

// halves returns the merge of the closed buckets (nil when there are none),
// cached until the window slides or a late record arrives, and the newest
// pane: the two summaries whose merge is the whole window. The Sketch must
// be started.
func (s *Sketch[K]) halves() (closed, newest *topk.SpaceSaving[K]) {
	var buf [3]*topk.SpaceSaving[K]
	ps := s.parts(0, &buf)
	newest = ps[len(ps)-1]
	if len(ps) == 1 {
		return nil, newest
	}
	if !s.closedValid {
		s.closed.Reset()
		for _, p := range ps[:len(ps)-1] {
			_ = s.closed.Merge(p) // same capacity: cannot fail
		}
		s.closedValid = true
	}
	return s.closed, newest
}

// Count returns an upper bound on key's count in the window and the bound on
// how much it may overstate it, as Top's Entry.Count and Entry.Err would: the
// true count lies in [count-errBound, count], and errBound <=
// Total()/capacity. O(1).
func (s *Sketch[K]) Count(key K) (count, errBound int64) {
	// The window's bounds are the sums of its parts' bounds, so no merge is
	// needed: at most three probes.
	var buf [3]*topk.SpaceSaving[K]
	for _, p := range s.parts(0, &buf) {
		c, e := p.Count(key)
		count += c
		errBound += e
	}
	return count, errBound
}

// Top returns the k keys with the highest counts in the window, ordered by
// count descending, then key ascending. Each Entry's true count lies in
// [Count-Err, Count], and Err <= Total()/capacity; every key whose true
// count in the window exceeds Total()/capacity is in Top(capacity). It
// returns nil for k <= 0 or an empty window.
//
// Cost: the first Top after a change costs O(capacity log k), plus
// O(capacity) after a slide or a late record, and O(k) memory. The answer is
// kept until the next change, so asking again for the same or a smaller k
// costs a copy of k entries.
func (s *Sketch[K]) Top(k int) []topk.Entry[K] {
	top := s.cachedTop(k)
	if len(top) == 0 {
		return nil
	}
	return slices.Clone(top)
}

// All returns an iterator over the entries of Top(Len()): every key of the
// window's summary with its bounds, in Top's order (count descending, then
// key ascending). It costs what Top(capacity) does, less the copy: the first
// call after a change computes the entries, and caches them as Top does;
// then each entry costs O(1) and the iteration allocates nothing.
//
// The iteration yields the window as it was when the iteration began, so s
// may be modified from the loop.
func (s *Sketch[K]) All() iter.Seq[topk.Entry[K]] {
	return func(yield func(topk.Entry[K]) bool) {
		// The cache is replaced, never written to, when s changes, so the
		// slice taken here stays as it is whatever the loop does.
		for _, e := range s.cachedTop(s.capacity) {
			if !yield(e) {
				return
			}
		}
	}
}

// cachedTop returns Top(k) from the cache, filling it if it is stale or
// holds fewer entries than asked for while more may exist. The caller must
// not modify the result. A refill makes a new slice and never writes to the
// old one, which All relies on.
func (s *Sketch[K]) cachedTop(k int) []topk.Entry[K] {
	if k <= 0 || !s.started {
		return nil
	}
	// The newest pane and the cached merge of the closed buckets are
	// combined through topk.TopOf without merging them: O(capacity) probes
	// and O(capacity log k) for the selection. The merge of the closed
	// buckets, O(capacity), is redone only after a slide or a late record.
	if s.topK == 0 || (k > s.topK && len(s.top) == s.topK) {
		closed, newest := s.halves()
		s.top = topk.TopOf(k, closed, newest)
		s.topK = k
	}
	return s.top[:min(k, len(s.top))]
}

// Total returns the total weight counted in the window, exactly. O(1).
func (s *Sketch[K]) Total() int64 {
	return s.total
}

// Len returns the number of entries Top(capacity) holds: the window's
// distinct keys while they fit in capacity, else capacity. It costs what
// Top(capacity) costs, and fills the same cache.
func (s *Sketch[K]) Len() int {
	return len(s.cachedTop(s.capacity))
}

// Bounds returns the window as the half-open interval [start, end): the start
// of its oldest bucket and the end of its newest, the one holding the latest
// time seen, so end-start is the window's size. Before any Add or Advance it
// returns two zero Times. O(1).
func (s *Sketch[K]) Bounds() (start, end time.Time) {
	if !s.started {
		return time.Time{}, time.Time{}
	}
	return bucketStart(s.oldest(), s.bucket), bucketStart(s.newest+1, s.bucket)
}
