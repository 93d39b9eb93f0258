package source_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/internal/consumertest"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/memstream"
)

func TestNewConsumerRejectsBadConfig(t *testing.T) {
	stream := consumertest.NewStream(t, 1)
	store := checkpoint.NewMemoryStore()
	newProc := func(string) source.Processor {
		return source.HandlerFunc(func(context.Context, []source.Record) error { return nil })
	}
	valid := func() source.Config {
		return source.Config{Stream: stream, Leases: store, WorkerID: "w", NewProcessor: newProc}
	}
	tests := []struct {
		name  string
		field string
		edit  func(*source.Config)
	}{
		{"no stream", "Stream", func(c *source.Config) { c.Stream = nil }},
		{"no lease store", "Leases", func(c *source.Config) { c.Leases = nil }},
		{"no worker ID", "WorkerID", func(c *source.Config) { c.WorkerID = "" }},
		{"no processor factory", "NewProcessor", func(c *source.Config) { c.NewProcessor = nil }},
		{"initial position at a sequence", "InitialPosition", func(c *source.Config) {
			c.InitialPosition = source.Position{Type: source.AfterSequence, SequenceNumber: "1"}
		}},
		{"initial position out of range", "InitialPosition", func(c *source.Config) { c.InitialPosition.Type = 42 }},
		{"AT_TIMESTAMP without a time", "InitialPosition", func(c *source.Config) { c.InitialPosition.Type = source.AtTimestamp }},
		{"negative failover", "FailoverTime", func(c *source.Config) { c.FailoverTime = -time.Second }},
		{"negative renew", "RenewInterval", func(c *source.Config) { c.RenewInterval = -1 }},
		{"renew not shorter than failover", "RenewInterval", func(c *source.Config) {
			c.FailoverTime, c.RenewInterval = time.Second, time.Second
		}},
		{"negative sync", "SyncInterval", func(c *source.Config) { c.SyncInterval = -1 }},
		{"negative shard sync", "ShardSyncInterval", func(c *source.Config) { c.ShardSyncInterval = -1 }},
		{"negative max records", "MaxRecords", func(c *source.Config) { c.MaxRecords = -1 }},
		{"negative idle wait", "IdleWait", func(c *source.Config) { c.IdleWait = -1 }},
		{"negative backoff", "RetryBackoff", func(c *source.Config) { c.RetryBackoff = -1 }},
		{"negative max backoff", "MaxRetryBackoff", func(c *source.Config) { c.MaxRetryBackoff = -1 }},
		{"max backoff below backoff", "MaxRetryBackoff", func(c *source.Config) {
			c.RetryBackoff, c.MaxRetryBackoff = time.Second, time.Millisecond
		}},
		{"negative shutdown timeout", "ShutdownTimeout", func(c *source.Config) { c.ShutdownTimeout = -1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid()
			tt.edit(&cfg)
			c, err := source.NewConsumer(cfg)
			if !errors.Is(err, source.ErrInvalidConfig) {
				t.Fatalf("NewConsumer = %v, %v; want an error wrapping ErrInvalidConfig", c, err)
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Errorf("error %q does not name the field %s", err, tt.field)
			}
		})
	}
	t.Run("valid", func(t *testing.T) {
		cfg := valid()
		cfg.InitialPosition = source.Position{Type: source.AtTimestamp, Timestamp: time.Unix(1, 0)} // date-proof: only validated, and any stream's records are after it
		if _, err := source.NewConsumer(cfg); err != nil {
			t.Fatalf("NewConsumer(valid) = %v", err)
		}
	})
}

// logSink is a slog.Handler that keeps records for inspection.
type logSink struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (s *logSink) Enabled(context.Context, slog.Level) bool { return true }
func (s *logSink) Handle(_ context.Context, r slog.Record) error {
	s.mu.Lock()
	s.recs = append(s.recs, r.Clone())
	s.mu.Unlock()
	return nil
}
func (s *logSink) WithAttrs([]slog.Attr) slog.Handler { return s }
func (s *logSink) WithGroup(string) slog.Handler      { return s }

func (s *logSink) has(level slog.Level, substr string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.recs {
		if r.Level == level && strings.Contains(r.Message, substr) {
			return true
		}
	}
	return false
}

// putN puts n records under n/4 keys and returns their sequence numbers.
func putN(t *testing.T, s *memstream.Stream, n int) []string {
	t.Helper()
	var seqs []string
	for i := range n {
		_, seq, err := s.Put(context.Background(), fmt.Sprintf("key-%d", i%max(1, n/4)), []byte("x"))
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, seq)
	}
	return seqs
}

