// Package aggregate counts a stream's records per group over a sliding window
// of record time and writes the counts to a sink: the windowed Top-K of the
// visualizer and the benchmarks, built once as a source.Processor factory.
//
// An Aggregator decodes each record into items (group, key, time, count) and
// keeps one exact window.Counter per group and shard. Each shard's processor
// writes its own part of a group's window, a partial (sink.Snapshot with
// Shard set, cut to Config.PartialK entries with its Floor), so whatever the
// partition key (the group, a user ID, a random request ID) no shard's count
// replaces another's: readers of the sink merge the partials and mark a
// window Complete once every shard that may hold its records has written
// (see package sink). After the partials, the processor records its progress
// (sink.ProgressWriter) and only then checkpoints, with its windows saved in
// the checkpoint (source.StateCheckpointer), so a worker that takes the
// shard over after a crash or a hand-off restores them and writes the same
// partials the old owner would have written: no window is emptied, none
// counts a record twice.
//
// Windows close on the shard's watermark: when a record of a later bucket
// arrives, or, on a quiet shard whose reader is caught up, when IdleTimeout
// has passed by processing time (source.IdleProcessor), so every group's
// windows keep closing. At the end of a shard (a reshard) the processor
// writes its part of every window that holds the shard's records, and its
// children write theirs: no window around a reshard is missing.
//
// A shard read from TRIM_HORIZON (an original shard, or a child of a
// reshard) counts its part exactly from its first record. A processor that
// starts without the records before its first one (a LATEST or AT_TIMESTAMP
// start, a resume without saved state) says so in its progress, and readers
// never judge the windows that may miss those records complete.
//
// # Exact or Sketch
//
// By default each group is counted exactly (window.Counter): counts have no
// error, and memory grows with the distinct keys in the window, about 60
// bytes a key plus the key, per group and shard. For groups with a long
// tail (client IPs, URLs, search terms) set SketchCapacity: each group is
// then counted by a window.Sketch, whose memory is fixed at about 60 bytes
// (44 and a string key's header) × capacity × (buckets + 2) per group and
// shard, plus the keys, however many keys come,
// and whose counts are upper bounds within Total/capacity of the truth
// (Entry.Err says how far, per entry). Every key above that error is
// listed, so at capacity c the merged top K is right for every key more
// frequent than 1/c of its window; pick c at a few times K, and larger
// where the top keys are close in count. A partial's Floor then also covers
// the keys its Sketch does not monitor, and merged reads add the partials'
// bounds, as topk.TopOf does.
//
// # Saved state
//
// A processor saves its windows with every checkpoint that follows a
// closing window, once a bucket. In Sketch mode it saves each group's
// window as its panes, each closed pane in the bytes it was taken in as the
// window moved past it (late records are added to it at the next save), so
// consecutive states share every closed pane byte for byte. A lease store
// that writes only what changed, such as checkpoint/dynamostore with a
// state table, then writes about one pane a bucket: on the 1M-IP workload
// of bench/ (capacity 8192, 60 buckets), 87 KB a bucket against a 56 KB
// pane and a 3.3 MB state. Keeping the panes costs memory of about the
// state's size per processor besides the Sketches. An exact
// window.Counter is saved in its own encoding, whose key list and ranks
// change as keys come and go, so such stores save less on it.
//
// Items are expected in time order within a shard, as arrival times are: an
// item older than the newest bucket seen counts only in the windows not yet
// written, and one older than its group's window is late (Stats.Late). With
// event times decoded from the records instead, the idle watermark may make
// items late that arrive more than IdleTimeout after their time.
//
// Where state cannot be saved (a Checkpointer that is not a
// StateCheckpointer, a lease store that refuses the state as too large) the
// processor logs it once and checkpoints without state: a new owner then
// resumes as a processor without the earlier records does, so the windows
// it cannot count are never complete, and none is wrong.
package aggregate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamtop/streamtop/hook"
	"github.com/streamtop/streamtop/sink"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/topk"
	"github.com/streamtop/streamtop/window"
)

// ErrInvalidConfig reports a Config that New rejects; the message names the
// field.
var ErrInvalidConfig = errors.New("aggregate: invalid config")

