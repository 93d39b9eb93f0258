package source_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/internal/consumertest"
	"github.com/streamtop/streamtop/source"
)

// Three workers share 8 shards 3/3/2; a killed worker's shards move after
// the failover time, a stopped worker's at once; nothing is lost, per-key
// order holds, and records are processed twice only after a checkpoint.
func TestConsumersBalanceFailOverAndHandOver(t *testing.T) {
	stream := consumertest.NewStream(t, 8)
	l := newLedger()
	store := watchedStore{checkpoint.NewMemoryStore(), l}
	prod := startProducer(t, stream, l, 64)

	cfg := func(id string) source.Config { return consumertest.FastConfig(stream, store, id, l.handler()) }
	a := consumertest.StartWorker(t, cfg("a"))
	b := consumertest.StartWorker(t, cfg("b"))
	c := consumertest.StartWorker(t, cfg("c"))
	took := consumertest.WaitFor(t, 5*time.Second, "3/3/2", func() bool {
		held := []int{a.Held(), b.Held(), c.Held()}
		slices.Sort(held)
		own := ownership(t, store)
		return slices.Equal(held, []int{2, 3, 3}) && own["a"] == a.Held() && own["b"] == b.Held() && own["c"] == c.Held()
	})
	t.Logf("balanced 3/3/2 in %v", took)
	// Balanced means stable: nothing moves once every worker has its share.
	time.Sleep(300 * time.Millisecond)
	held := []int{a.Held(), b.Held(), c.Held()}
	slices.Sort(held)
	if !slices.Equal(held, []int{2, 3, 3}) {
		t.Fatalf("after settling, workers hold %v, want [2 3 3]", held)
	}

	failover := cfg("").FailoverTime
	c.Kill(t)
	took = consumertest.WaitFor(t, failover+2*time.Second, "survivors to take the killed worker's shards", func() bool {
		own := ownership(t, store)
		return a.Held()+b.Held() == 8 && own["a"]+own["b"] == 8
	})
	t.Logf("killed worker's shards taken over in %v (failover %v)", took, failover)
	// Its leases were renewed at most RenewInterval before the kill, so
	// taking them sooner would mean expiry is judged wrong.
	if min := failover - cfg("").RenewInterval - 50*time.Millisecond; took < min {
		t.Errorf("shards taken over %v after the kill; leases cannot expire before %v", took, min)
	}
	if got := []int{a.Held(), b.Held()}; got[0] != 4 || got[1] != 4 {
		t.Logf("after takeover a=%d b=%d; waiting for 4/4", got[0], got[1])
		consumertest.WaitFor(t, 2*time.Second, "4/4", func() bool { return a.Held() == 4 && b.Held() == 4 })
	}

	dupsBefore := l.duplicates()
	b.Stop(t)
	took = consumertest.WaitFor(t, failover/2, "a to take the stopped worker's shards", func() bool {
		return a.Held() == 8 && ownership(t, store)["a"] == 8
	})
	t.Logf("stopped worker's shards handed over in %v", took)

	// Let the last worker catch up, then compare.
	time.Sleep(100 * time.Millisecond)
	prod.Halt()
	consumertest.WaitFor(t, 10*time.Second, "every record to be processed", l.allProcessed)
	a.Stop(t)
	l.check(t)
	if d := l.duplicates() - dupsBefore; d != 0 {
		t.Errorf("graceful hand-over processed %d records twice; want 0", d)
	}
	t.Logf("records: %d, processed twice: %d (all after the killed worker's last checkpoints)", l.putCount, l.duplicates())
}

