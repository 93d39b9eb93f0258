package window

import (
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
// For the current window TopAt is Top. A window ending d buckets before it
// costs what Top does plus O(p) for the p (key, bucket) pairs of the 2d
// buckets by which the two windows differ, and 8 bytes of scratch per key
// id (m of them; see Counter).
func (c *Counter[K]) TopAt(end time.Time, k int) ([]topk.Entry[K], error) {
	d, err := readable(end, c.bucket, c.started, c.newest, len(c.ring)-c.window)
	if err != nil {
		return nil, err
	}
	if d == 0 || k <= 0 {
		return c.Top(k), nil
	}
	// adj[id] is what the id's total changes by from the current window to
	// the one read: the d newest buckets leave it, and the d buckets of
	// history before it join it.
	adj := make([]int64, len(c.meta))
	for age := range d {
		bk := &c.ring[c.slotAt(age)]
		for i, id := range bk.ids {
			adj[id] -= bk.counts[i]
		}
		bk = &c.ring[c.slotAt(c.window+age)]
		for i, id := range bk.ids {
			adj[id] += bk.counts[i]
		}
	}
	return c.topAt(k, adj), nil
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

// slotAt returns the ring slot of the bucket age buckets older than the
// newest.
func (c *Counter[K]) slotAt(age int) int {
	return (c.head - age + len(c.ring)) % len(c.ring)
}
