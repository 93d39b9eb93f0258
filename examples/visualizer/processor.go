package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/sink"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/window"
)

// visit is one record as the producer writes it: a page view and where the
// visitor came from.
type visit struct {
	Resource string `json:"resource"`
	Referrer string `json:"referrer"`
}

// maxResources bounds how many resources one shard's processor counts at
// once, so a stream of garbage keys cannot exhaust memory. Records past it are
// counted as malformed.
const maxResources = 10_000

// maxCatchUp bounds how many past windows a processor writes in one go after
// a silent stretch of its shard; older ones would all be empty anyway once
// the gap exceeds the window.
const maxCatchUp = 120

// counters are the figures every processor of a consumer adds to. The zero
// value is ready; all fields are safe for concurrent use.
type counters struct {
	records   atomic.Int64 // records read, malformed ones included
	malformed atomic.Int64 // records that could not be counted
	late      atomic.Int64 // records too old for their resource's window
}

// processorConfig is what every shard's processor shares.
type processorConfig struct {
	size, bucket time.Duration
	out          sink.Writer
	host         string
	stats        *counters
}

// mark is the last record processed while the newest bucket seen was bucket.
// Every record up to it has a time in bucket or earlier.
type mark struct {
	bucket int64
	seq    string
	sub    int64
}

// pendingEmit is a set of snapshots not yet accepted by the sink, and the
// checkpoint that may be written once they are.
type pendingEmit struct {
	snaps  []sink.Snapshot
	target mark
	ok     bool // target is set
}

// processor counts one shard's visits per resource over a sliding window of
// record time and writes a snapshot per resource each time the shard's
// records cross a bucket boundary.
//
// Checkpoints trail the window: after the sink accepted the snapshots of the
// window [S, E), the processor checkpoints the last record before S. A worker
// that takes the shard over replays the whole window and so rebuilds it
// exactly (the original sample lost it and refilled for 20 s); the snapshots
// it writes again on the way are identical, and sink writers are idempotent.
// A resumed processor writes nothing until it holds a complete window, so it
// never replaces a good snapshot by a partial one.
//
// A processor is used by one goroutine at a time (the Consumer's contract).
// Memory is one window.Counter per resource active in the window.
type processor struct {
	processorConfig
	shardID string
	n       int64 // buckets per window

	windows map[string]*window.Counter[string]
	names   names
	started bool  // cur is valid
	cur     int64 // bucket of the newest record
	// firstEnd is the earliest window end (a bucket index) that may be
	// written: windows ending earlier miss records from before the resume.
	firstEnd    int64
	resumed     bool
	marks       []mark
	pending     pendingEmit
	last        mark // last record counted
	interrupted bool // the last ProcessRecords failed part way
}

func newProcessor(cfg processorConfig, shardID string) *processor {
	return &processor{
		processorConfig: cfg,
		shardID:         shardID,
		n:               int64(cfg.size / cfg.bucket),
		windows:         map[string]*window.Counter[string]{},
	}
}

func (p *processor) Initialize(_ context.Context, in source.InitInput) error {
	switch in.Checkpoint {
	case checkpoint.TrimHorizon, checkpoint.Latest, checkpoint.AtTimestamp, "":
		p.resumed = false
	default:
		p.resumed = true
	}
	return nil
}

// ProcessRecords counts the batch. When a record opens a new bucket, the
// windows that ended before it are complete: their snapshots are written and
// the shard is checkpointed before the record is counted. If the sink or the
// checkpoint fails, the error goes back to the Consumer, which retries the
// same batch; the processor then resumes after the last record it counted, so
// nothing is counted twice.
func (p *processor) ProcessRecords(ctx context.Context, records []source.Record, cp source.Checkpointer) error {
	if err := p.flush(ctx, cp); err != nil {
		return err
	}
	start := 0
	if p.interrupted {
		start = p.resumeIndex(records)
		p.interrupted = false
	}
	for _, r := range records[start:] {
		b := bucketIndex(r.ArrivalTime, p.bucket)
		if !p.started {
			p.started = true
			p.cur = b
			if p.resumed {
				p.firstEnd = b + p.n
			}
		}
		if b > p.cur {
			p.closeWindows(b)
			if err := p.flush(ctx, cp); err != nil {
				p.interrupted = true
				return err
			}
		}
		p.count(r, b)
	}
	return nil
}

// resumeIndex returns the index of the first record of a retried batch that
// was not counted yet.
func (p *processor) resumeIndex(records []source.Record) int {
	for i, r := range records {
		if r.SequenceNumber == p.last.seq && r.SubSequenceNumber == p.last.sub {
			return i + 1
		}
	}
	return 0
}

