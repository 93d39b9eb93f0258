package bench

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamtop/streamtop/aggregate"
	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/internal/baseline"
	"github.com/streamtop/streamtop/internal/workload"
	"github.com/streamtop/streamtop/sink"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/memstream"
	"github.com/streamtop/streamtop/topk"
	"github.com/streamtop/streamtop/window"
)

// windowed is what the pipeline counts each resource's referrers with.
type windowed interface {
	Add(key string, t time.Time, n int64) bool
	Advance(now time.Time)
	Top(k int) []topk.Entry[string]
}

// pipelineImpl is one pipeline row: either a window type that visitProcessor
// keeps per page, or (viaAggregate) the library's own processor,
// package aggregate.
type pipelineImpl struct {
	name, base   string
	make         func(size, bucket time.Duration) (windowed, error)
	viaAggregate bool
	sketch       int // the aggregate's SketchCapacity; 0 counts exactly
}

// pipelineImpls are the pipeline rows; sketch_test.go appends window.Sketch.
// The aggregate row is what a user of the library runs (window.Counter per
// page, state saved with every checkpoint); Counter is the same window in
// the benchmark's bare processor, so the two differ by aggregate's own cost.
var pipelineImpls = []pipelineImpl{
	{name: "ring", make: func(size, bucket time.Duration) (windowed, error) {
		return baseline.NewRing[string](size, bucket)
	}},
	{name: "Counter", base: "ring", make: func(size, bucket time.Duration) (windowed, error) {
		return window.NewCounter[string](size, bucket)
	}},
	{name: "aggregate", base: "ring", viaAggregate: true},
	// Issue 15's Sketch-mode pipeline (target: 1.5M records/s).
	{name: "aggregateSketch1024", base: "aggregate", viaAggregate: true, sketch: 1024},
}

// The pipeline's shape: the original sample's 10 s window of 1 s buckets,
// a snapshot of each resource's top referrers written at every bucket
// boundary; quick mode shrinks the buckets so a short run still crosses
// several boundaries.
type pipelineShape struct {
	size, bucket time.Duration
	run          time.Duration // how long the producer puts records
}

func shape() pipelineShape {
	if quick {
		return pipelineShape{size: 2 * time.Second, bucket: 200 * time.Millisecond, run: time.Second}
	}
	return pipelineShape{size: 10 * time.Second, bucket: time.Second, run: 6 * time.Second}
}

const (
	// sampleEvery: one record in this many has its put-to-sink latency
	// recorded.
	sampleEvery = 16
	// maxLag bounds how far the producer runs ahead of the consumer, so a
	// saturated pipeline's latency is that of a bounded queue rather than
	// of a backlog that grows for the whole run.
	maxLag = 100_000
	// putBatch is the records per PutRecords, Kinesis' maximum.
	putBatch = 500
	topN     = 10
)

// pipeline is the state the shard processors of one run share.
type pipeline struct {
	pipelineShape
	newWindow func() (windowed, error)
	out       *sink.Memory
	counted   atomic.Int64
	bad       atomic.Int64

	mu  sync.Mutex
	lat []time.Duration

	agg *aggregate.Aggregator // set on the aggregate row only
}

// records returns the records the processors have counted so far.
func (p *pipeline) records() int64 {
	if p.agg != nil {
		return p.agg.Stats().Records
	}
	return p.counted.Load()
}

// rejected returns the records that did not decode.
func (p *pipeline) rejected() int64 {
	if p.agg != nil {
		return p.agg.Stats().Malformed
	}
	return p.bad.Load()
}

func (p *pipeline) addLatencies(lat []time.Duration) {
	p.mu.Lock()
	p.lat = append(p.lat, lat...)
	p.mu.Unlock()
}

// visitProcessor counts one shard's visits: JSON decode, one window per
// resource, and at each bucket boundary one snapshot per resource written
// to the sink. Its ProcessRecords is the whole per-record cost the
// benchmark measures.
type visitProcessor struct {
	p       *pipeline
	shard   string
	windows map[string]windowed
	in      interner
	cur     int64
	started bool
	seen    int
	pending []time.Time // arrival times of sampled records not yet in the sink
	lat     []time.Duration
	snaps   []sink.Snapshot
}

func (v *visitProcessor) handle(ctx context.Context, recs []source.Record) error {
	bucket := int64(v.p.bucket)
	for _, r := range recs {
		b := r.ArrivalTime.UnixNano() / bucket
		if !v.started {
			v.started, v.cur = true, b
		}
		if b > v.cur {
			if err := v.emit(ctx, b); err != nil {
				return err
			}
		}
		res, ref, ok := decodeVisit(r.Data, &v.in)
		if !ok {
			v.p.bad.Add(1)
			continue
		}
		w := v.windows[res]
		if w == nil {
			var err error
			if w, err = v.p.newWindow(); err != nil {
				return err
			}
			v.windows[res] = w
		}
		w.Add(ref, r.ArrivalTime, 1)
		if v.seen%sampleEvery == 0 {
			v.pending = append(v.pending, r.ArrivalTime)
		}
		v.seen++
	}
	v.p.counted.Add(int64(len(recs)))
	return nil
}

