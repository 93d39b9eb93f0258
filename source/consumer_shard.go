package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamtop/streamtop/checkpoint"
)

// Why a shard loop stops (the cause of its stop context).
var (
	errShutdown = errors.New("source: consumer shutting down")
	errHandoff  = errors.New("source: lease handed off")
	errLost     = errors.New("source: lease lost")
)

// position is a record's place in its shard.
type position struct {
	seq string
	sub int64
}

// heldLease is one lease this worker holds, and its shard loop. The renewer,
// the Checkpointer and the loop all write the lease; mu serialises them and
// cur is the one current value, so no write is ever made with a stale
// counter.
type heldLease struct {
	c   *Consumer
	key string
	log *slog.Logger

	// stopCtx ends waits and reads when the loop must stop (hand-off,
	// shutdown, lost); procCtx, passed to the processor, ends only when the
	// lease is lost, so a batch in progress may finish and checkpoint.
	stopCtx    context.Context
	stopCancel context.CancelCauseFunc
	procCtx    context.Context
	procCancel context.CancelFunc

	mu        sync.Mutex
	cur       checkpoint.Lease
	lastWrite time.Time // last successful write, on the worker's clock
	lost      bool
	done      bool     // handed off, released or deleted: no more writes
	accepted  position // last record of the last batch ProcessRecords accepted
	delivered position // what Checkpoint records: the batch in hand, or accepted
	atEnd     bool     // in ShardEnded: Checkpoint records SHARD_END

	// Copies for Stats, which must not wait for a store call under mu.
	records    atomic.Int64
	behind     atomic.Int64
	lastSeq    atomic.Pointer[string]
	checkpoint atomic.Pointer[string]
}

// start runs a shard loop for a lease just taken. During shutdown the lease
// is given straight back.
func (c *Consumer) start(l checkpoint.Lease) {
	h := &heldLease{c: c, key: l.Key, cur: l, lastWrite: c.cfg.Clock.Now(),
		log: c.log.With("shard", l.Key)}
	h.checkpoint.Store(&l.Checkpoint)
	h.stopCtx, h.stopCancel = context.WithCancelCause(c.hardCtx)
	h.procCtx, h.procCancel = context.WithCancel(c.hardCtx)
	c.mu.Lock()
	if c.shuttingDown || c.held[l.Key] != nil {
		c.mu.Unlock()
		if _, err := c.cfg.Leases.Release(c.hardCtx, l); err != nil {
			c.log.Warn("releasing lease failed", "shard", l.Key, "err", err)
		}
		return
	}
	c.held[l.Key] = h
	c.loops.Add(1)
	c.mu.Unlock()
	go func() {
		defer func() {
			h.stopCancel(nil)
			h.procCancel()
			c.mu.Lock()
			delete(c.held, h.key)
			c.mu.Unlock()
			c.loops.Done()
			c.kickSync()
		}()
		h.run()
	}()
}

// stop asks the loop to stop at its next safe point.
func (h *heldLease) stop(why error) { h.stopCancel(why) }

// handoffRequested tells the loop that by asked for the lease.
func (h *heldLease) handoffRequested(by string) {
	h.mu.Lock()
	if h.cur.PendingOwner == "" {
		// The request came after our last write; Handoff must name it.
		h.cur.PendingOwner = by
	}
	h.mu.Unlock()
	h.stop(errHandoff)
}

// markLost records that the lease is gone; h.mu must be held.
func (h *heldLease) markLost(err error) {
	if h.lost || h.done {
		return
	}
	h.lost = true
	h.log.Warn("lease lost", "err", err)
	h.stopCancel(errLost)
	h.procCancel()
}

func (h *heldLease) isLost() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lost
}

