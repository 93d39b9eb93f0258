// Package consumertest runs source.Consumers for tests: workers that a test
// stops gracefully or kills as a crash would, pools of them for chaos tests,
// and the small helpers those tests share (waiting for a condition, a
// producer that runs until halted, reading a stream back, picking shards to
// split or merge).
//
// Workers run on real time with the short durations of FastConfig; a test
// that needs a fake clock sets one in the Config it passes. Every helper that
// takes a testing.TB fails the test itself on error.
package consumertest

import (
	"context"
	"fmt"
	"math/big"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/internal/crash"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/memstream"
)

// FastConfig is a Config with durations short enough for tests: failover
// in about a second, syncs every 50 ms.
func FastConfig(stream source.Stream, leases checkpoint.Store, id string, newProc func(string) source.Processor) source.Config {
	return source.Config{
		Stream:          stream,
		Leases:          leases,
		WorkerID:        id,
		NewProcessor:    newProc,
		FailoverTime:    time.Second,
		RenewInterval:   200 * time.Millisecond,
		SyncInterval:    50 * time.Millisecond,
		MaxRecords:      50,
		RetryBackoff:    5 * time.Millisecond,
		MaxRetryBackoff: 50 * time.Millisecond,
		ShutdownTimeout: 5 * time.Second,
	}
}

