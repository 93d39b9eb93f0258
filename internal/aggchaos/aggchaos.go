// Package aggchaos runs aggregate processors under Consumers while workers
// are killed and stopped, shards split and merge, and faults are injected into
// the stream, the lease table and the sink, and then checks what the sink got
// against an offline recomputation: no record lost at the processor, per key
// the put order, every snapshot exact for its window, and which windows went
// missing (outside those a reshard leaves unwritten by design). Records are
// "group/key" payloads with the group as partition key.
//
// The same run serves the memstream test in package aggregate and the
// emulator test in internal/integration.
package aggchaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/streamtop/streamtop/aggregate"
	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/internal/consumertest"
	"github.com/streamtop/streamtop/internal/faults"
	"github.com/streamtop/streamtop/sink"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/memstream"
	"github.com/streamtop/streamtop/topk"
)

// Result is what an aggregate chaos test finds once the chaos is over.
type Result struct {
	Records []source.Record
	Stats   aggregate.Stats // summed over every Aggregator
	// Partials and Windows count the partials and the complete merged
	// windows checked; Mismatches those that were wrong.
	Partials, Windows, Mismatches int
	Gaps                          []MissingWindow // windows with records never read back complete
}

// Chaos is what the aggregate chaos tests share: faults injected on one
// seeded schedule into the stream, the lease table and the sink (which
// records every snapshot), and a pool of workers that each run an Aggregator
// decoding through Seen, all logging to Trace. It is used from the test's
// goroutine.
type Chaos struct {
	Sched                  *faults.Schedule
	Out                    *RecordingSink
	Seen                   *FirstSeen
	Trace                  *Trace
	Workers                *consumertest.Pool
	aggs                   []*aggregate.Aggregator // one per worker started
	size, bucket, failover time.Duration
}

// New sets a run up on raw and leases; tune adjusts each worker's Config
// after consumertest.FastConfig and the failover time.
func New(t testing.TB, seed uint64, rng *rand.Rand, raw source.Stream, leases checkpoint.Store,
	size, bucket, failover time.Duration, holders bool, tune func(*source.Config)) *Chaos {
	c := &Chaos{
		Sched: faults.NewSchedule(seed, faults.Rate("*", 0.01), faults.Rate("stream.Read partial", 0.2),
			faults.Rate("sink.Write", 0.05), faults.Rate("sink.Write partial", 0.05), faults.Slow(0.002, 20*time.Millisecond)),
		Out: NewRecordingSink(), Seen: NewFirstSeen(), Trace: &Trace{},
		size: size, bucket: bucket, failover: failover,
	}
	stream := faults.NewStream(raw, c.Sched)
	store := faults.NewStore(leases, c.Sched)
	c.Workers = consumertest.NewPool(t, rng, holders, func(id string) source.Config {
		agg, err := aggregate.New(aggregate.Config{Size: size, Bucket: bucket, Decoder: c.Seen.Decoder(),
			Sink: faults.NewWriter(c.Out, c.Sched), Host: id, Logger: c.Trace.Logger(id)})
		if err != nil {
			t.Fatal(err)
		}
		c.aggs = append(c.aggs, agg)
		cfg := consumertest.FastConfig(stream, store, id, agg.NewProcessor)
		cfg.FailoverTime = failover
		cfg.Logger = c.Trace.Logger(id)
		tune(&cfg)
		return cfg
	})
	return c
}

// End ends an aggregate chaos run whose producer has stopped: it brings the
// workers back to three, reads every record of the stream back,
// waits up to catchUp for the processors to decode them all and then, a
// bounded time, for windows still due (a batch's snapshots may wait for a
// retry, or for the shard's next owner if the lease was lost meanwhile). It
// stops the workers and checks the invariants: no record lost at the
// processor, per key the put order, and every snapshot equal to the
// recomputation of its window. Missing windows are left to the caller.
func (c *Chaos) End(t testing.TB, stream source.Stream, catchUp time.Duration) Result {
	t.Helper()
	workers, seen, out, aggs := c.Workers, c.Seen, c.Out, c.aggs
	size, bucket, failover := c.size, c.bucket, c.failover
	workers.Refill(3)
	var end Result
	end.Records = consumertest.ReadAll(t, stream)
	truth := Recompute(end.Records, bucket)
	complete := func() map[string]map[int64]bool { return out.Complete(t, truth, bucket) }
	caughtUp := consumertest.WaitFor(t, catchUp, "every record to be processed", func() bool { return seen.Count() >= len(end.Records) })
	settled := consumertest.Settle(2*failover+3*time.Second, func() bool {
		return len(truth.Missing(complete(), size, bucket)) == 0
	})
	stopping := time.Now()
	workers.StopAll()
	t.Logf("caught up %v after the producer stopped, windows complete %v later; workers stopped in %v",
		caughtUp.Round(time.Millisecond), settled.Round(time.Millisecond), time.Since(stopping).Round(time.Millisecond))

	seen.Check(t, end.Records)
	checked := out.CheckWindows(t, end.Records, size, bucket)
	end.Partials, end.Windows, end.Mismatches = checked.Partials, checked.Windows, checked.Mismatches
	if end.Partials == 0 {
		t.Fatal("no snapshot written")
	}
	for _, a := range aggs {
		s := a.Stats()
		end.Stats.Records += s.Records
		end.Stats.Snapshots += s.Snapshots
		end.Stats.StateWrites += s.StateWrites
	}
	end.Gaps = truth.Missing(complete(), size, bucket)
	return end
}