// A worker joining one that holds 4 shards gets 2 of them by cooperative
// hand-off: no record is processed twice.
func TestConsumerScaleOutHandsOffWithoutDuplicates(t *testing.T) {
	stream := consumertest.NewStream(t, 4)
	l := newLedger()
	store := watchedStore{checkpoint.NewMemoryStore(), l}
	prod := startProducer(t, stream, l, 32)
	a := consumertest.StartWorker(t, consumertest.FastConfig(stream, store, "a", l.handler()))
	consumertest.WaitFor(t, 2*time.Second, "a to hold 4", func() bool { return a.Held() == 4 })
	consumertest.WaitFor(t, 2*time.Second, "some records processed", func() bool { return l.processed.Load() > 100 })

	b := consumertest.StartWorker(t, consumertest.FastConfig(stream, store, "b", l.handler()))
	took := consumertest.WaitFor(t, 5*time.Second, "2/2", func() bool {
		own := ownership(t, store)
		return a.Held() == 2 && b.Held() == 2 && own["a"] == 2 && own["b"] == 2
	})
	t.Logf("scale-out to 2/2 in %v", took)
	time.Sleep(200 * time.Millisecond)
	prod.Halt()
	consumertest.WaitFor(t, 10*time.Second, "every record to be processed", l.allProcessed)
	a.Stop(t)
	b.Stop(t)
	l.check(t)
	if d := l.duplicates(); d != 0 {
		t.Errorf("%d records processed twice during scale-out; want 0", d)
	}
	if s := a.C.Stats(); s.RecordsProcessed == 0 || s.Checkpoints == 0 {
		t.Errorf("a's stats %+v: want records and checkpoints counted", s)
	}
}

