package dynamosink_test

import (
	"fmt"
	"maps"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/streamtop/streamtop/internal/testname"
	"github.com/streamtop/streamtop/sink"
	"github.com/streamtop/streamtop/topk"
)

// TestMatchesModel writes random batches (with repeated keys, times less
// than a millisecond apart, and times in other zones) and queries from random
// instants, and compares with a model: a map per group from the millisecond
// to the last snapshot written for it.
func TestMatchesModel(t *testing.T) {
	s := newSink(t)
	base := time.Now().UTC().Truncate(time.Second)
	var runs atomic.Int64
	// Offsets that straddle millisecond boundaries.
	offsets := []time.Duration{0, 400 * time.Microsecond, time.Millisecond, 1500 * time.Microsecond,
		time.Second, time.Second + 999*time.Microsecond, 3 * time.Second}
	zones := []*time.Location{time.UTC, time.FixedZone("UTC+5:30", 5*3600+1800), time.FixedZone("UTC-8", -8*3600)}
	rapid.Check(t, func(rt *rapid.T) {
		ctx := t.Context()
		run := runs.Add(1)
		groups := []string{testname.Unique(t, fmt.Sprint(run, "a")), testname.Unique(t, fmt.Sprint(run, "b"))}
		model := map[string]map[time.Time]sink.Snapshot{}
		drawTime := func(rt *rapid.T, label string) time.Time {
			return base.Add(rapid.SampledFrom(offsets).Draw(rt, label)).In(rapid.SampledFrom(zones).Draw(rt, label+"Zone"))
		}
		rt.Repeat(map[string]func(*rapid.T){
			"Write": func(rt *rapid.T) {
				n := rapid.IntRange(1, 4).Draw(rt, "n")
				batch := make([]sink.Snapshot, n)
				for i := range batch {
					var counts []topk.Entry[string]
					for j := range rapid.IntRange(0, 3).Draw(rt, "counts") {
						counts = append(counts, topk.Entry[string]{Key: fmt.Sprint("ref", j),
							Count: rapid.Int64Range(0, 1<<40).Draw(rt, "count"), Err: rapid.Int64Range(0, 2).Draw(rt, "err")})
					}
					batch[i] = sink.Snapshot{
						Group:  rapid.SampledFrom(groups).Draw(rt, "group"),
						Time:   drawTime(rt, "time"),
						Window: time.Duration(rapid.IntRange(1, 20).Draw(rt, "window")) * time.Second,
						Counts: counts,
						Host:   rapid.SampledFrom([]string{"", "h1", "h2"}).Draw(rt, "host"),
					}
				}
				if err := s.Write(ctx, batch); err != nil {
					rt.Fatalf("Write: %v", err)
				}
				for _, snap := range batch {
					key := snap.Time.UTC().Truncate(time.Millisecond)
					if model[snap.Group] == nil {
						model[snap.Group] = map[time.Time]sink.Snapshot{}
					}
					snap.Time = key
					model[snap.Group][key] = snap
				}
			},
			"Query": func(rt *rapid.T) {
				group := rapid.SampledFrom(groups).Draw(rt, "group")
				since := drawTime(rt, "since")
				got, err := s.Query(ctx, group, since)
				if err != nil {
					rt.Fatalf("Query: %v", err)
				}
				var want []sink.Snapshot
				for _, at := range slices.SortedFunc(maps.Keys(model[group]), time.Time.Compare) {
					if !at.Before(since) {
						want = append(want, model[group][at])
					}
				}
				if d := cmp.Diff(complete(want), got, snapOpts); d != "" {
					rt.Fatalf("Query(%s, %v) (-model +dynamodb):\n%s", group, since, d)
				}
			},
		})
	})
}
