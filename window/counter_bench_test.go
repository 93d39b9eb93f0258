package window_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/streamtop/streamtop/internal/baseline"
	"github.com/streamtop/streamtop/internal/workload"
	"github.com/streamtop/streamtop/topk"
	"github.com/streamtop/streamtop/window"
)

// Every benchmark here runs Counter beside two baselines on the same stream in
// the same run, so each figure reads as a ratio (benchstat -col /impl):
//
//   - map: baseline.Map, a bare map increment, with no window at all;
//   - ring: baseline.Ring, the obvious sliding window, a ring of per-bucket
//     maps plus a totals map, subtracting a bucket's map when it expires and
//     sorting the totals for a top-k query. bench/baseline_check_test.go
//     checks that it counts what Counter counts.

// benchStream is a pre-generated stream of keys with the time step between
// records and the window they are counted over.
type benchStream struct {
	name         string
	keys         []string
	step         time.Duration // event time between records
	size, bucket time.Duration
}

// The 10 s window of 1 s buckets of the original sample, one record a
// millisecond; and 20 buckets of 100,000 Zipf records each.
func referrerStream() benchStream {
	return benchStream{"referrers", workload.UniformStream(workload.Referrers, 1<<20, 1), time.Millisecond, 10 * time.Second, time.Second}
}

func zipfStream(s float64) benchStream {
	return benchStream{fmt.Sprintf("zipf%g", s), workload.ZipfStream(s, workload.Distinct, workload.Length, 1),
		10 * time.Microsecond, 20 * time.Second, time.Second}
}

// benchStreams lists the streams by name and builds one only when a
// benchmark selected with -bench needs it: the Zipf streams take seconds and
// hundreds of megabytes.
var benchStreams = []struct {
	name string
	make func() benchStream
}{
	{"referrers", referrerStream},
	{"zipf1.1", func() benchStream { return zipfStream(1.1) }},
	{"zipf1.5", func() benchStream { return zipfStream(1.5) }},
}

// settle collects the garbage of a benchmark's setup so that the collector
// does not run beside the timed loop.
func settle() { runtime.GC() }

// at returns the time of record i.
func (s benchStream) at(i int) time.Time {
	return benchT0.Add(time.Duration(i) * s.step)
}

// recordClock hands out the times of successive records. It builds each Time
// from whole seconds and nanoseconds, as a consumer decoding a record's
// timestamp would; that costs a fraction of Time.Add, so the harness adds
// little to what the benchmarks compare.
type recordClock struct {
	sec, nsec, step int64
}

// clock returns the clock whose next time is that of record i.
func (s benchStream) clock(i int) *recordClock {
	ns := benchT0.UnixNano() + int64(i)*int64(s.step)
	return &recordClock{sec: ns / 1e9, nsec: ns % 1e9, step: int64(s.step)}
}

func (c *recordClock) next() time.Time {
	t := time.Unix(c.sec, c.nsec)
	if c.nsec += c.step; c.nsec >= 1e9 {
		c.sec, c.nsec = c.sec+c.nsec/1e9, c.nsec%1e9
	}
	return t
}

// cycle walks a stream's keys from index i, starting over at the end,
// without dividing.
type cycle struct {
	keys []string
	i    int
}

func (c *cycle) next() string {
	k := c.keys[c.i]
	if c.i++; c.i == len(c.keys) {
		c.i = 0
	}
	return k
}

// windowRecords is the number of records one window holds.
func (s benchStream) windowRecords() int { return int(s.size / s.step) }

// benchT0 is where event time starts in every benchmark.
var benchT0 = time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)

// counter is what the benchmarks drive: Counter and the ring baseline.
type counter interface {
	Add(key string, t time.Time, n int64) bool
	Top(k int) []topk.Entry[string]
	Len() int
}

func newImpl(tb testing.TB, impl string, s benchStream) counter {
	switch impl {
	case "Counter":
		c, err := window.NewCounter[string](s.size, s.bucket)
		if err != nil {
			tb.Fatal(err)
		}
		return c
	case "ring":
		r, err := baseline.NewRing[string](s.size, s.bucket)
		if err != nil {
			tb.Fatal(err)
		}
		return r
	}
	tb.Fatalf("unknown impl %q", impl)
	return nil
}

// fill feeds c the records [from, to) of s, wrapping around the stream, and
// returns to.
func fill(c counter, s benchStream, from, to int) int {
	for i := from; i < to; i++ {
		c.Add(s.keys[i%len(s.keys)], s.at(i), 1)
	}
	return to
}

