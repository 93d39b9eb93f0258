package aggregate_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/streamtop/streamtop/aggregate"
	"github.com/streamtop/streamtop/sink"
	"github.com/streamtop/streamtop/topk"
)

// BenchmarkPartialK measures how often the merged top K of a window is
// exact (every entry's Err 0, and the keys and order of the true top K)
// when each of 8 shards lists only its top PartialK, for windows of 2,000
// records over 1,000 keys drawn from a Zipf law (s = 1.1) and spread over
// the shards at random, as random partition keys spread them. The metric
// exact-% is what DefaultPartialK was chosen by.
func BenchmarkPartialK(b *testing.B) {
	const k, shards, keys = 10, 8, 1000
	for _, records := range []int{2_000, 20_000, 200_000} {
		for _, pk := range []int{k, 2 * k, 4 * k, aggregate.DefaultPartialK(k)} {
			b.Run(fmt.Sprintf("records=%d/PartialK=%d", records, pk), func(b *testing.B) {
				rng := rand.New(rand.NewPCG(1, 2))
				zipf := rand.NewZipf(rand.New(rand.NewPCG(3, 4)), 1.1, 1, keys-1)
				exact, sameKeys, windows := 0, 0, 0
				for b.Loop() {
					parts := make([]*topk.Exact[string], shards)
					for i := range parts {
						parts[i] = topk.NewExact[string]()
					}
					truth := topk.NewExact[string]()
					for range records {
						key := fmt.Sprint("k", zipf.Uint64())
						parts[rng.IntN(shards)].Add(key, 1)
						truth.Add(key, 1)
					}
					at := time.Unix(0, 0) // date-proof: only sink.Merge reads it, and Merge reads no clock
					var snaps []sink.Snapshot
					for i, p := range parts {
						top, floor := p.Top(pk+1), int64(0)
						if len(top) > pk {
							floor, top = top[pk].Count, top[:pk]
						}
						snaps = append(snaps, sink.Snapshot{Group: "g", Time: at, Shard: fmt.Sprint(i), Counts: top, Floor: floor})
					}
					got := sink.Merge(snaps, nil)[0].Counts
					want := truth.Top(k)
					windows++
					if len(got) >= k && slices.Equal(got[:k], want) {
						exact++
					}
					if len(got) >= k && slices.Equal(keysOf(got[:k]), keysOf(want)) {
						sameKeys++
					}
				}
				b.ReportMetric(100*float64(exact)/float64(windows), "exact-%")
				b.ReportMetric(100*float64(sameKeys)/float64(windows), "same-keys-%")
			})
		}
	}
}

func keysOf(es []topk.Entry[string]) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Key
	}
	return out
}
