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
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/streamtop/streamtop/internal/awserr"
	"github.com/streamtop/streamtop/internal/hashkey"
	"github.com/streamtop/streamtop/source"
)

// ReadClient is the part of *kinesis.Client that a Stream calls: ListShards,
// GetShardIterator and GetRecords. A *kinesis.Client has it; so can a
// wrapper (for metrics, say) or a fake in a test. The readers of a Stream
// call it from their own goroutines, so it must be safe for concurrent use,
// as the SDK's client is.
type ReadClient interface {
	ListShards(ctx context.Context, in *kinesis.ListShardsInput, optFns ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error)
	GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, optFns ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error)
}

// Stream is a source.Stream over one Kinesis data stream.
//
// The zero value is not usable; make one with New. A Stream is safe for
// concurrent use; each ShardReader it opens is used by one goroutine at a
// time. Shards costs one ListShards call per page of shards; a reader costs
// one GetRecords call per Read (at most one per poll interval) and one
// GetShardIterator call when it opens or its iterator expires. De-aggregating
// costs an MD5 of each aggregated record (see package kpl) and, in a shard
// that does not hold the whole key space, an MD5 of each user record's
// partition key; a reader of a shard no listing has shown yet lists the shards
// once, at its first aggregated record, to learn the shard's hash key range.
type Stream struct {
	client ReadClient
	name   string
	cfg    *streamConfig

	// ranges holds the hash key range of every shard a listing showed; a
	// shard's range never changes, so entries never go stale.
	mu     sync.Mutex
	ranges map[string]hashRange

	aggregated, corrupt, outOfRange atomic.Int64

	fanOut *fanOut // WithEnhancedFanOut, or nil
}

// hashRange is a shard's hash key range, both ends included.
type hashRange struct{ start, end hashkey.Key }

// StreamStats counts what a Stream's readers did to aggregated records since
// the Stream was made. It is a plain value; the zero value means none was
// read.
type StreamStats struct {
	// Aggregated counts KPL aggregated records read and de-aggregated.
	Aggregated int64
	// Corrupt counts records with the aggregated format's prefix whose
	// checksum or body was bad: each was delivered whole, as one Record.
	Corrupt int64
	// OutOfRange counts user records dropped from aggregated records
	// because their hash key is outside the shard's range: the KPL packed
	// them by a shard map that a reshard made stale, and, finding the
	// aggregate on a shard it did not predict, sends them again to the
	// shard that owns their key, where they are read.
	OutOfRange int64
}

// Stats returns the Stream's counters. It is safe for concurrent use.
func (s *Stream) Stats() StreamStats {
	return StreamStats{Aggregated: s.aggregated.Load(), Corrupt: s.corrupt.Load(), OutOfRange: s.outOfRange.Load()}
}

var _ source.Stream = (*Stream)(nil)

// New returns a Stream that reads the stream called streamName through
// client, which is usually a *kinesis.Client (it needs ListShards,
// GetShardIterator and GetRecords). It makes no call: a missing stream shows
// up at the first Shards or Open.
func New(client ReadClient, streamName string, opts ...StreamOption) (*Stream, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: nil client", ErrInvalidOption)
	}
	if streamName == "" {
		return nil, fmt.Errorf("%w: empty stream name", ErrInvalidOption)
	}
	cfg, err := newStreamConfig(opts)
	if err != nil {
		return nil, err
	}
	cfg.stream = streamName
	st := &Stream{client: client, name: streamName, cfg: cfg}
	if cfg.fanOut != "" {
		fc, ok := client.(FanOutClient)
		if !ok {
			return nil, fmt.Errorf("%w: WithEnhancedFanOut: the client (%T) has no SubscribeToShard", ErrInvalidOption, client)
		}
		st.fanOut = &fanOut{client: observe(fc, cfg.retryConfig), name: cfg.fanOut}
	}
	st.client = observe(client, cfg.retryConfig)
	return st, nil
}

