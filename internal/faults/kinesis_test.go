package faults

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	"pgregory.net/rapid"
)

// shardLog is a one-shard Kinesis in memory: enough of the API for the
// wrapper's tests. Its iterators are "shard/position", so a renewed iterator
// at the same position has the same text as the one that expired.
type shardLog struct {
	mu     sync.Mutex
	data   [][]byte
	calls  map[string]int
	putErr error // returned by PutRecords when set
}

const testShard = "shardId-000000000000"

func newShardLog() *shardLog { return &shardLog{calls: map[string]int{}} }

func (l *shardLog) call(m string) {
	l.mu.Lock()
	l.calls[m]++
	l.mu.Unlock()
}

func (l *shardLog) ListShards(ctx context.Context, in *kinesis.ListShardsInput, _ ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	l.call("ListShards")
	return &kinesis.ListShardsOutput{Shards: []types.Shard{{ShardId: aws.String(testShard)}}}, nil
}

func (l *shardLog) GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, _ ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error) {
	l.call("GetShardIterator")
	pos := 0
	if in.ShardIteratorType == types.ShardIteratorTypeAfterSequenceNumber {
		n, err := strconv.Atoi(aws.ToString(in.StartingSequenceNumber))
		if err != nil {
			return nil, &types.InvalidArgumentException{Message: aws.String(err.Error())}
		}
		pos = n + 1
	}
	return &kinesis.GetShardIteratorOutput{ShardIterator: aws.String(fmt.Sprintf("%s/%d", testShard, pos))}, nil
}

func (l *shardLog) GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error) {
	l.call("GetRecords")
	_, p, _ := strings.Cut(aws.ToString(in.ShardIterator), "/")
	pos, err := strconv.Atoi(p)
	if err != nil {
		return nil, &types.InvalidArgumentException{Message: aws.String("bad iterator")}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	out := &kinesis.GetRecordsOutput{MillisBehindLatest: aws.Int64(0)}
	limit := int(aws.ToInt32(in.Limit))
	for ; pos < len(l.data) && len(out.Records) < limit; pos++ {
		out.Records = append(out.Records, types.Record{Data: l.data[pos], PartitionKey: aws.String("k"), SequenceNumber: aws.String(strconv.Itoa(pos))})
	}
	out.NextShardIterator = aws.String(fmt.Sprintf("%s/%d", testShard, pos))
	return out, nil
}

func (l *shardLog) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	l.call("PutRecords")
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.putErr != nil {
		return nil, l.putErr
	}
	out := &kinesis.PutRecordsOutput{FailedRecordCount: aws.Int32(0)}
	for _, e := range in.Records {
		out.Records = append(out.Records, types.PutRecordsResultEntry{
			ShardId: aws.String(testShard), SequenceNumber: aws.String(strconv.Itoa(len(l.data))),
		})
		l.data = append(l.data, e.Data)
	}
	return out, nil
}

func (l *shardLog) CreateStream(ctx context.Context, in *kinesis.CreateStreamInput, _ ...func(*kinesis.Options)) (*kinesis.CreateStreamOutput, error) {
	l.call("CreateStream")
	return &kinesis.CreateStreamOutput{}, nil
}

func (l *shardLog) DeleteStream(ctx context.Context, in *kinesis.DeleteStreamInput, _ ...func(*kinesis.Options)) (*kinesis.DeleteStreamOutput, error) {
	l.call("DeleteStream")
	return &kinesis.DeleteStreamOutput{}, nil
}

func (l *shardLog) DescribeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput, _ ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error) {
	l.call("DescribeStreamSummary")
	return &kinesis.DescribeStreamSummaryOutput{StreamDescriptionSummary: &types.StreamDescriptionSummary{StreamStatus: types.StreamStatusActive}}, nil
}

func (l *shardLog) stored() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var s []string
	for _, d := range l.data {
		s = append(s, string(d))
	}
	return s
}

func entries(prefix string, n int) []types.PutRecordsRequestEntry {
	es := make([]types.PutRecordsRequestEntry, n)
	for i := range es {
		es[i] = types.PutRecordsRequestEntry{Data: fmt.Appendf(nil, "%s%d", prefix, i), PartitionKey: aws.String("k")}
	}
	return es
}

var sdkRetryable = retry.IsErrorRetryables(retry.DefaultRetryables)

