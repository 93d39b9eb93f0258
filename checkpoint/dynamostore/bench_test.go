package dynamostore_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/checkpoint/dynamostore"
	"github.com/streamtop/streamtop/internal/awstest"
)

// reportLatency adds the median and 99th percentile of the timed calls, in
// milliseconds: a lease renewal's tail, not its mean, decides how close to
// the failover time a worker may run.
func reportLatency(b *testing.B, d []time.Duration) {
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	ms := func(q float64) float64 { return float64(d[int(q*float64(len(d)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(ms(0.50), "p50-ms")
	b.ReportMetric(ms(0.99), "p99-ms")
}

// benchSequence is a Kinesis-sized sequence number for checkpoints.
const benchSequence = "49590338271490256608559692538361571095921575989136588898"

// heldLease creates a fresh lease and takes it for worker w1.
func heldLease(b *testing.B, s *dynamostore.Store) checkpoint.Lease {
	ctx := b.Context()
	key := awstest.UniqueName(b, "shard")
	if _, err := s.Create(ctx, checkpoint.Lease{Key: key, Checkpoint: checkpoint.TrimHorizon}); err != nil {
		b.Fatal(err)
	}
	l, err := s.Get(ctx, key)
	if err == nil {
		l, err = s.Take(ctx, l, "w1")
	}
	if err != nil {
		b.Fatal(err)
	}
	return l
}

// timeCalls times call once per iteration and reports the latencies.
func timeCalls(b *testing.B, call func() error) {
	d := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		if err := call(); err != nil {
			b.Fatal(err)
		}
		d = append(d, time.Since(start))
	}
	reportLatency(b, d)
}

// BenchmarkRenew measures one lease renewal (a conditional UpdateItem
// returning the new item) against dynalite.
func BenchmarkRenew(b *testing.B) {
	ctx := b.Context()
	s := newStore(b)
	l := heldLease(b, s)
	timeCalls(b, func() (err error) {
		l, err = s.Renew(ctx, l)
		return err
	})
}

// BenchmarkCheckpoint measures one checkpoint write against dynalite.
func BenchmarkCheckpoint(b *testing.B) {
	ctx := b.Context()
	s := newStore(b)
	l := heldLease(b, s)
	timeCalls(b, func() (err error) {
		l.Checkpoint = benchSequence
		l, err = s.Checkpoint(ctx, l)
		return err
	})
}

// BenchmarkTakeLost measures a write that loses its condition: the common
// case for the losers when workers race for an expired lease.
func BenchmarkTakeLost(b *testing.B) {
	ctx := b.Context()
	s := newStore(b)
	key := awstest.UniqueName(b, "shard")
	if _, err := s.Create(ctx, checkpoint.Lease{Key: key}); err != nil {
		b.Fatal(err)
	}
	stale := checkpoint.Lease{Key: key, Counter: 99}
	timeCalls(b, func() error {
		if _, err := s.Take(ctx, stale, "w1"); err == nil {
			return errors.New("Take with a stale counter succeeded")
		}
		return nil
	})
}

// BenchmarkList100 measures listing a table of 100 leases, what every
// Consumer does on each balance pass.
func BenchmarkList100(b *testing.B) {
	ctx := b.Context()
	client, name := newTable(b)
	s := newStoreOn(b, client, name)
	for i := range 100 {
		if _, err := s.Create(ctx, checkpoint.Lease{Key: awstest.UniqueName(b, "shard") + string(rune('a'+i%26)), Checkpoint: checkpoint.TrimHorizon}); err != nil {
			b.Fatal(err)
		}
	}
	timeCalls(b, func() error {
		all, err := s.List(ctx)
		if err != nil || len(all) != 100 {
			return fmt.Errorf("List = %d leases, %v; want 100", len(all), err)
		}
		return nil
	})
}

// BenchmarkStateSize measures a checkpoint carrying a processor state, and
// the renewals of a lease holding it (every response carries the whole
// item), against dynalite, for states from none to MaxStateSize. The
// visualizer's per-shard state is under 4 KiB.
func BenchmarkStateSize(b *testing.B) {
	for _, size := range []int{0, 4 << 10, 64 << 10, dynamostore.MaxStateSize} {
		state := make([]byte, size)
		for i := range state {
			state[i] = byte(i)
		}
		for _, op := range []string{"Checkpoint", "Renew"} {
			b.Run(fmt.Sprintf("%s/%dKiB", op, size>>10), func(b *testing.B) {
				ctx := b.Context()
				s := newStore(b)
				l := heldLease(b, s)
				l.Checkpoint, l.State = "1", state
				l, err := s.Checkpoint(ctx, l)
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(size))
				timeCalls(b, func() (err error) {
					if op == "Checkpoint" {
						l.Checkpoint, l.State = benchSequence, state
						l, err = s.Checkpoint(ctx, l)
					} else {
						l, err = s.Renew(ctx, l)
					}
					return err
				})
			})
		}
	}
}
