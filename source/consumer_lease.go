package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/hook"
)

// Why a shard loop stops (the cause of its stop context).
var (
	errShutdown = errors.New("source: consumer shutting down")
	errHandoff  = errors.New("source: lease handed off")
	errLost     = errors.New("source: lease lost")
)

// leaseTiming is what a lease holder needs of the Config.
type leaseTiming struct {
	self          string // this worker's ID
	renewInterval time.Duration
	failover      time.Duration
	mon           *monitor // the Consumer's
}

// lease holds one lease of this worker: it renews it, writes its checkpoints,
// and gives it up (hand-off, release, delete). The renewer, the
// Checkpointers and the shard loop all write it; mu serialises them and cur is
// the one current value, so no write is ever made with a stale counter. Once
// lost or done it writes nothing more.
type lease struct {
	key    string
	store  checkpoint.Store
	timing leaseTiming
	log    *slog.Logger
	// stop tells the shard loop to stop: with errHandoff when another
	// worker asked for the lease, with errLost when the lease is gone.
	stop func(cause error)
	// writes counts checkpoint writes for the Consumer's Stats, lost and
	// handedOff the leases lost and handed over.
	writes, lost_, handedOff *atomic.Int64
	// hooks are told every checkpoint write; set before the lease is used.
	hooks []hook.Checkpoints

	mu        sync.Mutex
	cur       checkpoint.Lease
	lastWrite time.Time // last successful write, on the worker's clock
	lost      bool
	done      bool // handed off, released or deleted: no more writes

	// stored is cur.Checkpoint for Stats, which must not wait for a store
	// call under mu.
	stored atomic.Pointer[string]
}

func newLease(l checkpoint.Lease, store checkpoint.Store, timing leaseTiming, log *slog.Logger, c *counters) *lease {
	h := &lease{key: l.Key, store: store, timing: timing, log: log, writes: &c.checkpoints, lost_: &c.leasesLost, handedOff: &c.leasesHandedOff,
		cur: l, lastWrite: time.Now(), stop: func(error) {}}
	h.stored.Store(&l.Checkpoint)
	return h
}

// current returns the lease as last written.
func (h *lease) current() checkpoint.Lease {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cur.Clone()
}

// handoffRequested tells the loop that by asked for the lease.
func (h *lease) handoffRequested(by string) {
	h.mu.Lock()
	if h.cur.PendingOwner == "" {
		// The request came after our last write; Handoff must name it.
		h.cur.PendingOwner = by
	}
	h.mu.Unlock()
	h.stop(errHandoff)
}

// markLost records that the lease is gone; h.mu must be held.
func (h *lease) markLost(err error) {
	if h.lost || h.done {
		return
	}
	h.lost = true
	h.lost_.Add(1)
	h.log.Warn("lease lost", "err", err)
	h.stop(errLost)
}

// status reports whether the lease was lost, and whether it was given up.
func (h *lease) status() (lost, done bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lost, h.done
}

// renew proves this worker still holds the lease. A renewal that fails for
// another reason than ErrLeaseLost is retried next period, unless the lease
// could expire before then: the loop stops while it is still sure no other
// worker has started.
func (h *lease) renew(ctx context.Context) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lost || h.done {
		return
	}
	l, err := h.store.Renew(ctx, h.cur)
	now := time.Now()
	switch {
	case err == nil:
		h.cur, h.lastWrite = l, now
		h.timing.mon.ok(resLeases)
		h.noticeRequest()
	case errors.Is(err, checkpoint.ErrLeaseLost):
		h.markLost(err)
	case ctx.Err() != nil:
	case now.Sub(h.lastWrite)+h.timing.renewInterval >= h.timing.failover:
		// Other workers may take the lease FailoverTime after they saw
		// our last write, which was no earlier than we made it; the next
		// renewal would come too late to be sure of it, so stop now,
		// before anyone else can start.
		h.markLost(fmt.Errorf("not renewed for %v: %w", now.Sub(h.lastWrite), err))
	default:
		h.timing.mon.failed(h.log, resLeases, "renewing lease failed; will retry", err)
	}
}

// noticeRequest stops the loop if cur names another worker as the pending
// owner; h.mu must be held.
func (h *lease) noticeRequest() {
	if h.cur.PendingOwner != "" && h.cur.PendingOwner != h.timing.self {
		h.stop(errHandoff)
	}
}

// checkpointMode says how a checkpoint write treats a position before the
// stored checkpoint.
type checkpointMode int

const (
	// named: the processor named the position; one before the stored
	// checkpoint is refused with ErrInvalidCheckpoint.
	named checkpointMode = iota
	// implied: the Consumer chose the position (Checkpoint); one before the
	// stored checkpoint is covered already, so nothing is written.
	implied
	// shardEnd: write SHARD_END.
	shardEnd
)