// Name returns the stream's name.
func (s *Stream) Name() string { return s.name }

// Shards lists every shard of the stream, open and closed (within the
// retention period), following ListShards' pagination.
func (s *Stream) Shards(ctx context.Context) ([]source.Shard, error) {
	shards, err := listShards(ctx, s.client, s.name, s.cfg.retryConfig)
	if err != nil {
		return nil, s.wrap("ListShards", "", err)
	}
	s.keepRanges(shards)
	return shards, nil
}

// shardLister is the part of *kinesis.Client that lists shards: a Stream's
// ReadClient has it, and so must a Producer's client for WithAggregation.
type shardLister interface {
	ListShards(ctx context.Context, in *kinesis.ListShardsInput, optFns ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error)
}

// listShards lists every shard of the stream called name, retrying as rc
// says and following ListShards' pagination.
func listShards(ctx context.Context, client shardLister, name string, rc retryConfig) ([]source.Shard, error) {
	var shards []source.Shard
	// A NextToken lasts 300 s; a listing that outlives one starts over after
	// the last shard it already has, which ListShards allows through
	// ExclusiveStartShardId.
	in := &kinesis.ListShardsInput{StreamName: aws.String(name)}
	for {
		out, err := withRetries(ctx, rc, "ListShards", func(ctx context.Context) (*kinesis.ListShardsOutput, error) {
			return client.ListShards(ctx, in, oneAttempt)
		})
		var expired *types.ExpiredNextTokenException
		switch {
		case errors.As(err, &expired):
			in = &kinesis.ListShardsInput{StreamName: aws.String(name)}
			if n := len(shards); n > 0 {
				in.ExclusiveStartShardId = aws.String(shards[n-1].ID)
			}
			continue
		case err != nil:
			return nil, err
		}
		for _, sh := range out.Shards {
			shards = append(shards, convertShard(sh))
		}
		if out.NextToken == nil || *out.NextToken == "" {
			return shards, nil
		}
		// With a NextToken the stream name must be left out.
		in = &kinesis.ListShardsInput{NextToken: out.NextToken}
	}
}

func (s *Stream) keepRanges(shards []source.Shard) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ranges == nil {
		s.ranges = make(map[string]hashRange, len(shards))
	}
	for _, sh := range shards {
		start, err1 := hashkey.Parse(sh.HashKeyStart)
		end, err2 := hashkey.Parse(sh.HashKeyEnd)
		if err1 == nil && err2 == nil {
			s.ranges[sh.ID] = hashRange{start, end}
		}
	}
}

// hashRange returns the hash key range of a shard, listing the shards if no
// listing showed it yet; ok is false if none shows it.
func (s *Stream) hashRange(ctx context.Context, shardID string) (r hashRange, ok bool, err error) {
	s.mu.Lock()
	r, ok = s.ranges[shardID]
	s.mu.Unlock()
	if ok {
		return r, true, nil
	}
	if _, err := s.Shards(ctx); err != nil {
		return hashRange{}, false, err
	}
	s.mu.Lock()
	r, ok = s.ranges[shardID]
	s.mu.Unlock()
	return r, ok, nil
}

func convertShard(sh types.Shard) source.Shard {
	s := source.Shard{
		ID:               aws.ToString(sh.ShardId),
		ParentID:         aws.ToString(sh.ParentShardId),
		AdjacentParentID: aws.ToString(sh.AdjacentParentShardId),
	}
	if r := sh.HashKeyRange; r != nil {
		s.HashKeyStart, s.HashKeyEnd = aws.ToString(r.StartingHashKey), aws.ToString(r.EndingHashKey)
	}
	if r := sh.SequenceNumberRange; r != nil {
		s.StartingSequenceNumber = aws.ToString(r.StartingSequenceNumber)
		s.EndingSequenceNumber = aws.ToString(r.EndingSequenceNumber)
	}
	return s
}

