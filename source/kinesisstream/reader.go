package kinesisstream

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/streamtop/streamtop/internal/backoff"
	"github.com/streamtop/streamtop/internal/hashkey"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/kinesisstream/kpl"
)

// reader is a source.ShardReader and source.Waiter over GetRecords.
//
// Pacing: a call may start no sooner than pollInterval after the previous
// one started (so a slow call costs no extra wait), and no sooner than the
// byte budget allows. The budget refills at readLimit bytes per second and
// holds at most five seconds' worth, which is how Kinesis itself meters a
// shard's reads: a 10 MB response is allowed, then the next 5 s are owed.
//
// Wait polls at that pace until a call returns records, and keeps them in
// buf for the next Read; so an idle reader costs one call per poll interval
// whether it is in Read or in Wait.
//
// De-aggregation happens as a response is accepted: buf holds user records,
// so a Read may end inside an aggregated record and the next one goes on
// from there. lastFetched stays a Kinesis record's sequence number, which is
// what a renewed iterator needs.
type reader struct {
	stream  *Stream
	shardID string
	from    source.Position

	iter        *string
	lastFetched string         // sequence number of the last record fetched
	ended       bool           // the iterator ran out: SHARD_END once buf is empty
	children    []source.Shard // ChildShards of the response that ended the shard
	limit       int32          // GetRecords Limit: the last Read's max

	buf       []source.Record // fetched by Wait, not yet returned by Read
	bufBehind int64

	dec      kpl.Decoder
	subs     []kpl.Record // Decode's output for one response, reused
	ends     []int        // accept's scratch, reused
	hashes   map[string]hashkey.Key
	rng      hashRange // the shard's hash keys, once rngKnown
	rngKnown bool      // rng was looked up (or the shard was not listed: no filter)
	filter   bool      // drop user records outside rng

	next     time.Time // earliest start of the next GetRecords call
	tokens   float64   // byte budget at refilled; negative when in debt
	refilled time.Time

	closed atomic.Bool
}

var (
	_ source.ShardReader = (*reader)(nil)
	_ source.Waiter      = (*reader)(nil)
)

// maxRenewals bounds how often in a row a fetch renews an expired iterator;
// a new iterator that expires at once means something other than age is
// wrong.
const maxRenewals = 3

// Read returns the shard's next records, at most max (at most 10,000, the
// GetRecords limit; max <= 0 asks for that limit). It waits first if the
// previous call was too recent or read too many bytes, and retries throttled
// calls with backoff. An expired iterator is renewed just after the last
// record fetched (or at the opening position when none was), so nothing is
// skipped or repeated.
//
// With de-aggregation, max counts user records, while GetRecords' limit
// counts Kinesis records: a Read may stop inside an aggregated record, and
// the next one goes on from there without another call to the service.
func (r *reader) Read(ctx context.Context, max int) (source.ReadResult, error) {
	if r.closed.Load() {
		return source.ReadResult{}, ErrClosed
	}
	r.limit = MaxGetRecords
	if max > 0 && max < MaxGetRecords {
		r.limit = int32(max)
	}
	if len(r.buf) == 0 && !r.ended {
		recs, behind, err := r.fetch(ctx)
		if err != nil {
			return source.ReadResult{}, err
		}
		r.buf, r.bufBehind = recs, behind
	}
	res := takeBuffered(&r.buf, int(r.limit), r.bufBehind, r.ended, r.children)
	if n := len(res.Records); len(r.buf) > 0 && n > 0 {
		// What stays in the buffer is still behind: by the service's
		// figure for its newest record, plus that record's lead.
		lead := r.buf[len(r.buf)-1].ArrivalTime.Sub(res.Records[n-1].ArrivalTime).Milliseconds()
		if lead > 0 {
			res.MillisBehindLatest += lead
		}
	}
	return res, nil
}

// takeBuffered hands out up to n of the records in buf, read behind the
// newest by behind, and keeps the rest there; with buf emptied, it reports
// whether the shard ended, and its children.
func takeBuffered(buf *[]source.Record, n int, behind int64, ended bool, children []source.Shard) source.ReadResult {
	n = min(len(*buf), n)
	res := source.ReadResult{MillisBehindLatest: behind}
	if n > 0 {
		res.Records = (*buf)[:n:n]
	}
	*buf = (*buf)[n:]
	if len(*buf) == 0 {
		*buf = nil
		res.End = ended
		if ended {
			res.Children = children
		}
	}
	return res
}

// Wait blocks until a Read will return records or report the end of the
// shard, or until ctx ends. It polls GetRecords at the reader's pace and
// keeps what it finds for the next Read.
func (r *reader) Wait(ctx context.Context) error {
	if r.closed.Load() {
		return ErrClosed
	}
	for len(r.buf) == 0 && !r.ended {
		if r.limit == 0 {
			r.limit = MaxGetRecords
		}
		recs, behind, err := r.fetch(ctx)
		if err != nil {
			return err
		}
		r.buf, r.bufBehind = recs, behind
	}
	return nil
}