// funcProcessor is a Processor made of optional functions; a missing one
// does what HandlerFunc does.
type funcProcessor struct {
	process    func(ctx context.Context, recs []source.Record, cp source.Checkpointer) error
	shardEnded func(ctx context.Context, cp source.Checkpointer) error
	leaseLost  func()
	shutdown   func()
}

func (p *funcProcessor) Initialize(context.Context, source.InitInput) error { return nil }
func (p *funcProcessor) ProcessRecords(ctx context.Context, recs []source.Record, cp source.Checkpointer) error {
	if p.process != nil {
		return p.process(ctx, recs, cp)
	}
	return cp.Checkpoint(ctx)
}
func (p *funcProcessor) LeaseLost(context.Context) error {
	if p.leaseLost != nil {
		p.leaseLost()
	}
	return nil
}
func (p *funcProcessor) ShardEnded(ctx context.Context, cp source.Checkpointer) error {
	if p.shardEnded != nil {
		return p.shardEnded(ctx, cp)
	}
	return cp.Checkpoint(ctx)
}
func (p *funcProcessor) ShutdownRequested(ctx context.Context, cp source.Checkpointer) error {
	if p.shutdown != nil {
		p.shutdown()
	}
	return cp.Checkpoint(ctx)
}

// A failing ProcessRecords gets the same batch again until it accepts it:
// nothing is skipped, nothing reordered, and the batch is not checkpointed
// before it is accepted.
func TestProcessRecordsErrorRetriesSameBatch(t *testing.T) {
	stream := consumertest.NewStream(t, 1)
	seqs := putN(t, stream, 30)
	store := checkpoint.NewMemoryStore()
	var (
		mu      sync.Mutex
		batches [][]string
		got     []string
	)
	proc := &funcProcessor{process: func(ctx context.Context, recs []source.Record, cp source.Checkpointer) error {
		mu.Lock()
		var b []string
		for _, r := range recs {
			b = append(b, r.SequenceNumber)
		}
		batches = append(batches, b)
		fail := len(batches) <= 3
		if !fail {
			got = append(got, b...)
		}
		mu.Unlock()
		if fail {
			return errors.New("downstream unavailable")
		}
		return cp.Checkpoint(ctx)
	}}
	cfg := consumertest.FastConfig(stream, store, "w", func(string) source.Processor { return proc })
	cfg.MaxRecords = 10
	w := consumertest.StartWorker(t, cfg)
	consumertest.WaitFor(t, 5*time.Second, "every record to be accepted", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == len(seqs)
	})
	w.Stop(t)
	mu.Lock()
	defer mu.Unlock()
	for i := 1; i <= 3; i++ {
		if strings.Join(batches[i], ",") != strings.Join(batches[0], ",") {
			t.Errorf("attempt %d got batch %v, want the failed batch %v again", i+1, batches[i], batches[0])
		}
	}
	if strings.Join(got, ",") != strings.Join(seqs, ",") {
		t.Errorf("accepted %v, want every record once in order %v", got, seqs)
	}
	l, err := store.Get(context.Background(), "shardId-000000000000")
	if err != nil {
		t.Fatal(err)
	}
	if l.Checkpoint != seqs[len(seqs)-1] || l.Owner != "" {
		t.Errorf("after shutdown lease is %+v; want checkpoint %s and no owner", l, seqs[len(seqs)-1])
	}
}

