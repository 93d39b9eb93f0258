package source_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/internal/consumertest"
	"github.com/streamtop/streamtop/source"
)

// Workers are killed, stopped and restarted (with new IDs and old ones)
// while shards are split and merged and a producer runs. At the end every
// record was processed, per key in put order, and only records after a
// checkpoint were processed twice.
func TestConsumerChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("several seconds of random failures")
	}
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	stream := consumertest.NewStream(t, 3)
	l := newLedger()
	store := watchedStore{checkpoint.NewMemoryStore(), l}
	prod := startProducer(t, stream, l, 48)
	cfg := func(id string) source.Config {
		c := consumertest.FastConfig(stream, store, id, l.handler())
		c.FailoverTime, c.RenewInterval = 600*time.Millisecond, 150*time.Millisecond
		return c
	}
	workers := consumertest.NewPool(t, rng, false, cfg)
	for range 3 {
		workers.Spawn("")
	}
	ctx := context.Background()
	for step := 0; step < 30; {
		time.Sleep(time.Duration(50+rng.IntN(150)) * time.Millisecond)
		step++
		switch op := rng.IntN(5); {
		case op == 0 && len(workers.Alive) > 1:
			id := workers.Pick()
			t.Logf("step %d: kill %s", step, id)
			workers.Kill(id)
		case op == 1 && len(workers.Alive) > 1:
			id := workers.Pick()
			t.Logf("step %d: stop %s", step, id)
			workers.Stop(id)
		case op == 2 && len(workers.Alive) < 4:
			if len(workers.Dead) > 0 && rng.IntN(2) == 0 {
				// Restarted under its old name: takes its leases back.
				t.Logf("step %d: restart %s", step, workers.Revive())
			} else {
				t.Logf("step %d: start %s", step, workers.Spawn(""))
			}
		case op == 3:
			open := consumertest.OpenShards(t, stream)
			if len(open) < 6 {
				s := open[rng.IntN(len(open))]
				t.Logf("step %d: split %s", step, s.ID)
				if err := stream.SplitShard(ctx, s.ID, consumertest.Midpoint(t, s)); err != nil {
					t.Fatal(err)
				}
			}
		case op == 4:
			open := consumertest.OpenShards(t, stream)
			if a, b, ok := consumertest.AdjacentPair(open, rng); ok && len(open) > 2 {
				t.Logf("step %d: merge %s %s", step, a, b)
				if err := stream.MergeShards(ctx, a, b); err != nil {
					t.Fatal(err)
				}
			}
		default:
			step-- // nothing done; draw again
		}
	}
	prod.Halt()
	consumertest.WaitFor(t, 20*time.Second, "every record to be processed", l.allProcessed)
	workers.StopAll()
	l.check(t)
	t.Logf("records %d, processed twice %d", l.putCount, l.duplicates())
}