// emit writes the snapshots of the window that ends where bucket b begins:
// every record sampled so far is in the sink once Write returns.
func (v *visitProcessor) emit(ctx context.Context, b int64) error {
	end := time.Unix(0, b*int64(v.p.bucket))
	v.snaps = v.snaps[:0]
	for res, w := range v.windows {
		w.Advance(end.Add(-v.p.bucket))
		v.snaps = append(v.snaps, sink.Snapshot{Group: res, Time: end, Window: v.p.size, Counts: w.Top(topN), Host: v.shard})
	}
	if err := v.p.out.Write(ctx, v.snaps); err != nil {
		return err
	}
	now := time.Now()
	v.lat = v.lat[:0]
	for _, t := range v.pending {
		v.lat = append(v.lat, now.Sub(t))
	}
	v.pending = v.pending[:0]
	v.p.addLatencies(v.lat)
	v.cur = b
	return nil
}

// sampledSink is the aggregate row's sink. aggregate writes the sink itself,
// so the records its decoders sample wait here, per page, until the first
// snapshot of that page whose window holds them has been written: the same
// put-to-sink latency visitProcessor measures.
type sampledSink struct {
	p       *pipeline
	mu      sync.Mutex // pages of every shard share pending
	pending map[string][]time.Time
	lat     []time.Duration
}

func (s *sampledSink) sample(page string, arrival time.Time) {
	s.mu.Lock()
	s.pending[page] = append(s.pending[page], arrival)
	s.mu.Unlock()
}

func (s *sampledSink) Write(ctx context.Context, snaps []sink.Snapshot) error {
	if err := s.p.out.Write(ctx, snaps); err != nil {
		return err
	}
	now := time.Now()
	s.mu.Lock()
	s.lat = s.lat[:0]
	for _, sn := range snaps {
		// A page's records arrive in order on its one shard, so those the
		// snapshot holds are a prefix.
		q := s.pending[sn.Group]
		i := 0
		for ; i < len(q) && q[i].Before(sn.Time); i++ {
			s.lat = append(s.lat, now.Sub(q[i]))
		}
		s.pending[sn.Group] = q[:copy(q, q[i:])]
	}
	s.p.addLatencies(s.lat)
	s.mu.Unlock()
	return nil
}

var errNotVisit = errors.New("not a visit record")

// visitDecoder is one shard's aggregate.Decoder: the same fast decode and
// interner as visitProcessor, and the same sampling of one record in
// sampleEvery.
type visitDecoder struct {
	in   interner
	seen int
	out  *sampledSink
}

func (d *visitDecoder) Decode(r source.Record, dst []aggregate.Item) ([]aggregate.Item, error) {
	res, ref, ok := decodeVisit(r.Data, &d.in)
	if !ok {
		return dst, errNotVisit
	}
	if d.seen%sampleEvery == 0 {
		d.out.sample(res, r.ArrivalTime)
	}
	d.seen++
	return append(dst, aggregate.Item{Group: res, Key: ref, Time: r.ArrivalTime, N: 1}), nil
}

// newProcessors returns the Consumer's processor factory for im.
func (p *pipeline) newProcessors(im pipelineImpl) (func(shard string) source.Processor, error) {
	if !im.viaAggregate {
		p.newWindow = func() (windowed, error) { return im.make(p.size, p.bucket) }
		return func(shard string) source.Processor {
			v := &visitProcessor{p: p, shard: shard, windows: map[string]windowed{}}
			return source.HandlerFunc(v.handle)
		}, nil
	}
	out := &sampledSink{p: p, pending: map[string][]time.Time{}}
	a, err := aggregate.New(aggregate.Config{
		Size: p.size, Bucket: p.bucket, K: topN, Sink: out, Host: "bench", SketchCapacity: im.sketch,
		NewDecoder: func(string) aggregate.Decoder { return &visitDecoder{out: out} },
	})
	if err != nil {
		return nil, err
	}
	p.agg = a
	return a.NewProcessor, nil
}

// pipelineResult is one run's figures.
type pipelineResult struct {
	records  int64
	elapsed  time.Duration
	p50, p99 time.Duration
	samples  int
}