// NewStream returns a memstream of the given number of shards.
func NewStream(t testing.TB, shards int) *memstream.Stream {
	t.Helper()
	s, err := memstream.New(shards)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Worker is a running Consumer that a test can stop gracefully or kill. Its
// methods are for the test's goroutine.
type Worker struct {
	C      *source.Consumer
	cancel context.CancelCauseFunc
	done   chan error
	once   sync.Once
	err    error
}

// StartWorker runs a Consumer with cfg until the test stops or kills it, or
// ends (then it stops it gracefully).
func StartWorker(t testing.TB, cfg source.Config) *Worker {
	t.Helper()
	c, err := source.NewConsumer(cfg)
	if err != nil {
		t.Fatalf("NewConsumer(%s): %v", cfg.WorkerID, err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	w := &Worker{C: c, cancel: cancel, done: make(chan error, 1)}
	go func() { w.done <- c.Run(ctx) }()
	t.Cleanup(func() { w.Stop(t) })
	return w
}

// wait returns Run's result, once; later calls return nothing.
func (w *Worker) wait() (error, bool) {
	first := false
	w.once.Do(func() { w.err, first = <-w.done, true })
	return w.err, first
}

// Stop shuts the worker down gracefully and waits for Run to return.
func (w *Worker) Stop(t testing.TB) {
	t.Helper()
	w.cancel(context.Canceled)
	if err, first := w.wait(); first && err != nil {
		t.Errorf("Run: %v", err)
	}
}

// Kill stops the worker as a crash would: no hooks, no release.
func (w *Worker) Kill(t testing.TB) {
	t.Helper()
	w.cancel(crash.ErrKilled)
	if err, first := w.wait(); first && err != nil {
		t.Errorf("Run after crash: %v", err)
	}
}

// Held returns how many leases the worker holds.
func (w *Worker) Held() int { return w.C.Stats().LeasesHeld }

// WaitFor polls cond until it holds, and returns how long it took; after
// timeout it fails the test.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

// Settle polls cond until it holds or timeout passes, and returns how long
// it waited.
func Settle(timeout time.Duration, cond func() bool) time.Duration {
	start := time.Now()
	for !cond() && time.Since(start) < timeout {
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// Seed returns the seed of a chaos run: STREAMTOP_CHAOS_SEED when set, so a
// failing run's choices can be replayed, else a random one.
func Seed(t testing.TB) uint64 {
	s := os.Getenv("STREAMTOP_CHAOS_SEED")
	if s == "" {
		return rand.Uint64()
	}
	seed, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatalf("STREAMTOP_CHAOS_SEED: %v", err)
	}
	return seed
}

// Pool holds the workers of a chaos test: new ones are named w0, w1, ...;
// they are killed or stopped at random, and a killed one can come back under
// its own name to take its leases back.
type Pool struct {
	t     testing.TB
	cfg   func(id string) source.Config
	rng   *rand.Rand
	Alive map[string]*Worker
	Dead  []string // killed, oldest first
	next  int
	// holders makes Pick prefer workers that hold leases: with three
	// workers on two or three shards one is often idle, and stopping it
	// tests nothing.
	holders bool
}

// NewPool returns an empty pool whose workers run with cfg(id).
func NewPool(t testing.TB, rng *rand.Rand, holders bool, cfg func(id string) source.Config) *Pool {
	return &Pool{t: t, cfg: cfg, rng: rng, Alive: map[string]*Worker{}, holders: holders}
}

// Spawn starts worker id, or a new one for "", and returns its name.
func (p *Pool) Spawn(id string) string {
	if id == "" {
		id = fmt.Sprintf("w%d", p.next)
		p.next++
	}
	p.Alive[id] = StartWorker(p.t, p.cfg(id))
	return id
}

// Pick returns a live worker drawn at random.
func (p *Pool) Pick() string {
	var ids, holders []string
	for id, w := range p.Alive {
		ids = append(ids, id)
		if p.holders && w.Held() > 0 {
			holders = append(holders, id)
		}
	}
	if len(holders) > 0 {
		ids = holders
	}
	slices.Sort(ids)
	return ids[p.rng.IntN(len(ids))]
}

// Kill crashes worker id: no hooks run and its leases are left to expire.
func (p *Pool) Kill(id string) {
	p.Alive[id].Kill(p.t)
	delete(p.Alive, id)
	p.Dead = append(p.Dead, id)
}

// Stop shuts worker id down gracefully.
func (p *Pool) Stop(id string) {
	p.Alive[id].Stop(p.t)
	delete(p.Alive, id)
}

// Revive restarts the worker killed longest ago under its own name.
func (p *Pool) Revive() string {
	id := p.Dead[0]
	p.Dead = p.Dead[1:]
	return p.Spawn(id)
}

// Refill revives killed workers until n are alive or none is left.
func (p *Pool) Refill(n int) {
	for len(p.Alive) < n && len(p.Dead) > 0 {
		p.Revive()
	}
}

// StopAll stops every live worker gracefully.
func (p *Pool) StopAll() {
	for id := range p.Alive {
		p.Stop(id)
	}
}

// Producer is a goroutine putting records until halted.
type Producer struct {
	stop chan struct{}
	done chan struct{}
}

// StartProducer runs put in a goroutine until Halt, or until put returns
// false; the test's end halts it too.
func StartProducer(t testing.TB, put func(stop <-chan struct{}) bool) *Producer {
	t.Helper()
	p := &Producer{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for {
			select {
			case <-p.stop:
				return
			default:
			}
			if !put(p.stop) {
				return
			}
		}
	}()
	t.Cleanup(p.Halt)
	return p
}

// Halt stops the producer and waits for it.
func (p *Producer) Halt() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
}

// ReadAll reads every shard of the stream from TRIM_HORIZON.
func ReadAll(t testing.TB, s source.Stream) []source.Record {
	t.Helper()
	return ReadFirst(t, s, -1)
}

// ReadFirst reads from the start of each of the stream's shards one Read
// of up to n records: enough to see how records were keyed, without
// reading all of a stream a producer is still writing. With n < 0 it reads
// every record.
func ReadFirst(t testing.TB, s source.Stream, n int) []source.Record {
	t.Helper()
	ctx := context.Background()
	shards, err := s.Shards(ctx)
	if err != nil {
		t.Fatal(err)
	}
	max := n
	if n < 0 {
		max = 10_000
	}
	var all []source.Record
	for _, sh := range shards {
		r, err := s.Open(ctx, sh.ID, source.Position{Type: source.TrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		for {
			res, err := r.Read(ctx, max)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, res.Records...)
			if n >= 0 || res.End || len(res.Records) == 0 {
				break
			}
		}
		r.Close()
	}
	return all
}

// OpenShards returns the stream's shards that are not closed.
func OpenShards(t testing.TB, s source.Stream) []source.Shard {
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

// AdjacentPair picks two open shards whose hash ranges touch, the lower
// first.
func AdjacentPair(open []source.Shard, rng *rand.Rand) (string, string, bool) {
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

// Midpoint returns the hash key halfway through a shard's range.
func Midpoint(t testing.TB, s source.Shard) string {
	t.Helper()
	lo, ok1 := new(big.Int).SetString(s.HashKeyStart, 10)
	hi, ok2 := new(big.Int).SetString(s.HashKeyEnd, 10)
	if !ok1 || !ok2 {
		t.Fatalf("bad hash range %q-%q", s.HashKeyStart, s.HashKeyEnd)
	}
	return new(big.Int).Rsh(new(big.Int).Add(lo, hi), 1).String()
}