// Records of one key stay in put order across a split and a merge done while
// two workers run: children start only after their parents end.
func TestConsumerOrderAcrossReshard(t *testing.T) {
	stream := consumertest.NewStream(t, 4)
	l := newLedger()
	store := watchedStore{checkpoint.NewMemoryStore(), l}
	prod := startProducer(t, stream, l, 64)
	a := consumertest.StartWorker(t, consumertest.FastConfig(stream, store, "a", l.handler()))
	b := consumertest.StartWorker(t, consumertest.FastConfig(stream, store, "b", l.handler()))
	consumertest.WaitFor(t, 2*time.Second, "2/2", func() bool { return a.Held() == 2 && b.Held() == 2 })
	time.Sleep(100 * time.Millisecond)

	ctx := context.Background()
	shards, err := stream.Shards(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The parents fall behind, so their children have records to
	// process before the parents are done: they must wait anyway.
	for _, i := range []int{0, 2, 3} {
		l.pause(shards[i].ID)
	}
	time.Sleep(50 * time.Millisecond)
	if err := stream.SplitShard(ctx, shards[0].ID, consumertest.Midpoint(t, shards[0])); err != nil {
		t.Fatalf("SplitShard: %v", err)
	}
	time.Sleep(100 * time.Millisecond)
	if err := stream.MergeShards(ctx, shards[2].ID, shards[3].ID); err != nil {
		t.Fatalf("MergeShards: %v", err)
	}
	time.Sleep(200 * time.Millisecond)
	l.resume()
	time.Sleep(100 * time.Millisecond)
	prod.Halt()
	consumertest.WaitFor(t, 10*time.Second, "every record to be processed", l.allProcessed)

	// Both closed parents end, and the three children run.
	consumertest.WaitFor(t, 2*time.Second, "children to be held", func() bool { return a.Held()+b.Held() == 4 })
	leases, err := store.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ended := 0
	for _, le := range leases {
		if le.Checkpoint == checkpoint.ShardEnd {
			ended++
		}
	}
	if ended != 3 {
		t.Errorf("%d leases hold SHARD_END, want 3 (one split parent, two merged)", ended)
	}
	a.Stop(t)
	b.Stop(t)
	l.check(t)
	if d := l.duplicates(); d != 0 {
		t.Errorf("%d records processed twice; want 0 with no failure", d)
	}
}

// LATEST and AT_TIMESTAMP skip what came before; shards born of a reshard
// while the Consumer runs start at their first record whatever the initial
// position, so nothing put into them is missed.
func TestConsumerInitialPositions(t *testing.T) {
	for _, pos := range []string{"LATEST", "AT_TIMESTAMP"} {
		t.Run(pos, func(t *testing.T) {
			stream := consumertest.NewStream(t, 1)
			old := putN(t, stream, 10)
			time.Sleep(20 * time.Millisecond)
			l := newLedger()
			cfg := consumertest.FastConfig(stream, checkpoint.NewMemoryStore(), "w", l.handler())
			cfg.InitialPosition = source.Position{Type: source.Latest}
			if pos == "AT_TIMESTAMP" {
				cfg.InitialPosition = source.Position{Type: source.AtTimestamp, Timestamp: time.Now()}
				time.Sleep(20 * time.Millisecond)
			}
			w := consumertest.StartWorker(t, cfg)
			consumertest.WaitFor(t, 5*time.Second, "the shard held", func() bool { return w.Held() == 1 })
			time.Sleep(50 * time.Millisecond) // the reader is open

			ctx := context.Background()
			shards, err := stream.Shards(ctx)
			if err != nil {
				t.Fatal(err)
			}
			l.pause(shards[0].ID)
			for i := range 20 {
				key := fmt.Sprintf("new-%d", i)
				_, seq, err := stream.Put(ctx, key, []byte("x"))
				if err != nil {
					t.Fatal(err)
				}
				l.put(key, seq)
			}
			if err := stream.SplitShard(ctx, shards[0].ID, consumertest.Midpoint(t, shards[0])); err != nil {
				t.Fatal(err)
			}
			for i := range 20 { // into the children, before they can start
				key := fmt.Sprintf("child-%d", i)
				_, seq, err := stream.Put(ctx, key, []byte("x"))
				if err != nil {
					t.Fatal(err)
				}
				l.put(key, seq)
			}
			time.Sleep(100 * time.Millisecond)
			l.resume()
			consumertest.WaitFor(t, 5*time.Second, "every record put after Run", l.allProcessed)
			w.Stop(t)
			l.check(t)
			l.mu.Lock()
			defer l.mu.Unlock()
			for _, s := range old {
				if l.times[s] > 0 {
					t.Errorf("record %s, put before the initial position, was processed", s)
				}
			}
		})
	}
}

// A hand-off the owner cannot honour (its processor is stuck in a batch)
// becomes a steal after the failover time; the old owner hears LeaseLost.
func TestConsumerStealsWhenHandOffIsNotHonoured(t *testing.T) {
	stream := consumertest.NewStream(t, 2)
	putN(t, stream, 20)
	store := checkpoint.NewMemoryStore()
	lost := make(chan string, 2)
	release := make(chan struct{})
	defer close(release) // before the workers stop
	stuck := func(shardID string) source.Processor {
		return &funcProcessor{
			process: func(ctx context.Context, _ []source.Record, _ source.Checkpointer) error {
				select { // stuck in its first batch until the test ends
				case <-ctx.Done():
					return ctx.Err()
				case <-release:
					return nil
				}
			},
			leaseLost: func() { lost <- shardID },
		}
	}
	a := consumertest.StartWorker(t, consumertest.FastConfig(stream, store, "a", stuck))
	consumertest.WaitFor(t, 5*time.Second, "a to hold both shards", func() bool { return a.Held() == 2 })

	l := newLedger()
	start := time.Now()
	b := consumertest.StartWorker(t, consumertest.FastConfig(stream, store, "b", l.handler()))
	took := consumertest.WaitFor(t, 5*time.Second, "b to steal a shard", func() bool { return b.Held() == 1 })
	failover := consumertest.FastConfig(nil, nil, "", nil).FailoverTime
	t.Logf("stolen %v after b started (failover %v)", took, failover)
	if took < failover-100*time.Millisecond {
		t.Errorf("b got a shard after %v; a live owner's lease may be stolen only after the failover time", time.Since(start))
	}
	select {
	case id := <-lost:
		own := ownership(t, store)
		if own["b"] != 1 {
			t.Errorf("after the steal b owns %d leases, want 1 (lost %s)", own["b"], id)
		}
		if n := a.C.Stats().LeasesLost; n != 1 {
			t.Errorf("a's Stats count %d leases lost, want the 1 stolen", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the old owner never heard LeaseLost")
	}
	consumertest.WaitFor(t, 5*time.Second, "b to process its shard", func() bool { return l.processed.Load() > 0 })
}
