package faults

import (
	"context"

	"github.com/streamtop/streamtop/source"
)

// Stream wraps a source.Stream. Shards and Open fail with ErrThrottled or
// ErrTimeout (operations "stream.Shards", "stream.Open"); its readers' Read
// fails with ErrThrottled, ErrTimeout or ErrIteratorExpired ("stream.Read"),
// and now and then returns only part of what it read ("stream.Read partial"),
// keeping the rest for the next Read, so batches break at other places. No
// record is lost or reordered by it.
//
// The zero value is not usable; make one with NewStream. It is safe for
// concurrent use as the wrapped Stream is; each reader, like any ShardReader,
// is used by one goroutine at a time.
type Stream struct {
	s     source.Stream
	sched *Schedule
}

// NewStream wraps s; sched decides the faults.
func NewStream(s source.Stream, sched *Schedule) *Stream { return &Stream{s, sched} }

// Shards lists the wrapped stream's shards unless a fault is injected.
func (s *Stream) Shards(ctx context.Context) ([]source.Shard, error) {
	if err := s.sched.before(ctx, "stream.Shards", ErrThrottled, ErrTimeout); err != nil {
		return nil, err
	}
	return s.s.Shards(ctx)
}

// Open opens a reader of the wrapped stream unless a fault is injected. The
// reader is a source.Waiter if the wrapped one is.
func (s *Stream) Open(ctx context.Context, shardID string, from source.Position) (source.ShardReader, error) {
	if err := s.sched.before(ctx, "stream.Open", ErrThrottled, ErrTimeout); err != nil {
		return nil, err
	}
	r, err := s.s.Open(ctx, shardID, from)
	if err != nil {
		return nil, err
	}
	fr := &reader{r: r, sched: s.sched}
	if w, ok := r.(source.Waiter); ok {
		return &waitingReader{fr, w}, nil
	}
	return fr, nil
}

type reader struct {
	r     source.ShardReader
	sched *Schedule
	held  source.ReadResult // records read but not returned yet
}

func (r *reader) Read(ctx context.Context, max int) (source.ReadResult, error) {
	if err := r.sched.before(ctx, "stream.Read", ErrThrottled, ErrTimeout, ErrIteratorExpired); err != nil {
		return source.ReadResult{}, err
	}
	res := r.held
	if len(res.Records) == 0 && !res.End {
		var err error
		if res, err = r.r.Read(ctx, max); err != nil {
			return res, err
		}
	}
	r.held = source.ReadResult{}
	if n := len(res.Records); n > 1 {
		if fail, kind, _ := r.sched.draw("stream.Read partial", n-1); fail {
			// Keep records [kind+1:] (and the End flag) for the next Read.
			// They may share memory with the stream, which readers
			// guarantee only until the next Read: copy them.
			rest := append([]source.Record(nil), res.Records[kind+1:]...)
			r.held = source.ReadResult{Records: rest, MillisBehindLatest: res.MillisBehindLatest, End: res.End}
			res.Records, res.End = res.Records[:kind+1], false
		}
	}
	return res, nil
}

func (r *reader) Close() error { return r.r.Close() }

type waitingReader struct {
	*reader
	w source.Waiter
}

// Wait returns at once while records are held back, so none waits for the
// next put.
func (r *waitingReader) Wait(ctx context.Context) error {
	if len(r.held.Records) > 0 || r.held.End {
		return nil
	}
	return r.w.Wait(ctx)
}
