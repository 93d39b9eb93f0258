package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/sink"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/topk"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// cpLog records the checkpoints a processor writes, as a lease table would.
type cpLog struct {
	last     source.Record // the record delivered last, for Checkpoint
	seqs     []string
	ended    bool
	failures int // CheckpointAt calls left to fail
}

func (c *cpLog) Checkpoint(context.Context) error {
	c.ended = true
	return nil
}

func (c *cpLog) CheckpointAt(_ context.Context, seq string, _ int64) error {
	if c.failures > 0 {
		c.failures--
		return errors.New("lease table unavailable")
	}
	c.seqs = append(c.seqs, seq)
	return nil
}

// flakySink fails its next failures writes, then writes to a real Memory.
type flakySink struct {
	*sink.Memory
	failures int
	writes   int
}

func (f *flakySink) Write(ctx context.Context, s []sink.Snapshot) error {
	if f.failures > 0 {
		f.failures--
		return errors.New("sink unavailable")
	}
	f.writes++
	return f.Memory.Write(ctx, s)
}

// newMemory returns a sink with room for every test's whole history.
func newMemory(t interface{ Fatal(...any) }) *sink.Memory {
	m, err := sink.NewMemory(sink.Retention(24 * time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func record(seq int, t time.Time, data string) source.Record {
	return source.Record{
		Data:           []byte(data),
		SequenceNumber: fmt.Sprintf("%020d", seq),
		ShardID:        "shard-0",
		ArrivalTime:    t,
	}
}

func visitJSON(res, ref string) string {
	return `{"resource":"` + res + `","referrer":"` + ref + `"}`
}

// modelSnapshots is the reference. Whenever a record's bucket b is past the
// newest bucket cur seen before it, every window ending at a boundary in
// (cur, b] is complete (at most maxCatchUp of them after a long silence), and
// each resource live then gets a snapshot counted by brute force over the
// records before it. A resource is live from its first valid record until the
// first window in which it has no count, which is written once, empty.
func modelSnapshots(records []source.Record, size, bucket time.Duration, host string) map[string][]sink.Snapshot {
	out := map[string][]sink.Snapshot{}
	n := int64(size / bucket)
	live := map[string]bool{}
	for i, r := range records {
		b := bucketIndex(r.ArrivalTime, bucket)
		if i > 0 {
			cur := bucketIndex(records[i-1].ArrivalTime, bucket)
			for e := max(cur+1, b-maxCatchUp+1); e <= b; e++ {
				counts := map[string]map[string]int64{}
				// Times never decrease, so the window's records are the
				// tail of records[:i] from lo on.
				lo := sort.Search(i, func(j int) bool { return bucketIndex(records[j].ArrivalTime, bucket) >= e-n })
				for _, old := range records[lo:i] {
					if v, ok := decode(old.Data); ok {
						if counts[v.Resource] == nil {
							counts[v.Resource] = map[string]int64{}
						}
						counts[v.Resource][v.Referrer]++
					}
				}
				for res := range live {
					exact := topk.NewExact[string]()
					for ref, c := range counts[res] {
						exact.Add(ref, c)
					}
					out[res] = append(out[res], sink.Snapshot{
						Group: res, Time: bucketTime(e, bucket).UTC(), Window: size,
						Counts: exact.Top(exact.Len()), Host: host,
					})
					if len(counts[res]) == 0 {
						delete(live, res)
					}
				}
			}
		}
		if v, ok := decode(r.Data); ok {
			live[v.Resource] = true
		}
	}
	return out
}

func decode(data []byte) (visit, bool) {
	var v visit
	s := string(data)
	for _, res := range []string{"/a", "/b", "/c"} {
		for _, ref := range []string{"x", "y", "z", "w"} {
			if s == visitJSON(res, ref) {
				return visit{res, ref}, true
			}
		}
	}
	return v, false
}

func stored(t *rapid.T, m *sink.Memory) map[string][]sink.Snapshot {
	groups, err := m.Groups(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]sink.Snapshot{}
	for _, g := range groups {
		s, err := m.Query(context.Background(), g, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		out[g] = s
	}
	return out
}

// genRecords draws a shard's records: non-decreasing arrival times with
// gaps from nothing to several windows, a few resources and referrers, and
// some records that are not valid visits.
func genRecords(t *rapid.T) []source.Record {
	count := rapid.IntRange(0, 200).Draw(t, "count")
	at := t0
	recs := make([]source.Record, 0, count)
	for i := range count {
		gap := rapid.SampledFrom([]time.Duration{0, 0, 10 * time.Millisecond, 300 * time.Millisecond,
			time.Second, time.Second, 3 * time.Second, 25 * time.Second, 130 * time.Second}).Draw(t, "gap")
		at = at.Add(gap)
		var data string
		if rapid.IntRange(0, 19).Draw(t, "malformed") == 19 {
			data = rapid.SampledFrom([]string{`{"resource":`, `not json`, `{"resource":"/a"}`, `{}`, ``}).Draw(t, "junk")
		} else {
			data = visitJSON(rapid.SampledFrom([]string{"/a", "/b", "/c"}).Draw(t, "res"),
				rapid.SampledFrom([]string{"x", "y", "z", "w"}).Draw(t, "ref"))
		}
		recs = append(recs, record(i+1, at, data))
	}
	return recs
}

// feed hands records to p in random batches, retrying a failed batch as the
// Consumer does. It returns the records actually delivered.
func feed(t *rapid.T, p *processor, recs []source.Record, cp *cpLog, out *flakySink) {
	ctx := context.Background()
	for len(recs) > 0 {
		k := rapid.IntRange(1, min(len(recs), 40)).Draw(t, "batch")
		batch := recs[:k]
		for attempt := 0; ; attempt++ {
			if attempt > 20 {
				t.Fatal("batch never accepted")
			}
			if attempt < 3 {
				out.failures = rapid.IntRange(0, 2).Draw(t, "sinkFailures")
				cp.failures = rapid.IntRange(0, 1).Draw(t, "cpFailures")
			}
			cp.last = batch[len(batch)-1]
			if err := p.ProcessRecords(ctx, batch, cp); err == nil {
				break
			}
		}
		out.failures, cp.failures = 0, 0
		recs = recs[k:]
	}
}

func newTestProcessor(out sink.Writer, stats *counters) *processor {
	return newProcessor(processorConfig{
		size: 10 * time.Second, bucket: time.Second, out: out, host: "h", stats: stats,
	}, "shard-0")
}

// TestProcessorMatchesModel: whatever the batching and however often the
// sink and the lease table fail, the snapshots written are exactly the
// brute-force counts of every complete window, and every record is counted
// once.
func TestProcessorMatchesModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		recs := genRecords(t)
		mem := newMemory(t)
		out := &flakySink{Memory: mem}
		stats := &counters{}
		p := newTestProcessor(out, stats)
		cp := &cpLog{}
		if err := p.Initialize(context.Background(), source.InitInput{ShardID: "shard-0", Checkpoint: checkpoint.TrimHorizon}); err != nil {
			t.Fatal(err)
		}
		feed(t, p, recs, cp, out)
		want := modelSnapshots(recs, 10*time.Second, time.Second, "h")
		if diff := cmp.Diff(want, stored(t, mem)); diff != "" {
			t.Fatalf("snapshots differ from the model (-want +got):\n%s", diff)
		}
		if got := stats.records.Load(); got != int64(len(recs)) {
			t.Fatalf("counted %d records, delivered %d", got, len(recs))
		}
		var bad int64
		for _, r := range recs {
			if _, ok := decode(r.Data); !ok {
				bad++
			}
		}
		if got := stats.malformed.Load(); got != bad {
			t.Fatalf("malformed = %d, want %d", got, bad)
		}
	})
}

// TestProcessorFailover: a second processor that resumes from the first's
// last checkpoint, at any point, leaves the sink exactly as one processor
// reading everything would: the trailing checkpoint lets it rebuild the
// window, and it writes no partial window over a complete one.
func TestProcessorFailover(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		recs := genRecords(t)
		cut := rapid.IntRange(0, len(recs)).Draw(t, "cut")
		mem := newMemory(t)
		out := &flakySink{Memory: mem}
		ctx := context.Background()

		a := newTestProcessor(out, &counters{})
		cpA := &cpLog{}
		a.Initialize(ctx, source.InitInput{Checkpoint: checkpoint.TrimHorizon})
		feed(t, a, recs[:cut], cpA, out)
		graceful := rapid.Bool().Draw(t, "graceful")
		if graceful {
			if err := a.ShutdownRequested(ctx, cpA); err != nil {
				t.Fatal(err)
			}
		} else if err := a.LeaseLost(ctx); err != nil {
			t.Fatal(err)
		}

		// The new owner starts after the last checkpoint.
		from, in := 0, source.InitInput{Checkpoint: checkpoint.TrimHorizon}
		if n := len(cpA.seqs); n > 0 {
			in.Checkpoint = cpA.seqs[n-1]
			seq, err := strconv.Atoi(in.Checkpoint)
			if err != nil {
				t.Fatal(err)
			}
			from = seq // records are numbered from 1
		}
		if from > cut {
			t.Fatalf("checkpoint %d is past the last record delivered, %d", from, cut)
		}
		b := newTestProcessor(out, &counters{})
		b.Initialize(ctx, in)
		feed(t, b, recs[from:], &cpLog{}, out)

		want := modelSnapshots(recs, 10*time.Second, time.Second, "h")
		if diff := cmp.Diff(want, stored(t, mem)); diff != "" {
			t.Fatalf("after failover at record %d (checkpoint %d), snapshots differ (-want +got):\n%s", cut, from, diff)
		}
	})
}

