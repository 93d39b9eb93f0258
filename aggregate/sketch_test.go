package aggregate_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"

	"github.com/streamtop/streamtop/aggregate"
	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/internal/aggchaos"
	"github.com/streamtop/streamtop/internal/consumertest"
	"github.com/streamtop/streamtop/internal/workload"
	"github.com/streamtop/streamtop/sink"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/memstream"
)

// Sketch mode end to end, in a synctest bubble: 4 shards, random partition
// keys, 3 groups counted by window.Sketches of capacity 64, two workers of
// which one is killed halfway (the other restores its windows from the lease
// table), on every kind of stream in internal/workload: Zipf 1.1 and 0.8,
// the shifting Zipf, uniform, and all-distinct keys. Every window read back
// complete holds every key whose true count exceeds its Floor, and every
// count lies within its bound, against a recount of the records.
func TestSketchModeBounds(t *testing.T) {
	const n = 10_000
	streams := map[string][]string{
		"zipf1.1":  workload.ZipfStream(1.1, 5000, n, 1),
		"zipf0.8":  workload.ZipfStream(0.8, 5000, n, 2),
		"shifting": workload.ShiftingZipfStream(1.1, 5000, n, 3),
		"uniform":  workload.UniformStream(workload.Keys(500), n, 4),
		"distinct": workload.DistinctStream(n),
	}
	for name, keys := range streams {
		t.Run(name, func(t *testing.T) { testSketchModeBounds(t, keys) })
	}
}

func testSketchModeBounds(t *testing.T, keys []string) {
	synctest.Test(t, func(t *testing.T) {
		const size, bucket, capacity = 2 * time.Second, 500 * time.Millisecond, 64
		stream := consumertest.NewStream(t, 4)
		out, err := sink.NewMemory()
		if err != nil {
			t.Fatal(err)
		}
		store := checkpoint.NewMemoryStore()
		var aggs []*aggregate.Aggregator
		start := func(id string) *consumertest.Worker {
			agg, err := aggregate.New(aggregate.Config{Size: size, Bucket: bucket, Sink: out, Host: id, K: 10, SketchCapacity: capacity,
				Decoder: aggregate.DecoderFunc(func(r source.Record, dst []aggregate.Item) ([]aggregate.Item, error) {
					g, k, err := aggchaos.ParseVisit(r)
					return append(dst, aggregate.Item{Group: g, Key: k, Time: r.ArrivalTime, N: 1}), err
				})})
			if err != nil {
				t.Fatal(err)
			}
			aggs = append(aggs, agg)
			return consumertest.StartWorker(t, consumertest.FastConfig(stream, store, id, agg.NewProcessor))
		}
		a, b := start("a"), start("b")
		consumertest.WaitFor(t, 10*time.Second, "4 shards held", func() bool { return a.Held()+b.Held() == 4 })

		rng := rand.New(rand.NewPCG(1, 2))
		for i := range 200 {
			if i == 100 {
				a.Kill(t)
			}
			batch := make([]memstream.Entry, 50)
			for j := range batch {
				batch[j] = memstream.Entry{PartitionKey: fmt.Sprint("req-", rng.Uint64()),
					Data: fmt.Appendf(nil, "g%d/%s", rng.IntN(3), keys[i*len(batch)+j])}
			}
			if _, err := stream.PutRecords(context.Background(), batch); err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(30 * time.Second) // failover, then every window closes
		records := consumertest.ReadAll(t, stream)
		b.Stop(t)

		truth := aggchaos.Recompute(records, bucket)
		checked, listed := checkBounds(t, out, truth, size, bucket, false)
		var st aggregate.Stats
		for _, agg := range aggs {
			s := agg.Stats()
			st.Records += s.Records
			st.StateWrites += s.StateWrites
		}
		t.Logf("%d records, %d decoded (replays included), %d state checkpoints, %d complete windows checked, %d entries",
			len(records), st.Records, st.StateWrites, checked, listed)
		if checked < 3*20 {
			t.Errorf("%d complete windows over 4 s of records in 3 groups; want at least 60", checked)
		}
		if st.StateWrites == 0 {
			t.Error("no state saved: the failover did not restore Sketch windows")
		}
	})
}

// checkBounds reads every complete window of every group back from out and
// checks it against truth: every count within its bound, every key above
// the Floor listed, and, if contiguous, the windows one bucket apart. It
// returns the windows and entries it checked.
func checkBounds(t *testing.T, out *sink.Memory, truth aggchaos.Truth, size, bucket time.Duration, contiguous bool) (checked, listed int) {
	t.Helper()
	for _, g := range truth.Groups() {
		snaps, err := sink.QueryComplete(context.Background(), out, g, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range snaps {
			if contiguous && i > 0 && !s.Time.Equal(snaps[i-1].Time.Add(bucket)) {
				t.Errorf("%s: complete windows jump from %v to %v", g, snaps[i-1].Time, s.Time)
			}
			want := map[string]int64{}
			for _, e := range truth.Window(g, s.Time, size, bucket) {
				want[e.Key] = e.Count
			}
			seen := map[string]bool{}
			for _, e := range s.Counts {
				seen[e.Key] = true
				listed++
				if n := want[e.Key]; n < e.Count-e.Err || n > e.Count {
					t.Errorf("%s at %v: %s true count %d outside [%d, %d]", g, s.Time, e.Key, n, e.Count-e.Err, e.Count)
				}
			}
			for k, n := range want {
				if !seen[k] && n > s.Floor {
					t.Errorf("%s at %v: %s with true count %d not listed, above the floor %d", g, s.Time, k, n, s.Floor)
				}
			}
			checked++
		}
	}
	return checked, listed
}