// Checked counts what CheckWindows compared with the recount: partials,
// windows read back complete, and those that were wrong.
type Checked struct{ Partials, Windows, Mismatches int }

// CheckWindows compares, against a recount of records, every partial the
// sink accepted with its shard's part of the window, and every window read
// back complete with the whole window. It reports the first mismatches with
// t.Errorf and counts them all.
func (r *RecordingSink) CheckWindows(t testing.TB, records []source.Record, size, bucket time.Duration) Checked {
	t.Helper()
	truth, parts := Recompute(records, bucket), RecomputeShards(records, bucket)
	var c Checked
	for _, s := range r.All() {
		c.Partials++
		want := parts[s.Shard].Window(s.Group, s.Time, size, bucket)
		if slices.Equal(want, s.Counts) {
			continue // cmp.Diff below is for the message only: slow under -race
		}
		c.Mismatches++
		if c.Mismatches <= 5 {
			t.Errorf("partial of %s at %v from %s by %s (-want +got):\n%s", s.Group, s.Time.Format("15:04:05.000"), s.Shard, s.Host,
				cmp.Diff(want, s.Counts, cmpopts.EquateEmpty()))
		}
	}
	for _, g := range truth.Groups() {
		snaps, err := r.Query(context.Background(), g, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range snaps {
			if !s.Complete {
				continue
			}
			c.Windows++
			want := truth.Window(g, s.Time, size, bucket)
			if slices.Equal(want, s.Counts) {
				continue
			}
			c.Mismatches++
			if c.Mismatches <= 10 {
				t.Errorf("complete window of %s at %v (-want +got):\n%s", g, s.Time.Format("15:04:05.000"),
					cmp.Diff(want, s.Counts, cmpopts.EquateEmpty()))
			}
		}
	}
	return c
}

// StartGroupProducer puts "group/key" records. With byGroup the group is
// the partition key, so one open shard holds a group's records at any time;
// otherwise it is one of a thousand user IDs, as a stream partitioned for
// throughput has it, and every shard holds part of every group.
func StartGroupProducer(t testing.TB, s *memstream.Stream, groups int, seed uint64, byGroup bool) *consumertest.Producer {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 2))
	return consumertest.StartProducer(t, func(<-chan struct{}) bool {
		entries := make([]memstream.Entry, 10)
		for j := range entries {
			g := fmt.Sprintf("g%02d", rng.IntN(groups))
			pk := g
			if !byGroup {
				pk = fmt.Sprintf("user%03d", rng.IntN(1000))
			}
			entries[j] = memstream.Entry{PartitionKey: pk, Data: fmt.Appendf(nil, "%s/k%d", g, rng.IntN(5))}
		}
		if _, err := s.PutRecords(context.Background(), entries); err != nil {
			t.Errorf("PutRecords: %v", err)
			return false
		}
		time.Sleep(2 * time.Millisecond)
		return true
	})
}

// ParseVisit splits a record's "group/key" payload.
func ParseVisit(r source.Record) (group, key string, err error) {
	g, k, ok := strings.Cut(string(r.Data), "/")
	if !ok {
		return "", "", errors.New("no slash")
	}
	return g, k, nil
}

// FirstSeen records the order in which records are decoded for the first
// time, per partition key.
type FirstSeen struct {
	mu    sync.Mutex
	seen  map[string]bool
	order map[string][]string
}

// NewFirstSeen returns an empty record of first decodings.
func NewFirstSeen() *FirstSeen {
	return &FirstSeen{seen: map[string]bool{}, order: map[string][]string{}}
}

// Decoder decodes "group/key" records, noting each one decoded for the
// first time. It is safe for concurrent use.
func (f *FirstSeen) Decoder() aggregate.Decoder {
	return aggregate.DecoderFunc(func(r source.Record, dst []aggregate.Item) ([]aggregate.Item, error) {
		f.mu.Lock()
		if !f.seen[r.SequenceNumber] {
			f.seen[r.SequenceNumber] = true
			f.order[r.PartitionKey] = append(f.order[r.PartitionKey], r.SequenceNumber)
		}
		f.mu.Unlock()
		g, k, err := ParseVisit(r)
		if err != nil {
			return dst, err
		}
		return append(dst, aggregate.Item{Group: g, Key: k, Time: r.ArrivalTime, N: 1}), nil
	})
}

