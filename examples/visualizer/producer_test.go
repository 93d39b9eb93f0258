package main

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/streamtop/streamtop/internal/consumertest"
	"github.com/streamtop/streamtop/source/memstream"
)

// shares draws n visits and returns each (resource, referrer)'s share of
// them, and each resource's.
func shares(t *testing.T, g *traffic, n int) (map[string]map[string]float64, map[string]float64) {
	t.Helper()
	byRes := map[string]map[string]float64{}
	res := map[string]float64{}
	for range n {
		m := g.draw()
		var v visit
		if err := json.Unmarshal(m.data, &v); err != nil {
			t.Fatalf("record %q: %v", m.data, err)
		}
		if g.visitorIDs == nil && v.Resource != m.key {
			t.Fatalf("partition key %q for resource %q", m.key, v.Resource)
		}
		if byRes[v.Resource] == nil {
			byRes[v.Resource] = map[string]float64{}
		}
		byRes[v.Resource][v.Referrer]++
		res[v.Resource]++
	}
	for r, refs := range byRes {
		for ref := range refs {
			refs[ref] /= res[r]
		}
		res[r] /= float64(n)
	}
	return byRes, res
}

func TestTrafficFixedWeights(t *testing.T) {
	for _, key := range []string{keyPage, keyRandom} {
		t.Run(key, func(t *testing.T) { testTrafficFixedWeights(t, newTraffic(1, 0, key)) })
	}
}

func testTrafficFixedWeights(t *testing.T, g *traffic) {
	g.at(t0)
	byRes, res := shares(t, g, 50_000)
	sum := 0.0
	for _, w := range baseWeights {
		sum += w
	}
	for _, r := range resources {
		if math.Abs(res[r]-0.25) > 0.02 {
			t.Errorf("%s: share %.3f of visits, want 0.25", r, res[r])
		}
		for j, ref := range referrers {
			want := baseWeights[j] / sum
			if got := byRes[r][ref]; math.Abs(got-want) > 0.02 {
				t.Errorf("%s from %s: share %.3f, want %.3f", r, ref, got, want)
			}
		}
	}
}

// TestTrafficDrifts: with drift, the weights follow their sines, stay
// positive, and the leading referrer of a page changes over a period.
func TestTrafficDrifts(t *testing.T) {
	g := newTraffic(1, time.Minute, keyPage)
	leaders := map[int]bool{}
	for s := 0; s < 60; s++ {
		w := g.weights(0, t0.Add(time.Duration(s)*time.Second))
		best := 0
		for j, x := range w {
			if x <= 0 {
				t.Fatalf("weight %v of %s at %ds", x, referrers[j], s)
			}
			if x > w[best] {
				best = j
			}
		}
		leaders[best] = true
	}
	if len(leaders) < 2 {
		t.Fatalf("the same referrer led for a whole drift period: %v", leaders)
	}
	// The drawn shares follow the weights of the time given to at.
	at := t0.Add(17 * time.Second)
	g.at(at)
	byRes, _ := shares(t, g, 50_000)
	w := g.weights(2, at)
	sum := 0.0
	for _, x := range w {
		sum += x
	}
	for j, ref := range referrers {
		if got := byRes[resources[2]][ref]; math.Abs(got-w[j]/sum) > 0.02 {
			t.Errorf("%s: share %.3f, want %.3f", ref, got, w[j]/sum)
		}
	}
}

