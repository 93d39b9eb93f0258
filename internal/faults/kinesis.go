package faults

import (
	"context"
	"errors"
	"maps"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// KinesisClient is the part of *kinesis.Client that source/kinesisstream calls: a
// Stream's reads, a Producer's writes and the stream helpers. A
// *kinesis.Client has these methods, and so does a Kinesis, so wrappers
// stack.
type KinesisClient interface {
	ListShards(ctx context.Context, in *kinesis.ListShardsInput, optFns ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error)
	GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, optFns ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error)
	PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error)
	CreateStream(ctx context.Context, in *kinesis.CreateStreamInput, optFns ...func(*kinesis.Options)) (*kinesis.CreateStreamOutput, error)
	DeleteStream(ctx context.Context, in *kinesis.DeleteStreamInput, optFns ...func(*kinesis.Options)) (*kinesis.DeleteStreamOutput, error)
	DescribeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput, optFns ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error)
}

// Kinesis wraps a KinesisClient so that its calls fail or slow down on a
// schedule, with the errors the service and the SDK return, so that code
// under test takes the paths it takes against AWS:
//
//   - "kinesis.<Method>" (every method): the call fails before it reaches
//     the wrapped client, throttled (ProvisionedThroughputExceededException
//     for the data-plane calls, LimitExceededException for the others) or
//     timed out (an SDK request-send error around a net/http-like timeout).
//     GetRecords may also fail with ExpiredIteratorException; that iterator
//     then stays expired, as a real one does, until the caller gets a new
//     one from GetShardIterator.
//   - "kinesis.PutRecords partial": some entries (at least one, each of the
//     others with probability 1/2) are not sent and come back with
//     ErrorCode ProvisionedThroughputExceededException or InternalFailure;
//     the rest are sent in their order.
//   - "kinesis.PutRecords applied": the records are stored, then the call
//     reports a timeout, as one whose answer was lost: a caller that sends
//     them again stores them twice.
//
// Throttles match ErrThrottled, timeouts ErrTimeout (and so
// context.DeadlineExceeded) and expiries ErrIteratorExpired under
// errors.Is, besides the SDK's typed exception under errors.As, so a test
// can tell an injected fault from a real one. Mind that Rate("*", p) also
// sets the rates of "partial" and "applied"; give them their own rate (0
// to turn one off).
//
// The zero value is not usable; make one with NewKinesis. A Kinesis is safe
// for concurrent use as the wrapped client is. Cost: a schedule draw per
// call, a map lookup per GetRecords, and for a partial PutRecords a copy of
// the request's and the answer's entry lists.
type Kinesis struct {
	c     KinesisClient
	sched *Schedule

	mu      sync.Mutex
	expired map[string]bool  // iterators reported expired
	counts  map[string]int64 // by "Method what"
}

// NewKinesis wraps c; sched decides the faults.
func NewKinesis(c KinesisClient, sched *Schedule) *Kinesis {
	return &Kinesis{c: c, sched: sched, expired: map[string]bool{}, counts: map[string]int64{}}
}

var _ KinesisClient = (*Kinesis)(nil)

// Injected returns how many faults of each kind the wrapper injected, keyed
// by method and kind ("GetRecords ExpiredIteratorException", "PutRecords
// refused entries", "GetRecords expired iterator reused", ...). The
// Schedule's Injected counts the same calls by operation.
func (k *Kinesis) Injected() map[string]int64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return maps.Clone(k.counts)
}

func (k *Kinesis) count(key string, n int) {
	k.mu.Lock()
	k.counts[key] += int64(n)
	k.mu.Unlock()
}