// Count returns how many distinct records were decoded.
func (f *FirstSeen) Count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.seen)
}

// Check checks that every record was decoded,, per key first in stream order (memstream's
// and kinesalite's sequence numbers, decimal numbers without leading zeros,
// rise in put order across a shard and its children).
func (f *FirstSeen) Check(t testing.TB, records []source.Record) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	want := map[string][]string{}
	lost := 0
	for _, r := range records {
		want[r.PartitionKey] = append(want[r.PartitionKey], r.SequenceNumber)
		if !f.seen[r.SequenceNumber] {
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d records never reached a processor", lost, len(records))
	}
	for k, seqs := range want {
		slices.SortFunc(seqs, func(a, b string) int {
			return source.Sequence{Number: a}.Compare(source.Sequence{Number: b})
		})
		if got := f.order[k]; !slices.Equal(got, seqs) {
			t.Errorf("key %s: first processing order differs from put order", k)
		}
	}
}

// Truth holds, per group and bucket, the exact count of every key.
type Truth struct {
	counts map[string]map[int64]map[string]int64
	first  map[string]int64 // group -> bucket of its first record
	last   map[string]int64
}

// BucketOf returns the index of the bucket holding t, as package window
// aligns buckets.
func BucketOf(t time.Time, bucket time.Duration) int64 {
	ns := t.UnixNano()
	q := ns / int64(bucket)
	if ns%int64(bucket) < 0 {
		q--
	}
	return q
}

// Recompute counts records offline, per group, bucket and key.
func Recompute(records []source.Record, bucket time.Duration) Truth {
	tr := Truth{counts: map[string]map[int64]map[string]int64{}, first: map[string]int64{}, last: map[string]int64{}}
	for _, r := range records {
		g, k, err := ParseVisit(r)
		if err != nil {
			continue
		}
		b := BucketOf(r.ArrivalTime, bucket)
		if tr.counts[g] == nil {
			tr.counts[g] = map[int64]map[string]int64{}
			tr.first[g] = b
		}
		if tr.counts[g][b] == nil {
			tr.counts[g][b] = map[string]int64{}
		}
		tr.counts[g][b][k]++
		tr.first[g], tr.last[g] = min(tr.first[g], b), max(tr.last[g], b)
	}
	return tr
}

// Window returns the exact Top of group over the window ending at end.
func (tr Truth) Window(group string, end time.Time, size, bucket time.Duration) []topk.Entry[string] {
	e := BucketOf(end, bucket)
	sum := map[string]int64{}
	for b := e - int64(size/bucket); b < e; b++ {
		for k, n := range tr.counts[group][b] {
			sum[k] += n
		}
	}
	var out []topk.Entry[string]
	for k, n := range sum {
		out = append(out, topk.Entry[string]{Key: k, Count: n})
	}
	slices.SortFunc(out, func(a, b topk.Entry[string]) int {
		if a.Count != b.Count {
			return int(b.Count - a.Count)
		}
		return strings.Compare(a.Key, b.Key)
	})
	return out
}

// MissingWindow is a window of a group that holds records but was never
// read back complete: the bucket index of its end.
type MissingWindow struct {
	Group string
	End   int64
}

// Missing returns the windows with records, from the group's first bucket
// to a window after its last, that are not complete.
func (tr Truth) Missing(complete map[string]map[int64]bool, size, bucket time.Duration) []MissingWindow {
	n := int64(size / bucket)
	var gaps []MissingWindow
	for g := range tr.counts {
		for e := tr.first[g] + 1; e <= tr.last[g]+n; e++ {
			if !complete[g][e] {
				gaps = append(gaps, MissingWindow{g, e})
			}
		}
	}
	slices.SortFunc(gaps, func(a, b MissingWindow) int {
		if a.End != b.End {
			return int(a.End - b.End)
		}
		return strings.Compare(a.Group, b.Group)
	})
	return gaps
}

// Groups returns the groups with records, in order.
func (tr Truth) Groups() []string {
	gs := make([]string, 0, len(tr.counts))
	for g := range tr.counts {
		gs = append(gs, g)
	}
	slices.Sort(gs)
	return gs
}

// RecomputeShards counts records offline per shard: each shard's part.
func RecomputeShards(records []source.Record, bucket time.Duration) map[string]Truth {
	byShard := map[string][]source.Record{}
	for _, r := range records {
		byShard[r.ShardID] = append(byShard[r.ShardID], r)
	}
	out := map[string]Truth{}
	for id, rs := range byShard {
		out[id] = Recompute(rs, bucket)
	}
	return out
}