// Every method fails, when its rate is 1, with the service's exception for
// it or an SDK-shaped timeout (GetRecords also with an expired iterator),
// reaches the wrapped client only when the schedule is off, and each fault
// is one the SDK's own retryer classifies as it does the real one.
func TestKinesisInjectedErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		method   string
		call     func(KinesisClient) error
		throttle string // the exception a throttle comes as
		expiry   bool   // whether an expired iterator is among the faults
	}{
		{"ListShards", func(c KinesisClient) error {
			_, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("s")})
			return err
		}, "LimitExceededException", false},
		{"GetShardIterator", func(c KinesisClient) error {
			_, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{ShardId: aws.String(testShard), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
			return err
		}, "ProvisionedThroughputExceededException", false},
		{"GetRecords", func(c KinesisClient) error {
			_, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(testShard + "/0"), Limit: aws.Int32(10)})
			return err
		}, "ProvisionedThroughputExceededException", true},
		{"PutRecords", func(c KinesisClient) error {
			_, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: entries("r", 3)})
			return err
		}, "ProvisionedThroughputExceededException", false},
		{"CreateStream", func(c KinesisClient) error {
			_, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("s")})
			return err
		}, "LimitExceededException", false},
		{"DeleteStream", func(c KinesisClient) error {
			_, err := c.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: aws.String("s")})
			return err
		}, "LimitExceededException", false},
		{"DescribeStreamSummary", func(c KinesisClient) error {
			_, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("s")})
			return err
		}, "LimitExceededException", false},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			seen := map[string]bool{}
			for seed := range uint64(40) {
				log := newShardLog()
				sched := NewSchedule(seed, Rate("kinesis."+tt.method, 1), Rate("kinesis.PutRecords partial", 0), Rate("kinesis.PutRecords applied", 0))
				k := NewKinesis(log, sched)
				err := tt.call(k)
				var op *smithy.OperationError
				if !errors.As(err, &op) || op.OperationName != tt.method || op.ServiceID != "Kinesis" {
					t.Fatalf("error %v is not an OperationError of Kinesis %s", err, tt.method)
				}
				var api smithy.APIError
				var nerr net.Error
				expired := false
				switch {
				case errors.Is(err, ErrThrottled):
					if !errors.As(err, &api) || api.ErrorCode() != tt.throttle {
						t.Fatalf("throttle %v: want a %s", err, tt.throttle)
					}
					if sdkRetryable.IsErrorRetryable(err) != aws.TrueTernary {
						t.Fatalf("the SDK does not retry the injected throttle %v", err)
					}
					seen["throttle"] = true
				case errors.Is(err, ErrTimeout):
					if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &nerr) || !nerr.Timeout() {
						t.Fatalf("timeout %v: want a net.Error timeout matching context.DeadlineExceeded", err)
					}
					if sdkRetryable.IsErrorRetryable(err) != aws.TrueTernary {
						t.Fatalf("the SDK does not retry the injected timeout %v", err)
					}
					seen["timeout"] = true
				case errors.Is(err, ErrIteratorExpired) && tt.expiry:
					var exp *types.ExpiredIteratorException
					if !errors.As(err, &exp) {
						t.Fatalf("expiry %v: want an ExpiredIteratorException", err)
					}
					seen["expiry"], expired = true, true
				default:
					t.Fatalf("error %v is none of the documented faults", err)
				}
				if n := sched.Injected()["kinesis."+tt.method]; n != 1 {
					t.Fatalf("Schedule.Injected = %v", sched.Injected())
				}
				if len(log.calls) != 0 {
					t.Fatalf("an injected fault reached the client: %v", log.calls)
				}
				var total int64
				for _, n := range k.Injected() {
					total += n
				}
				if total != 1 {
					t.Fatalf("Kinesis.Injected = %v, want one fault", k.Injected())
				}
				sched.SetEnabled(false)
				// An expired iterator stays so; anything else goes through.
				if err := tt.call(k); (err != nil) != expired {
					t.Fatalf("disabled schedule: %v", err)
				}
			}
			want := 2
			if tt.expiry {
				want = 3
			}
			if len(seen) != want {
				t.Fatalf("only %v injected in 40 seeds", seen)
			}
		})
	}
}