// DefaultMaxGroups bounds the groups one shard's processor counts at once
// when Config.MaxGroups is zero, so a stream of garbage keys cannot exhaust
// memory: ten thousand windows of a few keys each are a few megabytes.
const DefaultMaxGroups = 10_000

// DefaultIdleBuckets is IdleTimeout's default in buckets: quiet shards
// close their windows this many buckets after their end, which leaves
// room for the clock skew between the stream's arrival times and this
// process and for records in flight.
const DefaultIdleBuckets = 2

// DefaultPartialK returns the entries per partial used when
// Config.PartialK is zero: 4k, and at least 128 (0 for k = 0: every key).
//
// With records spread over shards at random, a key in the merged top k is
// near the same rank in each shard, but not exactly there, and a key a
// partial leaves out gets that partial's floor as error. BenchmarkPartialK
// (8 shards, 1,000 Zipf keys, k = 10) measured how often the merged top 10
// is exact, every entry with Err 0: with 2,500 records per shard or more,
// 2k entries per partial already are in every window measured, and 4k leaves
// a margin; with 250 records per shard the counts near rank 10 are a few
// apiece and only listing every key (under 128 here) is exact; 4k = 40
// entries got the right keys 88% of the time, with bounds. The floor of
// 128 costs little where windows are small and is passed where they are
// large. A partial of n entries costs about n × (key + 10) bytes written
// per group, shard and bucket; set PartialK to trade precision for that.
func DefaultPartialK(k int) int {
	if k == 0 {
		return 0
	}
	return max(4*k, 128)
}

// Item is one count a record contributes, as a plain value: N occurrences of
// Key in Group at Time (usually the record's ArrivalTime).
type Item struct {
	Group string
	Key   string
	Time  time.Time
	N     int64
}

// Decoder turns a record into the items it counts. Decode appends to dst and
// returns it, so a processor reuses one slice; it returns an error for a
// record it cannot read, which is then counted as malformed (and sent to the
// dead letter writer, if any). A Decoder is called from one goroutine per
// shard, from several shards at once: it must be safe for concurrent use.
type Decoder interface {
	Decode(r source.Record, dst []Item) ([]Item, error)
}

// DecoderFunc adapts a function to a Decoder; the function must be safe for
// concurrent use, as a Decoder must.
type DecoderFunc func(r source.Record, dst []Item) ([]Item, error)

// Decode calls f.
func (f DecoderFunc) Decode(r source.Record, dst []Item) ([]Item, error) { return f(r, dst) }

// Rejected is a record that could not be counted, and why: a plain value,
// the DeadLetter's to keep.
type Rejected struct {
	Record source.Record
	Reason string
}

// DeadLetter receives the records an Aggregator could not count. It is
// written before the checkpoint that covers them, so after a failover a
// rejected record may be written again (at least once). It must be safe for
// concurrent use.
type DeadLetter interface {
	Write(ctx context.Context, rejected []Rejected) error
}

