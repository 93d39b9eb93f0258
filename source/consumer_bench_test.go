package source_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/internal/workload"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/memstream"
)

// benchEntries returns n of the visualizer's visit records, partitioned by
// page as its producer does.
func benchEntries(n int) []memstream.Entry {
	visits := workload.VisitStream(n, n, 1)
	recs := workload.VisitRecords(visits)
	e := make([]memstream.Entry, n)
	for i, v := range visits {
		e[i] = memstream.Entry{PartitionKey: v.Resource, Data: recs[i]}
	}
	return e
}

// countingConsumer starts a default Consumer whose no-op handler counts
// records and samples put-to-process latency (the last record of each batch).
func countingConsumer(b *testing.B, stream source.Stream) (count *atomic.Int64, lat func() []time.Duration, stop func()) {
	return countingConsumerMax(b, stream, 0)
}

func countingConsumerMax(b *testing.B, stream source.Stream, maxRecords int) (count *atomic.Int64, lat func() []time.Duration, stop func()) {
	b.Helper()
	count = new(atomic.Int64)
	var mu sync.Mutex
	var lats []time.Duration
	proc := func(string) source.Processor {
		return source.HandlerFunc(func(_ context.Context, recs []source.Record) error {
			d := time.Since(recs[len(recs)-1].ArrivalTime)
			mu.Lock()
			lats = append(lats, d)
			mu.Unlock()
			count.Add(int64(len(recs)))
			return nil
		})
	}
	c, err := source.NewConsumer(source.Config{Stream: stream, Leases: checkpoint.NewMemoryStore(), WorkerID: "bench",
		NewProcessor: proc, MaxRecords: maxRecords})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	stop = func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}
	lat = func() []time.Duration {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(lats)
	}
	return count, lat, stop
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[min(len(ds)-1, int(p*float64(len(ds))))]
}

// BenchmarkConsumerEndToEnd: memstream (2 shards) -> Consumer (defaults,
// batches of up to 10,000) -> no-op handler that checkpoints every batch.
// "live" puts while the Consumer runs (PutRecords of 500, one producer);
// "prefilled" measures the Consumer alone on a stream filled before Run.
func BenchmarkConsumerEndToEnd(b *testing.B) {
	b.Run("live", func(b *testing.B) {
		stream, err := memstream.New(2)
		if err != nil {
			b.Fatal(err)
		}
		entries := benchEntries(500)
		count, lat, stop := countingConsumer(b, stream)
		defer stop()
		// Let the Consumer take its leases first.
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if _, _, err := stream.Put(context.Background(), "warm-up", nil); err != nil {
				b.Fatal(err)
			}
			if count.Load() > 0 {
				break
			}
		}
		base := count.Load()
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		for put := 0; put < b.N; put += len(entries) {
			if _, err := stream.PutRecords(context.Background(), entries[:min(len(entries), b.N-put)]); err != nil {
				b.Fatal(err)
			}
		}
		for count.Load()-base < int64(b.N) {
			time.Sleep(50 * time.Microsecond)
		}
		elapsed := time.Since(start)
		b.StopTimer()
		ls := lat()
		b.ReportMetric(float64(b.N)/elapsed.Seconds(), "records/s")
		b.ReportMetric(us(percentile(ls, 0.5)), "p50-µs")
		b.ReportMetric(us(percentile(ls, 0.99)), "p99-µs")
	})
	// One record a batch: the Consumer's cost per batch (read, call,
	// checkpoint write), which larger batches share out.
	b.Run("prefilled-batch1", func(b *testing.B) {
		stream, err := memstream.New(2)
		if err != nil {
			b.Fatal(err)
		}
		entries := benchEntries(500)
		for put := 0; put < b.N; put += len(entries) {
			if _, err := stream.PutRecords(context.Background(), entries[:min(len(entries), b.N-put)]); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		count, _, stop := countingConsumerMax(b, stream, 1)
		for count.Load() < int64(b.N) {
			time.Sleep(50 * time.Microsecond)
		}
		elapsed := time.Since(start)
		b.StopTimer()
		stop()
		b.ReportMetric(float64(b.N)/elapsed.Seconds(), "batches/s")
	})
	b.Run("prefilled", func(b *testing.B) {
		stream, err := memstream.New(2)
		if err != nil {
			b.Fatal(err)
		}
		entries := benchEntries(500)
		for put := 0; put < b.N; put += len(entries) {
			if _, err := stream.PutRecords(context.Background(), entries[:min(len(entries), b.N-put)]); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		count, _, stop := countingConsumer(b, stream)
		for count.Load() < int64(b.N) {
			time.Sleep(50 * time.Microsecond)
		}
		elapsed := time.Since(start)
		b.StopTimer()
		stop()
		b.ReportMetric(float64(b.N)/elapsed.Seconds(), "records/s")
	})
}

// BenchmarkPutToProcess measures the wake-up path: one record put at a time
// into an idle 2-shard stream, and the time until its ProcessRecords call.
func BenchmarkPutToProcess(b *testing.B) {
	stream, err := memstream.New(2)
	if err != nil {
		b.Fatal(err)
	}
	got := make(chan time.Time, 1)
	proc := func(string) source.Processor {
		return source.HandlerFunc(func(context.Context, []source.Record) error {
			got <- time.Now()
			return nil
		})
	}
	c, err := source.NewConsumer(source.Config{Stream: stream, Leases: checkpoint.NewMemoryStore(), WorkerID: "bench", NewProcessor: proc})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()
	if _, _, err := stream.Put(ctx, "warm-up", nil); err != nil {
		b.Fatal(err)
	}
	<-got
	lats := make([]time.Duration, 0, b.N)
	visits := workload.VisitStream(1024, 1024, 1)
	recs := workload.VisitRecords(visits)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		j := i % len(visits)
		if _, _, err := stream.Put(ctx, visits[j].Resource, recs[j]); err != nil {
			b.Fatal(err)
		}
		lats = append(lats, (<-got).Sub(start))
	}
	b.StopTimer()
	b.ReportMetric(us(percentile(lats, 0.5)), "p50-µs")
	b.ReportMetric(us(percentile(lats, 0.99)), "p99-µs")
}