// renew proves this worker still holds the lease. A renewal that fails for
// another reason than ErrLeaseLost is retried next period, unless the lease
// could expire before then: the loop stops while it is still sure no other
// worker has started.
func (h *heldLease) renew(ctx context.Context) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lost || h.done {
		return
	}
	l, err := h.c.cfg.Leases.Renew(ctx, h.cur)
	now := h.c.cfg.Clock.Now()
	switch {
	case err == nil:
		h.cur, h.lastWrite = l, now
		if l.PendingOwner != "" && l.PendingOwner != h.c.cfg.WorkerID {
			h.stopCancel(errHandoff)
		}
	case errors.Is(err, checkpoint.ErrLeaseLost):
		h.markLost(err)
	case ctx.Err() != nil:
	case now.Sub(h.lastWrite)+h.c.cfg.RenewInterval >= h.c.cfg.FailoverTime:
		// Other workers may take the lease FailoverTime after they saw
		// our last write, which was no earlier than we made it; the next
		// renewal would come too late to be sure of it, so stop now,
		// before anyone else can start.
		h.markLost(fmt.Errorf("not renewed for %v: %w", now.Sub(h.lastWrite), err))
	default:
		h.log.Warn("renewing lease failed; will retry", "err", err)
	}
}

// writeCheckpoint stores p as the lease's checkpoint, unless it is there
// already. With withState it stores state beside it; without, a checkpoint
// that moves drops the saved state, which covers only the records up to the
// old checkpoint.
func (h *heldLease) writeCheckpoint(ctx context.Context, p position, state []byte, withState bool) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	same := h.cur.Checkpoint == p.seq && h.cur.SubSequence == p.sub
	switch {
	case h.lost:
		return fmt.Errorf("%w: shard %s", checkpoint.ErrLeaseLost, h.key)
	case h.done:
		return fmt.Errorf("%w: shard %s was handed over", checkpoint.ErrLeaseLost, h.key)
	case same && (!withState || bytes.Equal(h.cur.State, state) && (h.cur.State == nil) == (state == nil)):
		return nil
	}
	l := h.cur
	l.Checkpoint, l.SubSequence = p.seq, p.sub
	if withState || !same {
		l.State = state
	}
	nl, err := h.c.cfg.Leases.Checkpoint(ctx, l)
	if err != nil {
		if errors.Is(err, checkpoint.ErrLeaseLost) {
			h.markLost(err)
		}
		return err
	}
	h.cur, h.lastWrite = nl, h.c.cfg.Clock.Now()
	h.checkpoint.Store(&nl.Checkpoint)
	h.c.checkpoints.Add(1)
	if nl.PendingOwner != "" && nl.PendingOwner != h.c.cfg.WorkerID {
		h.stopCancel(errHandoff)
	}
	return nil
}

// checkpointer is the StateCheckpointer a processor gets; it is safe for
// concurrent use, and goes on working (conditionally) after the call it was
// passed to returns.
type checkpointer struct{ h *heldLease }

var _ StateCheckpointer = checkpointer{}

func (cp checkpointer) Checkpoint(ctx context.Context) error {
	h := cp.h
	h.mu.Lock()
	p, atEnd := h.delivered, h.atEnd
	h.mu.Unlock()
	if atEnd {
		p = position{seq: checkpoint.ShardEnd}
	}
	if p.seq == "" {
		return nil // nothing delivered yet: the checkpoint is where we started
	}
	return h.writeCheckpoint(ctx, p, nil, false)
}

func (cp checkpointer) CheckpointState(ctx context.Context, state []byte) error {
	h := cp.h
	h.mu.Lock()
	p, atEnd := h.delivered, h.atEnd
	if p.seq == "" {
		// Nothing delivered yet: the state goes with the checkpoint the
		// shard started from.
		p = position{seq: h.cur.Checkpoint, sub: h.cur.SubSequence}
	}
	h.mu.Unlock()
	if atEnd {
		p = position{seq: checkpoint.ShardEnd}
	}
	return h.writeCheckpoint(ctx, p, state, true)
}

