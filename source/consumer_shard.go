package source

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/hook"
	"github.com/streamtop/streamtop/internal/backoff"
)

// loopConfig is what a shard loop needs of the Config.
type loopConfig struct {
	stream       Stream
	newProcessor func(shardID string) Processor
	initial      Position
	maxRecords   int
	idleWait     time.Duration
	retry        backoff.Policy
	// describe returns the shard as last listed, listing the stream if
	// the shard is not known yet.
	describe func(ctx context.Context, key string) Shard
	// children is told the shards that replace an ended one, when the
	// stream said which.
	children func(parent string, children []Shard)
	mon      *monitor // the Consumer's
	hooks    []hook.Batches
}

func (c *Consumer) loopConfig() loopConfig {
	cfg := &c.cfg
	return loopConfig{stream: cfg.Stream, newProcessor: cfg.NewProcessor, initial: cfg.InitialPosition,
		maxRecords: cfg.MaxRecords, idleWait: cfg.IdleWait,
		retry:    backoff.Policy{Base: cfg.RetryBackoff, Max: cfg.MaxRetryBackoff},
		describe: c.describe, children: c.childrenSeen, mon: c.mon, hooks: c.batchHooks}
}

// shardLoop reads one held shard and runs its processors, one after another:
// a session per Processor, until the lease is handed off, released, lost, or
// the shard is finished. It runs on one goroutine; stop and the Stats copies
// are safe from any.
type shardLoop struct {
	key   string
	cfg   loopConfig
	lease *lease
	log   *slog.Logger

	// baseCtx carries Run's values and ends only when the Consumer crashes
	// or its shutdown times out: the last hook and the lease's last write
	// run on it. stopCtx ends waits and reads when the loop must stop
	// (hand-off, shutdown, lost); procCtx, passed to the processor, ends
	// only when the lease is lost, so a batch in progress may finish and
	// checkpoint.
	baseCtx    context.Context
	stopCtx    context.Context
	stopCancel context.CancelCauseFunc
	procCtx    context.Context
	procCancel context.CancelFunc

	accepted Sequence // last record of the last batch accepted; loop goroutine only
	// skip: records up to and including it are dropped from what the
	// reader returns (see open); zero once one came after it. Loop
	// goroutine only.
	skip Sequence

	// For Stats.
	records atomic.Int64
	behind  atomic.Int64
	lastSeq atomic.Pointer[string]
	all     *counters // the Consumer's
	panics  atomic.Int64
	streak  int // panics with no batch accepted in between; loop goroutine only
}

// newShardLoop returns the loop of lease l, whose contexts derive from ctx;
// it makes itself l's stop callback, so that a lost lease or a hand-off
// request stops it.
func newShardLoop(ctx context.Context, cfg loopConfig, l *lease, log *slog.Logger, all *counters) *shardLoop {
	s := &shardLoop{key: l.key, cfg: cfg, lease: l, log: log, baseCtx: ctx, all: all}
	s.stopCtx, s.stopCancel = context.WithCancelCause(ctx)
	s.procCtx, s.procCancel = context.WithCancel(ctx)
	l.stop = s.stop
	return s
}

// stop asks the loop to stop at its next safe point; a lost lease also ends
// the processor's context.
func (s *shardLoop) stop(why error) {
	s.stopCancel(why)
	if errors.Is(why, errLost) {
		s.procCancel()
	}
}

// run is the shard loop: sessions of one Processor each, until the lease is
// handed off, released, lost, or the shard is finished.
func (s *shardLoop) run() {
	defer func() {
		s.stopCancel(nil)
		s.procCancel()
	}()
	for attempt := 0; ; attempt++ {
		again, panicked := s.guardedSession()
		if panicked {
			if !s.accepted.IsZero() {
				attempt = 0 // it made progress first: a new streak
			}
			if !s.restartAfterPanic() {
				return
			}
		} else if !again {
			return
		}
		// ShardEnded did not checkpoint SHARD_END, or the processor
		// panicked: start the shard again from its checkpoint, with a
		// new processor, later.
		if !sleep(s.stopCtx, s.cfg.retry.Delay(attempt)) {
			s.finish(nil, nil)
			return
		}
	}
}