func TestProcessorCheckpointsTrailTheWindow(t *testing.T) {
	mem := newMemory(t)
	p := newTestProcessor(mem, &counters{})
	cp := &cpLog{}
	ctx := context.Background()
	p.Initialize(ctx, source.InitInput{Checkpoint: checkpoint.TrimHorizon})
	// One record every 500 ms for 15 s: records 1..30.
	var recs []source.Record
	for i := range 30 {
		recs = append(recs, record(i+1, t0.Add(time.Duration(i)*500*time.Millisecond), visitJSON("/a", "x")))
	}
	if err := p.ProcessRecords(ctx, recs, cp); err != nil {
		t.Fatal(err)
	}
	// The newest window written ends at t0+14s, so it starts at t0+4s: the
	// last record before it is the one at t0+3.5s, number 8.
	if got, want := cp.seqs[len(cp.seqs)-1], fmt.Sprintf("%020d", 8); got != want {
		t.Fatalf("last checkpoint %s, want %s (the last record before the window)", got, want)
	}
	before := len(cp.seqs)
	if err := p.ShutdownRequested(ctx, cp); err != nil {
		t.Fatal(err)
	}
	// Nothing was pending, and the shutdown must not move the checkpoint
	// to the last record: the next owner would lose the window.
	if len(cp.seqs) != before {
		t.Fatalf("shutdown checkpointed %v", cp.seqs[before:])
	}
}

