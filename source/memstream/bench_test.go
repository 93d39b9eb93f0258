package memstream_test

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/streamtop/streamtop/internal/workload"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/memstream"
)

// The benchmarks put the visualizer's JSON visit records under 1,000
// distinct 24-byte partition keys (workload.Keys). Every one reports
// records/s.

const (
	benchKeys = 1000
	// benchRefill bounds the memory a Put benchmark holds: the stream is
	// replaced (off the clock) after this many records.
	benchRefill = 1 << 20
)

var (
	benchKeyNames = workload.Keys(benchKeys)
	benchData     = workload.VisitRecords(workload.VisitStream(benchKeys, benchKeys, 1))
)

// benchEntry is the i'th record the benchmarks put.
func benchEntry(i int) memstream.Entry {
	return memstream.Entry{PartitionKey: benchKeyNames[i%benchKeys], Data: benchData[i%benchKeys]}
}

func benchStream(b *testing.B, shards int) *memstream.Stream {
	s, err := memstream.New(shards)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func reportRate(b *testing.B, records int, elapsed time.Duration) {
	b.ReportMetric(float64(records)/elapsed.Seconds(), "records/s")
}

// cpuTime is the CPU time the process has used, garbage collection
// included. The machine these run on is shared, so CPU time per record is
// the steadier measure of cost; records/s says what one run achieved.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPU(b *testing.B, records int, since time.Duration) {
	b.ReportMetric(float64(cpuTime()-since)/float64(records), "cpu-ns/record")
}

func BenchmarkPut(b *testing.B) {
	for _, shards := range []int{1, 2, 8} {
		b.Run(fmt.Sprintf("shards=%d", shards), func(b *testing.B) {
			ctx := context.Background()
			s := benchStream(b, shards)
			b.ReportAllocs()
			b.ResetTimer()
			start, cpu := time.Now(), cpuTime()
			var paused time.Duration
			for i := 0; i < b.N; i++ {
				if i > 0 && i%benchRefill == 0 {
					b.StopTimer()
					t := time.Now()
					s = benchStream(b, shards)
					paused += time.Since(t)
					b.StartTimer()
				}
				if _, _, err := s.Put(ctx, benchKeyNames[i%benchKeys], benchData[i%benchKeys]); err != nil {
					b.Fatal(err)
				}
			}
			reportRate(b, b.N, time.Since(start)-paused)
			reportCPU(b, b.N, cpu)
		})
	}
}

// BenchmarkPutParallel puts from GOMAXPROCS goroutines into 2 shards.
func BenchmarkPutParallel(b *testing.B) {
	ctx := context.Background()
	s := benchStream(b, 2)
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu := time.Now(), cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			if _, _, err := s.Put(ctx, benchKeyNames[i%benchKeys], benchData[i%benchKeys]); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportRate(b, b.N, time.Since(start))
	reportCPU(b, b.N, cpu)
}

// BenchmarkPutRecords counts records, not calls: b.N records are put in
// batches of the given size.
func BenchmarkPutRecords(b *testing.B) {
	for _, batch := range []int{100, 500, 10000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			ctx := context.Background()
			entries := make([]memstream.Entry, batch)
			for i := range entries {
				entries[i] = benchEntry(i)
			}
			s := benchStream(b, 2)
			b.ReportAllocs()
			b.ResetTimer()
			start, cpu := time.Now(), cpuTime()
			var paused time.Duration
			stored := 0
			for put := 0; put < b.N; put += batch {
				if stored >= benchRefill {
					b.StopTimer()
					t := time.Now()
					s, stored = benchStream(b, 2), 0
					paused += time.Since(t)
					b.StartTimer()
				}
				n := min(batch, b.N-put)
				if _, err := s.PutRecords(ctx, entries[:n]); err != nil {
					b.Fatal(err)
				}
				stored += n
			}
			reportRate(b, b.N, time.Since(start)-paused)
			reportCPU(b, b.N, cpu)
		})
	}
}

