package window

import (
	"time"

	"github.com/streamtop/streamtop/topk"
)

// TopAt returns the k keys with the highest counts in the window ending at
// end, [end-size, end), as Top does for the current window, with the same
// guarantees over that window: with N its exact weight (TotalAt), each
// Entry's true count lies in [Count-Err, Count], Err <= N/capacity, and
// every key whose true count in it exceeds N/capacity is in
// TopAt(end, capacity). The true counts are those of the records counted
// with a time in [end-size, end), whenever they were added: records of later
// buckets, added before the call, do not change them.
//
// end must be a bucket boundary no later than the end of the newest bucket
// (Bounds' end) and no earlier than the history allows (see WithHistory):
// with none, only the current window can be read. Otherwise TopAt returns
// an error wrapping ErrEnd.
//
// For the current window TopAt is Top, with its cost and cache. A past
// window is the merge of two summaries, read through topk.TopOf without
// merging them or writing to s: O(capacity log k), and O(k) memory.
func (s *Sketch[K]) TopAt(end time.Time, k int) ([]topk.Entry[K], error) {
	d, err := readable(end, s.bucket, s.started, s.newest, len(s.panes)-s.window)
	if err != nil {
		return nil, err
	}
	if d == 0 {
		return s.Top(k), nil
	}
	var buf [3]*topk.SpaceSaving[K]
	return topk.TopOf(k, s.parts(d, &buf)...), nil
}

// TotalAt returns the total weight counted in the window ending at end,
// [end-size, end), exactly, for the same ends as TopAt, and the same error
// wrapping ErrEnd for any other. It only reads s, and costs O(d) for a
// window ending d buckets before the newest bucket's end.
func (s *Sketch[K]) TotalAt(end time.Time) (int64, error) {
	d, err := readable(end, s.bucket, s.started, s.newest, len(s.panes)-s.window)
	if err != nil {
		return 0, err
	}
	total := s.total
	for age := range int64(d) {
		total -= s.totals[s.slot(s.newest-age)]
		total += s.totals[s.slot(s.newest-int64(s.window)-age)]
	}
	return total, nil
}