// startPosition returns where a processor starts, given the lease's
// checkpoint.
func (s *shardLoop) startPosition(l checkpoint.Lease) Position {
	switch l.Checkpoint {
	case checkpoint.TrimHorizon:
		return Position{Type: TrimHorizon}
	case checkpoint.Latest:
		return Position{Type: Latest}
	case checkpoint.AtTimestamp:
		if s.cfg.initial.Type == AtTimestamp {
			return s.cfg.initial
		}
		s.log.Warn("lease says AT_TIMESTAMP but no timestamp is configured; starting at TRIM_HORIZON")
		return Position{Type: TrimHorizon}
	}
	return After(Sequence{Number: l.Checkpoint, Sub: l.SubSequence})
}

// delivery is what one session delivered to its Processor: the bound on the
// positions its Checkpointers accept. It is shared with them, so it is
// locked.
type delivery struct {
	mu   sync.Mutex
	last Sequence // zero before the first batch
}

func (d *delivery) set(s Sequence) {
	d.mu.Lock()
	d.last = s
	d.mu.Unlock()
}

func (d *delivery) get() Sequence {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.last
}

// session runs one Processor on the shard. It reports whether the shard must
// be started again (its end was not checkpointed).
func (s *shardLoop) session() (again bool) {
	cfg := &s.cfg
	start := s.lease.current()
	s.accepted = Sequence{}
	if start.Checkpoint == checkpoint.ShardEnd {
		s.finish(nil, nil)
		return false
	}
	from := s.startPosition(start)

	r, ok := s.open(from)
	if !ok {
		s.finish(nil, nil)
		return false
	}
	defer func() { r.Close() }()
	p := cfg.newProcessor(s.key)
	idler, _ := p.(IdleProcessor)
	d := &delivery{}
	shard := cfg.describe(s.stopCtx, s.key)
	for attempt := 0; ; attempt++ {
		err := p.Initialize(s.procCtx, InitInput{ShardID: s.key, Start: from,
			State: start.State, Parents: slices.Clone(start.Parents), Shard: shard})
		if err == nil {
			break
		}
		s.log.Error("processor Initialize failed; retrying", "attempt", attempt+1, "err", err)
		if !sleep(s.stopCtx, cfg.retry.Delay(attempt)) {
			s.finish(p, d)
			return false
		}
	}

	waiter, _ := r.(Waiter)
	readErrs := 0
	for {
		if s.stopCtx.Err() != nil {
			s.finish(p, d)
			return false
		}
		res, err := r.Read(s.stopCtx, cfg.maxRecords)
		if err != nil {
			if s.stopCtx.Err() != nil {
				continue
			}
			if errors.Is(err, ErrShardNotFound) {
				s.lease.remove(s.baseCtx, err)
				s.finish(p, d)
				return false
			}
			cfg.mon.failed(s.log, resStream, "reading shard failed; retrying", err, "attempt", readErrs+1)
			if !sleep(s.stopCtx, cfg.retry.Delay(readErrs)) {
				continue
			}
			readErrs++
			if readErrs%3 == 0 {
				// The reader may be broken beyond retrying (an
				// expired iterator): open a new one where this
				// one stood.
				pos := from
				if !s.accepted.IsZero() {
					pos = After(s.accepted)
				}
				nr, ok := s.open(pos)
				if !ok {
					s.finish(p, d)
					return false
				}
				r.Close()
				r = nr
				waiter, _ = nr.(Waiter)
			}
			continue
		}
		readErrs = 0
		cfg.mon.ok(resStream)
		s.behind.Store(res.MillisBehindLatest)
		if n := len(res.Records); n > 0 && !s.skip.IsZero() {
			if res.Records = s.dropSkipped(res.Records); len(res.Records) == 0 && !res.End {
				continue // all were covered: read on at once
			}
		}
		if len(res.Records) > 0 && !s.process(p, d, res.Records) {
			s.finish(p, d)
			return false
		}
		if res.End {
			if len(res.Children) > 0 {
				cfg.children(s.key, res.Children)
			}
			return s.endShard(p, d)
		}
		if len(res.Records) > 0 {
			continue
		}
		if idler != nil && res.MillisBehindLatest == 0 {
			s.idle(idler, d)
		}
		switch {
		case waiter != nil && idler != nil:
			// Wake at least once per IdleWait, for the next idle call.
			wctx, cancel := context.WithTimeout(s.stopCtx, cfg.idleWait)
			waiter.Wait(wctx)
			cancel()
		case waiter != nil:
			if err := waiter.Wait(s.stopCtx); err != nil && s.stopCtx.Err() == nil {
				sleep(s.stopCtx, cfg.idleWait)
			}
		case res.MillisBehindLatest == 0:
			sleep(s.stopCtx, cfg.idleWait)
		}
	}
}