// Config configures an Aggregator. Size, Bucket, Sink and one of Decoder and
// NewDecoder are required, so the zero value is not valid. New copies it.
type Config struct {
	// Size is the window length; Bucket the step it slides by. Size must be
	// a whole multiple of Bucket, as window.NewCounter requires.
	Size, Bucket time.Duration
	// Decoder decodes every shard's records. Set it or NewDecoder, not
	// both.
	Decoder Decoder
	// NewDecoder makes one Decoder per shard processor, called from that
	// shard's goroutine only, so it may keep state without locks (an
	// interner of keys, scratch buffers).
	NewDecoder func(shardID string) Decoder
	Sink       sink.Writer
	// Host goes into every snapshot's Host field.
	Host string
	// K is the number of entries readers need per window, the most
	// counted first; zero writes every key in the window.
	K int
	// PartialK is the number of entries each shard's partial lists
	// (DefaultPartialK(K) if zero; every key if K is zero too). Merged
	// across shards, a key that a partial left out is bounded by that
	// partial's floor, so listing more than K makes the merged top K exact
	// in the common case: see DefaultPartialK. Readers get every merged
	// entry, not only K.
	PartialK int
	// IdleTimeout is how long a caught-up shard waits, by processing time,
	// before it takes that no record will come for the buckets before now
	// minus IdleTimeout, and closes their windows (DefaultIdleBuckets
	// buckets if zero). Record times must then be arrival times, or
	// close to them: an item older than the watermark is late.
	IdleTimeout time.Duration
	// SketchCapacity, if not zero, counts each group with a window.Sketch
	// of this capacity instead of an exact window.Counter: memory per
	// shard processor is then bounded by groups × buckets × capacity
	// whatever the number of distinct keys, and every count carries its
	// bound (Entry.Err, at most the window's total / capacity). See the
	// package doc for when to pick which.
	SketchCapacity int
	// MaxGroups bounds the groups one shard counts at once
	// (DefaultMaxGroups if zero); records of further groups are rejected
	// as malformed.
	MaxGroups int
	// DeadLetter, if set, receives the records that could not be counted.
	DeadLetter DeadLetter
	// Logger receives failures to save state and corrupt states; record
	// payloads are never logged. Nil logs nothing.
	Logger *slog.Logger
	// Hooks: the hook.Windows among them receive a hook.Window for each
	// snapshot the sink accepts, with its latency from the window's end
	// on this process's clock; other hooks are ignored, and with none no
	// clock is read. See package hook.
	Hooks []hook.Hook
}

// Stats are an Aggregator's running figures, summed over its processors: a
// plain value, owned by the caller.
type Stats struct {
	// Records counts records decoded (a record replayed after a failover
	// without saved state counts again).
	Records int64
	// Malformed counts records that could not be counted: decode errors,
	// invalid items, groups beyond MaxGroups.
	Malformed int64
	// Late counts items older than their group's window.
	Late int64
	// Snapshots counts snapshots the sink accepted.
	Snapshots int64
	// StateWrites counts checkpoints that saved state; StateBytes is the
	// size of the states last saved by the processors still running.
	StateWrites int64
	StateBytes  int64
}

type counters struct {
	records, malformed, late, snapshots, stateWrites, stateBytes atomic.Int64
}

// Aggregator makes the processors of one Consumer and sums their figures.
//
// The zero value is not usable: make one with New. NewProcessor and Stats are
// safe for concurrent use. Cost: per record, one Decode and one
// window.Counter.Add per item; per bucket boundary and shard, one Top per
// group, one sink write and one conditional checkpoint carrying the encoded
// windows (a few bytes per key and bucket).
type Aggregator struct {
	cfg      Config
	n        int64 // buckets per window
	partialK int
	progress sink.ProgressWriter // Sink as one, or nil
	log      *slog.Logger
	stats    counters

	warnOnce sync.Once // state could not be saved: said once, not per bucket

	windowHooks []hook.Windows // the hook.Windows among cfg.Hooks
}