func (p *processor) count(r source.Record, b int64) {
	p.stats.records.Add(1)
	p.last = mark{bucket: b, seq: r.SequenceNumber, sub: r.SubSequenceNumber}
	if n := len(p.marks); n > 0 && p.marks[n-1].bucket == p.cur {
		p.marks[n-1].seq, p.marks[n-1].sub = r.SequenceNumber, r.SubSequenceNumber
	} else {
		p.marks = append(p.marks, mark{bucket: p.cur, seq: r.SequenceNumber, sub: r.SubSequenceNumber})
	}

	resource, referrer, ok := p.names.decodeVisit(r.Data)
	if !ok {
		p.stats.malformed.Add(1)
		return
	}
	w, ok := p.windows[resource]
	if !ok {
		if len(p.windows) >= maxResources {
			p.stats.malformed.Add(1)
			return
		}
		var err error
		if w, err = window.NewCounter[string](p.size, p.bucket); err != nil {
			// size and bucket were validated when the flags were read.
			p.stats.malformed.Add(1)
			return
		}
		p.windows[resource] = w
	}
	if !w.Add(referrer, r.ArrivalTime, 1) {
		p.stats.late.Add(1)
	}
}

// closeWindows queues the snapshots of every window that ends at a bucket
// boundary after cur and no later than the start of bucket b, then makes b
// the newest bucket.
func (p *processor) closeWindows(b int64) {
	from := max(p.cur+1, b-maxCatchUp+1, p.firstEnd)
	for end := from; end <= b; end++ {
		t := bucketTime(end, p.bucket)
		newest := t.Add(-p.bucket)
		for res, w := range p.windows {
			w.Advance(newest)
			p.pending.snaps = append(p.pending.snaps, sink.Snapshot{
				Group:  res,
				Time:   t,
				Window: p.size,
				Counts: w.Top(w.Len()),
				Host:   p.host,
			})
			if w.Total() == 0 {
				// Written once as zero so the chart drops to it; then
				// forgotten, so resources that went quiet cost nothing.
				delete(p.windows, res)
			}
		}
	}
	if from <= b {
		p.setTarget(b - p.n)
	}
	p.cur = b
}

// setTarget makes the checkpoint target the last record before S, the newest
// bucket at or before limit (a window's oldest bucket) that holds a record.
//
// A processor that resumes there reads the record in S first and writes only
// windows from S+n on, so it must be sure every earlier window was written.
// Taking S at or before the start of the window just written guarantees
// that. Taking S non-empty matters: were it empty, the resumed processor's
// first record would lie later, and the windows between would be written by
// no one.
func (p *processor) setTarget(limit int64) {
	i := len(p.marks) - 1
	for i >= 0 && p.marks[i].bucket > limit {
		i--
	}
	if i <= 0 {
		return // no record before S: nothing may be skipped yet
	}
	p.pending.target, p.pending.ok = p.marks[i-1], true
	p.marks = p.marks[i-1:]
}

// flush writes the pending snapshots, then checkpoints the pending target.
func (p *processor) flush(ctx context.Context, cp source.Checkpointer) error {
	if len(p.pending.snaps) > 0 {
		if err := p.out.Write(ctx, p.pending.snaps); err != nil {
			return fmt.Errorf("shard %s: writing %d snapshots: %w", p.shardID, len(p.pending.snaps), err)
		}
		p.pending.snaps = nil
	}
	if p.pending.ok {
		t := p.pending.target
		if err := cp.CheckpointAt(ctx, t.seq, t.sub); err != nil {
			return fmt.Errorf("shard %s: checkpoint: %w", p.shardID, err)
		}
		p.pending.ok = false
	}
	return nil
}

func (p *processor) LeaseLost(context.Context) error {
	p.windows = map[string]*window.Counter[string]{}
	p.pending = pendingEmit{}
	p.marks = nil
	return nil
}

// ShardEnded writes the shard's last windows (no record can join them now)
// and checkpoints the end of the shard.
func (p *processor) ShardEnded(ctx context.Context, cp source.Checkpointer) error {
	if p.started {
		p.closeWindows(p.cur + 1)
	}
	p.pending.ok = false // SHARD_END supersedes any trailing target
	if err := p.flush(ctx, cp); err != nil {
		return err
	}
	return cp.Checkpoint(ctx)
}

// ShutdownRequested writes what is pending and checkpoints it. It does not
// checkpoint the last record processed: the checkpoint stays at the start of
// the window, so the next owner replays the window and carries on with it
// intact instead of starting from empty.
func (p *processor) ShutdownRequested(ctx context.Context, cp source.Checkpointer) error {
	return p.flush(ctx, cp)
}

// bucketIndex returns the number of whole buckets between the Unix epoch and
// t, rounded down, as package window aligns its buckets.
func bucketIndex(t time.Time, bucket time.Duration) int64 {
	ns, b := t.UnixNano(), int64(bucket)
	q := ns / b
	if ns%b < 0 {
		q--
	}
	return q
}

func bucketTime(i int64, bucket time.Duration) time.Time {
	return time.Unix(0, i*int64(bucket))
}