// idle makes the idle call of a quiet shard. A failure is logged and left
// for the next one: it skips no record.
func (s *shardLoop) idle(p IdleProcessor, d *delivery) {
	cp := checkpointer{lease: s.lease, delivered: d, implied: s.accepted}
	if err := p.ProcessIdle(s.procCtx, cp); err != nil && s.procCtx.Err() == nil {
		s.log.Warn("ProcessIdle failed", "err", err)
	}
}

// open opens the shard, retrying with backoff; it reports false if the loop
// must stop instead.
//
// A position after a record opens at that record, and the loop drops what
// the reader returns up to and including it, as the Kinesis Client Library
// does: after user record i of an aggregated Kinesis record, the records
// left to process are the rest of that same Kinesis record, which a read
// after its sequence number would skip. Nothing says whether a record was
// aggregated (the plain record and the first user record both have
// sub-sequence number 0), so every such position costs the one record read
// again and dropped.
func (s *shardLoop) open(from Position) (ShardReader, bool) {
	cfg := &s.cfg
	s.skip = Sequence{}
	if from.Type == AfterSequence {
		s.skip = Sequence{Number: from.SequenceNumber, Sub: from.SubSequenceNumber}
		from = Position{Type: AtSequence, SequenceNumber: from.SequenceNumber}
	}
	for attempt := 0; ; attempt++ {
		r, err := cfg.stream.Open(s.stopCtx, s.key, from)
		if err == nil {
			cfg.mon.ok(resStream)
			return r, true
		}
		if s.stopCtx.Err() != nil {
			return nil, false
		}
		if errors.Is(err, ErrShardNotFound) {
			s.lease.remove(s.baseCtx, err)
			return nil, false
		}
		cfg.mon.failed(s.log, resStream, "opening shard failed; retrying", err, "position", from.Type, "attempt", attempt+1)
		if !sleep(s.stopCtx, cfg.retry.Delay(attempt)) {
			return nil, false
		}
	}
}

// dropSkipped drops the records up to and including s.skip, and forgets
// s.skip once a record comes after it: the rest follow in order.
func (s *shardLoop) dropSkipped(recs []Record) []Record {
	for i := range recs {
		if recs[i].Sequence().Compare(s.skip) > 0 {
			s.skip = Sequence{}
			return recs[i:]
		}
	}
	return nil
}

// process hands one batch to the processor until it accepts it; it reports
// false if the loop must stop first. The batch is never split or skipped.
func (s *shardLoop) process(p Processor, d *delivery, records []Record) bool {
	cfg := &s.cfg
	last := &records[len(records)-1]
	end := last.Sequence()
	d.set(end)
	cp := checkpointer{lease: s.lease, delivered: d, implied: end}
	for attempt := 0; ; attempt++ {
		err := s.processRecords(p, records, cp)
		if err == nil {
			s.accepted = end
			s.records.Add(int64(len(records)))
			s.lastSeq.Store(&last.SequenceNumber)
			s.all.records.Add(int64(len(records)))
			var n int64
			for i := range records {
				n += int64(len(records[i].Data))
			}
			s.all.bytes.Add(n)
			return true
		}
		if lost, _ := s.lease.status(); lost {
			return false
		}
		s.log.Warn("ProcessRecords failed; retrying the same batch", "attempt", attempt+1,
			"first", records[0].SequenceNumber, "records", len(records), "err", err)
		if !sleep(s.stopCtx, cfg.retry.Delay(attempt)) {
			return false
		}
	}
}