func (cp checkpointer) CheckpointAt(ctx context.Context, seq string, sub int64) error {
	h := cp.h
	h.mu.Lock()
	last, atEnd := h.delivered, h.atEnd
	h.mu.Unlock()
	switch {
	case seq == checkpoint.ShardEnd && atEnd:
		sub = 0
	case seq == "" || seq == checkpoint.ShardEnd || seq == checkpoint.TrimHorizon ||
		seq == checkpoint.Latest || seq == checkpoint.AtTimestamp:
		return fmt.Errorf("%w: %q is not a sequence number of a delivered record", ErrInvalidCheckpoint, seq)
	case last.seq == "" || compareSequence(seq, last.seq) > 0 ||
		(compareSequence(seq, last.seq) == 0 && sub > last.sub):
		return fmt.Errorf("%w: %q is after the last record delivered (%q)", ErrInvalidCheckpoint, seq, last.seq)
	}
	return h.writeCheckpoint(ctx, position{seq: seq, sub: sub}, nil, false)
}

// compareSequence orders sequence numbers, which are decimal integers of any
// length (Kinesis) or of one fixed length (memstream).
func compareSequence(a, b string) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// run is the shard loop: sessions of one Processor each, until the lease is
// handed off, released, lost, or the shard is finished.
func (h *heldLease) run() {
	for attempt := 0; ; attempt++ {
		if !h.session() {
			return
		}
		// ShardEnded did not checkpoint SHARD_END: start the shard
		// again from its checkpoint, with a new processor, later.
		if !sleep(h.stopCtx, h.c.cfg.Clock, backoff(h.c.cfg.RetryBackoff, h.c.cfg.MaxRetryBackoff, attempt)) {
			h.finish(nil)
			return
		}
	}
}

// startPosition returns where to read the shard from, given its checkpoint.
func (h *heldLease) startPosition(cp string) Position {
	switch cp {
	case checkpoint.TrimHorizon:
		return Position{Type: TrimHorizon}
	case checkpoint.Latest:
		return Position{Type: Latest}
	case checkpoint.AtTimestamp:
		if h.c.cfg.InitialPosition.Type == AtTimestamp {
			return h.c.cfg.InitialPosition
		}
		h.log.Warn("lease says AT_TIMESTAMP but no timestamp is configured; starting at TRIM_HORIZON")
		return Position{Type: TrimHorizon}
	}
	return Position{Type: AfterSequence, SequenceNumber: cp}
}

// session runs one Processor on the shard. It reports whether the shard must
// be started again (its end was not checkpointed).
func (h *heldLease) session() (again bool) {
	cfg := &h.c.cfg
	h.mu.Lock()
	start := h.cur
	h.accepted, h.delivered = position{}, position{}
	h.mu.Unlock()
	if start.Checkpoint == checkpoint.ShardEnd {
		h.finish(nil)
		return false
	}
	from := h.startPosition(start.Checkpoint)

	r, ok := h.open(from)
	if !ok {
		h.finish(nil)
		return false
	}
	defer func() { r.Close() }()
	p := cfg.NewProcessor(h.key)
	cp := checkpointer{h}
	for attempt := 0; ; attempt++ {
		err := p.Initialize(h.procCtx, InitInput{ShardID: h.key, Checkpoint: start.Checkpoint,
			SubSequence: start.SubSequence, State: slices.Clone(start.State),
			Parents: slices.Clone(start.Parents)})
		if err == nil {
			break
		}
		h.log.Error("processor Initialize failed; retrying", "attempt", attempt+1, "err", err)
		if !sleep(h.stopCtx, cfg.Clock, backoff(cfg.RetryBackoff, cfg.MaxRetryBackoff, attempt)) {
			h.finish(p)
			return false
		}
	}

	waiter, _ := r.(Waiter)
	readErrs := 0
	for {
		if h.stopCtx.Err() != nil {
			h.finish(p)
			return false
		}
		res, err := r.Read(h.stopCtx, cfg.MaxRecords)
		if err != nil {
			if h.stopCtx.Err() != nil {
				continue
			}
			if errors.Is(err, ErrShardNotFound) {
				h.shardGone(err)
				h.finish(p)
				return false
			}
			h.log.Warn("reading shard failed; retrying", "attempt", readErrs+1, "err", err)
			if !sleep(h.stopCtx, cfg.Clock, backoff(cfg.RetryBackoff, cfg.MaxRetryBackoff, readErrs)) {
				continue
			}
			readErrs++
			if readErrs%3 == 0 {
				// The reader may be broken beyond retrying (an
				// expired iterator): open a new one where this
				// one stood.
				h.mu.Lock()
				at := h.accepted
				h.mu.Unlock()
				pos := from
				if at.seq != "" {
					pos = Position{Type: AfterSequence, SequenceNumber: at.seq}
				}
				nr, ok := h.open(pos)
				if !ok {
					h.finish(p)
					return false
				}
				r.Close()
				r = nr
				waiter, _ = nr.(Waiter)
			}
			continue
		}
		readErrs = 0
		h.behind.Store(res.MillisBehindLatest)
		if len(res.Records) > 0 && !h.process(p, cp, res.Records) {
			h.finish(p)
			return false
		}
		if res.End {
			return h.endShard(p, cp)
		}
		if len(res.Records) > 0 {
			continue
		}
		if waiter != nil {
			if err := waiter.Wait(h.stopCtx); err != nil && h.stopCtx.Err() == nil {
				sleep(h.stopCtx, cfg.Clock, cfg.IdleWait)
			}
		} else if res.MillisBehindLatest == 0 {
			sleep(h.stopCtx, cfg.Clock, cfg.IdleWait)
		}
	}
}

