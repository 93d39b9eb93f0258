package dynamostore_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	awsddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/checkpoint/dynamostore"
	"github.com/streamtop/streamtop/internal/awstest"
)

// flaky passes calls to dynalite after failing the first `fail` of them
// with err, as a throttled table would.
type flaky struct {
	*awsddb.Client
	fail  atomic.Int64
	err   error
	calls atomic.Int64
}

func (f *flaky) trip() error {
	f.calls.Add(1)
	if f.fail.Add(-1) >= 0 {
		return f.err
	}
	return nil
}

func (f *flaky) GetItem(ctx context.Context, in *awsddb.GetItemInput, opts ...func(*awsddb.Options)) (*awsddb.GetItemOutput, error) {
	if err := f.trip(); err != nil {
		return nil, err
	}
	return f.Client.GetItem(ctx, in, opts...)
}

func (f *flaky) UpdateItem(ctx context.Context, in *awsddb.UpdateItemInput, opts ...func(*awsddb.Options)) (*awsddb.UpdateItemOutput, error) {
	if err := f.trip(); err != nil {
		return nil, err
	}
	return f.Client.UpdateItem(ctx, in, opts...)
}

func (f *flaky) DeleteItem(ctx context.Context, in *awsddb.DeleteItemInput, opts ...func(*awsddb.Options)) (*awsddb.DeleteItemOutput, error) {
	if err := f.trip(); err != nil {
		return nil, err
	}
	return f.Client.DeleteItem(ctx, in, opts...)
}

func (f *flaky) Scan(ctx context.Context, in *awsddb.ScanInput, opts ...func(*awsddb.Options)) (*awsddb.ScanOutput, error) {
	if err := f.trip(); err != nil {
		return nil, err
	}
	return f.Client.Scan(ctx, in, opts...)
}

// throttles are the errors with which DynamoDB throttles, as the SDK
// returns them.
var throttles = []struct {
	name string
	err  error
}{
	{"ProvisionedThroughputExceeded", &types.ProvisionedThroughputExceededException{Message: ptr("slow down")}},
	{"RequestLimitExceeded", &types.RequestLimitExceeded{Message: ptr("account limit")}},
	{"ThrottlingException", &types.ThrottlingException{Message: ptr("throttled")}},
	{"GenericThrottlingException", &smithy.GenericAPIError{Code: "ThrottlingException", Message: "rate exceeded"}},
}

func ptr(s string) *string { return &s }

// leaseOps calls every Store method on a lease owned by w1 with a hand-off
// to w2 requested.
var leaseOps = []struct {
	name string
	do   func(ctx context.Context, s *dynamostore.Store, l checkpoint.Lease) error
}{
	{"List", func(ctx context.Context, s *dynamostore.Store, l checkpoint.Lease) error {
		_, err := s.List(ctx)
		return err
	}},
	{"Get", func(ctx context.Context, s *dynamostore.Store, l checkpoint.Lease) error {
		_, err := s.Get(ctx, l.Key)
		return err
	}},
	{"Create", func(ctx context.Context, s *dynamostore.Store, l checkpoint.Lease) error {
		_, err := s.Create(ctx, checkpoint.Lease{Key: l.Key + "-new"})
		return err
	}},
	{"Take", func(ctx context.Context, s *dynamostore.Store, l checkpoint.Lease) error {
		_, err := s.Take(ctx, l, "w3")
		return err
	}},
	{"Renew", func(ctx context.Context, s *dynamostore.Store, l checkpoint.Lease) error {
		_, err := s.Renew(ctx, l)
		return err
	}},
	{"Checkpoint", func(ctx context.Context, s *dynamostore.Store, l checkpoint.Lease) error {
		l.Checkpoint = "5"
		_, err := s.Checkpoint(ctx, l)
		return err
	}},
	{"RequestHandoff", func(ctx context.Context, s *dynamostore.Store, l checkpoint.Lease) error {
		_, err := s.RequestHandoff(ctx, l, "w3")
		return err
	}},
	{"Handoff", func(ctx context.Context, s *dynamostore.Store, l checkpoint.Lease) error {
		_, err := s.Handoff(ctx, l)
		return err
	}},
	{"Release", func(ctx context.Context, s *dynamostore.Store, l checkpoint.Lease) error {
		_, err := s.Release(ctx, l)
		return err
	}},
	{"Delete", func(ctx context.Context, s *dynamostore.Store, l checkpoint.Lease) error { return s.Delete(ctx, l) }},
}

