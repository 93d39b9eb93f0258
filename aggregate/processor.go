package aggregate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/sink"
	"github.com/streamtop/streamtop/source"
)

var _ source.IdleProcessor = (*processor)(nil)

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
	sketch  bool            // the windows are window.Sketches
	applied source.Sequence // last record counted
	windows map[string]groupWindow
	// panes holds each group's closed panes as saved.
	panes map[string]*panes

	// The shape of the windows (the Aggregator's), for saving panes.
	size, bucket time.Duration
	capacity     int
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
	info source.Shard // hash key range and parents, for the progress

	items       []Item
	snaps       []sink.Snapshot
	rejects     []Rejected
	unsaved     bool  // windows closed since the last checkpoint
	stateBytes  int64 // size of the last state saved, in Stats.StateBytes
	saveWithout bool  // state cannot be saved here: plain checkpoints
	// whole: save every window in its own encoding, which is smaller than
	// its panes, since a store refused the panes as too large.
	whole bool
}

func (p *processor) Initialize(_ context.Context, in source.InitInput) error {
	p.reset()
	p.info = in.Shard
	if p.info.ID == "" {
		p.info = source.Shard{ID: in.ShardID}
		if len(in.Parents) > 0 {
			p.info.ParentID = in.Parents[0]
		}
		if len(in.Parents) > 1 {
			p.info.AdjacentParentID = in.Parents[1]
		}
	}
	if p.info.HashKeyStart == "" && p.a.progress != nil {
		p.log.Warn("the shard's hash key range is unknown: readers will not judge windows complete until a later owner writes it")
	}
	switch in.Start.Type {
	case source.TrimHorizon:
		// Every partial counts only its own shard's records, so a child
		// read from its start counts its part of every window exactly,
		// as an original shard does.
		p.exact = true
	case source.AfterSequence:
		p.applied = source.Sequence{Number: in.Start.SequenceNumber, Sub: in.Start.SubSequenceNumber}
	}
	if in.State == nil {
		return nil
	}
	st, err := decodeState(in.State)
	if err != nil {
		// A state we cannot read must not stop the shard: resume as if
		// there were none, which costs a window's gap, not a wrong count.
		p.log.Error("saved aggregate state is unreadable; resuming without it", "bytes", len(in.State), "err", err)
		return nil
	}
	if st.sketch != p.sketch {
		p.log.Error("saved aggregate state was counted in the other mode (SketchCapacity changed); resuming without it",
			"saved in Sketch mode", st.sketch)
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
	shape := [3]uint64{uint64(p.size / p.bucket), uint64(p.bucket), uint64(p.capacity)}
	for g, ps := range st.panes {
		if ps.saved != shape && ps.saved != [3]uint64{} {
			p.log.Error("saved aggregate state has windows of another shape (Size, Bucket or SketchCapacity changed); resuming without it",
				"group", g, "buckets", ps.saved[0], "bucket", time.Duration(ps.saved[1]), "capacity", ps.saved[2])
			return nil
		}
	}
	st.size, st.bucket, st.capacity = p.size, p.bucket, p.capacity
	p.state = st
	p.setStateBytes(int64(len(in.State)))
	return nil
}

func (p *processor) reset() {
	p.state = state{windows: map[string]groupWindow{}, panes: map[string]*panes{}, sketch: p.a.cfg.SketchCapacity > 0,
		size: p.a.cfg.Size, bucket: p.a.cfg.Bucket, capacity: p.a.cfg.SketchCapacity}
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
	return p.commit(ctx, cp)
}

// commit writes what closing windows queued: the partials, then the
// progress that covers them, then the checkpoint with the state.
func (p *processor) commit(ctx context.Context, cp source.Checkpointer) error {
	if err := p.flush(ctx); err != nil || !p.unsaved {
		return err
	}
	if err := p.writeProgress(ctx, p.cur, false); err != nil {
		return err
	}
	if p.applied.IsZero() {
		// Nothing counted yet (a quiet shard's watermark moved): there is
		// no record to checkpoint at, and nothing a new owner could not
		// work out again.
		p.unsaved = false
		return nil
	}
	return p.save(ctx, cp)
}

// ProcessIdle moves a quiet shard's watermark on by processing time: once
// the reader is caught up and IdleTimeout has passed, no record can come for
// a bucket that ended before now - IdleTimeout, so the windows ending then
// close, and readers see the shard's part of them as written.
func (p *processor) ProcessIdle(ctx context.Context, cp source.Checkpointer) error {
	b := bucketIndex(time.Now().Add(-p.a.cfg.IdleTimeout), p.a.cfg.Bucket)
	switch {
	case !p.started:
		p.start(b)
		p.unsaved = true
	case b > p.cur:
		p.closeWindows(b)
	}
	return p.commit(ctx, cp)
}

// start makes b the first bucket seen.
func (p *processor) start(b int64) {
	p.started, p.cur = true, b
	p.firstEnd = b + 1
	if !p.exact {
		// Bucket b may hold records this processor never saw.
		p.firstEnd += p.a.n
	}
}

// encode returns the state to save: as panes, but whole if the store
// refused panes (p.whole), or if a Counter-mode state is small and smaller
// whole.
func (p *processor) encode() ([]byte, error) {
	b, err := encodeState(&p.state, p.whole)
	if err != nil || p.sketch || p.whole || len(b) >= smallState {
		return b, err
	}
	// Too small for a store to share chunks of; a Counter's own
	// encoding, every key once, is then often smaller.
	if w, err := encodeState(&p.state, true); err == nil && len(w) < len(b) {
		return w, nil
	}
	return b, nil
}

// smallState is the size under which a Counter-mode state is saved in
// whichever encoding is smaller, panes or whole: a few of
// checkpoint/dynamostore's chunks (internal/chunk.Min is 4 KiB), which a
// store rewrites whole at every checkpoint anyway.
const smallState = 16 << 10

// keepsPanes reports whether the processor keeps its windows' panes to
// save: until a checkpoint saves no state, or the store refuses them.
func (p *processor) keepsPanes() bool { return !p.saveWithout && !p.whole }

// groupPanes returns group g's panes, made if need be.
func (p *processor) groupPanes(g string) *panes {
	ps := p.panes[g]
	if ps == nil {
		ps = newPanes()
		p.panes[g] = ps
	}
	return ps
}

// writeProgress records that the shard's partials are written through the
// window ending at the start of bucket through (and, ended, every one).
func (p *processor) writeProgress(ctx context.Context, through int64, ended bool) error {
	if p.a.progress == nil || !p.started && !ended {
		// A shard that ended before its first item still says so: its
		// children's progress then has a parent to follow.
		return nil
	}
	pr := sink.Progress{Shard: p.shard, Parents: p.info.Parents(),
		HashKeyStart: p.info.HashKeyStart, HashKeyEnd: p.info.HashKeyEnd,
		Bucket: p.a.cfg.Bucket, Through: bucketTime(through, p.a.cfg.Bucket), Ended: ended, Host: p.a.cfg.Host}
	if !p.exact {
		pr.From = bucketTime(p.firstEnd, p.a.cfg.Bucket)
	}
	if err := p.a.progress.WriteProgress(ctx, pr); err != nil {
		return fmt.Errorf("shard %s: writing progress: %w", p.shard, err)
	}
	return nil
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
			p.start(b)
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
			w = p.a.newWindow()
			p.windows[it.Group] = w
		}
		if !w.Add(it.Key, it.Time, it.N) {
			p.a.stats.late.Add(1)
		} else if b < p.cur && p.keepsPanes() {
			// The bucket's pane may have been taken already.
			ps := p.groupPanes(it.Group)
			ps.late[b] = append(ps.late[b], lateAdd{it.Key, it.N})
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
	if p.keepsPanes() {
		// Every group's newest bucket closes (the buckets the windows
		// slide through below hold nothing yet), whether or not a
		// window ends here: windows ending later hold it.
		for g, w := range p.windows {
			p.groupPanes(g).take(w, p.a.cfg.Bucket)
		}
	}
	for end := max(p.cur+1, p.firstEnd); end <= b && len(p.windows) > 0; end++ {
		t := bucketTime(end, p.a.cfg.Bucket)
		newest := t.Add(-p.a.cfg.Bucket)
		for g, w := range p.windows {
			w.Advance(newest)
			k := p.a.partialK
			if k == 0 {
				k = w.Len()
			}
			// One entry more than listed gives the floor: the most a
			// key left out may have. A Sketch may also leave out keys
			// of up to Total()/capacity that it does not monitor.
			top, floor := w.Top(k+1), int64(0)
			if len(top) > k {
				floor = top[k].Count
				top = top[:k]
			}
			if c := p.a.cfg.SketchCapacity; c > 0 {
				floor = max(floor, w.Total()/int64(c))
			}
			p.snaps = append(p.snaps, sink.Snapshot{Group: g, Time: t, Window: p.a.cfg.Size,
				Counts: top, Host: p.a.cfg.Host, Shard: p.shard, Floor: floor, K: p.a.cfg.K})
			if w.Total() == 0 {
				delete(p.windows, g)
				delete(p.panes, g)
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
		p.a.windowsWritten(p.snaps)
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
		b, err := p.encode()
		if err == nil {
			err = sc.CheckpointState(ctx, p.applied, b)
			if errors.Is(err, checkpoint.ErrStateTooLarge) && !p.whole && !p.sketch {
				// Panes repeat each key once per bucket; a Counter's
				// own encoding lists it once. Save whole from now on.
				// (A Sketch's own encoding holds its panes and more.)
				p.whole = true
				clear(p.panes)
				if b, err = encodeState(&p.state, true); err == nil {
					err = sc.CheckpointState(ctx, p.applied, b)
				}
			}
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
		p.a.warnOnce.Do(func() {
			p.a.log.Error("aggregate state cannot be saved with the checkpoint; a new owner of a shard will resume with a window's gap",
				"bytes", len(b), "err", err)
		})
	}
	// A Checkpointer without state stays one: stop keeping panes.
	p.saveWithout = true
	clear(p.panes)
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

// ShardEnded writes the shard's part of every window that holds its
// records, the ones still open included (the shard has nothing more to add
// to them; its children write theirs), records that it ended, and
// checkpoints the end of the shard.
func (p *processor) ShardEnded(ctx context.Context, cp source.Checkpointer) error {
	through := p.cur
	if p.started {
		p.closeWindows(p.cur + p.a.n)
	}
	if err := p.flush(ctx); err != nil {
		return err
	}
	if err := p.writeProgress(ctx, through, true); err != nil {
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
