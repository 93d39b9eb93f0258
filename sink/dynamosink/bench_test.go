package dynamosink_test

import (
	"fmt"
	"math/big"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/streamtop/streamtop/internal/awstest"
	"github.com/streamtop/streamtop/sink"
	"github.com/streamtop/streamtop/sink/dynamosink"
	"github.com/streamtop/streamtop/topk"
)

// top10 is what the visualizer stores per snapshot: the top 10 referrers.
func top10() []topk.Entry[string] {
	counts := make([]topk.Entry[string], 10)
	for i := range counts {
		counts[i] = topk.Entry[string]{Key: fmt.Sprintf("http://www.referrer-%d.com", i), Count: int64(1000 - 10*i)}
	}
	return counts
}

// shardRanges splits the hash key space into n equal ranges, as a stream
// of n shards created together does.
func shardRanges(n int) [][2]string {
	space := new(big.Int).Lsh(big.NewInt(1), 128)
	step := new(big.Int).Div(space, big.NewInt(int64(n)))
	out := make([][2]string, n)
	for i := range out {
		lo := new(big.Int).Mul(step, big.NewInt(int64(i)))
		hi := new(big.Int).Add(lo, step)
		if i == n-1 {
			hi = space
		}
		out[i] = [2]string{lo.String(), hi.Sub(hi, big.NewInt(1)).String()}
	}
	return out
}

const benchShards, benchGroups = 8, 4

// BenchmarkWriteBucket measures the writes of one 1 s bucket of the
// visualizer's 4 pages: written whole by one processor (the stream
// partitioned by page), or as partials by 8 shards' processors at once,
// each writing its 4 partials and then its progress, as package aggregate
// does. ns/op is the time of one bucket's writes.
func BenchmarkWriteBucket(b *testing.B) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) // date-proof: only written, never read back against now
	b.Run("whole", func(b *testing.B) {
		s := newSink(b)
		prefix := awstest.UniqueName(b, "/page")
		batch := make([]sink.Snapshot, benchGroups)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			for g := range batch {
				batch[g] = sink.Snapshot{Group: fmt.Sprint(prefix, g), Time: base.Add(time.Duration(i) * time.Second), Window: 10 * time.Second, Counts: top10(), Host: "h"}
			}
			if err := s.Write(b.Context(), batch); err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.ReportMetric(float64(i*benchGroups)/b.Elapsed().Seconds(), "snapshots/s")
	})
	b.Run("partials", func(b *testing.B) {
		client, name := newTable(b)
		s, err := dynamosink.New(client, name)
		if err != nil {
			b.Fatal(err)
		}
		prefix := awstest.UniqueName(b, "/page")
		ranges := shardRanges(benchShards)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			end := base.Add(time.Duration(i) * time.Second)
			var wg sync.WaitGroup
			for sh := range benchShards {
				wg.Go(func() {
					shard := fmt.Sprint("shardId-", sh)
					batch := make([]sink.Snapshot, benchGroups)
					for g := range batch {
						batch[g] = sink.Snapshot{Group: fmt.Sprint(prefix, g), Time: end, Window: 10 * time.Second, Counts: top10(), Host: "h", Shard: shard, Floor: 3}
					}
					if err := s.Write(b.Context(), batch); err != nil {
						b.Error(err)
						return
					}
					p := progress(shard, ranges[sh][0], ranges[sh][1], end)
					p.Bucket = time.Second
					if err := s.WriteProgress(b.Context(), p); err != nil {
						b.Error(err)
					}
				})
			}
			wg.Wait()
			i++
		}
		b.ReportMetric(float64(i*benchShards*benchGroups)/b.Elapsed().Seconds(), "partials/s")
	})
}

// queryLatency runs query b.N times and reports its median and 99th
// percentile latency.
func queryLatency(b *testing.B, query func() error) {
	d := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		if err := query(); err != nil {
			b.Fatal(err)
		}
		d = append(d, time.Since(start))
	}
	slices.Sort(d)
	b.ReportMetric(float64(d[len(d)/2])/float64(time.Millisecond), "p50-ms")
	b.ReportMetric(float64(d[(len(d)-1)*99/100])/float64(time.Millisecond), "p99-ms")
}

// BenchmarkQuery120 measures what the visualizer's chart asks for: the last
// two minutes of one page, 120 whole snapshots a second apart.
func BenchmarkQuery120(b *testing.B) {
	s := newSink(b)
	group := awstest.UniqueName(b, "/index.html")
	base := time.Now().UTC().Truncate(time.Second)
	batch := make([]sink.Snapshot, 120)
	for i := range batch {
		batch[i] = sink.Snapshot{Group: group, Time: base.Add(time.Duration(i) * time.Second), Window: 10 * time.Second, Counts: top10(), Host: "h"}
	}
	if err := s.Write(b.Context(), batch); err != nil {
		b.Fatal(err)
	}
	queryLatency(b, func() error {
		got, err := s.Query(b.Context(), group, base)
		if err == nil && len(got) != len(batch) {
			err = fmt.Errorf("Query = %d snapshots; want %d", len(got), len(batch))
		}
		return err
	})
}

// BenchmarkQueryPartials120 measures the chart's query when 8 shards count
// every page: two minutes of one page, 120 window ends of 8 partials of 10
// referrers each, merged and judged complete from the 8 shards' progress.
// The target is a p50 under 30 ms on dynalite.
func BenchmarkQueryPartials120(b *testing.B) {
	client, name := newTable(b)
	s, err := dynamosink.New(client, name)
	if err != nil {
		b.Fatal(err)
	}
	group := awstest.UniqueName(b, "/index.html")
	base := time.Now().UTC().Truncate(time.Second)
	ranges := shardRanges(benchShards)
	const windows = 120
	for sh := range benchShards {
		shard := fmt.Sprint("shardId-", sh)
		batch := make([]sink.Snapshot, windows)
		for i := range batch {
			counts := top10()
			for j := range counts {
				counts[j].Count += int64(sh * j) // the shards disagree on the order
			}
			slices.SortFunc(counts, func(a, b topk.Entry[string]) int { return int(b.Count - a.Count) })
			batch[i] = sink.Snapshot{Group: group, Time: base.Add(time.Duration(i) * time.Second), Window: 10 * time.Second,
				Counts: counts, Host: fmt.Sprint("w", sh), Shard: shard, Floor: 900}
		}
		if err := s.Write(b.Context(), batch); err != nil {
			b.Fatal(err)
		}
		p := progress(shard, ranges[sh][0], ranges[sh][1], batch[windows-1].Time)
		p.Bucket = time.Second
		if err := s.WriteProgress(b.Context(), p); err != nil {
			b.Fatal(err)
		}
	}
	queryLatency(b, func() error {
		got, err := s.Query(b.Context(), group, base)
		switch {
		case err != nil:
		case len(got) != windows:
			err = fmt.Errorf("Query = %d snapshots; want %d", len(got), windows)
		case !got[0].Complete || !got[windows-1].Complete || len(got[0].Counts) != 10:
			err = fmt.Errorf("Query = %+v; want complete windows of 10 referrers", got[0])
		}
		return err
	})
}