// runPipeline runs memstream -> Consumer -> JSON decode -> a window per
// resource -> sink.Memory for sh.run, with one producer putting the
// visualizer's records as fast as the consumer takes them.
func runPipeline(tb testing.TB, im pipelineImpl, shards int, sh pipelineShape, entries []memstream.Entry) pipelineResult {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := memstream.New(shards)
	if err != nil {
		tb.Fatal(err)
	}
	out, err := sink.NewMemory()
	if err != nil {
		tb.Fatal(err)
	}
	p := &pipeline{pipelineShape: sh, out: out}
	newProcessor, err := p.newProcessors(im)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := source.NewConsumer(source.Config{
		Stream:       stream,
		Leases:       checkpoint.NewMemoryStore(),
		WorkerID:     "bench",
		NewProcessor: newProcessor,
	})
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			tb.Error(err)
		}
	}()

	// Warm up: one record per resource, so every shard that will carry
	// load has its lease and processor before the clock starts.
	if _, err := stream.PutRecords(ctx, entries[:0:0]); err != nil {
		tb.Fatal(err)
	}
	warm := make([]memstream.Entry, 0, len(workload.Resources))
	for _, r := range workload.Resources {
		warm = append(warm, memstream.Entry{PartitionKey: r, Data: []byte(`{"resource":"` + r + `","referrer":"warm-up"}`)})
	}
	if _, err := stream.PutRecords(ctx, warm); err != nil {
		tb.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); p.records() < int64(len(warm)); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			tb.Fatal("the consumer did not process the warm-up records in 30 s")
		}
	}
	base := p.records()
	p.mu.Lock()
	p.lat = p.lat[:0]
	p.mu.Unlock()

	start := time.Now()
	stop := start.Add(sh.run)
	var put int64
	for time.Now().Before(stop) {
		for put-(p.records()-base) > maxLag {
			time.Sleep(50 * time.Microsecond)
		}
		i := int(put % int64(len(entries)))
		if _, err := stream.PutRecords(ctx, entries[i:i+putBatch]); err != nil {
			tb.Fatal(err)
		}
		put += putBatch
	}
	elapsed := time.Since(start)
	n := p.records() - base
	if bad := p.rejected(); bad != 0 {
		tb.Fatalf("%d records did not decode", bad)
	}
	p.mu.Lock()
	lat := slices.Clone(p.lat)
	p.mu.Unlock()
	slices.Sort(lat)
	r := pipelineResult{records: n, elapsed: elapsed, samples: len(lat)}
	if len(lat) > 0 {
		r.p50 = lat[len(lat)/2]
		r.p99 = lat[min(len(lat)-1, len(lat)*99/100)]
	}
	return r
}

// pipelineEntries are the visualizer's records, a whole number of put
// batches long, with the resource as partition key or, random, one of 2^16
// visitor IDs, so that every shard holds part of every resource's records.
func pipelineEntries(random bool) []memstream.Entry {
	visits := workload.VisitStream(1<<20, 1<<18, 7)
	recs := workload.VisitRecords(visits)
	e := make([]memstream.Entry, len(visits))
	for i, v := range visits {
		key := v.Resource
		if random {
			key = strconv.Itoa(int(uint32(i)*2654435761) >> 16) // a visitor ID
		}
		e[i] = memstream.Entry{PartitionKey: key, Data: recs[i]}
	}
	return e[:len(e)/putBatch*putBatch]
}

// BenchmarkPipeline runs the embedded pipeline end to end for a fixed time,
// once per call: b.N does not apply, so run it with -benchtime 1x; ns/op is
// replaced by the time per record. Latency is from a record's put (its
// arrival time) to the return of the sink Write that first includes it,
// sampled on one record in 16; records still in the open bucket when the
// run ends are not sampled.
//
// keys=page puts each resource's records on one shard, as the visualizer's
// producer did; keys=random spreads them over every shard, as a stream
// partitioned for throughput does, which only the aggregate row counts
// right (its partials merge on reading).
func BenchmarkPipeline(b *testing.B) {
	for _, keys := range []string{"page", "random"} {
		entries := pipelineEntries(keys == "random")
		for _, im := range pipelineImpls {
			for _, shards := range []int{2, 8} {
				b.Run(fmt.Sprintf("keys=%s/impl=%s/shards=%d", keys, im.name, shards), func(b *testing.B) {
					var before, after runtime.MemStats
					runtime.GC()
					runtime.ReadMemStats(&before)
					r := runPipeline(b, im, shards, shape(), entries)
					b.StopTimer()
					runtime.ReadMemStats(&after)
					// Per record, not per op: b.N is 1. They include the
					// stream's own copy of each record and the warm-up.
					perRecord := float64(max(r.records, 1))
					b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/perRecord, "B/record")
					b.ReportMetric(float64(after.Mallocs-before.Mallocs)/perRecord, "allocs/record")
					b.ReportMetric(float64(r.elapsed.Nanoseconds())/float64(max(r.records, 1)), "ns/op")
					b.ReportMetric(float64(r.records)/r.elapsed.Seconds(), "records/s")
					b.ReportMetric(r.p50.Seconds()*1e3, "p50-ms")
					b.ReportMetric(r.p99.Seconds()*1e3, "p99-ms")
					b.ReportMetric(float64(r.samples), "samples")
				})
			}
		}
	}
}
