package aggregate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/sink"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/window"
)

// state is what a processor saves with its checkpoint: everything that decides
// which snapshots it writes next and what they hold.
type state struct {
	started bool
	cur     int64 // bucket of the newest item (valid if started)
	// firstEnd is the earliest window end (a bucket index) that may be
	// written: an earlier window may miss records the processor never saw.
	firstEnd int64
	// exact: every record of the shard's groups before the first one seen
	// is known to be nowhere (an original shard read from TRIM_HORIZON), so
	// windows may be written from the first bucket on.
	exact   bool
	applied source.Sequence // last record counted
	windows map[string]*window.Counter[string]
}

// processor aggregates one shard. The Consumer calls it from one goroutine.
//
// Records are counted once: ProcessRecords skips every record at or before
// the last one counted, so a batch retried after a failed sink write, and the
// records a restored state already covers, add nothing. Snapshots and
// rejected records wait in pending until the sink (and dead letter writer)
// took them; only then is the checkpoint written, with the state, at the last
// record counted: the state covers exactly the records up to the position it
// is saved with, whether or not the Consumer has seen the batch succeed.
type processor struct {
	a     *Aggregator
	shard string
	dec   Decoder
	log   *slog.Logger
	state

	items       []Item
	snaps       []sink.Snapshot
	rejects     []Rejected
	unsaved     bool  // windows closed since the last checkpoint
	stateBytes  int64 // size of the last state saved, in Stats.StateBytes
	saveWithout bool  // state cannot be saved here: plain checkpoints
}

func (p *processor) Initialize(_ context.Context, in source.InitInput) error {
	p.reset()
	switch in.Start.Type {
	case source.TrimHorizon:
		p.exact = len(in.Parents) == 0
	case source.AfterSequence:
		p.applied = source.Sequence{Number: in.Start.SequenceNumber, Sub: in.Start.SubSequenceNumber}
	}
	if in.State == nil {
		return nil
	}
	st, err := decodeState(in.State, p.a.cfg.Size, p.a.cfg.Bucket)
	if err != nil {
		// A state we cannot read must not stop the shard: resume as if
		// there were none, which costs a window's gap, not a wrong count.
		p.log.Error("saved aggregate state is unreadable; resuming without it", "bytes", len(in.State), "err", err)
		return nil
	}
	if st.applied != p.applied {
		// The Consumer drops a state when a plain checkpoint moves past
		// it, so this is a state written by something else: it covers
		// other records than the ones the checkpoint says.
		p.log.Error("saved aggregate state does not match the checkpoint; resuming without it",
			"checkpoint", p.applied, "state covers", st.applied)
		return nil
	}
	p.state = st
	p.setStateBytes(int64(len(in.State)))
	return nil
}

func (p *processor) reset() {
	p.state = state{windows: map[string]*window.Counter[string]{}}
	p.snaps, p.rejects, p.unsaved = nil, nil, false
	p.setStateBytes(0)
}

func (p *processor) setStateBytes(n int64) {
	p.a.stats.stateBytes.Add(n - p.stateBytes)
	p.stateBytes = n
}

// ProcessRecords counts the batch, then writes the windows it closed and
// checkpoints. A failed write goes back to the Consumer, which retries the
// same batch: its records are skipped as counted, and the write is retried.
func (p *processor) ProcessRecords(ctx context.Context, records []source.Record, cp source.Checkpointer) error {
	// A batch is in shard order, so the records already counted (a retried
	// batch, or what a restored state covers) are a prefix of it.
	i := 0
	if !p.applied.IsZero() {
		for i < len(records) && records[i].Sequence().Compare(p.applied) <= 0 {
			i++
		}
	}
	for ; i < len(records); i++ {
		p.count(&records[i])
	}
	if err := p.flush(ctx); err != nil || !p.unsaved {
		return err
	}
	return p.save(ctx, cp)
}

func (p *processor) count(r *source.Record) {
	p.a.stats.records.Add(1)
	p.applied = r.Sequence()
	items, err := p.dec.Decode(*r, p.items[:0])
	p.items = items[:0]
	if err != nil {
		p.reject(r, "decode: "+err.Error())
		return
	}
	for _, it := range items {
		if it.Group == "" || it.Key == "" || it.N <= 0 {
			p.reject(r, "item without group or key, or with a count below one")
			return
		}
	}
	for _, it := range items {
		b := bucketIndex(it.Time, p.a.cfg.Bucket)
		if !p.started {
			p.started, p.cur = true, b
			p.firstEnd = b + 1
			if !p.exact {
				// Bucket b may hold records this processor never saw.
				p.firstEnd += p.a.n
			}
		}
		if b > p.cur {
			p.closeWindows(b)
		}
		w, ok := p.windows[it.Group]
		if !ok {
			if len(p.windows) >= p.a.cfg.MaxGroups {
				p.reject(r, "too many groups")
				continue
			}
			// Size and Bucket were validated by New.
			w, _ = window.NewCounter[string](p.a.cfg.Size, p.a.cfg.Bucket)
			p.windows[it.Group] = w
		}
		if !w.Add(it.Key, it.Time, it.N) {
			p.a.stats.late.Add(1)
		}
	}
}

