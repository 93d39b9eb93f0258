package window

import (
	"errors"
	"fmt"
	"time"

	"github.com/streamtop/streamtop/topk"
)

// ErrNotNewest is returned by MergeBucket for a summary of a bucket older
// than the newest.
var ErrNotNewest = errors.New("window: bucket older than the newest")

// AppendNewest appends the summary of the newest bucket alone (its pane) to
// b in topk.SpaceSaving's encoding, and returns it with the bucket's start.
// ok is false, and b returned as it is, before the first Add or Advance.
//
// A caller that appends each bucket's pane as the window moves past it holds
// the window as panes that never change once closed (but for late records,
// which it must account for itself), which is what a checkpoint that writes
// each pane once needs: MarshalBinary instead writes the merges the Sketch
// keeps over its panes, rebuilt as the window slides. MergeBucket reads the
// panes back.
//
// It only reads s. Cost: O(capacity).
func (s *Sketch[K]) AppendNewest(b []byte) (_ []byte, start time.Time, ok bool) {
	if !s.started {
		return b, time.Time{}, false
	}
	b, _ = s.panes[s.head].AppendBinary(b) // never fails
	return b, bucketStart(s.newest, s.bucket), true
}

// MergeBucket counts the records summarised by pane, a summary's encoding
// as AppendNewest (or topk.SpaceSaving.AppendBinary) wrote it, as records
// of the bucket holding t: it slides the window to that bucket, as Add
// would, and merges the summary into its pane. Merging the panes
// AppendNewest gave, oldest first, into a new Sketch of the same shape
// rebuilds the window with every guarantee of the Sketch type over their
// records; its counts are those of the original while the window holds at
// most capacity distinct keys, when both are exact. Beyond that, each
// merge keeps the keys with the highest upper bounds, ties broken by hashes
// seeded per process, so the two may differ within their bounds.
//
// It returns an error wrapping ErrCorrupt if pane does not decode, one
// wrapping ErrInvalidOption if its capacity is not the Sketch's, and one
// wrapping ErrNotNewest if t lies before the newest bucket; it then changes
// nothing. Cost: decoding the summary, a slide (see Sketch) and a
// topk.SpaceSaving.Merge, O(capacity).
func (s *Sketch[K]) MergeBucket(t time.Time, pane []byte) error {
	var p topk.SpaceSaving[K]
	if err := p.UnmarshalBinary(pane); err != nil {
		return fmt.Errorf("%w: pane: %w", ErrCorrupt, err)
	}
	if p.Capacity() != s.capacity {
		return fmt.Errorf("%w: a summary of capacity %d merged into a Sketch of %d", ErrInvalidOption, p.Capacity(), s.capacity)
	}
	b := bucketOf(t, s.bucket)
	if s.started && b < s.newest {
		return fmt.Errorf("%w: %v", ErrNotNewest, t)
	}
	if !s.started || b > s.newest {
		s.slide(b)
	}
	if err := s.panes[s.head].Merge(&p); err != nil {
		return err
	}
	n := p.Total()
	s.totals[s.head] += n
	s.total += n
	s.topK = 0
	return nil
}