// Open starts reading shardID from a position. The reader implements
// source.Waiter. An unknown shard (or stream) gives an error wrapping
// source.ErrShardNotFound; a sequence number that does not belong to the
// shard gives one wrapping source.ErrInvalidPosition.
func (s *Stream) Open(ctx context.Context, shardID string, from source.Position) (source.ShardReader, error) {
	if shardID == "" {
		return nil, fmt.Errorf("%w: empty shard ID", source.ErrShardNotFound)
	}
	if err := checkPosition(from); err != nil {
		return nil, err
	}
	if s.fanOut != nil {
		return s.openFanOut(ctx, shardID, from)
	}
	r := &reader{stream: s, shardID: shardID, from: from}
	r.tokens = r.burst()
	r.refilled = time.Now()
	it, err := r.iterator(ctx, from)
	if err != nil {
		return nil, err
	}
	r.iter = it
	return r, nil
}

func checkPosition(p source.Position) error {
	switch p.Type {
	case source.TrimHorizon, source.Latest:
		return nil
	case source.AtSequence, source.AfterSequence:
		if p.SequenceNumber == "" {
			return fmt.Errorf("%w: %v without a sequence number", source.ErrInvalidPosition, p.Type)
		}
		return nil
	case source.AtTimestamp:
		if p.Timestamp.IsZero() {
			return fmt.Errorf("%w: AT_TIMESTAMP without a timestamp", source.ErrInvalidPosition)
		}
		return nil
	}
	return fmt.Errorf("%w: %v", source.ErrInvalidPosition, p.Type)
}

// wrap translates a service error into the source package's terms, keeping
// the original in the chain for errors.As: a missing stream is
// source.ErrStreamNotFound, a refused caller source.ErrAccessDenied, and a
// missing shard (shardID set, and the stream known to exist: see
// wrapShard) source.ErrShardNotFound.
func (s *Stream) wrap(op, shardID string, err error) error {
	var notFound *types.ResourceNotFoundException
	var invalid *types.InvalidArgumentException
	var invalidInput *types.ValidationException
	where := "stream " + s.name
	if shardID != "" {
		where += " shard " + shardID
	}
	switch {
	case errors.As(err, &notFound) && shardID != "":
		return fmt.Errorf("kinesisstream: %s %s: %w: %w", op, where, source.ErrShardNotFound, err)
	case awserr.IsNotFound(err) || awserr.IsNoHost(err):
		return fmt.Errorf("kinesisstream: %s %s: %w (create it, or check the region and account): %w",
			op, where, source.ErrStreamNotFound, err)
	case awserr.IsDenied(err):
		return fmt.Errorf("kinesisstream: %s %s: %w (check the credentials and the IAM policy): %w",
			op, where, source.ErrAccessDenied, err)
	case (errors.As(err, &invalid) || errors.As(err, &invalidInput)) && op == "GetShardIterator":
		return fmt.Errorf("kinesisstream: %s %s: %w: %w", op, where, source.ErrInvalidPosition, err)
	}
	return fmt.Errorf("kinesisstream: %s %s: %w", op, where, err)
}

// wrapShard translates the error of a call on one shard. Kinesis answers
// ResourceNotFoundException both for a shard the stream does not have and
// for a stream that is gone (kinesalite names the shard either way), and a
// Consumer deletes the lease of a shard that is not found; so before saying
// source.ErrShardNotFound it lists the shards once to see whether the stream
// itself is there. When that listing fails otherwise, the error is neither,
// and a caller retries it.
func (s *Stream) wrapShard(ctx context.Context, op, shardID string, err error) error {
	if !awserr.IsNotFound(err) {
		return s.wrap(op, shardID, err)
	}
	_, lerr := s.client.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(s.name)})
	switch {
	case lerr == nil:
		return s.wrap(op, shardID, err)
	case awserr.IsNotFound(lerr):
		return s.wrap(op, "", err)
	}
	return fmt.Errorf("kinesisstream: %s stream %s shard %s: %w (and listing the shards to check the stream failed: %v)",
		op, s.name, shardID, err, lerr)
}
