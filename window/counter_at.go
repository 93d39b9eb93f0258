package window

import (
	"cmp"
	"slices"
	"time"

	"github.com/streamtop/streamtop/topk"
)

// TopAt returns the k keys with the highest counts in the window ending at
// end, [end-size, end), as Top does for the current window: ordered by
// count descending, then key ascending, with Err 0, nil for k <= 0 or an
// empty window, and every key when k is at least their number. The counts
// are exactly those of the records counted with a time in [end-size, end),
// whenever they were added: records of later buckets, added before the
// call, do not change them.
//
// end must be a bucket boundary no later than the end of the newest bucket
// (Bounds' end) and no earlier than the history allows (see WithHistory):
// with none, only the current window can be read. Otherwise TopAt returns
// an error wrapping ErrEnd. TopAt only reads c.
//
// With d the buckets between end and the newest bucket's end, TopAt costs
// what Top does plus O(p log p), where p is the number of (key, bucket)
// pairs in the 2d buckets by which the two windows differ; O(k + p) memory.
func (c *Counter[K]) TopAt(end time.Time, k int) ([]topk.Entry[K], error) {
	d, err := readable(end, c.bucket, c.started, c.newest, len(c.ring)-c.window)
	if err != nil {
		return nil, err
	}
	if d == 0 || k <= 0 {
		return c.Top(k), nil
	}
	delta := c.delta(d)
	live := c.live
	for _, x := range delta {
		t := c.meta[x.id].total
		live += liveDelta(t, t+x.n)
	}
	return c.top(k, delta, live), nil
}

// TotalAt returns the sum of all counts in the window ending at end,
// [end-size, end), exactly, for the same ends as TopAt, and the same error
// wrapping ErrEnd for any other. It only reads c, and costs O(p) for the p
// pairs TopAt would read.
func (c *Counter[K]) TotalAt(end time.Time) (int64, error) {
	d, err := readable(end, c.bucket, c.started, c.newest, len(c.ring)-c.window)
	if err != nil {
		return 0, err
	}
	total := c.total
	for age := range d {
		for _, n := range c.ring[c.slotAt(age)].counts {
			total -= n
		}
		for _, n := range c.ring[c.slotAt(c.window+age)].counts {
			total += n
		}
	}
	return total, nil
}

// idCount is a change of n to the total of the key of id.
type idCount struct {
	id int32
	n  int64
}

// delta returns what the totals change by from the current window to the
// one ending d buckets before it: the d newest buckets leave, the d buckets
// of the history before the window join. The changes are by ascending id,
// one per id, none of 0.
func (c *Counter[K]) delta(d int) []idCount {
	var out []idCount
	for age := range d {
		bk := &c.ring[c.slotAt(age)]
		for i, id := range bk.ids {
			out = append(out, idCount{id, -bk.counts[i]})
		}
		bk = &c.ring[c.slotAt(c.window+age)]
		for i, id := range bk.ids {
			out = append(out, idCount{id, bk.counts[i]})
		}
	}
	slices.SortFunc(out, func(a, b idCount) int { return cmp.Compare(a.id, b.id) })
	w := 0
	for _, x := range out {
		switch {
		case w > 0 && out[w-1].id == x.id:
			out[w-1].n += x.n
		default:
			out[w] = x
			w++
		}
		if out[w-1].n == 0 {
			w--
		}
	}
	return out[:w]
}

// slotAt returns the ring slot of the bucket age buckets older than the
// newest.
func (c *Counter[K]) slotAt(age int) int {
	return (c.head - age + len(c.ring)) % len(c.ring)
}
