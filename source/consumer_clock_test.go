package source_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/internal/consumertest"
	"github.com/streamtop/streamtop/source"
)

// With default settings, in a synctest bubble (its clock moves on whenever
// every goroutine waits, so the default 10 s failover costs no real time): a
// joining worker gets its half within 5 s, a leaving one hands over within
// 1 s, and a killed one's shards are processed again within 12 s, all on the
// bubble's clock. That the targets hold there also shows the Consumer takes
// all its time from package time, which the bubble controls.
func TestConsumerDefaultTargetsInBubble(t *testing.T) {
	synctest.Test(t, testConsumerDefaultTargets)
}

func testConsumerDefaultTargets(t *testing.T) {
	stream := consumertest.NewStream(t, 4)
	l := newLedger()
	store := watchedStore{checkpoint.NewMemoryStore(), l}
	prod := startProducer(t, stream, l, 64)
	cfg := func(id string) source.Config {
		return source.Config{Stream: stream, Leases: store, WorkerID: id, NewProcessor: l.handler()}
	}
	measure := func(what string, limit time.Duration, cond func() bool) time.Duration {
		t.Helper()
		start := time.Now()
		consumertest.WaitFor(t, time.Minute, what, cond)
		took := time.Since(start)
		t.Logf("%s: %v on the clock (target %v)", what, took, limit)
		if took > limit {
			t.Errorf("%s took %v on the clock; target %v", what, took, limit)
		}
		return took
	}
	a := consumertest.StartWorker(t, cfg("a"))
	consumertest.WaitFor(t, 5*time.Second, "a to hold 4", func() bool { return a.Held() == 4 })

	b := consumertest.StartWorker(t, cfg("b"))
	measure("scale-out to 2/2", 5*time.Second, func() bool { return a.Held() == 2 && b.Held() == 2 })
	b.Stop(t)
	measure("graceful hand-over", time.Second, func() bool { return a.Held() == 4 && ownership(t, store)["a"] == 4 })
	if d := l.duplicates(); d != 0 {
		t.Errorf("%d records processed twice during scale-out and hand-over; want 0", d)
	}

	b = consumertest.StartWorker(t, cfg("b2"))
	consumertest.WaitFor(t, 10*time.Second, "2/2 again", func() bool { return a.Held() == 2 && b.Held() == 2 })
	b.Kill(t)
	before := map[string]int64{}
	for _, sh := range a.C.Stats().Shards {
		before[sh.ShardID] = sh.RecordsProcessed
	}
	took := measure("crash takeover", 12*time.Second, func() bool {
		st := a.C.Stats()
		if st.LeasesHeld != 4 {
			return false
		}
		for _, sh := range st.Shards {
			if sh.RecordsProcessed <= before[sh.ShardID] {
				return false
			}
		}
		return true
	})
	if took < 10*time.Second-source.DefaultFailoverTime/3 {
		t.Errorf("crash takeover after %v on the clock: before the leases could expire", took)
	}
	prod.Halt()
	consumertest.WaitFor(t, 10*time.Second, "every record", l.allProcessed)
	a.Stop(t)
	l.check(t)
}
