package source_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/memstream"
)

func newStream(t testing.TB, shards int) *memstream.Stream {
	t.Helper()
	s, err := memstream.New(shards)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Three workers share 8 shards 3/3/2; a killed worker's shards move after
// the failover time, a stopped worker's at once; nothing is lost, per-key
// order holds, and records are processed twice only after a checkpoint.
func TestConsumersBalanceFailOverAndHandOver(t *testing.T) {
	stream := newStream(t, 8)
	l := newLedger()
	store := watchedStore{checkpoint.NewMemoryStore(), l}
	prod := startProducer(t, stream, l, 64)

	cfg := func(id string) source.Config { return fastConfig(stream, store, id, l.handler()) }
	a := startWorker(t, cfg("a"))
	b := startWorker(t, cfg("b"))
	c := startWorker(t, cfg("c"))
	took := waitFor(t, 5*time.Second, "3/3/2", func() bool {
		held := []int{a.held(), b.held(), c.held()}
		slices.Sort(held)
		own := ownership(t, store)
		return slices.Equal(held, []int{2, 3, 3}) && own["a"] == a.held() && own["b"] == b.held() && own["c"] == c.held()
	})
	t.Logf("balanced 3/3/2 in %v", took)
	// Balanced means stable: nothing moves once every worker has its share.
	time.Sleep(300 * time.Millisecond)
	held := []int{a.held(), b.held(), c.held()}
	slices.Sort(held)
	if !slices.Equal(held, []int{2, 3, 3}) {
		t.Fatalf("after settling, workers hold %v, want [2 3 3]", held)
	}

	failover := cfg("").FailoverTime
	c.kill(t)
	took = waitFor(t, failover+2*time.Second, "survivors to take the killed worker's shards", func() bool {
		own := ownership(t, store)
		return a.held()+b.held() == 8 && own["a"]+own["b"] == 8
	})
	t.Logf("killed worker's shards taken over in %v (failover %v)", took, failover)
	// Its leases were renewed at most RenewInterval before the kill, so
	// taking them sooner would mean expiry is judged wrong.
	if min := failover - cfg("").RenewInterval - 50*time.Millisecond; took < min {
		t.Errorf("shards taken over %v after the kill; leases cannot expire before %v", took, min)
	}
	if got := []int{a.held(), b.held()}; got[0] != 4 || got[1] != 4 {
		t.Logf("after takeover a=%d b=%d; waiting for 4/4", got[0], got[1])
		waitFor(t, 2*time.Second, "4/4", func() bool { return a.held() == 4 && b.held() == 4 })
	}

	dupsBefore := l.duplicates()
	b.stop(t)
	took = waitFor(t, failover/2, "a to take the stopped worker's shards", func() bool {
		return a.held() == 8 && ownership(t, store)["a"] == 8
	})
	t.Logf("stopped worker's shards handed over in %v", took)

	// Let the last worker catch up, then compare.
	time.Sleep(100 * time.Millisecond)
	prod.halt()
	waitFor(t, 10*time.Second, "every record to be processed", l.allProcessed)
	a.stop(t)
	l.check(t)
	if d := l.duplicates() - dupsBefore; d != 0 {
		t.Errorf("graceful hand-over processed %d records twice; want 0", d)
	}
	t.Logf("records: %d, processed twice: %d (all after the killed worker's last checkpoints)", l.putCount, l.duplicates())
}

// A worker joining one that holds 4 shards gets 2 of them by cooperative
// hand-off: no record is processed twice.
func TestConsumerScaleOutHandsOffWithoutDuplicates(t *testing.T) {
	stream := newStream(t, 4)
	l := newLedger()
	store := watchedStore{checkpoint.NewMemoryStore(), l}
	prod := startProducer(t, stream, l, 32)
	a := startWorker(t, fastConfig(stream, store, "a", l.handler()))
	waitFor(t, 2*time.Second, "a to hold 4", func() bool { return a.held() == 4 })
	waitFor(t, 2*time.Second, "some records processed", func() bool { return l.processed.Load() > 100 })

	b := startWorker(t, fastConfig(stream, store, "b", l.handler()))
	took := waitFor(t, 5*time.Second, "2/2", func() bool {
		own := ownership(t, store)
		return a.held() == 2 && b.held() == 2 && own["a"] == 2 && own["b"] == 2
	})
	t.Logf("scale-out to 2/2 in %v", took)
	time.Sleep(200 * time.Millisecond)
	prod.halt()
	waitFor(t, 10*time.Second, "every record to be processed", l.allProcessed)
	a.stop(t)
	b.stop(t)
	l.check(t)
	if d := l.duplicates(); d != 0 {
		t.Errorf("%d records processed twice during scale-out; want 0", d)
	}
	if s := a.c.Stats(); s.RecordsProcessed == 0 || s.Checkpoints == 0 {
		t.Errorf("a's stats %+v: want records and checkpoints counted", s)
	}
}

// Records of one key stay in put order across a split and a merge done while
// two workers run: children start only after their parents end.
func TestConsumerOrderAcrossReshard(t *testing.T) {
	stream := newStream(t, 4)
	l := newLedger()
	store := watchedStore{checkpoint.NewMemoryStore(), l}
	prod := startProducer(t, stream, l, 64)
	a := startWorker(t, fastConfig(stream, store, "a", l.handler()))
	b := startWorker(t, fastConfig(stream, store, "b", l.handler()))
	waitFor(t, 2*time.Second, "2/2", func() bool { return a.held() == 2 && b.held() == 2 })
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
	if err := stream.SplitShard(ctx, shards[0].ID, midpoint(t, shards[0])); err != nil {
		t.Fatalf("SplitShard: %v", err)
	}
	time.Sleep(100 * time.Millisecond)
	if err := stream.MergeShards(ctx, shards[2].ID, shards[3].ID); err != nil {
		t.Fatalf("MergeShards: %v", err)
	}
	time.Sleep(200 * time.Millisecond)
	l.resume()
	time.Sleep(100 * time.Millisecond)
	prod.halt()
	waitFor(t, 10*time.Second, "every record to be processed", l.allProcessed)

	// Both closed parents end, and the three children run.
	waitFor(t, 2*time.Second, "children to be held", func() bool { return a.held()+b.held() == 4 })
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
	a.stop(t)
	b.stop(t)
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
			stream := newStream(t, 1)
			old := putN(t, stream, 10)
			time.Sleep(20 * time.Millisecond)
			l := newLedger()
			cfg := fastConfig(stream, checkpoint.NewMemoryStore(), "w", l.handler())
			cfg.InitialPosition = source.Position{Type: source.Latest}
			if pos == "AT_TIMESTAMP" {
				cfg.InitialPosition = source.Position{Type: source.AtTimestamp, Timestamp: time.Now()}
				time.Sleep(20 * time.Millisecond)
			}
			w := startWorker(t, cfg)
			waitFor(t, 5*time.Second, "the shard held", func() bool { return w.held() == 1 })
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
			if err := stream.SplitShard(ctx, shards[0].ID, midpoint(t, shards[0])); err != nil {
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
			waitFor(t, 5*time.Second, "every record put after Run", l.allProcessed)
			w.stop(t)
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
	stream := newStream(t, 2)
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
	a := startWorker(t, fastConfig(stream, store, "a", stuck))
	waitFor(t, 5*time.Second, "a to hold both shards", func() bool { return a.held() == 2 })

	l := newLedger()
	start := time.Now()
	b := startWorker(t, fastConfig(stream, store, "b", l.handler()))
	took := waitFor(t, 5*time.Second, "b to steal a shard", func() bool { return b.held() == 1 })
	failover := fastConfig(nil, nil, "", nil).FailoverTime
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
	case <-time.After(5 * time.Second):
		t.Fatal("the old owner never heard LeaseLost")
	}
	waitFor(t, 5*time.Second, "b to process its shard", func() bool { return l.processed.Load() > 0 })
}