func BenchmarkCounterAdd(b *testing.B) {
	for _, bs := range benchStreams {
		// Each implementation is called through its concrete type, as a
		// user calls it, not through the counter interface.
		b.Run("stream="+bs.name+"/impl=map", func(b *testing.B) {
			s := bs.make()
			var m baseline.Map[string]
			keys := &cycle{keys: s.keys}
			settle()
			b.ReportAllocs()
			cpu := startCPU()
			for b.Loop() {
				m.Add(keys.next(), 1)
			}
			cpu.stop(b)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
		// Both windows start full and slid once, so every figure is of the
		// steady state, not of the first fill.
		b.Run("stream="+bs.name+"/impl=ring", func(b *testing.B) {
			s := bs.make()
			r, err := baseline.NewRing[string](s.size, s.bucket)
			if err != nil {
				b.Fatal(err)
			}
			next := fill(r, s, 0, 2*s.windowRecords())
			keys, clock := &cycle{keys: s.keys, i: next % len(s.keys)}, s.clock(next)
			settle()
			b.ReportAllocs()
			cpu := startCPU()
			for b.Loop() {
				r.Add(keys.next(), clock.next(), 1)
			}
			cpu.stop(b)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
		b.Run("stream="+bs.name+"/impl=Counter", func(b *testing.B) {
			s := bs.make()
			c, err := window.NewCounter[string](s.size, s.bucket)
			if err != nil {
				b.Fatal(err)
			}
			next := fill(c, s, 0, 2*s.windowRecords())
			keys, clock := &cycle{keys: s.keys, i: next % len(s.keys)}, s.clock(next)
			settle()
			b.ReportAllocs()
			cpu := startCPU()
			for b.Loop() {
				c.Add(keys.next(), clock.next(), 1)
			}
			cpu.stop(b)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

func BenchmarkCounterTop(b *testing.B) {
	for _, bs := range benchStreams {
		for _, k := range []int{3, 100} {
			for _, impl := range []string{"ring", "Counter"} {
				b.Run(fmt.Sprintf("stream=%s/k=%d/impl=%s", bs.name, k, impl), func(b *testing.B) {
					s := bs.make()
					c := newImpl(b, impl, s)
					fill(c, s, 0, 2*s.windowRecords())
					settle()
					b.ReportAllocs()
					cpu := startCPU()
					for b.Loop() {
						c.Top(k)
					}
					cpu.stop(b)
					b.ReportMetric(float64(c.Len()), "keys")
				})
			}
		}
	}
}

// BenchmarkCounterTopAt reads the window ending d buckets before the
// newest bucket's end, from a Counter keeping 2 buckets of history, full and
// slid: d=0 is Top, and each bucket of d adds two buckets' pairs to
// correct the totals by.
func BenchmarkCounterTopAt(b *testing.B) {
	for _, bs := range benchStreams {
		for _, d := range []int{0, 1, 2} {
			b.Run(fmt.Sprintf("stream=%s/k=100/d=%d", bs.name, d), func(b *testing.B) {
				s := bs.make()
				c, err := window.NewCounter[string](s.size, s.bucket, window.WithHistory(2*s.bucket))
				if err != nil {
					b.Fatal(err)
				}
				fill(c, s, 0, 2*s.windowRecords())
				_, end := c.Bounds()
				end = end.Add(-time.Duration(d) * s.bucket)
				settle()
				b.ReportAllocs()
				cpu := startCPU()
				for b.Loop() {
					if _, err := c.TopAt(end, 100); err != nil {
						b.Fatal(err)
					}
				}
				cpu.stop(b)
				b.ReportMetric(float64(c.Len()), "keys")
			})
		}
	}
}

// BenchmarkCounterMemory reports the live heap of a full window, per distinct
// key in it, after two windows' worth of records so that every bucket has
// been reused once.
func BenchmarkCounterMemory(b *testing.B) {
	for _, bs := range benchStreams[1:] {
		for _, impl := range []string{"ring", "Counter"} {
			b.Run("stream="+bs.name+"/impl="+impl, func(b *testing.B) {
				s := bs.make()
				var bytes, keys float64
				for b.Loop() {
					before := heapInUse()
					c := newImpl(b, impl, s)
					fill(c, s, 0, 2*s.windowRecords())
					bytes = float64(heapInUse() - before)
					keys = float64(c.Len())
					runtime.KeepAlive(c)
				}
				b.ReportMetric(bytes/keys, "B/key")
				b.ReportMetric(bytes/(1<<20), "MiB")
				b.ReportMetric(keys, "keys")
			})
		}
	}
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkCounterAll compares a walk over every count of a full window with
// All against the Top(Len()) a caller would otherwise sort them with.
func BenchmarkCounterAll(b *testing.B) {
	for _, bs := range benchStreams {
		for _, impl := range []string{"TopLen", "All"} {
			b.Run(fmt.Sprintf("stream=%s/impl=%s", bs.name, impl), func(b *testing.B) {
				s := bs.make()
				c, err := window.NewCounter[string](s.size, s.bucket)
				if err != nil {
					b.Fatal(err)
				}
				fill(c, s, 0, 2*s.windowRecords())
				settle()
				b.ReportAllocs()
				var sum int64
				for b.Loop() {
					if impl == "All" {
						for _, n := range c.All() {
							sum += n
						}
						continue
					}
					for _, e := range c.Top(c.Len()) {
						sum += e.Count
					}
				}
				b.ReportMetric(float64(c.Len()), "keys")
			})
		}
	}
}
