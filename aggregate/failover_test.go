package aggregate_test

import (
	"encoding"
	"slices"
	"testing"
	"time"

	"github.com/streamtop/streamtop/aggregate"
	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/internal/aggchaos"
	"github.com/streamtop/streamtop/internal/consumertest"
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
	raw := consumertest.NewStream(t, 2)
	store := checkpoint.NewMemoryStore()
	out := &aggchaos.RecordingSink{}
	seen := aggchaos.NewFirstSeen()
	start := func(id string) *consumertest.Worker {
		agg, err := aggregate.New(aggregate.Config{Size: size, Bucket: bucket, Decoder: seen.Decoder(), Sink: out, Host: id})
		if err != nil {
			t.Fatal(err)
		}
		c := consumertest.FastConfig(raw, store, id, agg.NewProcessor)
		c.FailoverTime, c.RenewInterval = failover, 150*time.Millisecond
		return consumertest.StartWorker(t, c)
	}
	a := start("a")
	prod := aggchaos.StartGroupProducer(t, raw, 8, 1)
	consumertest.WaitFor(t, 5*time.Second, "a to hold both shards", func() bool { return a.Held() == 2 })
	time.Sleep(time.Second)
	b := start("b")
	consumertest.WaitFor(t, 5*time.Second, "a graceful hand-over to b", func() bool { return a.Held() == 1 && b.Held() == 1 })
	time.Sleep(time.Second)
	a.Kill(t)
	took := consumertest.WaitFor(t, 5*time.Second, "b to take a's shard", func() bool { return b.Held() == 2 })
	time.Sleep(time.Second)
	prod.Halt()
	records := consumertest.ReadAll(t, raw)
	consumertest.WaitFor(t, 10*time.Second, "every record to be processed", func() bool { return seen.Count() >= len(records) })
	b.Stop(t)

	seen.Check(t, records)
	truth := aggchaos.Recompute(records, bucket)
	for _, s := range out.All() {
		if want := truth.Window(s.Group, s.Time, size, bucket); !slices.Equal(want, s.Counts) {
			t.Errorf("snapshot of %s at %v by %s: got %v, want %v", s.Group, s.Time.Format("15:04:05.000"), s.Host, s.Counts, want)
		}
	}
	d := out.Delays()
	gaps := truth.Gaps(out.Written(bucket), size, bucket, nil)
	t.Logf("records %d, takeover %v after the kill, windows %d, missing %d, written after their end: p50 %v, max %v",
		len(records), took.Round(time.Millisecond), len(out.All()), gaps, d[len(d)/2].Round(time.Millisecond), d[len(d)-1].Round(time.Millisecond))
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
