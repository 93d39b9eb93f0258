package kinesisstream

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/schemas"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go/transport/http/protocol/awsjson"

	"github.com/streamtop/streamtop/internal/backoff"
	"github.com/streamtop/streamtop/source"
)

// FanOutClient is what a Stream with enhanced fan-out calls besides
// ReadClient: the stream consumer's registration and SubscribeToShard. A
// *kinesis.Client has it.
type FanOutClient interface {
	ReadClient
	DescribeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput, optFns ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error)
	RegisterStreamConsumer(ctx context.Context, in *kinesis.RegisterStreamConsumerInput, optFns ...func(*kinesis.Options)) (*kinesis.RegisterStreamConsumerOutput, error)
	DescribeStreamConsumer(ctx context.Context, in *kinesis.DescribeStreamConsumerInput, optFns ...func(*kinesis.Options)) (*kinesis.DescribeStreamConsumerOutput, error)
	DeregisterStreamConsumer(ctx context.Context, in *kinesis.DeregisterStreamConsumerInput, optFns ...func(*kinesis.Options)) (*kinesis.DeregisterStreamConsumerOutput, error)
	SubscribeToShard(ctx context.Context, in *kinesis.SubscribeToShardInput, optFns ...func(*kinesis.Options)) (*kinesis.SubscribeToShardOutput, error)
}

// WithEnhancedFanOut reads with enhanced fan-out instead of polling: the
// Stream registers (or reuses) a stream consumer called consumerName, and
// each reader subscribes to its shard (SubscribeToShard), which pushes
// records as they arrive, with a read throughput of its own of 2 MiB/s per
// shard. Every application reading the stream needs a name of its own; the
// workers of one application share it. The client must be a FanOutClient.
//
// A subscription lasts 5 minutes; the reader subscribes again where the
// last one stopped: after the sequence number its last event gave as the
// place to continue from (ContinuationSequenceNumber), or after the last
// record it delivered, so a subscription opened at LATEST that ends before
// a record came skips nothing put meanwhile. The service allows one subscription per shard
// and consumer: a subscription another worker still holds
// (ResourceInUseException, after a failover) is retried with backoff, and a
// second reader of a shard opened through the same Stream takes the
// subscription over from the first, whose next Read fails with an error
// wrapping ErrClosed. The consumer stays registered when the program ends:
// DeregisterConsumer removes it.
//
// A shard ends when the service's last event names its children
// (ChildShards). A subscription that ends without them costs a ListShards
// call, and, when that shows the shard closed, a GetShardIterator and a
// GetRecords call to see whether anything is left.
func WithEnhancedFanOut(consumerName string) StreamOption {
	return streamOption(func(c *streamConfig) error {
		if consumerName == "" {
			return fmt.Errorf("%w: WithEnhancedFanOut: empty consumer name", ErrInvalidOption)
		}
		c.fanOut = consumerName
		return nil
	})
}

// fanOut is a Stream's stream consumer, registered on first use.
type fanOut struct {
	client FanOutClient
	name   string

	mu  sync.Mutex
	arn string

	heldMu sync.Mutex
	held   map[string]*fanOutReader // the open reader of each shard
}

// hold makes r the reader of its shard, taking the subscription over from
// the reader that held it, if any.
func (f *fanOut) hold(r *fanOutReader) {
	f.heldMu.Lock()
	defer f.heldMu.Unlock()
	if old := f.held[r.shardID]; old != nil {
		old.taken.Store(true)
		old.stop()
	}
	if f.held == nil {
		f.held = make(map[string]*fanOutReader)
	}
	f.held[r.shardID] = r
}

// release forgets r as the reader of its shard, unless another took over.
func (f *fanOut) release(r *fanOutReader) {
	f.heldMu.Lock()
	defer f.heldMu.Unlock()
	if f.held[r.shardID] == r {
		delete(f.held, r.shardID)
	}
}

