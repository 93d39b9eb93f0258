package aggregate_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/streamtop/streamtop/aggregate"
	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/internal/aggchaos"
	"github.com/streamtop/streamtop/internal/consumertest"
	"github.com/streamtop/streamtop/sink"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/memstream"
)

// Issue 14's idle target, in a synctest bubble (the stream, the Consumer and
// the processors' idle watermarks all run on its clock): group a gets
// records for 3 s, then none for 30 s; every record goes to one of the two
// shards, so the other never gets one. Every window from a's first record
// to 30 s later is read back complete, with zero counts once its records
// left the window, and the newest complete window is at most the idle
// timeout plus a bucket and a poll behind the clock.
func TestQuietGroupAndShardKeepClosing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const size, bucket = 2 * time.Second, time.Second
		stream := consumertest.NewStream(t, 2)
		out, err := sink.NewMemory()
		if err != nil {
			t.Fatal(err)
		}
		agg, err := aggregate.New(aggregate.Config{Size: size, Bucket: bucket, Sink: out, Host: "w",
			Decoder: aggregate.DecoderFunc(func(r source.Record, dst []aggregate.Item) ([]aggregate.Item, error) {
				g, k, err := aggchaos.ParseVisit(r)
				return append(dst, aggregate.Item{Group: g, Key: k, Time: r.ArrivalTime, N: 1}), err
			})})
		if err != nil {
			t.Fatal(err)
		}
		w := consumertest.StartWorker(t, consumertest.FastConfig(stream, checkpoint.NewMemoryStore(), "w", agg.NewProcessor))
		consumertest.WaitFor(t, 10*time.Second, "both shards held", func() bool { return w.Held() == 2 })

		first := time.Now()
		for range 30 {
			if _, err := stream.PutRecords(context.Background(), []memstream.Entry{{PartitionKey: "one-shard", Data: []byte("a/x")}}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(30 * time.Second)
		now := time.Now()
		snaps, err := out.Query(context.Background(), "a", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		w.Stop(t)

		var last time.Time
		for i, s := range snaps {
			if !s.Complete {
				if i != len(snaps)-1 {
					t.Errorf("window at %v incomplete, but a later one is complete", s.Time)
				}
				continue
			}
			if i > 0 && s.Time.Sub(snaps[i-1].Time) != bucket {
				t.Errorf("windows at %v and %v: want one every bucket", snaps[i-1].Time, s.Time)
			}
			var n int64
			for _, e := range s.Counts {
				n += e.Count
			}
			if s.Time.After(first.Add(3*time.Second+size+bucket)) && n != 0 {
				t.Errorf("window at %v counts %d, want 0: a's records left it", s.Time, n)
			}
			last = s.Time
		}
		t.Logf("%d windows read back, the newest complete %v behind the clock", len(snaps), now.Sub(last))
		if lag := now.Sub(last); lag > aggregate.DefaultIdleBuckets*bucket+bucket+time.Second {
			t.Errorf("newest complete window %v behind the clock; want at most the idle timeout plus a bucket and a poll", lag)
		}
		if len(snaps) < 30 {
			t.Errorf("%d windows over 33 s of 1 s buckets; want about 33", len(snaps))
		}
	})
}