// open opens the shard, retrying with backoff; it reports false if the loop
// must stop instead.
func (h *heldLease) open(from Position) (ShardReader, bool) {
	cfg := &h.c.cfg
	for attempt := 0; ; attempt++ {
		r, err := cfg.Stream.Open(h.stopCtx, h.key, from)
		if err == nil {
			return r, true
		}
		if h.stopCtx.Err() != nil {
			return nil, false
		}
		if errors.Is(err, ErrShardNotFound) {
			h.shardGone(err)
			return nil, false
		}
		h.log.Warn("opening shard failed; retrying", "position", from.Type, "attempt", attempt+1, "err", err)
		if !sleep(h.stopCtx, cfg.Clock, backoff(cfg.RetryBackoff, cfg.MaxRetryBackoff, attempt)) {
			return nil, false
		}
	}
}

// process hands one batch to the processor until it accepts it; it reports
// false if the loop must stop first. The batch is never split or skipped.
func (h *heldLease) process(p Processor, cp checkpointer, records []Record) bool {
	cfg := &h.c.cfg
	last := records[len(records)-1]
	batchEnd := position{seq: last.SequenceNumber, sub: last.SubSequenceNumber}
	for attempt := 0; ; attempt++ {
		h.mu.Lock()
		h.delivered = batchEnd
		h.mu.Unlock()
		err := p.ProcessRecords(h.procCtx, records, cp)
		h.mu.Lock()
		if err == nil {
			h.accepted = batchEnd
			h.mu.Unlock()
			h.records.Add(int64(len(records)))
			h.lastSeq.Store(&records[len(records)-1].SequenceNumber)
			h.c.records.Add(int64(len(records)))
			return true
		}
		// Until the batch is accepted, Checkpoint must not claim it.
		h.delivered = h.accepted
		lost := h.lost
		h.mu.Unlock()
		if lost {
			return false
		}
		h.log.Warn("ProcessRecords failed; retrying the same batch", "attempt", attempt+1,
			"first", records[0].SequenceNumber, "records", len(records), "err", err)
		if !sleep(h.stopCtx, cfg.Clock, backoff(cfg.RetryBackoff, cfg.MaxRetryBackoff, attempt)) {
			return false
		}
	}
}