// RecordingSink keeps every partial accepted, as written, and stores them
// and the shards' progress in a Store (a sink.Memory unless told otherwise),
// which merges them on Query. The zero value is not usable: make one with
// NewRecordingSink or NewRecordingSinkOn.
type RecordingSink struct {
	Store
	mu    sync.Mutex
	snaps []sink.Snapshot
	first map[string]map[time.Time]time.Time // group -> window end -> first write

	// For CompleteDelays: the progress as stored, the first window end not
	// yet complete (a bucket index, valid once started) and when each
	// became complete. Completeness does not depend on the group.
	progress map[string]sink.Progress
	firstEnd time.Time // of the partials written
	started  bool
	next     int64
	bucket   time.Duration
	done     map[int64]time.Time
}

// WriteProgress records p, and when the windows it completed did.
func (r *RecordingSink) WriteProgress(ctx context.Context, p sink.Progress) error {
	if err := r.Store.WriteProgress(ctx, p); err != nil {
		return err
	}
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.progress == nil {
		r.progress, r.done = map[string]sink.Progress{}, map[int64]time.Time{}
	}
	r.progress[p.Shard] = sink.Advance(r.progress[p.Shard], p)
	r.bucket = p.Bucket
	if !r.started {
		if r.firstEnd.IsZero() || r.bucket <= 0 {
			return nil
		}
		r.started, r.next = true, BucketOf(r.firstEnd, r.bucket)
	}
	all := make([]sink.Progress, 0, len(r.progress))
	for _, q := range r.progress {
		all = append(all, q)
	}
	for {
		at := time.Unix(0, r.next*int64(r.bucket))
		probe := sink.Merge([]sink.Snapshot{{Group: "probe", Time: at, Shard: "probe"}}, all)
		if !probe[0].Complete {
			return nil
		}
		r.done[r.next] = now
		r.next++
	}
}

// CompleteDelays returns, in ascending order, how long after its end each
// window became complete, from the first window any partial was written
// for.
func (r *RecordingSink) CompleteDelays() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	var d []time.Duration
	for e, at := range r.done {
		d = append(d, at.Sub(time.Unix(0, e*int64(r.bucket))))
	}
	slices.Sort(d)
	return d
}

// NewRecordingSink returns an empty RecordingSink.
func NewRecordingSink() *RecordingSink {
	m, err := sink.NewMemory(sink.WithRetention(24 * time.Hour))
	if err != nil {
		panic(err) // a valid constant option
	}
	return &RecordingSink{Store: m}
}

// Store is where a RecordingSink keeps what it records, and reads it back
// merged from: a sink.Memory, or a DynamoDB sink.
type Store interface {
	sink.ProgressWriter
	sink.Reader
}

// NewRecordingSinkOn returns an empty RecordingSink that stores in s.
func NewRecordingSinkOn(s Store) *RecordingSink { return &RecordingSink{Store: s} }

// Complete returns, per group of tr, the window ends read back complete
// (bucket indexes).
func (r *RecordingSink) Complete(t testing.TB, tr Truth, bucket time.Duration) map[string]map[int64]bool {
	out := map[string]map[int64]bool{}
	for _, g := range tr.Groups() {
		snaps, err := r.Query(context.Background(), g, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		out[g] = map[int64]bool{}
		for _, s := range snaps {
			if s.Complete {
				out[g][BucketOf(s.Time, bucket)] = true
			}
		}
	}
	return out
}

// Write keeps s; it never fails.
func (r *RecordingSink) Write(ctx context.Context, s []sink.Snapshot) error {
	now := time.Now()
	if err := r.Store.Write(ctx, s); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.first == nil {
		r.first = map[string]map[time.Time]time.Time{}
	}
	for _, x := range s {
		if r.firstEnd.IsZero() || x.Time.Before(r.firstEnd) {
			r.firstEnd = x.Time
		}
		x.Counts = slices.Clone(x.Counts)
		r.snaps = append(r.snaps, x)
		if r.first[x.Group] == nil {
			r.first[x.Group] = map[time.Time]time.Time{}
		}
		if _, ok := r.first[x.Group][x.Time]; !ok {
			r.first[x.Group][x.Time] = now
		}
	}
	return nil
}

// Delays returns, in ascending order, how long after its end each window was
// first written: at most a bucket normally, up to the failover time after a
// crash.
func (r *RecordingSink) Delays() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	var d []time.Duration
	for _, m := range r.first {
		for end, at := range m {
			d = append(d, at.Sub(end))
		}
	}
	slices.Sort(d)
	return d
}

// All returns every snapshot written, in order.
func (r *RecordingSink) All() []sink.Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.snaps)
}
