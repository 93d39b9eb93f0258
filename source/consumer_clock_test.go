package source_test

import (
	"sync"
	"testing"
	"time"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/internal/consumertest"
	"github.com/streamtop/streamtop/source"
)

// lapseClock is a source.Clock that runs faster than real time: a goroutine
// moves it forward by speed*tick every tick. It lets a test run the default
// intervals (a 10 s failover) in a fraction of the time, and proves the
// Consumer takes all its time from its Clock.
type lapseClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []lapseWaiter
	stop    chan struct{}
	done    chan struct{}
}

type lapseWaiter struct {
	at time.Time
	ch chan time.Time
}

func newLapseClock(t testing.TB, speed int) *lapseClock {
	c := &lapseClock{now: time.Unix(1_700_000_000, 0), stop: make(chan struct{}), done: make(chan struct{})} // date-proof: the Consumer runs on this clock
	const tick = time.Millisecond
	go func() {
		defer close(c.done)
		tk := time.NewTicker(tick)
		defer tk.Stop()
		for {
			select {
			case <-c.stop:
				return
			case <-tk.C:
				c.advance(time.Duration(speed) * tick)
			}
		}
	}()
	t.Cleanup(func() { close(c.stop); <-c.done })
	return c
}

func (c *lapseClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *lapseClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, lapseWaiter{c.now.Add(d), ch})
	return ch
}

func (c *lapseClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			kept = append(kept, w)
			continue
		}
		w.ch <- c.now
	}
	clear(c.waiters[len(kept):])
	c.waiters = kept
}

// With default settings, on a clock running ten times faster: a joining
// worker gets its half within 5 s, a leaving one hands over within 1 s, and
// a killed one's shards are processed again within 12 s, all in clock time.
func TestConsumerDefaultTargetsOnLapseClock(t *testing.T) {
	if testing.Short() {
		t.Skip("a few seconds")
	}
	clock := newLapseClock(t, 10)
	stream := consumertest.NewStream(t, 4)
	l := newLedger()
	store := watchedStore{checkpoint.NewMemoryStore(), l}
	prod := startProducer(t, stream, l, 64)
	cfg := func(id string) source.Config {
		return source.Config{Stream: stream, Leases: store, WorkerID: id, NewProcessor: l.handler(), Clock: clock}
	}
	measure := func(what string, limit time.Duration, cond func() bool) time.Duration {
		t.Helper()
		start := clock.Now()
		consumertest.WaitFor(t, 10*time.Second, what, cond)
		took := clock.Now().Sub(start)
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
