package kinesisstream

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// t0 is when the fake's first record arrived.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) // date-proof: arrival times are data, compared only with each other

// fakeKinesis is an in-memory Kinesis with the semantics the adapters rely
// on (pagination, iterators, SHARD_END, partial PutRecords failures) and a
// hook to inject errors. Iterators are "shard/position".
type fakeKinesis struct {
	mu       sync.Mutex
	shards   []*fakeShard
	pageSize int // ListShards page size; 0: all at once
	calls    []fakeCall
	// inject, if set, is asked before every call (n counts calls of that
	// operation from 1) and may return an error to fail the call with.
	inject func(op string, n int) error
	counts map[string]int
	// putEntry, if set, may refuse one PutRecords entry with an error code.
	putEntry func(key string, data []byte) (code string)
	// putHook runs (unlocked) at the start of every PutRecords.
	putHook  func(in *kinesis.PutRecordsInput)
	putSizes [][2]int // records and bytes of every PutRecords request
}

type fakeShard struct {
	id, parent string
	records    []types.Record
	closed     bool
	// hashStart and hashEnd, when set, are the shard's hash key range;
	// otherwise it is 0 to 9.
	hashStart, hashEnd string
	unlisted           bool // ListShards leaves it out (it aged out)
}

type fakeCall struct {
	op string
	at time.Time // by the test's clock: a synctest bubble's, in tests of timing
}

func newFakeKinesis(shards ...string) *fakeKinesis {
	f := &fakeKinesis{counts: map[string]int{}}
	for _, id := range shards {
		f.shards = append(f.shards, &fakeShard{id: id})
	}
	return f
}

func (f *fakeKinesis) shard(id string) *fakeShard {
	for _, s := range f.shards {
		if s.id == id {
			return s
		}
	}
	return nil
}

// add appends records to a shard; sequence numbers are the shard's index
// and the record's position, zero-padded so they sort.
func (f *fakeKinesis) add(shardID string, n, size int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.shard(shardID)
	for range n {
		i := len(s.records)
		s.records = append(s.records, types.Record{
			Data:                        []byte(fmt.Sprintf("%s/%d/%s", shardID, i, strings.Repeat("x", max(0, size)))),
			PartitionKey:                aws.String(fmt.Sprint("k", i%7)),
			SequenceNumber:              aws.String(fmt.Sprintf("%s%020d", shardID[len(shardID)-1:], i+1)),
			ApproximateArrivalTimestamp: aws.Time(t0.Add(time.Duration(i) * time.Millisecond)),
		})
	}
}

// addData appends one record per element of data to a shard, numbered as
// add numbers them, with partition key "pk".
func (f *fakeKinesis) addData(shardID string, data ...[]byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.shard(shardID)
	for _, d := range data {
		i := len(s.records)
		s.records = append(s.records, types.Record{
			Data:                        d,
			PartitionKey:                aws.String("pk"),
			SequenceNumber:              aws.String(fmt.Sprintf("%s%020d", shardID[len(shardID)-1:], i+1)),
			ApproximateArrivalTimestamp: aws.Time(t0.Add(time.Duration(i) * time.Millisecond)),
		})
	}
}

func (f *fakeKinesis) begin(op string) error {
	f.mu.Lock()
	f.counts[op]++
	n := f.counts[op]
	f.calls = append(f.calls, fakeCall{op, time.Now()})
	inject := f.inject
	f.mu.Unlock()
	if inject != nil {
		return inject(op, n)
	}
	return nil
}

func (f *fakeKinesis) callTimes(op string) []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ts []time.Time
	for _, c := range f.calls {
		if c.op == op {
			ts = append(ts, c.at)
		}
	}
	return ts
}

func (f *fakeKinesis) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[op]
}