// BenchmarkRead reads a pre-filled shard in batches of up to max records;
// b.N counts records read.
func BenchmarkRead(b *testing.B) {
	const filled = 1 << 18
	s := benchStream(b, 1)
	entries := make([]memstream.Entry, filled)
	for i := range entries {
		entries[i] = benchEntry(i)
	}
	if _, err := s.PutRecords(context.Background(), entries); err != nil {
		b.Fatal(err)
	}
	for _, max := range []int{100, 10000} {
		b.Run(fmt.Sprintf("max=%d", max), func(b *testing.B) {
			ctx := context.Background()
			open := func() source.ShardReader {
				r, err := s.Open(ctx, "shardId-000000000000", source.Position{})
				if err != nil {
					b.Fatal(err)
				}
				return r
			}
			r := open()
			b.ReportAllocs()
			b.ResetTimer()
			start, cpu := time.Now(), cpuTime()
			calls := 0
			for read := 0; read < b.N; calls++ {
				res, err := r.Read(ctx, min(max, b.N-read))
				if err != nil {
					b.Fatal(err)
				}
				read += len(res.Records)
				if len(res.Records) == 0 {
					r = open()
				}
			}
			elapsed := time.Since(start)
			reportRate(b, b.N, elapsed)
			// A Read costs the same whatever it returns: per call is the
			// number to compare.
			b.ReportMetric(float64(elapsed.Nanoseconds())/float64(calls), "ns/Read")
			reportCPU(b, b.N, cpu)
		})
	}
}

// BenchmarkWake measures how long a reader blocked in Wait takes to see a
// record put by another goroutine: one record at a time, the reader always
// idle when it arrives. It reports the median and 99th percentile.
func BenchmarkWake(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := benchStream(b, 1)
	r, err := s.Open(ctx, "shardId-000000000000", source.Position{Type: source.Latest})
	if err != nil {
		b.Fatal(err)
	}
	w := r.(source.Waiter)
	lat := make([]time.Duration, 0, b.N)
	woke := make(chan time.Time)
	go func() {
		for {
			if err := w.Wait(ctx); err != nil {
				return
			}
			res, err := r.Read(ctx, 10)
			if err != nil {
				return
			}
			if len(res.Records) > 0 {
				woke <- time.Now()
			}
		}
	}()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sent := time.Now()
		if _, _, err := s.Put(ctx, benchKeyNames[0], benchData[0]); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, (<-woke).Sub(sent))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1e3, "p99-µs")
}

// BenchmarkPipeline is memstream's share of the embedded end-to-end path: one
// producer putting batches of 500 into 2 shards while one reader per shard
// waits and reads batches of up to 10,000, as a Consumer's shard loops do
// (without a Consumer). b.N counts records put and read.
func BenchmarkPipeline(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := benchStream(b, 2)
	entries := make([]memstream.Entry, 500)
	for i := range entries {
		entries[i] = benchEntry(i)
	}
	var read atomic.Int64
	done := make(chan struct{})
	for _, id := range []string{"shardId-000000000000", "shardId-000000000001"} {
		r, err := s.Open(ctx, id, source.Position{})
		if err != nil {
			b.Fatal(err)
		}
		go func() {
			defer func() { done <- struct{}{} }()
			w := r.(source.Waiter)
			for {
				res, err := r.Read(ctx, 10000)
				if err != nil {
					return
				}
				if n := len(res.Records); n > 0 {
					read.Add(int64(n))
					continue
				}
				if w.Wait(ctx) != nil {
					return
				}
			}
		}()
	}
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu := time.Now(), cpuTime()
	for put := 0; put < b.N; put += len(entries) {
		if _, err := s.PutRecords(ctx, entries[:min(len(entries), b.N-put)]); err != nil {
			b.Fatal(err)
		}
	}
	for read.Load() < int64(b.N) {
		time.Sleep(20 * time.Microsecond)
	}
	reportRate(b, b.N, time.Since(start))
	reportCPU(b, b.N, cpu)
	b.StopTimer()
	cancel()
	<-done
	<-done
}