// checkpoint stores at (or SHARD_END) as the lease's checkpoint, unless it is
// there already. A named position must lie between the stored checkpoint and
// upTo, the last record delivered, else the error wraps ErrInvalidCheckpoint.
// With withState it stores state beside it; without, a checkpoint that moves
// drops the saved state, which covers only the records up to the old
// checkpoint.
func (h *lease) checkpoint(ctx context.Context, mode checkpointMode, at, upTo Sequence, state []byte, withState bool) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.lost:
		return fmt.Errorf("%w: shard %s", checkpoint.ErrLeaseLost, h.key)
	case h.done:
		return fmt.Errorf("%w: shard %s was handed over", checkpoint.ErrLeaseLost, h.key)
	}
	cp, sub := at.Number, at.Sub
	switch c := h.compareStored(at); {
	case mode == shardEnd:
		cp, sub = checkpoint.ShardEnd, 0
	case c < 0 && mode == implied:
		return nil // covered already
	case c < 0:
		return fmt.Errorf("%w: %v is before the shard's checkpoint %v", ErrInvalidCheckpoint, at,
			Sequence{Number: h.cur.Checkpoint, Sub: h.cur.SubSequence})
	case c > 0 && mode == named && at.Compare(upTo) > 0:
		return fmt.Errorf("%w: %v is after the last record delivered (%v)", ErrInvalidCheckpoint, at, upTo)
	}
	same := h.cur.Checkpoint == cp && h.cur.SubSequence == sub
	if same && (!withState || bytes.Equal(h.cur.State, state) && (h.cur.State == nil) == (state == nil)) {
		return nil
	}
	l := h.cur
	l.Checkpoint, l.SubSequence = cp, sub
	if withState || !same {
		l.State = state
	}
	nl, err := h.storeCheckpoint(ctx, l)
	if err != nil {
		if errors.Is(err, checkpoint.ErrLeaseLost) {
			h.markLost(err)
		}
		return err
	}
	h.cur, h.lastWrite = nl, time.Now()
	h.stored.Store(&nl.Checkpoint)
	h.writes.Add(1)
	h.noticeRequest()
	return nil
}

// storeCheckpoint writes l's checkpoint to the store and reports the write
// to the hooks, if there are any.
func (h *lease) storeCheckpoint(ctx context.Context, l checkpoint.Lease) (checkpoint.Lease, error) {
	if len(h.hooks) == 0 {
		return h.store.Checkpoint(ctx, l)
	}
	start := time.Now()
	nl, err := h.store.Checkpoint(ctx, l)
	e := hook.Checkpoint{Shard: h.key, Duration: time.Since(start), Err: err}
	for _, hk := range h.hooks {
		hk.OnCheckpoint(e)
	}
	return nl, err
}

// compareStored compares at with the stored checkpoint: a special value
// other than SHARD_END (nothing processed yet) comes before every record,
// SHARD_END after every one. h.mu must be held.
func (h *lease) compareStored(at Sequence) int {
	switch h.cur.Checkpoint {
	case checkpoint.TrimHorizon, checkpoint.Latest, checkpoint.AtTimestamp, "":
		return 1
	case checkpoint.ShardEnd:
		return -1
	}
	return at.Compare(Sequence{Number: h.cur.Checkpoint, Sub: h.cur.SubSequence})
}

// handoff moves the lease to the worker that asked for it; if the request
// changed meanwhile it hands to the new requester, or releases.
func (h *lease) handoff(ctx context.Context) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lost || h.done {
		return
	}
	h.done = true
	self := h.timing.self
	l := h.cur
	if l.PendingOwner != "" && l.PendingOwner != self {
		if _, err := h.store.Handoff(ctx, l); err == nil {
			h.handedOff.Add(1)
			h.log.Info("handed lease over", "to", l.PendingOwner, "checkpoint", l.Checkpoint)
			return
		}
	}
	fresh, err := h.store.Get(ctx, h.key)
	if err != nil || fresh.Owner != self {
		return
	}
	if fresh.PendingOwner != "" && fresh.PendingOwner != self {
		if _, err := h.store.Handoff(ctx, fresh); err == nil {
			h.handedOff.Add(1)
			h.log.Info("handed lease over", "to", fresh.PendingOwner, "checkpoint", fresh.Checkpoint)
			return
		}
	}
	if _, err := h.store.Release(ctx, fresh); err != nil {
		h.log.Warn("releasing lease failed", "err", err)
	}
}

// release gives the lease up so any worker can take it at once.
func (h *lease) release(ctx context.Context) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lost || h.done {
		return
	}
	h.done = true
	if _, err := h.store.Release(ctx, h.cur); err != nil {
		h.log.Warn("releasing lease failed", "err", err)
		return
	}
	h.log.Info("released lease", "checkpoint", h.cur.Checkpoint)
}

// remove deletes the lease of a shard the stream no longer has (trimmed
// before it was read to its end): its records are lost, so it is reported,
// and the deletion lets its children start.
func (h *lease) remove(ctx context.Context, why error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lost || h.done {
		return
	}
	h.log.Error("shard is gone from the stream before it was processed to its end; deleting its lease", "checkpoint", h.cur.Checkpoint, "err", why)
	h.done = true
	if err := h.store.Delete(ctx, h.cur); err != nil {
		h.log.Warn("deleting lease failed", "err", err)
	}
}
