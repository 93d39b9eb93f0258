package sink_test

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/streamtop/streamtop/sink"
	"github.com/streamtop/streamtop/topk"
)

// cut returns a shard's exact counts as a partial lists them: the top k in
// topk order, and the floor, the count of the first key left out.
func cut(counts map[string]int64, k int) ([]topk.Entry[string], int64) {
	var all []topk.Entry[string]
	for key, n := range counts {
		all = append(all, topk.Entry[string]{Key: key, Count: n})
	}
	slices.SortFunc(all, func(a, b topk.Entry[string]) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	if len(all) <= k {
		return all, 0
	}
	return all[:k], all[k].Count
}

// Partials cut to their top entries merge into bounds that hold: every
// merged entry's true count lies in [Count-Err, Count], every key whose true
// count exceeds the merged Floor is listed, entries are in topk order, and
// where no partial was cut the merge is exact.
func TestMergeBounds(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		at := time.Unix(1_000_000, 0) // date-proof: Merge never reads a clock
		shards := rapid.IntRange(1, 6).Draw(t, "shards")
		k := rapid.IntRange(1, 6).Draw(t, "k")
		truth := map[string]int64{}
		var parts []sink.Snapshot
		cutAny := false
		for s := range shards {
			counts := rapid.MapOfN(rapid.SampledFrom([]string{"a", "b", "c", "d", "e", "f", "g", "h"}), rapid.Int64Range(1, 20), 0, 8).Draw(t, "counts")
			for key, n := range counts {
				truth[key] += n
			}
			top, floor := cut(counts, k)
			cutAny = cutAny || floor > 0
			parts = append(parts, sink.Snapshot{Group: "g", Time: at, Shard: fmt.Sprint("s", s), Counts: top, Floor: floor})
		}
		got := sink.Merge(parts, nil)
		if len(got) != 1 {
			t.Fatalf("%d snapshots from one window's partials", len(got))
		}
		m := got[0]
		if m.Complete || m.Shard != "" {
			t.Fatalf("merged snapshot Complete %v, Shard %q: want false and empty with no progress", m.Complete, m.Shard)
		}
		listed := map[string]bool{}
		for i, e := range m.Counts {
			listed[e.Key] = true
			if n := truth[e.Key]; n < e.Count-e.Err || n > e.Count {
				t.Fatalf("key %s: true count %d outside [%d, %d]", e.Key, n, e.Count-e.Err, e.Count)
			}
			if i > 0 && (m.Counts[i-1].Count < e.Count || m.Counts[i-1].Count == e.Count && m.Counts[i-1].Key > e.Key) {
				t.Fatalf("entries out of order: %v", m.Counts)
			}
			if !cutAny && e.Err != 0 {
				t.Fatalf("key %s: Err %d although no partial was cut", e.Key, e.Err)
			}
		}
		for _, key := range slices.Sorted(maps.Keys(truth)) {
			if !listed[key] && truth[key] > m.Floor {
				t.Fatalf("key %s with true count %d not listed, above the merged floor %d", key, truth[key], m.Floor)
			}
		}
	})
}