func (p *processor) reject(r *source.Record, reason string) {
	p.a.stats.malformed.Add(1)
	if p.a.cfg.DeadLetter != nil {
		p.rejects = append(p.rejects, Rejected{Record: *r, Reason: reason})
	}
}

// closeWindows queues the snapshots of every window ending after cur and no
// later than the start of bucket b, then makes b the newest bucket. A group
// whose window emptied is written once at zero (so a chart drops to it) and
// then forgotten, so quiet groups cost nothing and a long silence ends the
// loop early.
func (p *processor) closeWindows(b int64) {
	for end := max(p.cur+1, p.firstEnd); end <= b && len(p.windows) > 0; end++ {
		t := bucketTime(end, p.a.cfg.Bucket)
		newest := t.Add(-p.a.cfg.Bucket)
		for g, w := range p.windows {
			w.Advance(newest)
			k := p.a.cfg.K
			if k == 0 {
				k = w.Len()
			}
			p.snaps = append(p.snaps, sink.Snapshot{Group: g, Time: t, Window: p.a.cfg.Size,
				Counts: w.Top(k), Host: p.a.cfg.Host})
			if w.Total() == 0 {
				delete(p.windows, g)
			}
		}
	}
	p.cur = b
	p.unsaved = true
}

// flush hands the pending snapshots to the sink and the rejected records to
// the dead letter writer.
func (p *processor) flush(ctx context.Context) error {
	if len(p.snaps) > 0 {
		if err := p.a.cfg.Sink.Write(ctx, p.snaps); err != nil {
			return fmt.Errorf("shard %s: writing %d snapshots: %w", p.shard, len(p.snaps), err)
		}
		p.a.stats.snapshots.Add(int64(len(p.snaps)))
		clear(p.snaps) // drop the references to the counts
		p.snaps = p.snaps[:0]
	}
	if len(p.rejects) > 0 {
		if err := p.a.cfg.DeadLetter.Write(ctx, p.rejects); err != nil {
			return fmt.Errorf("shard %s: writing %d rejected records: %w", p.shard, len(p.rejects), err)
		}
		clear(p.rejects)
		p.rejects = p.rejects[:0]
	}
	return nil
}

// save checkpoints the last record counted with the state that covers it.
// That record was delivered to this processor (or is the checkpoint it
// started from), so the Consumer accepts the position even when the batch
// that held it has not been accepted yet.
//
// Where state cannot be saved (a Checkpointer without state, a state the
// store refuses as too large) it checkpoints without: the next owner then
// resumes with a window's gap, never with a wrong count. Checkpoints that
// trail the window, so that a new owner replays it instead, were not kept:
// they need a second bookkeeping of record positions per bucket, and with
// state in the lease table (both stores hold it) they would serve only a case
// that should not arise.
func (p *processor) save(ctx context.Context, cp source.Checkpointer) error {
	sc, ok := cp.(source.StateCheckpointer)
	if ok && !p.saveWithout {
		b, err := encodeState(&p.state)
		if err == nil {
			err = sc.CheckpointState(ctx, p.applied, b)
			if err == nil {
				p.unsaved = false
				p.a.stats.stateWrites.Add(1)
				p.setStateBytes(int64(len(b)))
				return nil
			}
			if !errors.Is(err, checkpoint.ErrStateTooLarge) {
				return fmt.Errorf("shard %s: checkpoint: %w", p.shard, err)
			}
		}
		// Not retried per bucket: the state only grows with the groups.
		p.saveWithout = true
		p.a.warnOnce.Do(func() {
			p.a.log.Error("aggregate state cannot be saved with the checkpoint; a new owner of a shard will resume with a window's gap",
				"bytes", len(b), "err", err)
		})
	}
	if err := cp.CheckpointAt(ctx, p.applied); err != nil {
		return fmt.Errorf("shard %s: checkpoint: %w", p.shard, err)
	}
	p.unsaved = false
	return nil
}

func (p *processor) LeaseLost(context.Context) error {
	p.reset()
	return nil
}

// ShardEnded writes what is pending and checkpoints the end of the shard.
// It writes no window past the last record: the shard's children hold the
// rest of those windows' records.
func (p *processor) ShardEnded(ctx context.Context, cp source.Checkpointer) error {
	if err := p.flush(ctx); err != nil {
		return err
	}
	if err := cp.Checkpoint(ctx); err != nil {
		return fmt.Errorf("shard %s: checkpoint at its end: %w", p.shard, err)
	}
	p.reset()
	return nil
}

// ShutdownRequested writes what is pending and checkpoints the last record
// counted with the windows as they are, mid-bucket: the next owner (a hand-off
// target, or whoever takes the released lease) carries on with them. After a
// batch that failed (the shutdown came before the Consumer's retry) that
// record is the failed batch's last, which the windows hold.
func (p *processor) ShutdownRequested(ctx context.Context, cp source.Checkpointer) error {
	defer p.reset()
	if err := p.flush(ctx); err != nil {
		return err
	}
	if p.applied.IsZero() {
		return nil
	}
	return p.save(ctx, cp)
}