// An iterator reported expired stays expired, with the schedule off too,
// until GetShardIterator hands out a fresh one, even one of the same text.
func TestKinesisExpiredIteratorStaysExpired(t *testing.T) {
	ctx := context.Background()
	log := newShardLog()
	log.data = [][]byte{[]byte("a"), []byte("b")}
	var sched *Schedule
	var k *Kinesis
	it := aws.String(testShard + "/0")
	for seed := uint64(0); ; seed++ {
		sched = NewSchedule(seed, Rate("kinesis.GetRecords", 1))
		k = NewKinesis(log, sched)
		_, err := k.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it, Limit: aws.Int32(10)})
		if errors.Is(err, ErrIteratorExpired) {
			break
		}
	}
	sched.SetEnabled(false)
	for range 3 {
		_, err := k.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it, Limit: aws.Int32(10)})
		var exp *types.ExpiredIteratorException
		if !errors.As(err, &exp) || !errors.Is(err, ErrIteratorExpired) {
			t.Fatalf("GetRecords with the expired iterator = %v, want ExpiredIteratorException", err)
		}
	}
	if n := k.Injected()["GetRecords expired iterator reused"]; n != 3 {
		t.Fatalf("Injected = %v, want 3 reuses", k.Injected())
	}
	out, err := k.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{ShardId: aws.String(testShard), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil || aws.ToString(out.ShardIterator) != *it {
		t.Fatalf("GetShardIterator = %v, %v; want the same text again", out, err)
	}
	got, err := k.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: out.ShardIterator, Limit: aws.Int32(10)})
	if err != nil || len(got.Records) != 2 {
		t.Fatalf("GetRecords with the renewed iterator = %v, %v; want both records", got, err)
	}
}

// A partial PutRecords stores exactly the entries it does not report as
// refused, in their order, and answers for every entry.
func TestKinesisPartialPutRecords(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ctx := context.Background()
		log := newShardLog()
		sched := NewSchedule(rapid.Uint64().Draw(t, "seed"),
			Rate("kinesis.PutRecords partial", rapid.SampledFrom([]float64{0, 0.5, 1}).Draw(t, "rate")))
		k := NewKinesis(log, sched)
		var want []string
		batches := rapid.IntRange(1, 5).Draw(t, "batches")
		refusals, partials := 0, int64(0)
		for b := range batches {
			in := entries(fmt.Sprint(b, "/"), rapid.IntRange(1, 40).Draw(t, "entries"))
			out, err := k.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: in})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Records) != len(in) {
				t.Fatalf("%d answers for %d entries", len(out.Records), len(in))
			}
			failed := 0
			for i, r := range out.Records {
				switch code := aws.ToString(r.ErrorCode); code {
				case "":
					if r.SequenceNumber == nil || r.ShardId == nil {
						t.Fatalf("entry %d stored without a sequence number: %+v", i, r)
					}
					want = append(want, string(in[i].Data))
				case "ProvisionedThroughputExceededException", "InternalFailure":
					failed++
				default:
					t.Fatalf("entry %d refused with %q", i, code)
				}
			}
			if aws.ToInt32(out.FailedRecordCount) != int32(failed) {
				t.Fatalf("FailedRecordCount %d, %d entries refused", aws.ToInt32(out.FailedRecordCount), failed)
			}
			if n := sched.Injected()["kinesis.PutRecords partial"]; n > partials && failed == 0 {
				t.Fatal("a partial failure refused nothing")
			} else if n == partials && failed > 0 {
				t.Fatal("entries refused with no partial failure drawn")
			}
			partials = sched.Injected()["kinesis.PutRecords partial"]
			refusals += failed
		}
		if !slices.Equal(log.stored(), want) {
			t.Fatalf("stored %v, want the entries answered as stored %v", log.stored(), want)
		}
		if int64(refusals) != k.Injected()["PutRecords refused entries"] {
			t.Fatalf("%d refusals seen, Injected says %v", refusals, k.Injected())
		}
	})
}

// A partial PutRecords whose call to the wrapped client fails returns that
// failure; one with every entry refused makes no call.
func TestKinesisPartialPutRecordsErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		putErr  error
		entries int
		check   func(*testing.T, *kinesis.PutRecordsOutput, error, *shardLog)
	}{
		{"WrappedFails", &types.ResourceNotFoundException{Message: aws.String("no stream")}, 40,
			func(t *testing.T, out *kinesis.PutRecordsOutput, err error, log *shardLog) {
				var nf *types.ResourceNotFoundException
				if !errors.As(err, &nf) || out != nil {
					t.Fatalf("PutRecords = %v, %v; want the wrapped client's ResourceNotFoundException", out, err)
				}
			}},
		{"AllRefused", nil, 1,
			func(t *testing.T, out *kinesis.PutRecordsOutput, err error, log *shardLog) {
				if err != nil || aws.ToInt32(out.FailedRecordCount) != 1 || log.calls["PutRecords"] != 0 {
					t.Fatalf("PutRecords of 1 entry, refused = %+v, %v, %d calls; want 1 failed, no call", out, err, log.calls["PutRecords"])
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := newShardLog()
			log.putErr = tt.putErr
			k := NewKinesis(log, NewSchedule(7, Rate("kinesis.PutRecords partial", 1)))
			out, err := k.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: entries("r", tt.entries)})
			tt.check(t, out, err, log)
		})
	}
}