// before runs the schedule for op ("kinesis.<Method>") and returns the
// error to inject, in the shape the SDK would return it, or nil. errs are
// the sentinels the method may inject, in the Schedule's terms.
func (k *Kinesis) before(ctx context.Context, op string, throttle func() error, errs ...error) error {
	err := k.sched.before(ctx, op, errs...)
	if err == nil {
		return nil
	}
	method := strings.TrimPrefix(op, "kinesis.")
	var api, cause error
	switch {
	case errors.Is(err, ErrThrottled):
		api, cause = throttle(), ErrThrottled
	case errors.Is(err, ErrIteratorExpired):
		api, cause = &types.ExpiredIteratorException{Message: aws.String("Iterator expired (injected)")}, ErrIteratorExpired
	case errors.Is(err, ErrTimeout):
		k.count(method+" timeout", 1)
		return timeoutError(method)
	default:
		// The context ended while the call was slowed; the SDK reports
		// that as a cancellation, which nobody retries.
		return &smithy.OperationError{ServiceID: "Kinesis", OperationName: method, Err: &smithy.CanceledError{Err: err}}
	}
	var ae smithy.APIError
	errors.As(api, &ae)
	k.count(method+" "+ae.ErrorCode(), 1)
	return &smithy.OperationError{ServiceID: "Kinesis", OperationName: method, Err: &injected{api, cause}}
}

// injected is a service error put there by the schedule: errors.As finds
// the SDK's exception in it, errors.Is the faults sentinel.
type injected struct{ api, cause error }

func (e *injected) Error() string   { return e.api.Error() }
func (e *injected) Unwrap() []error { return []error{e.api, e.cause} }

// timeoutError is what the SDK returns when its HTTP client gives up on a
// request: a send error (which the SDK's retryer counts as a connection
// error) around a url.Error whose cause is a net.Error timeout that also
// matches context.DeadlineExceeded, as net/http's own does.
func timeoutError(method string) error {
	return &smithy.OperationError{ServiceID: "Kinesis", OperationName: method, Err: &smithyhttp.RequestSendError{
		Err: &url.Error{Op: "Post", URL: "https://kinesis", Err: netTimeout{}},
	}}
}

type netTimeout struct{}

func (netTimeout) Error() string   { return "request timed out (injected)" }
func (netTimeout) Timeout() bool   { return true }
func (netTimeout) Temporary() bool { return true }
func (netTimeout) Unwrap() error   { return ErrTimeout }

func provisioned() error {
	return &types.ProvisionedThroughputExceededException{Message: aws.String("Rate exceeded for shard (injected)")}
}

func limitExceeded() error {
	return &types.LimitExceededException{Message: aws.String("Rate exceeded (injected)")}
}

// ListShards lists shards unless a fault is injected.
func (k *Kinesis) ListShards(ctx context.Context, in *kinesis.ListShardsInput, optFns ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	if err := k.before(ctx, "kinesis.ListShards", limitExceeded, ErrThrottled, ErrTimeout); err != nil {
		return nil, err
	}
	return k.c.ListShards(ctx, in, optFns...)
}

// GetShardIterator returns an iterator unless a fault is injected. The
// iterator is valid even if one with the same text expired before.
func (k *Kinesis) GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, optFns ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error) {
	if err := k.before(ctx, "kinesis.GetShardIterator", provisioned, ErrThrottled, ErrTimeout); err != nil {
		return nil, err
	}
	out, err := k.c.GetShardIterator(ctx, in, optFns...)
	if err == nil && out.ShardIterator != nil {
		k.mu.Lock()
		delete(k.expired, *out.ShardIterator)
		k.mu.Unlock()
	}
	return out, err
}

// GetRecords reads records unless a fault is injected or the iterator was
// reported expired before.
func (k *Kinesis) GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error) {
	it := aws.ToString(in.ShardIterator)
	k.mu.Lock()
	dead := k.expired[it]
	if dead {
		k.counts["GetRecords expired iterator reused"]++
	}
	k.mu.Unlock()
	if dead {
		return nil, &smithy.OperationError{ServiceID: "Kinesis", OperationName: "GetRecords", Err: &injected{
			&types.ExpiredIteratorException{Message: aws.String("Iterator expired (injected earlier)")}, ErrIteratorExpired}}
	}
	err := k.before(ctx, "kinesis.GetRecords", provisioned, ErrThrottled, ErrTimeout, ErrIteratorExpired)
	if errors.Is(err, ErrIteratorExpired) {
		k.mu.Lock()
		k.expired[it] = true
		k.mu.Unlock()
	}
	if err != nil {
		return nil, err
	}
	return k.c.GetRecords(ctx, in, optFns...)
}

