package source_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/streamtop/streamtop/aggregate"
	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/internal/faults"
	"github.com/streamtop/streamtop/source"
)

// pool holds the workers of a chaos test: new ones are named w0, w1, ...;
// they are killed or stopped at random, and a killed one can come back under
// its own name to take its leases back.
type pool struct {
	t     *testing.T
	cfg   func(id string) source.Config
	rng   *rand.Rand
	alive map[string]*worker
	dead  []string // killed, oldest first
	next  int
	// holders makes pick prefer workers that hold leases: with three
	// workers on two or three shards one is often idle, and stopping it
	// tests nothing.
	holders bool
}

func newPool(t *testing.T, rng *rand.Rand, holders bool, cfg func(id string) source.Config) *pool {
	return &pool{t: t, cfg: cfg, rng: rng, alive: map[string]*worker{}, holders: holders}
}

// spawn starts worker id, or a new one for "", and returns its name.
func (p *pool) spawn(id string) string {
	if id == "" {
		id = fmt.Sprintf("w%d", p.next)
		p.next++
	}
	p.alive[id] = startWorker(p.t, p.cfg(id))
	return id
}

// pick returns a live worker drawn at random.
func (p *pool) pick() string {
	var ids, holders []string
	for id, w := range p.alive {
		ids = append(ids, id)
		if p.holders && w.held() > 0 {
			holders = append(holders, id)
		}
	}
	if len(holders) > 0 {
		ids = holders
	}
	slices.Sort(ids)
	return ids[p.rng.IntN(len(ids))]
}

// kill crashes worker id: no hooks run and its leases are left to expire.
func (p *pool) kill(id string) {
	p.alive[id].kill(p.t)
	delete(p.alive, id)
	p.dead = append(p.dead, id)
}

// stop shuts worker id down gracefully.
func (p *pool) stop(id string) {
	p.alive[id].stop(p.t)
	delete(p.alive, id)
}

// revive restarts the worker killed longest ago under its own name.
func (p *pool) revive() string {
	id := p.dead[0]
	p.dead = p.dead[1:]
	return p.spawn(id)
}

// refill revives killed workers until n are alive or none is left.
func (p *pool) refill(n int) {
	for len(p.alive) < n && len(p.dead) > 0 {
		p.revive()
	}
}

// stopAll stops every live worker gracefully.
func (p *pool) stopAll() {
	for id := range p.alive {
		p.stop(id)
	}
}

// aggChaosEnd is what an aggregate chaos test finds once the chaos is over.
type aggChaosEnd struct {
	records             []source.Record
	stats               aggregate.Stats // summed over every Aggregator
	windows, mismatches int             // snapshots checked, and those wrong
	gaps                []missingWindow // windows no snapshot covers, outside the reshard spans
	excused             int             // windows unwritten by design around reshards
}

// aggChaos is what the aggregate chaos tests share: faults injected on one
// seeded schedule into the stream, the lease table and the sink (which
// records every snapshot), and a pool of workers that each run an Aggregator
// decoding through seen, all logging to tr.
type aggChaos struct {
	sched                  *faults.Schedule
	out                    *recordingSink
	seen                   *firstSeen
	tr                     *trace
	aggs                   []*aggregate.Aggregator // one per worker started
	workers                *pool
	size, bucket, failover time.Duration
}

// newAggChaos sets a run up on raw and leases; tune adjusts each worker's
// Config after fastConfig and the failover time.
func newAggChaos(t *testing.T, seed uint64, rng *rand.Rand, raw source.Stream, leases checkpoint.Store,
	size, bucket, failover time.Duration, holders bool, tune func(*source.Config)) *aggChaos {
	c := &aggChaos{
		sched: faults.NewSchedule(seed, faults.Rate("*", 0.01), faults.Rate("stream.Read partial", 0.2),
			faults.Rate("sink.Write", 0.05), faults.Rate("sink.Write partial", 0.05), faults.Slow(0.002, 20*time.Millisecond)),
		out: &recordingSink{}, seen: newFirstSeen(), tr: &trace{},
		size: size, bucket: bucket, failover: failover,
	}
	stream := faults.NewStream(raw, c.sched)
	store := faults.NewStore(leases, c.sched)
	c.workers = newPool(t, rng, holders, func(id string) source.Config {
		agg, err := aggregate.New(aggregate.Config{Size: size, Bucket: bucket, Decoder: c.seen.decoder(),
			Sink: faults.NewWriter(c.out, c.sched), Host: id, Logger: c.tr.logger(id)})
		if err != nil {
			t.Fatal(err)
		}
		c.aggs = append(c.aggs, agg)
		cfg := fastConfig(stream, store, id, agg.NewProcessor)
		cfg.FailoverTime = failover
		cfg.Logger = c.tr.logger(id)
		tune(&cfg)
		return cfg
	})
	return c
}

// end ends an aggregate chaos run whose producer has stopped: it brings the
// workers back to three, reads every record of the stream back,
// waits up to catchUp for the processors to decode them all and then, a
// bounded time, for windows still due (a batch's snapshots may wait for a
// retry, or for the shard's next owner if the lease was lost meanwhile). It
// stops the workers and checks the invariants: no record lost at the
// processor, per key the put order, and every snapshot equal to the
// recomputation of its window. Missing windows are left to the caller.
func (c *aggChaos) end(t *testing.T, stream source.Stream, catchUp time.Duration) aggChaosEnd {
	t.Helper()
	workers, seen, out, aggs := c.workers, c.seen, c.out, c.aggs
	size, bucket, failover := c.size, c.bucket, c.failover
	workers.refill(3)
	var end aggChaosEnd
	end.records = readAll(t, stream)
	shards, err := stream.Shards(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	truth := recompute(end.records, bucket)
	excused := reshardSpans(end.records, shards, size, bucket)
	caughtUp := waitFor(t, catchUp, "every record to be processed", func() bool { return seen.count() >= len(end.records) })
	settled := settle(2*failover+3*time.Second, func() bool {
		gaps, _ := truth.missing(out.written(bucket), size, bucket, excused)
		return len(gaps) == 0
	})
	stopping := time.Now()
	workers.stopAll()
	t.Logf("caught up %v after the producer stopped, windows written %v later; workers stopped in %v",
		caughtUp.Round(time.Millisecond), settled.Round(time.Millisecond), time.Since(stopping).Round(time.Millisecond))

	seen.check(t, end.records)
	for _, s := range out.all() {
		end.windows++
		want := truth.window(s.Group, s.Time, size, bucket)
		if slices.Equal(want, s.Counts) {
			continue // cmp.Diff below is for the message only: slow under -race
		}
		end.mismatches++
		if end.mismatches <= 5 {
			t.Errorf("snapshot of %s at %v by %s (-want +got):\n%s", s.Group, s.Time.Format("15:04:05.000"), s.Host,
				cmp.Diff(want, s.Counts, cmpopts.EquateEmpty()))
		}
	}
	if end.windows == 0 {
		t.Fatal("no snapshot written")
	}
	for _, a := range aggs {
		s := a.Stats()
		end.stats.Records += s.Records
		end.stats.Snapshots += s.Snapshots
		end.stats.StateWrites += s.StateWrites
	}
	end.gaps, end.excused = truth.missing(out.written(bucket), size, bucket, excused)
	return end
}
