package source_test

import (
	"context"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/streamtop/streamtop/checkpoint"
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
	stream := newStream(t, 3)
	l := newLedger()
	store := watchedStore{checkpoint.NewMemoryStore(), l}
	prod := startProducer(t, stream, l, 48)
	cfg := func(id string) source.Config {
		c := fastConfig(stream, store, id, l.handler())
		c.FailoverTime, c.RenewInterval = 600*time.Millisecond, 150*time.Millisecond
		return c
	}
	workers := newPool(t, rng, false, cfg)
	for range 3 {
		workers.spawn("")
	}
	ctx := context.Background()
	for step := 0; step < 30; {
		time.Sleep(time.Duration(50+rng.IntN(150)) * time.Millisecond)
		step++
		switch op := rng.IntN(5); {
		case op == 0 && len(workers.alive) > 1:
			id := workers.pick()
			t.Logf("step %d: kill %s", step, id)
			workers.kill(id)
		case op == 1 && len(workers.alive) > 1:
			id := workers.pick()
			t.Logf("step %d: stop %s", step, id)
			workers.stop(id)
		case op == 2 && len(workers.alive) < 4:
			if len(workers.dead) > 0 && rng.IntN(2) == 0 {
				// Restarted under its old name: takes its leases back.
				t.Logf("step %d: restart %s", step, workers.revive())
			} else {
				t.Logf("step %d: start %s", step, workers.spawn(""))
			}
		case op == 3:
			open := openShards(t, stream)
			if len(open) < 6 {
				s := open[rng.IntN(len(open))]
				t.Logf("step %d: split %s", step, s.ID)
				if err := stream.SplitShard(ctx, s.ID, midpoint(t, s)); err != nil {
					t.Fatal(err)
				}
			}
		case op == 4:
			open := openShards(t, stream)
			if a, b, ok := adjacentPair(open, rng); ok && len(open) > 2 {
				t.Logf("step %d: merge %s %s", step, a, b)
				if err := stream.MergeShards(ctx, a, b); err != nil {
					t.Fatal(err)
				}
			}
		default:
			step-- // nothing done; draw again
		}
	}
	prod.halt()
	waitFor(t, 20*time.Second, "every record to be processed", l.allProcessed)
	workers.stopAll()
	l.check(t)
	t.Logf("records %d, processed twice %d", l.putCount, l.duplicates())
}

func openShards(t *testing.T, s source.Stream) []source.Shard {
	t.Helper()
	all, err := s.Shards(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var open []source.Shard
	for _, sh := range all {
		if !sh.Closed() {
			open = append(open, sh)
		}
	}
	return open
}

// adjacentPair picks two open shards whose hash ranges touch.
func adjacentPair(open []source.Shard, rng *rand.Rand) (string, string, bool) {
	num := func(s string) *big.Int { n, _ := new(big.Int).SetString(s, 10); return n }
	slices.SortFunc(open, func(a, b source.Shard) int { return num(a.HashKeyStart).Cmp(num(b.HashKeyStart)) })
	var pairs [][2]string
	for i := 0; i+1 < len(open); i++ {
		if new(big.Int).Add(num(open[i].HashKeyEnd), big.NewInt(1)).Cmp(num(open[i+1].HashKeyStart)) == 0 {
			pairs = append(pairs, [2]string{open[i].ID, open[i+1].ID})
		}
	}
	if len(pairs) == 0 {
		return "", "", false
	}
	p := pairs[rng.IntN(len(pairs))]
	return p[0], p[1], true
}
