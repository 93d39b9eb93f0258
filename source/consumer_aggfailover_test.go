package source_test

import (
	"encoding"
	"slices"
	"testing"
	"time"

	"github.com/streamtop/streamtop/aggregate"
	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/window"
)

// Issue 8's failover targets for windowed counting, on one scripted run: a
// second worker joins (the first hands a shard over gracefully), then the
// first is killed and the second takes its shard after the failover time.
// Every snapshot equals the recomputation; with state saved in checkpoints
// no window goes missing, and none is written later than about the failover
// time after its end.
func TestAggregateHandOffAndCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("seconds of failover")
	}
	const size, bucket = 500 * time.Millisecond, 100 * time.Millisecond
	const failover = 600 * time.Millisecond
	raw := newStream(t, 2)
	store := checkpoint.NewMemoryStore()
	out := &recordingSink{}
	seen := newFirstSeen()
	start := func(id string) *worker {
		agg, err := aggregate.New(aggregate.Config{Size: size, Bucket: bucket, Decoder: seen.decoder(), Sink: out, Host: id})
		if err != nil {
			t.Fatal(err)
		}
		c := fastConfig(raw, store, id, agg.NewProcessor)
		c.FailoverTime, c.RenewInterval = failover, 150*time.Millisecond
		return startWorker(t, c)
	}
	a := start("a")
	prod := startGroupProducer(t, raw, 8, 1)
	waitFor(t, 5*time.Second, "a to hold both shards", func() bool { return a.held() == 2 })
	time.Sleep(time.Second)
	b := start("b")
	waitFor(t, 5*time.Second, "a graceful hand-over to b", func() bool { return a.held() == 1 && b.held() == 1 })
	time.Sleep(time.Second)
	a.kill(t)
	took := waitFor(t, 5*time.Second, "b to take a's shard", func() bool { return b.held() == 2 })
	time.Sleep(time.Second)
	prod.halt()
	records := readAll(t, raw)
	waitFor(t, 10*time.Second, "every record to be processed", func() bool { return seen.count() >= len(records) })
	b.stop(t)

	seen.check(t, records)
	truth := recompute(records, bucket)
	for _, s := range out.all() {
		if want := truth.window(s.Group, s.Time, size, bucket); !slices.Equal(want, s.Counts) {
			t.Errorf("snapshot of %s at %v by %s: got %v, want %v", s.Group, s.Time.Format("15:04:05.000"), s.Host, s.Counts, want)
		}
	}
	d := out.delays()
	gaps := truth.gaps(out.written(bucket), size, bucket, nil)
	t.Logf("records %d, takeover %v after the kill, windows %d, missing %d, written after their end: p50 %v, max %v",
		len(records), took.Round(time.Millisecond), len(out.all()), gaps, d[len(d)/2].Round(time.Millisecond), d[len(d)-1].Round(time.Millisecond))
	if _, ok := any(&window.Counter[string]{}).(encoding.BinaryMarshaler); !ok {
		t.Log("window.Counter cannot encode itself yet: resumes leave a window's gap; gap and delay targets not checked")
		return
	}
	if gaps > 0 {
		t.Errorf("%d windows missing after a hand-over and a crash with state in checkpoints", gaps)
	}
	if max := d[len(d)-1]; max > failover+time.Second {
		t.Errorf("a window was first written %v after its end; want about the failover time (%v) at most", max, failover)
	}
}