// processRecords calls p.ProcessRecords and reports the call to the
// hooks, if there are any.
func (s *shardLoop) processRecords(p Processor, records []Record, cp Checkpointer) error {
	if len(s.cfg.hooks) == 0 {
		return p.ProcessRecords(s.procCtx, records, cp)
	}
	start := time.Now()
	err := p.ProcessRecords(s.procCtx, records, cp)
	b := hook.Batch{Shard: s.key, Records: len(records), Duration: time.Since(start), Err: err}
	for _, h := range s.cfg.hooks {
		h.OnBatch(b)
	}
	return err
}

// endShard calls ShardEnded and reports whether the shard must be started
// again because its end was not checkpointed.
func (s *shardLoop) endShard(p Processor, d *delivery) (again bool) {
	err := p.ShardEnded(s.procCtx, checkpointer{lease: s.lease, delivered: d, end: true})
	if err != nil {
		s.log.Error("processor ShardEnded failed", "err", err)
	}
	if lost, _ := s.lease.status(); lost {
		return false
	}
	if stored := s.lease.current().Checkpoint; stored != checkpoint.ShardEnd {
		s.log.Error("ShardEnded did not checkpoint SHARD_END: the shard's children will not start until it does; the shard will be started again from its checkpoint",
			"checkpoint", stored)
		return true
	}
	s.log.Info("shard ended")
	s.lease.release(s.baseCtx)
	return false
}

// finish ends the loop with the processor's last hook (if there is one; d is
// what it was delivered) and gives the lease up as the reason for stopping
// requires.
func (s *shardLoop) finish(p Processor, d *delivery) {
	if errors.Is(context.Cause(s.baseCtx), errCrash) {
		return
	}
	cause := context.Cause(s.stopCtx)
	if lost, done := s.lease.status(); lost || done {
		// Lost, or deleted under us (the shard is gone).
		if p != nil {
			if err := p.LeaseLost(s.baseCtx); err != nil {
				s.log.Warn("processor LeaseLost failed", "err", err)
			}
		}
		return
	}
	if p != nil && (errors.Is(cause, errShutdown) || errors.Is(cause, errHandoff)) {
		cp := checkpointer{lease: s.lease, delivered: d, implied: s.accepted}
		if err := p.ShutdownRequested(s.procCtx, cp); err != nil {
			s.log.Warn("processor ShutdownRequested failed", "err", err)
		}
	}
	if errors.Is(cause, errHandoff) {
		s.lease.handoff(s.baseCtx)
		return
	}
	s.lease.release(s.baseCtx)
}

// checkpointer is the StateCheckpointer a processor gets with one call. It
// is a value: the position Checkpoint records is fixed when it is made, and
// the positions the others accept are bounded by what the session delivered
// so far.
type checkpointer struct {
	lease     *lease
	delivered *delivery
	implied   Sequence // what Checkpoint records; zero: nothing
	end       bool     // Checkpoint records SHARD_END
}

var _ StateCheckpointer = checkpointer{}

func (cp checkpointer) Checkpoint(ctx context.Context) error {
	switch {
	case cp.end:
		return cp.lease.checkpoint(ctx, shardEnd, Sequence{}, Sequence{}, nil, false)
	case cp.implied.IsZero():
		return nil // nothing delivered yet: the checkpoint is where we started
	}
	return cp.lease.checkpoint(ctx, implied, cp.implied, cp.implied, nil, false)
}

func (cp checkpointer) CheckpointAt(ctx context.Context, at Sequence) error {
	if err := checkNumber(at); err != nil {
		return err
	}
	return cp.lease.checkpoint(ctx, named, at, cp.delivered.get(), nil, false)
}

func (cp checkpointer) CheckpointState(ctx context.Context, at Sequence, state []byte) error {
	if err := checkNumber(at); err != nil {
		return err
	}
	return cp.lease.checkpoint(ctx, named, at, cp.delivered.get(), state, true)
}

// checkNumber refuses a position whose sequence number is not a decimal
// number (empty, or one of the lease table's special values).
func checkNumber(at Sequence) error {
	ok := at.Number != "" && at.Sub >= 0
	for i := 0; ok && i < len(at.Number); i++ {
		ok = '0' <= at.Number[i] && at.Number[i] <= '9'
	}
	if !ok {
		return fmt.Errorf("%w: %q is not a record's sequence number", ErrInvalidCheckpoint, at.Number)
	}
	return nil
}
