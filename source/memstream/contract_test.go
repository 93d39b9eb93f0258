package memstream_test

import (
	"sync"
	"testing"
	"time"

	"github.com/streamtop/streamtop/source/memstream"
	"github.com/streamtop/streamtop/source/sourcetest"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)} // date-proof: the stream under test runs on this fake clock
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func TestContract(t *testing.T) {
	var clock *fakeClock
	newStream := func(t *testing.T, shards int) sourcetest.Stream {
		clock = newFakeClock()
		s, err := memstream.New(shards, memstream.WithClock(clock.Now))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	sourcetest.Run(t, newStream,
		sourcetest.WithTick(func() { clock.Advance(time.Second) }),
		sourcetest.WithTimeout(10*time.Second))
}

func TestContractRealClock(t *testing.T) {
	sourcetest.Run(t, func(t *testing.T, shards int) sourcetest.Stream {
		s, err := memstream.New(shards)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, sourcetest.WithTimeout(10*time.Second))
}