// PutRecords writes records unless a fault is injected; a partial fault
// writes only some of them and reports the others as refused.
func (k *Kinesis) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	if err := k.before(ctx, "kinesis.PutRecords", provisioned, ErrThrottled, ErrTimeout); err != nil {
		return nil, err
	}
	refused := k.refuse(len(in.Records))
	if refused == nil {
		out, err := k.c.PutRecords(ctx, in, optFns...)
		if err == nil && k.applied() {
			return nil, timeoutError("PutRecords")
		}
		return out, err
	}
	send := *in
	send.Records = make([]types.PutRecordsRequestEntry, 0, len(in.Records))
	for i, e := range in.Records {
		if refused[i] == "" {
			send.Records = append(send.Records, e)
		}
	}
	k.count("PutRecords refused entries", len(in.Records)-len(send.Records))
	sent := &kinesis.PutRecordsOutput{}
	if len(send.Records) > 0 {
		var err error
		if sent, err = k.c.PutRecords(ctx, &send, optFns...); err != nil {
			return nil, err
		}
		if k.applied() {
			return nil, timeoutError("PutRecords")
		}
	}
	out := *sent
	out.Records = make([]types.PutRecordsResultEntry, 0, len(in.Records))
	failed := aws.ToInt32(sent.FailedRecordCount)
	j := 0
	for i := range in.Records {
		if refused[i] != "" {
			out.Records = append(out.Records, types.PutRecordsResultEntry{
				ErrorCode:    aws.String(refused[i]),
				ErrorMessage: aws.String("refused (injected)"),
			})
			failed++
			continue
		}
		if j >= len(sent.Records) {
			// The wrapped client answered for fewer entries than it was
			// sent; a short answer is passed on as one, leaving the rest
			// unknown to the caller as they are to us.
			break
		}
		out.Records = append(out.Records, sent.Records[j])
		j++
	}
	out.FailedRecordCount = aws.Int32(failed)
	return &out, nil
}

// refuse decides a partial failure of a batch of n entries: nil for none,
// or each entry's error code ("" for an entry to send).
func (k *Kinesis) refuse(n int) []string {
	if n == 0 {
		return nil
	}
	fail, seed, _ := k.sched.draw("kinesis.PutRecords partial", 1<<31)
	if !fail {
		return nil
	}
	// One draw from the schedule seeds the choice of entries, so a batch
	// costs the schedule the same whatever its size.
	rng := rand.New(rand.NewPCG(uint64(seed), uint64(n)))
	codes := make([]string, n)
	code := func() string {
		if rng.IntN(4) == 0 {
			return "InternalFailure"
		}
		return "ProvisionedThroughputExceededException"
	}
	codes[rng.IntN(n)] = code()
	for i := range codes {
		if codes[i] == "" && rng.IntN(2) == 0 {
			codes[i] = code()
		}
	}
	return codes
}

// applied decides whether a PutRecords that stored its records reports a
// timeout instead.
func (k *Kinesis) applied() bool {
	fail, _, _ := k.sched.draw("kinesis.PutRecords applied", 1)
	if fail {
		k.count("PutRecords applied timeout", 1)
	}
	return fail
}

// CreateStream creates a stream unless a fault is injected.
func (k *Kinesis) CreateStream(ctx context.Context, in *kinesis.CreateStreamInput, optFns ...func(*kinesis.Options)) (*kinesis.CreateStreamOutput, error) {
	if err := k.before(ctx, "kinesis.CreateStream", limitExceeded, ErrThrottled, ErrTimeout); err != nil {
		return nil, err
	}
	return k.c.CreateStream(ctx, in, optFns...)
}

// DeleteStream deletes a stream unless a fault is injected.
func (k *Kinesis) DeleteStream(ctx context.Context, in *kinesis.DeleteStreamInput, optFns ...func(*kinesis.Options)) (*kinesis.DeleteStreamOutput, error) {
	if err := k.before(ctx, "kinesis.DeleteStream", limitExceeded, ErrThrottled, ErrTimeout); err != nil {
		return nil, err
	}
	return k.c.DeleteStream(ctx, in, optFns...)
}

// DescribeStreamSummary describes a stream unless a fault is injected.
func (k *Kinesis) DescribeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput, optFns ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error) {
	if err := k.before(ctx, "kinesis.DescribeStreamSummary", limitExceeded, ErrThrottled, ErrTimeout); err != nil {
		return nil, err
	}
	return k.c.DescribeStreamSummary(ctx, in, optFns...)
}