func (f *fakeKinesis) ListShards(ctx context.Context, in *kinesis.ListShardsInput, _ ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	if err := f.begin("ListShards"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if (in.StreamName == nil) == (in.NextToken == nil) {
		return nil, &types.InvalidArgumentException{Message: aws.String("exactly one of StreamName and NextToken")}
	}
	start := 0
	if in.NextToken != nil {
		start, _ = strconv.Atoi(strings.TrimPrefix(*in.NextToken, "page-"))
	}
	if in.ExclusiveStartShardId != nil {
		for i, s := range f.shards {
			if s.id == *in.ExclusiveStartShardId {
				start = i + 1
			}
		}
	}
	end := len(f.shards)
	if f.pageSize > 0 && start+f.pageSize < end {
		end = start + f.pageSize
	}
	out := &kinesis.ListShardsOutput{}
	for _, s := range f.shards[start:end] {
		if s.unlisted {
			continue
		}
		sh := types.Shard{
			ShardId:             aws.String(s.id),
			HashKeyRange:        &types.HashKeyRange{StartingHashKey: aws.String("0"), EndingHashKey: aws.String("9")},
			SequenceNumberRange: &types.SequenceNumberRange{StartingSequenceNumber: aws.String("1")},
		}
		if s.hashStart != "" {
			sh.HashKeyRange = &types.HashKeyRange{StartingHashKey: aws.String(s.hashStart), EndingHashKey: aws.String(s.hashEnd)}
		}
		if s.parent != "" {
			sh.ParentShardId = aws.String(s.parent)
		}
		if s.closed {
			sh.SequenceNumberRange.EndingSequenceNumber = aws.String("99")
		}
		out.Shards = append(out.Shards, sh)
	}
	if end < len(f.shards) {
		out.NextToken = aws.String(fmt.Sprint("page-", end))
	}
	return out, nil
}

func (f *fakeKinesis) GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, _ ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error) {
	if err := f.begin("GetShardIterator"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.shard(aws.ToString(in.ShardId))
	if s == nil {
		return nil, &types.ResourceNotFoundException{Message: aws.String("no shard " + aws.ToString(in.ShardId))}
	}
	pos := 0
	switch in.ShardIteratorType {
	case types.ShardIteratorTypeTrimHorizon:
	case types.ShardIteratorTypeLatest:
		pos = len(s.records)
	case types.ShardIteratorTypeAtSequenceNumber, types.ShardIteratorTypeAfterSequenceNumber:
		pos = -1
		for i, r := range s.records {
			if *r.SequenceNumber == aws.ToString(in.StartingSequenceNumber) {
				pos = i
			}
		}
		if pos < 0 {
			return nil, &types.InvalidArgumentException{Message: aws.String("bad sequence number")}
		}
		if in.ShardIteratorType == types.ShardIteratorTypeAfterSequenceNumber {
			pos++
		}
	case types.ShardIteratorTypeAtTimestamp:
		pos = len(s.records)
		for i, r := range s.records {
			if !r.ApproximateArrivalTimestamp.Before(*in.Timestamp) {
				pos = i
				break
			}
		}
	default:
		return nil, &types.InvalidArgumentException{Message: aws.String("bad type")}
	}
	return &kinesis.GetShardIteratorOutput{ShardIterator: aws.String(fmt.Sprintf("%s/%d", s.id, pos))}, nil
}

func (f *fakeKinesis) GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := f.begin("GetRecords"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	id, p, _ := strings.Cut(aws.ToString(in.ShardIterator), "/")
	pos, err := strconv.Atoi(p)
	s := f.shard(id)
	if err != nil || s == nil {
		return nil, &types.InvalidArgumentException{Message: aws.String("bad iterator " + aws.ToString(in.ShardIterator))}
	}
	limit := int(aws.ToInt32(in.Limit))
	if limit <= 0 || limit > MaxGetRecords {
		limit = MaxGetRecords
	}
	end := min(len(s.records), pos+limit)
	out := &kinesis.GetRecordsOutput{
		Records:            append([]types.Record(nil), s.records[pos:end]...),
		MillisBehindLatest: aws.Int64(int64(len(s.records)-end) * 1000),
		NextShardIterator:  aws.String(fmt.Sprintf("%s/%d", id, end)),
	}
	if s.closed && end == pos {
		out.NextShardIterator = nil
	}
	return out, nil
}

func (f *fakeKinesis) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if h := f.putHook; h != nil {
		h(in)
	}
	if err := f.begin("PutRecords"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	bytes := 0
	for _, e := range in.Records {
		bytes += len(e.Data) + len(aws.ToString(e.PartitionKey))
	}
	f.putSizes = append(f.putSizes, [2]int{len(in.Records), bytes})
	if len(in.Records) > MaxBatchRecords || bytes > MaxBatchSize {
		return nil, &types.InvalidArgumentException{Message: aws.String("batch too large")}
	}
	out := &kinesis.PutRecordsOutput{}
	s := f.shards[0]
	for _, e := range in.Records {
		key := aws.ToString(e.PartitionKey)
		if f.putEntry != nil {
			if code := f.putEntry(key, e.Data); code != "" {
				out.FailedRecordCount = aws.Int32(aws.ToInt32(out.FailedRecordCount) + 1)
				out.Records = append(out.Records, types.PutRecordsResultEntry{ErrorCode: aws.String(code), ErrorMessage: aws.String("injected")})
				continue
			}
		}
		seq := fmt.Sprintf("%020d", len(s.records)+1)
		s.records = append(s.records, types.Record{Data: append([]byte(nil), e.Data...), PartitionKey: aws.String(key), SequenceNumber: aws.String(seq)})
		out.Records = append(out.Records, types.PutRecordsResultEntry{SequenceNumber: aws.String(seq), ShardId: aws.String(s.id)})
	}
	return out, nil
}

// stored returns what PutRecords stored, in order.
func (f *fakeKinesis) stored() []types.Record {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]types.Record(nil), f.shards[0].records...)
}
