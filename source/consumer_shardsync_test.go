package source_test

import (
	"context"
	"testing"
	"time"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/internal/consumertest"
	"github.com/streamtop/streamtop/source/memstream"
)

// A worker lists the stream's shards on its first sync and then only when a
// lease shows a shard that ended with no lease for its children, not on every
// sync; a split is still picked up and its children processed, with every
// record processed in order.
func TestShardsListedWhenDue(t *testing.T) {
	raw, err := memstream.New(2)
	if err != nil {
		t.Fatal(err)
	}
	stream := &countingStream{Stream: raw}
	l := newLedger()
	store := checkpoint.NewMemoryStore()
	cfg := consumertest.FastConfig(stream, watchedStore{store, l}, "w1", l.handler())
	cfg.SyncInterval = 5 * time.Millisecond
	w := consumertest.StartWorker(t, cfg)
	p := startProducer(t, raw, l, 16)

	consumertest.WaitFor(t, 10*time.Second, "both shards held", func() bool { return w.Held() == 2 })
	// Let many syncs run: none of them needs the shards again.
	time.Sleep(300 * time.Millisecond)
	if n := stream.shards.Load(); n != 1 {
		t.Fatalf("Shards called %d times before any reshard; want 1 (the first sync)", n)
	}

	shards, err := raw.Shards(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := raw.SplitShard(context.Background(), shards[0].ID, consumertest.Midpoint(t, shards[0])); err != nil {
		t.Fatal(err)
	}
	// The parent's end makes the next sync list the shards and create the
	// children's leases, which this worker then takes.
	consumertest.WaitFor(t, 10*time.Second, "the split's children held", func() bool { return w.Held() == 3 })
	p.Halt()
	consumertest.WaitFor(t, 10*time.Second, "every record processed", l.allProcessed)
	l.check(t)
	n := stream.shards.Load()
	if n < 2 || n > 4 {
		t.Errorf("Shards called %d times in all; want the first sync, about one after the split, and no more", n)
	}
	time.Sleep(100 * time.Millisecond)
	if m := stream.shards.Load(); m != n {
		t.Errorf("Shards called %d more times after the children had leases", m-n)
	}
}

// A ShardSyncInterval lists the shards again once it has passed, reshard or
// not.
func TestShardsListedEveryInterval(t *testing.T) {
	raw, err := memstream.New(1)
	if err != nil {
		t.Fatal(err)
	}
	stream := &countingStream{Stream: raw}
	l := newLedger()
	cfg := consumertest.FastConfig(stream, checkpoint.NewMemoryStore(), "w1", l.handler())
	cfg.SyncInterval = 5 * time.Millisecond
	cfg.ShardSyncInterval = 20 * time.Millisecond
	consumertest.StartWorker(t, cfg)
	consumertest.WaitFor(t, 10*time.Second, "Shards listed three times", func() bool { return stream.shards.Load() >= 3 })
}
