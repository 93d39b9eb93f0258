package faults

import (
	"context"
	"fmt"

	"github.com/streamtop/streamtop/sink"
)

// Writer wraps a sink.Writer. Write may fail with ErrThrottled or ErrTimeout
// before anything is written ("sink.Write"), or write only a prefix of its
// snapshots and then fail with ErrThrottled ("sink.Write partial"), as a
// batch write with unprocessed items does; sink writers are idempotent, so a
// retry of the whole batch is correct.
//
// The zero value is not usable; make one with NewWriter. It is safe for
// concurrent use as the wrapped Writer is.
type Writer struct {
	w     sink.Writer
	sched *Schedule
}

// NewWriter wraps w; sched decides the faults.
func NewWriter(w sink.Writer, sched *Schedule) *Writer { return &Writer{w, sched} }

// Write writes the snapshots unless a fault is injected.
func (w *Writer) Write(ctx context.Context, snapshots []sink.Snapshot) error {
	if err := w.sched.before(ctx, "sink.Write", ErrThrottled, ErrTimeout); err != nil {
		return err
	}
	if n := len(snapshots); n > 1 {
		if fail, kind, _ := w.sched.draw("sink.Write partial", n-1); fail {
			if err := w.w.Write(ctx, snapshots[:kind+1]); err != nil {
				return err
			}
			return fmt.Errorf("sink.Write: %d of %d snapshots written: %w", kind+1, n, ErrThrottled)
		}
	}
	return w.w.Write(ctx, snapshots)
}

// WriteProgress records p if the wrapped Writer is a sink.ProgressWriter,
// unless a fault is injected ("sink.WriteProgress"); a wrapped Writer that
// records no progress makes it fail.
func (w *Writer) WriteProgress(ctx context.Context, p sink.Progress) error {
	pw, ok := w.w.(sink.ProgressWriter)
	if !ok {
		return fmt.Errorf("faults: %T records no progress", w.w)
	}
	if err := w.sched.before(ctx, "sink.WriteProgress", ErrThrottled, ErrTimeout); err != nil {
		return err
	}
	return pw.WriteProgress(ctx, p)
}
