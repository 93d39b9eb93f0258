package bench

import (
	"cmp"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/streamtop/streamtop/internal/workload"
	"github.com/streamtop/streamtop/topk"
)

// quick is the mode bench/cmd/report -quick selects: streams a tenth as long
// and a short pipeline run, so every table fills in under a minute.
var quick = os.Getenv("STREAMTOP_BENCH_QUICK") != ""

// streamLen is the records in every stream; a window holds a quarter of
// them, so the window has slid three times over when accuracy is judged.
func streamLen() int {
	if quick {
		return 200_000
	}
	return 2_000_000
}

// The window the windowed structures count over: 10 buckets of 1 s, the
// original sample's, with records spaced so that it holds streamLen()/4.
const (
	windowSize   = 10 * time.Second
	windowBucket = time.Second
)

func windowStep() time.Duration { return windowSize / time.Duration(streamLen()/4) }

// t0 is where event time starts.
var t0 = time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)

func recordTime(i int) time.Time { return t0.Add(time.Duration(i) * windowStep()) }

// stream is one workload: its records, and lazily the exact counts the
// accuracy figures are judged against.
type stream struct {
	name string
	make func() []string

	once          sync.Once
	keys          []string
	whole, window map[string]int64
	// topWhole and topWindow are the true top 100 keys of each.
	topWhole, topWindow []string
}

func (s *stream) load() {
	s.once.Do(func() {
		s.keys = s.make()
		s.whole = workload.Counts(s.keys)
		// The exact window: the records whose bucket is one of the ten
		// ending with the bucket of the last record.
		last := recordTime(len(s.keys) - 1)
		start := last.Truncate(windowBucket).Add(windowBucket - windowSize)
		first := int((start.Sub(t0) + windowStep() - 1) / windowStep())
		s.window = workload.Counts(s.keys[first:])
		s.topWhole, s.topWindow = trueTop(s.whole, wideK), trueTop(s.window, wideK)
	})
}

// release drops the records and counts once every benchmark of the stream
// has run, so the full run holds one large stream at a time.
func (s *stream) release() {
	s.keys, s.whole, s.window, s.topWhole, s.topWindow = nil, nil, nil, nil, nil
	s.once = sync.Once{}
}

// streams are issue 7's workloads, in the order of the tables' columns.
var streams = []*stream{
	{name: "visits", make: func() []string {
		n := streamLen()
		return workload.VisitKeys(workload.VisitStream(n, n/4, 1))
	}},
	{name: "uniform6", make: func() []string { return workload.UniformStream(workload.Referrers, streamLen(), 1) }},
	{name: "zipf0.9", make: func() []string { return workload.ZipfStream(0.9, workload.Distinct, streamLen(), 1) }},
	{name: "zipf1.1", make: func() []string { return workload.ZipfStream(1.1, workload.Distinct, streamLen(), 1) }},
	{name: "zipf1.5", make: func() []string { return workload.ZipfStream(1.5, workload.Distinct, streamLen(), 1) }},
	{name: "shifting1.1", make: func() []string {
		return workload.ShiftingZipfStream(1.1, workload.Distinct, streamLen(), 1)
	}},
	{name: "distinct", make: func() []string { return workload.DistinctStream(streamLen()) }},
}

// trueTop returns the k keys with the highest exact counts, ties broken by
// key, as topk orders them.
func trueTop(exact map[string]int64, k int) []string {
	all := make([]topk.Entry[string], 0, len(exact))
	for key, c := range exact {
		all = append(all, topk.Entry[string]{Key: key, Count: c})
	}
	slices.SortFunc(all, func(a, b topk.Entry[string]) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Key, b.Key))
	})
	keys := make([]string, min(k, len(all)))
	for i := range keys {
		keys[i] = all[i].Key
	}
	return keys
}
