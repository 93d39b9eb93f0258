package window

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/streamtop/streamtop/internal/keycodec"
)

// magicPane leads the encoding of a Counter's pane.
const magicPane = 'P'

// AppendNewest appends the counts of the newest bucket alone (its pane) to
// b, and returns it with the bucket's start: its (key, count) pairs in key
// order, so equal panes encode to equal bytes. ok is false, and b returned
// as it is, before the first Add or Advance.
//
// A caller that appends each bucket's pane as the window moves past it holds
// the window as panes that never change once closed (but for records added
// to older buckets, which it must account for itself); MergeBucket reads
// them back. See Sketch.AppendNewest.
//
// It only reads c. Cost: O(p log p) for the bucket's p pairs.
func (c *Counter[K]) AppendNewest(b []byte) (_ []byte, start time.Time, ok bool) {
	if !c.started {
		return b, time.Time{}, false
	}
	bk := &c.ring[c.head]
	type pair struct {
		key   K
		count int64
	}
	pairs := make([]pair, 0, len(bk.ids))
	for i, id := range bk.ids {
		if bk.counts[i] != 0 {
			pairs = append(pairs, pair{c.meta[id].key, bk.counts[i]})
		}
	}
	slices.SortFunc(pairs, func(x, y pair) int { return cmp.Compare(x.key, y.key) })
	b = append(b, magicPane, formatVersion, keycodec.Kind[K]())
	b = appendUvarints(b, uint64(len(pairs)))
	for _, p := range pairs {
		b = keycodec.AppendKey(b, p.key)
		b = appendVarint(b, p.count)
	}
	return b, bucketStart(c.newest, c.bucket), true
}

// MergeBucket adds the counts of pane, as AppendNewest wrote it, as counts
// of the bucket holding t: it slides the window to that bucket, as Add
// would, and adds each pair. Merging the panes AppendNewest gave, oldest
// first, into a new Counter of the same shape rebuilds the window exactly.
//
// It returns an error wrapping ErrCorrupt, and changes nothing, if pane is
// not a pane of this key kind (its keys out of order, or its counts 0), and
// one wrapping ErrNotNewest if t lies before the newest bucket. Cost: O(p)
// Adds for the pane's p pairs.
func (c *Counter[K]) MergeBucket(t time.Time, pane []byte) error {
	r := keycodec.NewReader(pane, ErrCorrupt)
	if v := checkHeader(r, magicPane, keycodec.Kind[K]()); r.Err() == nil && v != formatVersion {
		r.Fail("pane format version %d, want %d", v, formatVersion)
	}
	n := r.Count("number of pairs", 2) // a key and a count take a byte each
	keys := make([]K, 0, n)
	counts := make([]int64, 0, n)
	for i := range n {
		k := keycodec.Key[K](r, "key")
		v := r.Varint("count")
		if r.Err() != nil {
			break
		}
		if i > 0 && !keycodec.Ascending(keys[i-1], k) {
			r.Fail("key %v after %v: not ascending", k, keys[i-1])
			break
		}
		if v == 0 {
			r.Fail("key %v with a count of 0", k)
			break
		}
		keys, counts = append(keys, k), append(counts, v)
	}
	if r.Err() == nil && r.Len() != 0 {
		r.Fail("%d bytes after the pane", r.Len())
	}
	if err := r.Err(); err != nil {
		return err
	}
	if b := bucketOf(t, c.bucket); c.started && b < c.newest {
		return fmt.Errorf("%w: %v", ErrNotNewest, t)
	}
	c.Advance(t)
	for i, k := range keys {
		c.Add(k, t, counts[i])
	}
	return nil
}