// fetch makes one successful GetRecords call, after waiting for its turn,
// renewing an expired iterator, and retrying throttled calls.
func (r *reader) fetch(ctx context.Context) ([]source.Record, int64, error) {
	cfg := r.stream.cfg
	retries, renewals := 0, 0
	for {
		if err := backoff.Sleep(ctx, time.Until(r.next)); err != nil {
			return nil, 0, err
		}
		start := time.Now()
		r.next = start.Add(cfg.pollInterval)
		out, err := r.stream.client.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: r.iter, Limit: aws.Int32(r.limit)}, oneAttempt)
		var expired *types.ExpiredIteratorException
		switch {
		case err == nil:
			if err := r.lookupRange(ctx, out.Records); err != nil {
				return nil, 0, err
			}
			recs, behind := r.accept(out)
			return recs, behind, nil
		case errors.As(err, &expired) && renewals < maxRenewals:
			renewals++
			it, err := r.iterator(ctx, r.resumePosition())
			if err != nil {
				return nil, 0, err
			}
			r.iter = it
			if r.ended {
				return nil, 0, nil
			}
		case retryable(ctx, err):
			renewals = 0 // the bound is on expiries in a row
			retries++
			if cfg.maxAttempts > 0 && retries >= cfg.maxAttempts {
				return nil, 0, r.stream.wrap("GetRecords", r.shardID,
					fmt.Errorf("%w: %d attempts: %w", ErrThrottled, retries, err))
			}
			cfg.warnRetry("GetRecords", retries, err, "shard", r.shardID)
			if d := cfg.backoff.Delay(retries - 1); start.Add(d).After(r.next) {
				r.next = start.Add(d)
			}
		default:
			return nil, 0, r.stream.wrapShard(ctx, "GetRecords", r.shardID, err)
		}
	}
}

// lookupRange learns the shard's hash key range the first time a response
// holds an aggregated record, to filter its user records. The Stream keeps
// the ranges of every listing, so a reader opened by the Consumer (which
// lists the shards first) makes no call for it.
func (r *reader) lookupRange(ctx context.Context, recs []types.Record) error {
	if r.rngKnown || r.stream.cfg.noDeagg {
		return nil
	}
	if !slices.ContainsFunc(recs, func(rec types.Record) bool { return kpl.IsAggregated(rec.Data) }) {
		return nil
	}
	rng, ok, err := r.stream.hashRange(ctx, r.shardID)
	if err != nil {
		return err
	}
	r.rng, r.rngKnown = rng, true
	r.filter = ok && (rng.start != hashkey.Key{} || rng.end != hashkey.Max)
	return nil
}

// accept converts a GetRecords response, de-aggregating its records, moves
// the iterator on and charges the response's bytes to the budget: the
// bytes Kinesis counts, those of its records, however many user records
// they hold.
func (r *reader) accept(out *kinesis.GetRecordsOutput) ([]source.Record, int64) {
	// First decode every record, to size recs once: an aggregated record
	// may hold thousands of user records. ends[i] is where record i's
	// user records end in r.subs, or -1 to deliver it whole.
	ends := r.ends[:0]
	var aggregated, corrupt, outOfRange int64
	subs := r.subs[:0]
	for _, rec := range out.Records {
		if r.stream.cfg.noDeagg {
			ends = append(ends, -1)
			continue
		}
		var err error
		subs, err = r.dec.Decode(subs, rec.Data)
		switch {
		case err == nil:
			aggregated++
			ends = append(ends, len(subs))
		case errors.Is(err, kpl.ErrNotAggregated):
			ends = append(ends, -1)
		default:
			// As the KCL does: a record that cannot be read as an
			// aggregate goes to the application as it is.
			corrupt++
			ends = append(ends, -1)
		}
	}
	var recs []source.Record
	if n := len(out.Records) - int(aggregated) + len(subs); n > 0 {
		recs = make([]source.Record, 0, n)
	}
	bytes, start := 0, 0
	for i, rec := range out.Records {
		whole := source.Record{
			Data:           rec.Data,
			PartitionKey:   aws.ToString(rec.PartitionKey),
			SequenceNumber: aws.ToString(rec.SequenceNumber),
			ShardID:        r.shardID,
			ArrivalTime:    aws.ToTime(rec.ApproximateArrivalTimestamp),
		}
		bytes += len(rec.Data) + len(whole.PartitionKey)
		if ends[i] < 0 {
			recs = append(recs, whole)
			continue
		}
		for j, sub := range subs[start:ends[i]] {
			if r.filter && !r.inRange(sub) {
				outOfRange++
				continue
			}
			u := whole
			u.Data, u.PartitionKey, u.SubSequenceNumber = sub.Data, sub.PartitionKey, int64(j)
			recs = append(recs, u)
		}
		start = ends[i]
	}
	clear(subs) // let go of the response's memory
	r.subs, r.ends = subs[:0], ends[:0]
	if n := len(out.Records); n > 0 {
		r.lastFetched = aws.ToString(out.Records[n-1].SequenceNumber)
	}
	if aggregated+corrupt+outOfRange > 0 {
		s := r.stream
		s.aggregated.Add(aggregated)
		s.corrupt.Add(corrupt)
		s.outOfRange.Add(outOfRange)
	}
	if len(recs) == 0 {
		recs = nil
	}
	r.charge(bytes)
	r.iter = out.NextShardIterator
	if r.iter == nil {
		r.ended = true
		r.children = childShards(out.ChildShards)
	}
	return recs, max(0, aws.ToInt64(out.MillisBehindLatest))
}