// consumerARN registers the stream consumer, or finds it registered, and
// waits until it is ACTIVE.
func (s *Stream) consumerARN(ctx context.Context) (string, error) {
	f := s.fanOut
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.arn != "" {
		return f.arn, nil
	}
	sum, err := f.client.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(s.name)})
	if err != nil {
		return "", s.wrap("DescribeStreamSummary", "", err)
	}
	streamARN := sum.StreamDescriptionSummary.StreamARN
	var arn string
	reg, err := f.client.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: streamARN, ConsumerName: aws.String(f.name)})
	var inUse *types.ResourceInUseException
	switch {
	case err == nil:
		arn = aws.ToString(reg.Consumer.ConsumerARN)
	case errors.As(err, &inUse): // registered already: reuse it
	default:
		return "", s.wrap("RegisterStreamConsumer", "", err)
	}
	for attempt := 0; ; attempt++ {
		in := &kinesis.DescribeStreamConsumerInput{StreamARN: streamARN, ConsumerName: aws.String(f.name)}
		if arn != "" {
			in = &kinesis.DescribeStreamConsumerInput{ConsumerARN: aws.String(arn)}
		}
		d, err := f.client.DescribeStreamConsumer(ctx, in)
		if err != nil {
			return "", s.wrap("DescribeStreamConsumer", "", err)
		}
		arn = aws.ToString(d.ConsumerDescription.ConsumerARN)
		if d.ConsumerDescription.ConsumerStatus == types.ConsumerStatusActive {
			f.arn = arn
			return arn, nil
		}
		if err := backoff.Sleep(ctx, s.cfg.backoff.Delay(min(attempt, 4))); err != nil {
			return "", err
		}
	}
}

// DeregisterConsumer removes the stream consumer that WithEnhancedFanOut
// registered. Readers subscribed through it end with an error. It does
// nothing on a Stream without enhanced fan-out.
func (s *Stream) DeregisterConsumer(ctx context.Context) error {
	if s.fanOut == nil {
		return nil
	}
	arn, err := s.consumerARN(ctx)
	if err != nil {
		return err
	}
	if _, err := s.fanOut.client.DeregisterStreamConsumer(ctx, &kinesis.DeregisterStreamConsumerInput{ConsumerARN: aws.String(arn)}); err != nil {
		return s.wrap("DeregisterStreamConsumer", "", err)
	}
	s.fanOut.mu.Lock()
	s.fanOut.arn = ""
	s.fanOut.mu.Unlock()
	return nil
}

// subscriptionLife is how long a subscription lasts before the service ends
// it; the reader subscribes again a little before.
const subscriptionLife = 5 * time.Minute

// fanOutReader reads a shard through SubscribeToShard. Records pushed by the
// service wait in buf; the conversion (and de-aggregation) is the polling
// reader's, which it keeps as conv.
//
// A subscription's event stream lives as long as the context of the call
// that made it, so subscriptions are made under life, which ends when the
// reader is closed or taken over, and not under the context of the Read or
// Wait that happened to renew one.
type fanOutReader struct {
	stream  *Stream
	shardID string
	from    source.Position
	conv    *reader // accept and lookupRange, on events as on responses

	life      context.Context
	stop      context.CancelFunc // ends life
	taken     atomic.Bool        // another reader of the Stream took the shard over
	sub       *kinesis.SubscribeToShardEventStream
	subCancel context.CancelFunc // ends the subscription's context
	renewAt   time.Time
	checking  bool // a subscription ended by itself: see checkEnd before subscribing again

	buf    []source.Record
	behind int64
	ended  bool
	closed bool
	inUse  int // subscriptions refused in a row, in the event stream

	// continuation is the last event's ContinuationSequenceNumber: where
	// the shard stood when the service pushed it, records or none. It is
	// where the next subscription starts while no record was fetched
	// since (conv.lastFetched is still continuedAt), so a subscription
	// opened at LATEST or at a timestamp that ends before any record came
	// neither skips the records put in between nor reads old ones again.
	continuation, continuedAt string
}

var (
	_ source.ShardReader = (*fanOutReader)(nil)
	_ source.Waiter      = (*fanOutReader)(nil)
)