// TestTrafficPartitionKeys puts visits on a two-shard memstream as the
// program does: keyed by page, each page's visits are on one shard; keyed at
// random, every page's visits are split about evenly between the shards, by
// thousands of distinct visitor IDs, the same ones for the same seed.
func TestTrafficPartitionKeys(t *testing.T) {
	const n = 20_000
	for _, key := range []string{keyPage, keyRandom} {
		t.Run(key, func(t *testing.T) {
			s, err := memstream.New(2)
			if err != nil {
				t.Fatal(err)
			}
			g := newTraffic(1, 0, key)
			g.at(t0)
			batch := make([]message, n)
			for i := range batch {
				batch[i] = g.draw()
			}
			if allocs := testing.AllocsPerRun(100, func() { g.draw() }); allocs != 0 {
				t.Errorf("draw allocates %v times, want 0", allocs)
			}
			if err := memstreamPut(s)(context.Background(), batch); err != nil {
				t.Fatal(err)
			}
			perShard := map[string]map[string]int{} // resource -> shard -> visits
			keys := map[string]bool{}
			for _, r := range consumertest.ReadAll(t, s) {
				var v visit
				if err := json.Unmarshal(r.Data, &v); err != nil {
					t.Fatal(err)
				}
				if perShard[v.Resource] == nil {
					perShard[v.Resource] = map[string]int{}
				}
				perShard[v.Resource][r.ShardID]++
				keys[r.PartitionKey] = true
				if key == keyPage && r.PartitionKey != v.Resource {
					t.Fatalf("keyed by page: key %q for %s", r.PartitionKey, v.Resource)
				}
			}
			for res, shards := range perShard {
				total := 0
				for _, c := range shards {
					total += c
				}
				switch {
				case key == keyPage && len(shards) != 1:
					t.Errorf("keyed by page, %s is on shards %v", res, shards)
				case key == keyRandom && len(shards) != 2:
					t.Errorf("keyed at random, %s is on shards %v, want both", res, shards)
				case key == keyRandom:
					for sh, c := range shards {
						if share := float64(c) / float64(total); math.Abs(share-0.5) > 0.05 {
							t.Errorf("keyed at random, shard %s holds %.3f of %s's visits, want about half", sh, share, res)
						}
					}
				}
			}
			if key == keyRandom {
				if len(keys) < visitors/2 {
					t.Errorf("%d distinct keys in %d visits from %d visitors", len(keys), n, visitors)
				}
				again := newTraffic(1, 0, key)
				if again.visitorIDs[0] != g.visitorIDs[0] || g.visitorIDs[0] == g.visitorIDs[1] {
					t.Errorf("visitor IDs %q, then %q for the same seed", g.visitorIDs[:2], again.visitorIDs[:2])
				}
			}
		})
	}
}

func TestProducerPacing(t *testing.T) {
	var got []message
	maxBatch := 0
	p := &producer{traffic: newTraffic(1, 0, keyRandom), rate: 1000, batch: 64, put: func(_ context.Context, b []message) error {
		got = append(got, b...)
		maxBatch = max(maxBatch, len(b))
		return nil
	}}
	ticks := make(chan time.Time)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.run(ctx, t0, ticks) }()
	// tick hands run a time and waits until it has acted on it: run takes
	// the repeat (which sends nothing) only after the first is done.
	tick := func(at time.Time) {
		ticks <- at
		ticks <- at
	}
	for i := 1; i <= 100; i++ {
		tick(t0.Add(time.Duration(i) * 10 * time.Millisecond))
	}
	if n := p.sent.Load(); n < 999 || n > 1000 {
		t.Fatalf("sent %d in one second at 1000/s", n)
	}
	// After a 10 s stall the producer catches up by at most one second.
	tick(t0.Add(11 * time.Second))
	if n := p.sent.Load(); n < 1999 || n > 2000 {
		t.Fatalf("sent %d after a stall, want one second's worth more (2000)", n)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run after cancel: %v", err)
	}
	if int64(len(got)) != p.sent.Load() {
		t.Fatalf("put %d, counted %d", len(got), p.sent.Load())
	}
	if maxBatch > 64 {
		t.Fatalf("batch of %d, limit 64", maxBatch)
	}
}

func TestProducerPutError(t *testing.T) {
	broken := errors.New("stream gone")
	p := &producer{traffic: newTraffic(1, 0, keyRandom), rate: 100, batch: 10,
		put: func(context.Context, []message) error { return broken }}
	ticks := make(chan time.Time, 1)
	ticks <- t0.Add(time.Second)
	if err := p.run(context.Background(), t0, ticks); !errors.Is(err, broken) {
		t.Fatalf("run: %v, want the put error", err)
	}
}

// BenchmarkProducerMemstream measures how fast the producer puts visits on
// the embedded stream, in PutRecords batches of 500 as the program does.
func BenchmarkProducerMemstream(b *testing.B) {
	s, err := memstream.New(2, memstream.WithRetention(time.Minute))
	if err != nil {
		b.Fatal(err)
	}
	p := &producer{traffic: newTraffic(1, 90*time.Second, keyRandom), rate: 1, batch: 500, put: memstreamPut(s)}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	// One call per 10 ms tick's worth at 100,000/s, as run would make.
	for i := 0; i < b.N; i += 1000 {
		if err := p.send(ctx, min(1000, b.N-i), t0.Add(time.Duration(i)*10*time.Microsecond)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
}
