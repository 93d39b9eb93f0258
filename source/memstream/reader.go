package memstream

import (
	"context"
	"fmt"
	"time"

	"github.com/streamtop/streamtop/source"
)

func errPosition(format string, args ...any) error {
	return fmt.Errorf("%w: %s", source.ErrInvalidPosition, fmt.Sprintf(format, args...))
}

// Open starts reading a shard, open or closed, from a position:
//
//   - TRIM_HORIZON: the oldest record still retained.
//   - LATEST: the first record put after Open returns.
//   - AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER: at or after a record of this
//     shard. A sequence number that is malformed or belongs to no record of
//     the shard is source.ErrInvalidPosition; one whose record was trimmed by
//     retention starts at the trim horizon, as Kinesis does.
//   - AT_TIMESTAMP: the first record that arrived at or after the time, also
//     among records put after Open.
//
// An unknown or aged-out shard is source.ErrShardNotFound.
func (s *Stream) Open(ctx context.Context, shardID string, from source.Position) (source.ShardReader, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sh, err := s.lookup(shardID)
	if err != nil {
		return nil, err
	}
	sh.trim(s.now().Add(-s.cfg.retention))
	sh.mu.RLock()
	next, notBefore, err := sh.positionLocked(from)
	sh.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	return &Reader{stream: s, shard: sh, next: next, notBefore: notBefore}, nil
}

// Reader reads one shard in sequence order. It implements source.ShardReader
// and source.Waiter.
//
// Obtain one from Stream.Open; the zero value is not usable. A Reader is used
// by one goroutine at a time; readers of the same shard do not disturb each
// other. Read costs a binary search at most and never copies records.
type Reader struct {
	stream *Stream
	shard  *shard
	// next is the number of the next record to return, counted from the
	// first record ever appended to the shard, so trimming does not move it.
	next int64
	// notBefore, if set, skips records that arrived before it: AT_TIMESTAMP
	// with a time later than the newest record.
	notBefore time.Time
	closed    bool
}

// Read returns up to limit records that follow those returned before. It does
// not wait; with nothing new it returns no records (see Wait).
//
// Read may return fewer than limit records although more are waiting: it
// stops at the end of one of the stream's internal chunks (16,384 records),
// and the next Read continues from there.
//
// The Records slice and each record's Data share memory with the stream, so
// Read copies nothing: treat them as read-only. The slice's capacity equals
// its length, so appending to it copies instead of writing into the stream.
// Records stay valid after later Puts, trimming, and Close.
//
// If the shard is closed, the Read that returns its last record (or any Read
// after that) reports End. If retention trimmed records the reader had not
// reached, it skips to the oldest retained one, as a Kinesis iterator does.
// MillisBehindLatest is the arrival time of the newest record minus that of
// the first record still unread, 0 once caught up.
func (r *Reader) Read(ctx context.Context, limit int) (source.ReadResult, error) {
	if r.closed {
		return source.ReadResult{}, ErrClosed
	}
	if limit < 1 {
		return source.ReadResult{}, fmt.Errorf("%w: Read limit %d must be positive", ErrInvalidArgument, limit)
	}
	if err := ctx.Err(); err != nil {
		return source.ReadResult{}, err
	}
	sh := r.shard
	sh.trim(r.stream.now().Add(-r.stream.cfg.retention))

	sh.mu.RLock()
	defer sh.mu.RUnlock()
	log := &sh.log
	start := max(r.next, log.start)
	if !r.notBefore.IsZero() && start < log.end {
		start = log.search(start, func(rec *source.Record) bool { return !rec.ArrivalTime.Before(r.notBefore) })
		if start < log.end {
			// Arrival times never decrease, so nothing later needs the check.
			r.notBefore = time.Time{}
		}
	}
	var res source.ReadResult
	if start < log.end {
		res.Records = log.slice(start, limit)
	}
	end := start + int64(len(res.Records))
	r.next = end
	if end < log.end {
		res.MillisBehindLatest = log.at(log.end - 1).ArrivalTime.Sub(log.at(end).ArrivalTime).Milliseconds()
	}
	res.End = sh.closed && end == log.end
	return res, nil
}

// Wait blocks until the shard has a record past the reader's position, or
// is closed, or ctx ends (then it returns ctx.Err()). It does not poll: an
// append or a reshard wakes it through a channel.
func (r *Reader) Wait(ctx context.Context) error {
	if r.closed {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	sh := r.shard
	sh.mu.Lock()
	if sh.closed || max(r.next, sh.log.start) < sh.log.end {
		sh.mu.Unlock()
		return nil
	}
	if sh.wake == nil {
		sh.wake = make(chan struct{})
	}
	wake := sh.wake
	sh.mu.Unlock()
	select {
	case <-wake:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close ends the reader; it holds no resources, so Close never fails. Read
// and Wait after Close return ErrClosed.
func (r *Reader) Close() error {
	r.closed = true
	return nil
}

var (
	_ source.Stream      = (*Stream)(nil)
	_ source.ShardReader = (*Reader)(nil)
	_ source.Waiter      = (*Reader)(nil)
)