// A worker whose lease was stolen cannot checkpoint over the new owner: it
// gets ErrLeaseLost, the stored lease is untouched, and LeaseLost is called.
func TestCheckpointOnStolenLease(t *testing.T) {
	stream := consumertest.NewStream(t, 1)
	putN(t, stream, 5)
	store := checkpoint.NewMemoryStore()
	inBatch := make(chan struct{})
	stolen := make(chan struct{})
	cpErr := make(chan error, 1)
	lost := make(chan struct{})
	proc := &funcProcessor{
		process: func(ctx context.Context, recs []source.Record, cp source.Checkpointer) error {
			close(inBatch)
			<-stolen
			err := cp.Checkpoint(ctx)
			cpErr <- err
			return err
		},
		leaseLost: func() { close(lost) },
	}
	cfg := consumertest.FastConfig(stream, store, "victim", func(string) source.Processor { return proc })
	cfg.FailoverTime, cfg.RenewInterval = 10*time.Second, 5*time.Second // no renewal during the test
	w := consumertest.StartWorker(t, cfg)
	<-inBatch

	ctx := context.Background()
	l, err := store.Get(ctx, "shardId-000000000000")
	if err != nil {
		t.Fatal(err)
	}
	thief, err := store.Take(ctx, l, "thief")
	if err != nil {
		t.Fatal(err)
	}
	thief.Checkpoint = "thief's checkpoint"
	if thief, err = store.Checkpoint(ctx, thief); err != nil {
		t.Fatal(err)
	}
	close(stolen)

	if err := <-cpErr; !errors.Is(err, checkpoint.ErrLeaseLost) {
		t.Errorf("Checkpoint on a stolen lease = %v, want ErrLeaseLost", err)
	}
	select {
	case <-lost:
	case <-time.After(5 * time.Second):
		t.Fatal("LeaseLost was not called")
	}
	w.Stop(t)
	after, err := store.Get(ctx, "shardId-000000000000")
	if err != nil {
		t.Fatal(err)
	}
	if after.Owner != "thief" || after.Checkpoint != "thief's checkpoint" || after.Counter != thief.Counter {
		t.Errorf("stolen lease is now %+v; want it exactly as the thief left it (%+v)", after, thief)
	}
}