// New validates cfg and returns an Aggregator.
func New(cfg Config) (*Aggregator, error) {
	switch {
	case cfg.Bucket <= 0:
		return nil, fmt.Errorf("%w: Bucket must be positive, got %v", ErrInvalidConfig, cfg.Bucket)
	case cfg.Size < cfg.Bucket || cfg.Size%cfg.Bucket != 0:
		return nil, fmt.Errorf("%w: Size must be a positive multiple of Bucket, got %v and %v", ErrInvalidConfig, cfg.Size, cfg.Bucket)
	case cfg.Decoder == nil && cfg.NewDecoder == nil:
		return nil, fmt.Errorf("%w: Decoder or NewDecoder is required", ErrInvalidConfig)
	case cfg.Decoder != nil && cfg.NewDecoder != nil:
		return nil, fmt.Errorf("%w: Decoder and NewDecoder are both set", ErrInvalidConfig)
	case cfg.Sink == nil:
		return nil, fmt.Errorf("%w: Sink is required", ErrInvalidConfig)
	case cfg.K < 0:
		return nil, fmt.Errorf("%w: K must not be negative, got %d", ErrInvalidConfig, cfg.K)
	case cfg.MaxGroups < 0:
		return nil, fmt.Errorf("%w: MaxGroups must not be negative, got %d", ErrInvalidConfig, cfg.MaxGroups)
	case cfg.SketchCapacity < 0:
		return nil, fmt.Errorf("%w: SketchCapacity must not be negative, got %d", ErrInvalidConfig, cfg.SketchCapacity)
	case cfg.PartialK < 0:
		return nil, fmt.Errorf("%w: PartialK must not be negative, got %d", ErrInvalidConfig, cfg.PartialK)
	case cfg.IdleTimeout < 0:
		return nil, fmt.Errorf("%w: IdleTimeout must not be negative, got %v", ErrInvalidConfig, cfg.IdleTimeout)
	}
	if _, err := window.NewCounter[string](cfg.Size, cfg.Bucket); err != nil {
		return nil, fmt.Errorf("%w: Size and Bucket: %v", ErrInvalidConfig, err)
	}
	if cfg.SketchCapacity > 0 {
		if _, err := window.NewSketch[string](cfg.Size, cfg.Bucket, cfg.SketchCapacity); err != nil {
			return nil, fmt.Errorf("%w: SketchCapacity: %v", ErrInvalidConfig, err)
		}
	}
	if cfg.MaxGroups == 0 {
		cfg.MaxGroups = DefaultMaxGroups
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = DefaultIdleBuckets * cfg.Bucket
	}
	a := &Aggregator{cfg: cfg, n: int64(cfg.Size / cfg.Bucket), log: log, partialK: cfg.PartialK}
	if a.partialK == 0 {
		a.partialK = DefaultPartialK(cfg.K)
	}
	a.progress, _ = cfg.Sink.(sink.ProgressWriter)
	a.windowHooks = hook.Find[hook.Windows](cfg.Hooks)
	return a, nil
}

// NewProcessor returns the processor of one shard; it fits
// source.Config.NewProcessor.
func (a *Aggregator) NewProcessor(shardID string) source.Processor {
	dec := a.cfg.Decoder
	if a.cfg.NewDecoder != nil {
		dec = a.cfg.NewDecoder(shardID)
	}
	p := &processor{a: a, shard: shardID, dec: dec, log: a.log.With("shard", shardID)}
	p.windows = map[string]groupWindow{}
	return p
}

// Stats returns the figures so far.
func (a *Aggregator) Stats() Stats {
	s := &a.stats
	return Stats{
		Records: s.records.Load(), Malformed: s.malformed.Load(), Late: s.late.Load(),
		Snapshots: s.snapshots.Load(), StateWrites: s.stateWrites.Load(), StateBytes: s.stateBytes.Load(),
	}
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
	return time.Unix(0, i*int64(bucket)).UTC()
}

// groupWindow is one group's window: a window.Counter, or a window.Sketch
// in Sketch mode. Both save as their panes (AppendNewest, MergeBucket) or
// whole (MarshalBinary, UnmarshalBinary).
type groupWindow interface {
	Add(key string, t time.Time, n int64) bool
	Advance(now time.Time)
	Top(k int) []topk.Entry[string]
	Total() int64
	Len() int
	Bounds() (start, end time.Time)
	AppendNewest(b []byte) ([]byte, time.Time, bool)
	MergeBucket(t time.Time, pane []byte) error
	MarshalBinary() ([]byte, error)
	UnmarshalBinary(data []byte) error
}

var (
	_ groupWindow = (*window.Sketch[string])(nil)
	_ groupWindow = (*window.Counter[string])(nil)
)

// newWindow returns an empty window of the configured kind; New validated
// its arguments.
func (a *Aggregator) newWindow() groupWindow {
	w, _ := newGroupWindow(a.cfg.Size, a.cfg.Bucket, a.cfg.SketchCapacity)
	return w
}

// newGroupWindow returns an empty window of size in buckets of the bucket
// length: a window.Sketch of the capacity, or a window.Counter if it is 0.
func newGroupWindow(size, bucket time.Duration, capacity int) (groupWindow, error) {
	if capacity > 0 {
		return window.NewSketch[string](size, bucket, capacity)
	}
	return window.NewCounter[string](size, bucket)
}