// setupFlaky returns a Store through a flaky client and a lease in it.
func setupFlaky(t *testing.T, err error, opts ...dynamostore.Option) (*flaky, *dynamostore.Store, checkpoint.Lease) {
	t.Helper()
	ctx := t.Context()
	client, name := table(t)
	f := &flaky{Client: client, err: err}
	s, e := dynamostore.New(f, name, opts...)
	if e != nil {
		t.Fatal(e)
	}
	key := awstest.UniqueName(t, "shard")
	if _, e := s.Create(ctx, checkpoint.Lease{Key: key, Checkpoint: checkpoint.TrimHorizon}); e != nil {
		t.Fatal(e)
	}
	l, e := s.Get(ctx, key)
	if e == nil {
		l, e = s.Take(ctx, l, "w1")
	}
	if e == nil {
		l, e = s.RequestHandoff(ctx, l, "w2")
	}
	if e != nil {
		t.Fatal(e)
	}
	f.calls.Store(0)
	return f, s, l
}

func TestThrottledCallsAreRetried(t *testing.T) {
	for _, th := range throttles {
		for _, op := range leaseOps {
			t.Run(th.name+"/"+op.name, func(t *testing.T) {
				f, s, l := setupFlaky(t, th.err, dynamostore.WithMaxAttempts(4), dynamostore.WithBackoff(time.Microsecond, time.Millisecond))
				// A List is a Scan, one call a page, and the shared table
				// has more pages with every run (-count): count them once.
				through := int64(1)
				if op.name == "List" {
					if err := op.do(t.Context(), s, l); err != nil {
						t.Fatal(err)
					}
					through = f.calls.Swap(0)
				}
				f.fail.Store(3)
				if err := op.do(t.Context(), s, l); err != nil {
					t.Fatalf("%s after 3 throttles with 4 attempts: %v", op.name, err)
				}
				if got := f.calls.Load(); got != 3+through {
					t.Errorf("%s made %d calls; want %d (3 throttled, %d through)", op.name, got, 3+through, through)
				}
			})
		}
	}
}

func TestThrottlingGivesUpWithTypedError(t *testing.T) {
	for _, op := range leaseOps {
		t.Run(op.name, func(t *testing.T) {
			f, s, l := setupFlaky(t, throttles[0].err, dynamostore.WithMaxAttempts(3), dynamostore.WithBackoff(time.Microsecond, time.Millisecond))
			f.fail.Store(1 << 30)
			err := op.do(t.Context(), s, l)
			var throttled *dynamostore.ThrottledError
			if !errors.As(err, &throttled) {
				t.Fatalf("err = %v; want a *ThrottledError", err)
			}
			if throttled.Attempts != 3 || f.calls.Load() != 3 {
				t.Errorf("gave up after %d attempts and %d calls; want 3 and 3", throttled.Attempts, f.calls.Load())
			}
			var sdkErr *types.ProvisionedThroughputExceededException
			if !errors.As(err, &sdkErr) {
				t.Errorf("err = %v; want the SDK's ProvisionedThroughputExceededException under it", err)
			}
			if errors.Is(err, checkpoint.ErrLeaseLost) {
				t.Errorf("throttling reported as ErrLeaseLost: the worker would drop a lease it still holds")
			}
			f.fail.Store(0)
			if got, err := s.Get(t.Context(), l.Key); err != nil || got.Counter != l.Counter || got.Owner != l.Owner {
				t.Errorf("lease after the failed %s = %+v, %v; want it unchanged", op.name, got, err)
			}
		})
	}
}

func TestOtherErrorsAreNotRetried(t *testing.T) {
	f, s, l := setupFlaky(t, &smithy.GenericAPIError{Code: "ValidationException", Message: "bad"}, dynamostore.WithMaxAttempts(5), dynamostore.WithBackoff(time.Microsecond, time.Millisecond))
	f.fail.Store(1)
	_, err := s.Renew(t.Context(), l)
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "ValidationException" {
		t.Fatalf("err = %v; want the ValidationException", err)
	}
	var throttled *dynamostore.ThrottledError
	if errors.As(err, &throttled) || errors.Is(err, checkpoint.ErrLeaseLost) {
		t.Errorf("err = %v; want neither throttling nor a lost lease", err)
	}
	if got := f.calls.Load(); got != 1 {
		t.Errorf("%d calls; want 1", got)
	}
}

func TestBackoffHonoursContext(t *testing.T) {
	f, s, l := setupFlaky(t, throttles[0].err, dynamostore.WithMaxAttempts(10), dynamostore.WithBackoff(time.Hour, time.Hour))
	f.fail.Store(1 << 30)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := s.Renew(ctx, l)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v; want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Renew returned after %v; want soon after the 50 ms deadline", d)
	}
}