// A processor that does not checkpoint SHARD_END keeps the children from
// starting, and the Consumer says so at error level.
func TestShardEndNotCheckpointedBlocksChildren(t *testing.T) {
	stream := consumertest.NewStream(t, 1)
	putN(t, stream, 8)
	ctx := context.Background()
	shards, err := stream.Shards(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.SplitShard(ctx, shards[0].ID, consumertest.Midpoint(t, shards[0])); err != nil {
		t.Fatal(err)
	}
	putN(t, stream, 8) // into the children
	store := checkpoint.NewMemoryStore()
	var mu sync.Mutex
	processed := map[string]int{}
	ends := 0
	proc := func(string) source.Processor {
		return &funcProcessor{
			process: func(ctx context.Context, recs []source.Record, cp source.Checkpointer) error {
				mu.Lock()
				processed[recs[0].ShardID] += len(recs)
				mu.Unlock()
				return cp.Checkpoint(ctx)
			},
			shardEnded: func(context.Context, source.Checkpointer) error {
				mu.Lock()
				ends++
				mu.Unlock()
				return nil // forgets to checkpoint
			},
		}
	}
	logs := &logSink{}
	cfg := consumertest.FastConfig(stream, store, "w", proc)
	cfg.Logger = slog.New(logs)
	w := consumertest.StartWorker(t, cfg)
	consumertest.WaitFor(t, 5*time.Second, "an error about SHARD_END", func() bool { return logs.has(slog.LevelError, "SHARD_END") })
	// ShardEnded is retried (a new processor from the checkpoint) with
	// backoff; the children must stay stopped meanwhile.
	consumertest.WaitFor(t, 5*time.Second, "ShardEnded to be retried", func() bool { mu.Lock(); defer mu.Unlock(); return ends >= 2 })
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	for id, n := range processed {
		if id != shards[0].ID {
			t.Errorf("child %s processed %d records before its parent's SHARD_END checkpoint", id, n)
		}
	}
	mu.Unlock()
	if s := w.C.Stats(); s.LeasesHeld != 1 || s.Shards[0].ShardID != shards[0].ID {
		t.Errorf("stats %+v: want only the parent held", s)
	}
	w.Stop(t)
	parent, err := store.Get(ctx, shards[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if parent.Checkpoint == checkpoint.ShardEnd {
		t.Errorf("parent checkpoint is SHARD_END, though no processor wrote it")
	}
}

// CheckpointAt and CheckpointState take only the position of a record
// delivered to the processor, not before the checkpoint; what they refuse
// they refuse with ErrInvalidCheckpoint, and write nothing.
func TestCheckpointAtRejects(t *testing.T) {
	stream := consumertest.NewStream(t, 1)
	seqs := putN(t, stream, 4)
	store := checkpoint.NewMemoryStore()
	type result struct {
		name string
		err  error
	}
	results := make(chan []result, 1)
	var once sync.Once
	proc := &funcProcessor{process: func(ctx context.Context, recs []source.Record, cp source.Checkpointer) error {
		once.Do(func() {
			if len(recs) != len(seqs) {
				results <- []result{{"batch size", fmt.Errorf("got %d records, want %d", len(recs), len(seqs))}}
				return
			}
			var rs []result
			for _, tt := range []struct{ name, seq string }{
				{"empty", ""},
				{"TRIM_HORIZON", checkpoint.TrimHorizon},
				{"LATEST", checkpoint.Latest},
				{"AT_TIMESTAMP", checkpoint.AtTimestamp},
				{"SHARD_END before the end", checkpoint.ShardEnd},
				{"after the last delivered", seqs[3][:len(seqs[3])-1] + "9"},
				{"much longer number", seqs[3] + "0"},
			} {
				rs = append(rs, result{tt.name, cp.CheckpointAt(ctx, source.Sequence{Number: tt.seq})})
			}
			sc := cp.(source.StateCheckpointer)
			rs = append(rs, result{"state after the last delivered",
				sc.CheckpointState(ctx, source.Sequence{Number: seqs[3] + "0"}, []byte("too far"))})
			rs = append(rs, result{"sub-sequence after the last delivered", cp.CheckpointAt(ctx, source.Sequence{Number: seqs[3], Sub: 1})})
			rs = append(rs, result{"valid", cp.CheckpointAt(ctx, recs[1].Sequence())})
			rs = append(rs, result{"before the checkpoint", cp.CheckpointAt(ctx, recs[0].Sequence())})
			rs = append(rs, result{"state before the checkpoint", sc.CheckpointState(ctx, recs[0].Sequence(), []byte("too early"))})
			l, err := store.Get(ctx, "shardId-000000000000")
			if err != nil || l.Checkpoint != seqs[1] || l.State != nil {
				rs = append(rs, result{"refused calls wrote nothing", fmt.Errorf("lease %+v, err %v; want checkpoint %s and no state", l, err, seqs[1])})
			}
			results <- rs
		})
		return nil
	}}
	w := consumertest.StartWorker(t, consumertest.FastConfig(stream, store, "w", func(string) source.Processor { return proc }))
	var rs []result
	select {
	case rs = <-results:
	case <-time.After(5 * time.Second):
		t.Fatal("no batch delivered")
	}
	for _, r := range rs {
		switch {
		case r.name == "valid" && r.err != nil:
			t.Errorf("CheckpointAt(delivered record) = %v", r.err)
		case r.name != "valid" && !errors.Is(r.err, source.ErrInvalidCheckpoint):
			t.Errorf("%s: CheckpointAt = %v, want ErrInvalidCheckpoint", r.name, r.err)
		}
	}
	w.Stop(t)
	l, err := store.Get(context.Background(), "shardId-000000000000")
	if err != nil {
		t.Fatal(err)
	}
	// Shutdown checkpoints the last accepted batch: all four records.
	if l.Checkpoint != seqs[3] {
		t.Errorf("checkpoint %q, want %q", l.Checkpoint, seqs[3])
	}
}

// flakyStream fails reads and opens a given number of times, then behaves.
type flakyStream struct {
	source.Stream
	mu        sync.Mutex
	openFails int
	readFails int
	opens     int
}

var errFlaky = errors.New("injected failure")

func (s *flakyStream) Open(ctx context.Context, id string, from source.Position) (source.ShardReader, error) {
	s.mu.Lock()
	s.opens++
	fail := s.openFails > 0
	if fail {
		s.openFails--
	}
	s.mu.Unlock()
	if fail {
		return nil, errFlaky
	}
	r, err := s.Stream.Open(ctx, id, from)
	if err != nil {
		return nil, err
	}
	return &flakyReader{r, s}, nil
}

// flakyReader is not a Waiter, so the Consumer's IdleWait path runs too.
type flakyReader struct {
	source.ShardReader
	s *flakyStream
}

func (r *flakyReader) Read(ctx context.Context, max int) (source.ReadResult, error) {
	r.s.mu.Lock()
	fail := r.s.readFails > 0
	if fail {
		r.s.readFails--
	}
	r.s.mu.Unlock()
	if fail {
		return source.ReadResult{}, errFlaky
	}
	return r.ShardReader.Read(ctx, max)
}

// Failed opens and reads are retried (reads on a new reader after repeated
// failures) and no record is lost or repeated.
func TestConsumerRetriesStreamErrors(t *testing.T) {
	ms := consumertest.NewStream(t, 1)
	seqs := putN(t, ms, 40)
	stream := &flakyStream{Stream: ms, openFails: 2, readFails: 7}
	l := newLedger()
	store := checkpoint.NewMemoryStore()
	cfg := consumertest.FastConfig(stream, store, "w", l.handler())
	cfg.MaxRecords = 7
	cfg.IdleWait = 5 * time.Millisecond
	w := consumertest.StartWorker(t, cfg)
	consumertest.WaitFor(t, 5*time.Second, "every record", func() bool { return l.processed.Load() == int64(len(seqs)) })
	more := putN(t, ms, 4) // arrives while idle: found by polling
	consumertest.WaitFor(t, 5*time.Second, "records put later", func() bool { return l.processed.Load() == int64(len(seqs)+len(more)) })
	w.Stop(t)
	if d := l.duplicates(); d != 0 {
		t.Errorf("%d records processed twice", d)
	}
	stream.mu.Lock()
	defer stream.mu.Unlock()
	if stream.opens < 4 {
		t.Errorf("%d opens; want 2 failed, 1 good and at least 1 after repeated read failures", stream.opens)
	}
}

// A shard the stream no longer has loses its lease, so its children can
// start; the processor hears LeaseLost.
func TestConsumerShardGoneDeletesLease(t *testing.T) {
	ms := consumertest.NewStream(t, 1)
	store := checkpoint.NewMemoryStore()
	ctx := context.Background()
	if _, err := store.Create(ctx, checkpoint.Lease{Key: "shardId-gone", Checkpoint: checkpoint.TrimHorizon}); err != nil {
		t.Fatal(err)
	}
	logs := &logSink{}
	cfg := consumertest.FastConfig(ms, store, "w", newLedger().handler())
	cfg.Logger = slog.New(logs)
	w := consumertest.StartWorker(t, cfg)
	consumertest.WaitFor(t, 5*time.Second, "the lease of the missing shard to be deleted", func() bool {
		_, err := store.Get(ctx, "shardId-gone")
		return errors.Is(err, checkpoint.ErrNotFound)
	})
	w.Stop(t)
	if !logs.has(slog.LevelError, "gone") {
		t.Error("no error logged for a shard that disappeared before it was processed")
	}
}

// On a pre-filled stream the first record is processed soon after Run, with
// the default intervals.
func TestConsumerFirstRecordSoonAfterRun(t *testing.T) {
	stream := consumertest.NewStream(t, 2)
	putN(t, stream, 1000)
	first := make(chan time.Time, 1)
	proc := func(string) source.Processor {
		return source.HandlerFunc(func(context.Context, []source.Record) error {
			select {
			case first <- time.Now():
			default:
			}
			return nil
		})
	}
	c, err := source.NewConsumer(source.Config{Stream: stream, Leases: checkpoint.NewMemoryStore(), WorkerID: "w", NewProcessor: proc})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- c.Run(ctx) }()
	select {
	case at := <-first:
		t.Logf("first record processed %v after Run", at.Sub(start))
		if d := at.Sub(start); d > 500*time.Millisecond {
			t.Errorf("first record processed %v after Run; target 500ms", d)
		}
	case <-time.After(5 * time.Second):
		t.Error("no record processed within 5s")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
	if err := c.Run(context.Background()); err == nil {
		t.Error("second Run returned nil; want an error")
	}
}

// countingStream counts reads and shard listings.
type countingStream struct {
	source.Stream
	reads  atomic.Int64
	shards atomic.Int64 // calls to Shards
}

func (s *countingStream) Shards(ctx context.Context) ([]source.Shard, error) {
	s.shards.Add(1)
	return s.Stream.Shards(ctx)
}

func (s *countingStream) Open(ctx context.Context, id string, from source.Position) (source.ShardReader, error) {
	r, err := s.Stream.Open(ctx, id, from)
	if err != nil {
		return nil, err
	}
	return &countingReader{r.(*memstream.Reader), s}, nil
}

type countingReader struct {
	*memstream.Reader
	s *countingStream
}

func (r *countingReader) Read(ctx context.Context, max int) (source.ReadResult, error) {
	r.s.reads.Add(1)
	return r.Reader.Read(ctx, max)
}

// An idle shard whose reader is a Waiter is not polled: the shard loop
// sleeps until a record arrives.
func TestConsumerIdleDoesNotPoll(t *testing.T) {
	ms := consumertest.NewStream(t, 2)
	stream := &countingStream{Stream: ms}
	l := newLedger()
	w := consumertest.StartWorker(t, consumertest.FastConfig(stream, checkpoint.NewMemoryStore(), "w", l.handler()))
	consumertest.WaitFor(t, 5*time.Second, "both shards held", func() bool { return w.Held() == 2 })
	time.Sleep(50 * time.Millisecond)
	before := stream.reads.Load()
	time.Sleep(300 * time.Millisecond)
	if n := stream.reads.Load() - before; n > 0 {
		t.Errorf("%d reads of idle shards in 300ms; want none", n)
	}
	putN(t, ms, 4)
	consumertest.WaitFor(t, 5*time.Second, "records put after the idle time", func() bool { return l.processed.Load() == 4 })
}

// A processor stuck past ShutdownTimeout does not hold Run forever: Run
// reports the cut-short shutdown.
func TestConsumerShutdownTimeout(t *testing.T) {
	stream := consumertest.NewStream(t, 1)
	putN(t, stream, 1)
	stuck := make(chan struct{})
	defer close(stuck)
	inBatch := make(chan struct{}, 1)
	proc := &funcProcessor{process: func(context.Context, []source.Record, source.Checkpointer) error {
		inBatch <- struct{}{}
		<-stuck // ignores its context
		return nil
	}}
	cfg := consumertest.FastConfig(stream, checkpoint.NewMemoryStore(), "w", func(string) source.Processor { return proc })
	cfg.ShutdownTimeout = 100 * time.Millisecond
	c, err := source.NewConsumer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	<-inBatch
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, source.ErrShutdownTimeout) {
			t.Errorf("Run = %v; want a shutdown timeout error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after the shutdown timeout")
	}
}

// partitionedStore fails every call while cut is set, as a store behind a
// network partition would.
type partitionedStore struct {
	checkpoint.Store
	cut atomic.Bool
}

var errPartition = errors.New("store unreachable")

func (s *partitionedStore) List(ctx context.Context) ([]checkpoint.Lease, error) {
	if s.cut.Load() {
		return nil, errPartition
	}
	return s.Store.List(ctx)
}

func (s *partitionedStore) Renew(ctx context.Context, l checkpoint.Lease) (checkpoint.Lease, error) {
	if s.cut.Load() {
		return checkpoint.Lease{}, errPartition
	}
	return s.Store.Renew(ctx, l)
}

func (s *partitionedStore) Checkpoint(ctx context.Context, l checkpoint.Lease) (checkpoint.Lease, error) {
	if s.cut.Load() {
		return checkpoint.Lease{}, errPartition
	}
	return s.Store.Checkpoint(ctx, l)
}

// A worker that cannot reach the lease table stops processing before its
// leases can expire, so it never runs a shard at the same time as the worker
// that takes it over.
func TestConsumerPartitionedWorkerStopsBeforeTakeover(t *testing.T) {
	stream := consumertest.NewStream(t, 1)
	shared := checkpoint.NewMemoryStore()
	cutStore := &partitionedStore{Store: shared}
	var mu sync.Mutex
	var events []string
	note := func(e string) {
		mu.Lock()
		if len(events) == 0 || events[len(events)-1] != e {
			events = append(events, e)
		}
		mu.Unlock()
	}
	procFor := func(who string) func(string) source.Processor {
		return func(string) source.Processor {
			return &funcProcessor{
				process: func(ctx context.Context, _ []source.Record, cp source.Checkpointer) error {
					note(who + " processes")
					return cp.Checkpoint(ctx)
				},
				leaseLost: func() { note(who + " lost") },
			}
		}
	}
	a := consumertest.StartWorker(t, consumertest.FastConfig(stream, cutStore, "a", procFor("a")))
	consumertest.WaitFor(t, 5*time.Second, "a to hold the shard", func() bool { return a.Held() == 1 })
	b := consumertest.StartWorker(t, consumertest.FastConfig(stream, shared, "b", procFor("b")))
	time.Sleep(100 * time.Millisecond)

	cutStore.cut.Store(true)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // keep records coming so both workers would process
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
				putN(t, stream, 1)
			}
		}
	}()
	consumertest.WaitFor(t, 5*time.Second, "b to take over", func() bool { return b.Held() == 1 })
	time.Sleep(100 * time.Millisecond)
	close(stop)
	<-done
	mu.Lock()
	defer mu.Unlock()
	want := []string{"a processes", "a lost", "b processes"}
	if strings.Join(events, ", ") != strings.Join(want, ", ") {
		t.Errorf("events %q; want %q", events, want)
	}
}