func TestProcessorShardEnded(t *testing.T) {
	mem := newMemory(t)
	p := newTestProcessor(mem, &counters{})
	cp := &cpLog{}
	ctx := context.Background()
	p.Initialize(ctx, source.InitInput{Checkpoint: checkpoint.TrimHorizon})
	recs := []source.Record{
		record(1, t0, visitJSON("/a", "x")),
		record(2, t0.Add(1500*time.Millisecond), visitJSON("/a", "y")),
	}
	if err := p.ProcessRecords(ctx, recs, cp); err != nil {
		t.Fatal(err)
	}
	if err := p.ShardEnded(ctx, cp); err != nil {
		t.Fatal(err)
	}
	if !cp.ended {
		t.Fatal("ShardEnded did not checkpoint the end of the shard")
	}
	got, err := mem.Query(ctx, "/a", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	want := []sink.Snapshot{
		{Group: "/a", Time: t0.Add(time.Second), Window: 10 * time.Second, Host: "h",
			Counts: []topk.Entry[string]{{Key: "x", Count: 1}}},
		{Group: "/a", Time: t0.Add(2 * time.Second), Window: 10 * time.Second, Host: "h",
			Counts: []topk.Entry[string]{{Key: "x", Count: 1}, {Key: "y", Count: 1}}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("snapshots (-want +got):\n%s", diff)
	}
}

func TestProcessorLateRecord(t *testing.T) {
	mem := newMemory(t)
	stats := &counters{}
	p := newTestProcessor(mem, stats)
	ctx := context.Background()
	p.Initialize(ctx, source.InitInput{Checkpoint: checkpoint.TrimHorizon})
	recs := []source.Record{
		record(1, t0.Add(20*time.Second), visitJSON("/a", "x")),
		// Arrival times can step back a little (Kinesis's are approximate);
		// this one is older than the whole window.
		record(2, t0, visitJSON("/a", "y")),
	}
	if err := p.ProcessRecords(ctx, recs, &cpLog{}); err != nil {
		t.Fatal(err)
	}
	if got := stats.late.Load(); got != 1 {
		t.Fatalf("late = %d, want 1", got)
	}
	if got := stats.malformed.Load(); got != 0 {
		t.Fatalf("malformed = %d, want 0", got)
	}
}

// BenchmarkProcessor measures the consumer's per-record cost: decoding,
// counting, and one emit per second of record time, with records arriving at
// 100,000 per second of record time.
func BenchmarkProcessor(b *testing.B) {
	g := newTraffic(1, 90*time.Second)
	g.at(t0)
	const batch = 500
	recs := make([]source.Record, 0, batch)
	p := newTestProcessor(newMemory(b), &counters{})
	ctx := context.Background()
	p.Initialize(ctx, source.InitInput{Checkpoint: checkpoint.TrimHorizon})
	cp := &cpLog{}
	// Sequence numbers need only be distinct within a batch here; making
	// them up front keeps their cost out of the measurement.
	seqs := make([]string, batch)
	for i := range seqs {
		seqs[i] = strconv.Itoa(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; {
		recs = recs[:0]
		for ; len(recs) < batch && i < b.N; i++ {
			m := g.draw()
			recs = append(recs, source.Record{
				Data: m.data, PartitionKey: m.key, SequenceNumber: seqs[len(recs)],
				ArrivalTime: t0.Add(time.Duration(i) * 10 * time.Microsecond),
			})
		}
		if err := p.ProcessRecords(ctx, recs, cp); err != nil {
			b.Fatal(err)
		}
		cp.seqs = cp.seqs[:0]
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
}