// endShard calls ShardEnded and reports whether the shard must be started
// again because its end was not checkpointed.
func (h *heldLease) endShard(p Processor, cp checkpointer) (again bool) {
	h.mu.Lock()
	h.atEnd = true
	h.mu.Unlock()
	err := p.ShardEnded(h.procCtx, cp)
	h.mu.Lock()
	h.atEnd = false
	stored, lost := h.cur.Checkpoint, h.lost
	h.mu.Unlock()
	ended := stored == checkpoint.ShardEnd
	if err != nil {
		h.log.Error("processor ShardEnded failed", "err", err)
	}
	switch {
	case lost:
		return false
	case !ended:
		h.log.Error("ShardEnded did not checkpoint SHARD_END: the shard's children will not start until it does; the shard will be started again from its checkpoint",
			"checkpoint", stored)
		return true
	}
	h.log.Info("shard ended")
	h.release()
	return false
}

// finish ends the loop with the processor's last hook (if there is one)
// and gives the lease up as the reason for stopping requires.
func (h *heldLease) finish(p Processor) {
	if errors.Is(context.Cause(h.c.hardCtx), errCrash) {
		return
	}
	cause := context.Cause(h.stopCtx)
	if h.isLost() {
		if p != nil {
			if err := p.LeaseLost(h.c.hardCtx); err != nil {
				h.log.Warn("processor LeaseLost failed", "err", err)
			}
		}
		return
	}
	h.mu.Lock()
	done := h.done
	h.mu.Unlock()
	if done {
		// The lease was deleted under us (the shard is gone).
		if p != nil {
			if err := p.LeaseLost(h.c.hardCtx); err != nil {
				h.log.Warn("processor LeaseLost failed", "err", err)
			}
		}
		return
	}
	if p != nil && (errors.Is(cause, errShutdown) || errors.Is(cause, errHandoff)) {
		if err := p.ShutdownRequested(h.procCtx, checkpointer{h}); err != nil {
			h.log.Warn("processor ShutdownRequested failed", "err", err)
		}
	}
	if errors.Is(cause, errHandoff) {
		h.handoff()
		return
	}
	h.release()
}

// handoff moves the lease to the worker that asked for it; if the request
// changed meanwhile it hands to the new requester, or releases.
func (h *heldLease) handoff() {
	ctx := h.c.hardCtx
	leases := h.c.cfg.Leases
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lost || h.done {
		return
	}
	h.done = true
	l := h.cur
	if l.PendingOwner != "" && l.PendingOwner != h.c.cfg.WorkerID {
		if _, err := leases.Handoff(ctx, l); err == nil {
			h.log.Info("handed lease over", "to", l.PendingOwner, "checkpoint", l.Checkpoint)
			return
		}
	}
	fresh, err := leases.Get(ctx, h.key)
	if err != nil || fresh.Owner != h.c.cfg.WorkerID {
		return
	}
	if fresh.PendingOwner != "" && fresh.PendingOwner != h.c.cfg.WorkerID {
		if _, err := leases.Handoff(ctx, fresh); err == nil {
			h.log.Info("handed lease over", "to", fresh.PendingOwner, "checkpoint", fresh.Checkpoint)
			return
		}
	}
	if _, err := leases.Release(ctx, fresh); err != nil {
		h.log.Warn("releasing lease failed", "err", err)
	}
}

// release gives the lease up so any worker can take it at once.
func (h *heldLease) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lost || h.done {
		return
	}
	h.done = true
	if _, err := h.c.cfg.Leases.Release(h.c.hardCtx, h.cur); err != nil {
		h.log.Warn("releasing lease failed", "err", err)
		return
	}
	h.log.Info("released lease", "checkpoint", h.cur.Checkpoint)
}

// shardGone handles a shard the stream no longer has (trimmed before it was
// read to its end): its records are lost, so it is reported and its lease
// deleted, which lets its children start.
func (h *heldLease) shardGone(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lost || h.done {
		return
	}
	h.log.Error("shard is gone from the stream before it was processed to its end; deleting its lease", "checkpoint", h.cur.Checkpoint, "err", err)
	h.done = true
	if derr := h.c.cfg.Leases.Delete(h.c.hardCtx, h.cur); derr != nil {
		h.log.Warn("deleting lease failed", "err", derr)
	}
}
