package aggregate_test

import (
	"testing"
	"time"

	"github.com/streamtop/streamtop/aggregate"
	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/internal/aggchaos"
	"github.com/streamtop/streamtop/internal/consumertest"
)

// Issue 8's failover targets for windowed counting, on one scripted run: a
// second worker joins (the first hands a shard over gracefully), then the
// first is killed and the second takes its shard after the failover time.
// Every partial equals its shard's part of the recount, every window read
// back complete equals the recount, no window goes missing, and every
// window is complete within about the failover time after its end (issue
// 14). It runs with the group as partition key and with random keys.
func TestAggregateHandOffAndCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("seconds of failover")
	}
	for _, byGroup := range []bool{true, false} {
		name := "RandomKeys"
		if byGroup {
			name = "KeyedByGroup"
		}
		t.Run(name, func(t *testing.T) { testHandOffAndCrash(t, byGroup) })
	}
}

func testHandOffAndCrash(t *testing.T, byGroup bool) {
	const size, bucket = 500 * time.Millisecond, 100 * time.Millisecond
	const failover = 600 * time.Millisecond
	raw := consumertest.NewStream(t, 2)
	store := checkpoint.NewMemoryStore()
	out := aggchaos.NewRecordingSink()
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
	prod := aggchaos.StartGroupProducer(t, raw, 8, 1, byGroup)
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
	truth := aggchaos.Recompute(records, bucket)
	consumertest.Settle(5*time.Second, func() bool { return len(truth.Missing(out.Complete(t, truth, bucket), size, bucket)) == 0 })
	b.Stop(t)

	seen.Check(t, records)
	checked := out.CheckWindows(t, records, size, bucket)
	gaps := truth.Missing(out.Complete(t, truth, bucket), size, bucket)
	d := out.CompleteDelays()
	if len(d) == 0 {
		t.Fatal("no window became complete")
	}
	t.Logf("records %d, takeover %v after the kill, partials %d, complete windows %d, missing %d, complete after their end: p50 %v, p99 %v, max %v",
		len(records), took.Round(time.Millisecond), checked.Partials, checked.Windows, len(gaps),
		d[len(d)/2].Round(time.Millisecond), d[len(d)*99/100].Round(time.Millisecond), d[len(d)-1].Round(time.Millisecond))
	if len(gaps) > 0 {
		t.Errorf("%d windows with records never complete after a hand-over and a crash, first %v", len(gaps), gaps[0])
	}
	if max := d[len(d)-1]; max > failover+time.Second {
		t.Errorf("a window became complete %v after its end; want about the failover time (%v) at most", max, failover)
	}
}