// openFanOut subscribes to shardID from a position.
func (s *Stream) openFanOut(ctx context.Context, shardID string, from source.Position) (source.ShardReader, error) {
	r := &fanOutReader{stream: s, shardID: shardID, from: from, conv: &reader{stream: s, shardID: shardID, from: from}}
	r.conv.tokens, r.conv.refilled = r.conv.burst(), time.Now()
	// A shard iterator costs one call and says what a subscription would
	// only say in its event stream, later: an unknown shard
	// (source.ErrShardNotFound), a position that does not fit it
	// (source.ErrInvalidPosition).
	if _, err := r.conv.iterator(ctx, from); err != nil {
		return nil, err
	}
	r.life, r.stop = context.WithCancel(context.Background())
	s.fanOut.hold(r)
	if err := r.subscribe(ctx); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// lost is the error of a reader whose shard another reader took over.
func (r *fanOutReader) lost() error {
	return fmt.Errorf("%w: another reader of stream %s subscribed to shard %s", ErrClosed, r.stream.name, r.shardID)
}

// resumePosition is where the next subscription, or a read of the shard's
// rest, starts: after the last event's continuation if no record was
// fetched since, after the last record fetched, or at the opening position.
func (r *fanOutReader) resumePosition() source.Position {
	if r.continuation != "" && r.continuedAt == r.conv.lastFetched {
		return source.Position{Type: source.AfterSequence, SequenceNumber: r.continuation}
	}
	return r.conv.resumePosition()
}

// subscribe starts a subscription where the last one stopped (see
// resumePosition). A subscription still held by another reader of the
// same consumer (a worker that failed over, a previous subscription not yet
// closed) is retried with backoff.
func (r *fanOutReader) subscribe(ctx context.Context) error {
	s := r.stream
	arn, err := s.consumerARN(ctx)
	if err != nil {
		return err
	}
	pos := r.resumePosition()
	start := &types.StartingPosition{Type: types.ShardIteratorType(pos.Type.String())}
	switch pos.Type {
	case source.AtSequence, source.AfterSequence:
		start.SequenceNumber = aws.String(pos.SequenceNumber)
	case source.AtTimestamp:
		start.Timestamp = aws.Time(pos.Timestamp)
	}
	for attempt := 0; ; attempt++ {
		if r.taken.Load() {
			return r.lost()
		}
		// The call ends with ctx; the event stream it opens, with life.
		call, cancel := context.WithCancel(r.life)
		unbind := context.AfterFunc(ctx, cancel)
		out, err := s.fanOut.client.SubscribeToShard(call, &kinesis.SubscribeToShardInput{
			ConsumerARN: aws.String(arn), ShardId: aws.String(r.shardID), StartingPosition: start,
		}, oneAttempt, ownCodec)
		if !unbind() || err != nil {
			cancel()
		}
		if ctx.Err() != nil {
			if err == nil {
				out.GetStream().Close()
			}
			cancel()
			return ctx.Err()
		}
		var inUse *types.ResourceInUseException
		switch {
		case err == nil:
			r.sub, r.subCancel = out.GetStream(), cancel
			r.renewAt = time.Now().Add(subscriptionLife - 10*time.Second)
			return nil
		case r.taken.Load():
			return r.lost()
		case (errors.As(err, &inUse) || retryable(ctx, err)) && (s.cfg.maxAttempts == 0 || attempt+1 < s.cfg.maxAttempts):
			if err := backoff.Sleep(ctx, s.cfg.backoff.Delay(attempt)); err != nil {
				return err
			}
		default:
			return s.wrap("SubscribeToShard", r.shardID, err)
		}
	}
}

// ownCodec gives a subscription an event stream codec of its own. The SDK's
// is shared by every call of a client, and an event stream decodes through
// it on a goroutine of its own while the next subscription decodes its
// initial response: a data race (aws/smithy-go#714, open in v1.28.9).
func ownCodec(o *kinesis.Options) { o.Protocol = awsjson.New11(schemas.Kinesis_20131202) }

// Read returns what the service pushed since the last Read, at most max
// records, without waiting for more (Wait does that).
func (r *fanOutReader) Read(ctx context.Context, max int) (source.ReadResult, error) {
	if r.closed {
		return source.ReadResult{}, ErrClosed
	}
	if r.taken.Load() {
		return source.ReadResult{}, r.lost()
	}
	if len(r.buf) == 0 && !r.ended {
		if err := r.poll(ctx, false); err != nil {
			return source.ReadResult{}, err
		}
	}
	if max <= 0 || max > MaxGetRecords {
		max = MaxGetRecords
	}
	return takeBuffered(&r.buf, max, r.behind, r.ended, r.conv.children), nil
}

// Wait blocks until a Read will return records or the end of the shard, or
// ctx ends.
func (r *fanOutReader) Wait(ctx context.Context) error {
	if r.closed {
		return ErrClosed
	}
	if r.taken.Load() {
		return r.lost()
	}
	for len(r.buf) == 0 && !r.ended {
		if err := r.poll(ctx, true); err != nil {
			return err
		}
	}
	return nil
}

// poll takes the next event, waiting for one if block is set, and
// subscribes again when the subscription ended or is about to.
func (r *fanOutReader) poll(ctx context.Context, block bool) error {
	if r.checking {
		// Left over from a Read or Wait whose ctx ended first.
		if err := r.checkEnd(ctx); err != nil {
			return err
		}
		r.checking = false
		if r.ended || len(r.buf) > 0 {
			return nil
		}
	}
	if r.sub == nil || time.Now().After(r.renewAt) {
		r.endSubscription()
		if err := r.subscribe(ctx); err != nil {
			return err
		}
	}
	var (
		ev types.SubscribeToShardEventStream
		ok bool
	)
	if block {
		select {
		case ev, ok = <-r.sub.Events():
		case <-ctx.Done():
			return ctx.Err()
		}
	} else {
		select {
		case ev, ok = <-r.sub.Events():
		default:
			return nil
		}
	}
	if !ok {
		// The service ended the subscription (its 5 minutes, the shard's
		// end, or an error): subscribe again where this one stopped,
		// unless the shard ended.
		err := r.sub.Err()
		r.endSubscription()
		if r.taken.Load() {
			return r.lost()
		}
		if err == nil {
			r.checking = true
			return r.poll(ctx, block)
		}
		var inUse *types.ResourceInUseException
		if err != nil && !retryable(ctx, err) && !errors.As(err, &inUse) {
			return r.stream.wrap("SubscribeToShard", r.shardID, err)
		}
		if err != nil {
			// Another subscription still holds the shard (a previous
			// reader's, not yet released): wait before asking again.
			r.inUse++
			if r.stream.cfg.maxAttempts > 0 && r.inUse >= r.stream.cfg.maxAttempts {
				return r.stream.wrap("SubscribeToShard", r.shardID, err)
			}
			if err := backoff.Sleep(ctx, r.stream.cfg.backoff.Delay(r.inUse-1)); err != nil {
				return err
			}
		}
		return r.subscribe(ctx)
	}
	e, isEvent := ev.(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent)
	if !isEvent {
		return nil
	}
	r.inUse = 0
	if err := r.conv.lookupRange(ctx, e.Value.Records); err != nil {
		return err
	}
	// The polling reader's conversion: a response of the event's records,
	// ended when the event names the shard's children.
	next := aws.String("subscribed")
	if len(e.Value.ChildShards) > 0 {
		next = nil
	}
	recs, behind := r.conv.accept(&kinesis.GetRecordsOutput{Records: e.Value.Records,
		MillisBehindLatest: e.Value.MillisBehindLatest, NextShardIterator: next, ChildShards: e.Value.ChildShards})
	r.buf, r.behind, r.ended = append(r.buf, recs...), behind, r.conv.ended
	if c := aws.ToString(e.Value.ContinuationSequenceNumber); c != "" {
		r.continuation, r.continuedAt = c, r.conv.lastFetched
	}
	if r.ended {
		r.endSubscription()
	}
	return nil
}

// endSubscription closes the current subscription, if any.
func (r *fanOutReader) endSubscription() {
	if r.sub != nil {
		r.sub.Close()
		r.sub = nil
	}
	if r.subCancel != nil {
		r.subCancel()
		r.subCancel = nil
	}
}

// Close ends the subscription and lets another reader of the Stream
// subscribe to the shard.
func (r *fanOutReader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	r.endSubscription()
	r.stop()
	r.stream.fanOut.release(r)
	return nil
}