// "applied" stores the records and reports a timeout: a resend duplicates.
func TestKinesisAppliedPutRecords(t *testing.T) {
	ctx := context.Background()
	log := newShardLog()
	k := NewKinesis(log, NewSchedule(1, Rate("kinesis.PutRecords applied", 1)))
	_, err := k.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: entries("r", 3)})
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("PutRecords = %v, want ErrTimeout", err)
	}
	if got := log.stored(); !slices.Equal(got, []string{"r0", "r1", "r2"}) {
		t.Fatalf("stored %v, want all three", got)
	}
}

// One seed and one order of calls give the same faults.
func TestKinesisScheduleRepeats(t *testing.T) {
	run := func(seed uint64) []string {
		ctx := context.Background()
		log := newShardLog()
		k := NewKinesis(log, NewSchedule(seed, Rate("*", 0.3), Rate("kinesis.PutRecords applied", 0)))
		var trace []string
		for i := range 100 {
			var err error
			if i%2 == 0 {
				var out *kinesis.PutRecordsOutput
				out, err = k.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: entries("r", 10)})
				if err == nil {
					for _, r := range out.Records {
						trace = append(trace, aws.ToString(r.ErrorCode))
					}
				}
			} else {
				_, err = k.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(fmt.Sprintf("%s/%d", testShard, i)), Limit: aws.Int32(5)})
			}
			trace = append(trace, fmt.Sprint(err))
		}
		return trace
	}
	a, b, c := run(5), run(5), run(6)
	if !slices.Equal(a, b) {
		t.Fatal("one seed gave two runs")
	}
	if slices.Equal(a, c) {
		t.Fatal("two seeds gave one run")
	}
}

// A slowed call takes at least the delay; a context that ends first ends
// the call with a cancellation the SDK does not retry.
func TestKinesisSlow(t *testing.T) {
	log := newShardLog()
	k := NewKinesis(log, NewSchedule(1, Slow(1, 40*time.Millisecond)))
	start := time.Now()
	if _, err := k.ListShards(context.Background(), &kinesis.ListShardsInput{}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Fatalf("slowed call took %v, want >= 40ms", d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	_, err := k.ListShards(ctx, &kinesis.ListShardsInput{})
	var canceled *smithy.CanceledError
	if !errors.As(err, &canceled) || !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrTimeout) {
		t.Fatalf("slowed call past its deadline = %v, want a CanceledError of the context", err)
	}
	if sdkRetryable.IsErrorRetryable(err) == aws.TrueTernary {
		t.Fatal("the SDK would retry a cancelled call")
	}
	if log.calls["ListShards"] != 1 {
		t.Fatalf("%d ListShards reached the client, want 1", log.calls["ListShards"])
	}
}

// canned answers every GetRecords with the same output, so that a
// benchmark measures the wrapper, not the client.
type canned struct {
	*shardLog
	out *kinesis.GetRecordsOutput
}

func (c canned) GetRecords(context.Context, *kinesis.GetRecordsInput, ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error) {
	return c.out, nil
}

// The wrapper's cost per call when no fault is due: the iterator lookup and
// the schedule's draw.
func BenchmarkKinesisGetRecords(b *testing.B) {
	c := canned{newShardLog(), &kinesis.GetRecordsOutput{NextShardIterator: aws.String(testShard + "/1")}}
	in := &kinesis.GetRecordsInput{ShardIterator: aws.String(testShard + "/0"), Limit: aws.Int32(100)}
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		c    KinesisClient
	}{
		{"Direct", c},
		{"NoRates", NewKinesis(c, NewSchedule(1))},
		{"Rates", NewKinesis(c, NewSchedule(1, Rate("kinesis.GetRecords", 1e-12), Slow(1e-12, time.Second)))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.c.GetRecords(ctx, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