// inRange reports whether a user record's hash key lies in the shard's
// range: its explicit hash key if it has one, else the MD5 of its
// partition key. An explicit hash key that is not a number (Decode does
// not check it) cannot be placed, so it is kept.
func (r *reader) inRange(sub kpl.Record) bool {
	var h hashkey.Key
	if sub.ExplicitHashKey != "" {
		var err error
		if h, err = hashkey.Parse(sub.ExplicitHashKey); err != nil {
			return true
		}
	} else {
		// Streams repeat their keys, and an MD5 costs several times a
		// map lookup. The map is bounded: when full it starts over.
		var ok bool
		if h, ok = r.hashes[sub.PartitionKey]; !ok {
			h = hashkey.Of(sub.PartitionKey)
			if r.hashes == nil || len(r.hashes) >= maxCachedHashes {
				r.hashes = make(map[string]hashkey.Key)
			}
			r.hashes[sub.PartitionKey] = h
		}
	}
	return h.Compare(r.rng.start) >= 0 && h.Compare(r.rng.end) <= 0
}

// maxCachedHashes bounds a reader's memo of partition keys' hashes.
const maxCachedHashes = 4096

func (r *reader) burst() float64 { return 5 * float64(r.stream.cfg.readLimit) }

// charge takes bytes from the budget; a budget in debt pushes the next call
// back until the debt is paid.
func (r *reader) charge(bytes int) {
	now := time.Now()
	rate := float64(r.stream.cfg.readLimit)
	r.tokens = min(r.burst(), r.tokens+now.Sub(r.refilled).Seconds()*rate) - float64(bytes)
	r.refilled = now
	if r.tokens < 0 {
		paid := now.Add(time.Duration(-r.tokens / rate * float64(time.Second)))
		if paid.After(r.next) {
			r.next = paid
		}
	}
}

// resumePosition is where a renewed iterator must start: after the last
// record fetched, or where the reader was opened if it fetched none. Never
// the checkpoint: records fetched since would come twice, or, had the
// checkpoint run ahead, not at all.
func (r *reader) resumePosition() source.Position {
	if r.lastFetched != "" {
		return source.Position{Type: source.AfterSequence, SequenceNumber: r.lastFetched}
	}
	return r.from
}

func (r *reader) iterator(ctx context.Context, p source.Position) (*string, error) {
	s := r.stream
	in := &kinesis.GetShardIteratorInput{
		StreamName:        aws.String(s.name),
		ShardId:           aws.String(r.shardID),
		ShardIteratorType: types.ShardIteratorType(p.Type.String()),
	}
	switch p.Type {
	case source.AtSequence, source.AfterSequence:
		in.StartingSequenceNumber = aws.String(p.SequenceNumber)
	case source.AtTimestamp:
		in.Timestamp = aws.Time(p.Timestamp)
	}
	out, err := withRetries(ctx, s.cfg.retryConfig, "GetShardIterator", func(ctx context.Context) (*kinesis.GetShardIteratorOutput, error) {
		return s.client.GetShardIterator(ctx, in, oneAttempt)
	})
	if err != nil {
		return nil, s.wrapShard(ctx, "GetShardIterator", r.shardID, err)
	}
	if out.ShardIterator == nil {
		// Kinesis answers a position past the end of a closed shard with no
		// iterator: nothing is left to read.
		r.ended = true
	}
	return out.ShardIterator, nil
}

// Close releases the reader; later Reads return ErrClosed. It makes no call
// to the service (an iterator needs no release) and may be called more than
// once, from any goroutine.
func (r *reader) Close() error {
	r.closed.Store(true)
	return nil
}

// childShards converts the ChildShards of a response that ended a shard.
func childShards(cs []types.ChildShard) []source.Shard {
	var out []source.Shard
	for _, c := range cs {
		sh := source.Shard{ID: aws.ToString(c.ShardId)}
		if len(c.ParentShards) > 0 {
			sh.ParentID = c.ParentShards[0]
		}
		if len(c.ParentShards) > 1 {
			sh.AdjacentParentID = c.ParentShards[1]
		}
		if c.HashKeyRange != nil {
			sh.HashKeyStart, sh.HashKeyEnd = aws.ToString(c.HashKeyRange.StartingHashKey), aws.ToString(c.HashKeyRange.EndingHashKey)
		}
		out = append(out, sh)
	}
	return out
}
