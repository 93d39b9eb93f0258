package faults

import (
	"context"
	"errors"
	"maps"
	"math/rand/v2"
	"net/url"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// DynamoDBClient is the union of the DynamoDB calls checkpoint/dynamostore and
// sink/dynamosink make. A *dynamodb.Client has these methods, and so does a
// DynamoDB, so either package's New takes one.
type DynamoDBClient interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}

// DynamoDB wraps a DynamoDBClient so that its calls fail or slow down on a
// schedule, with the errors the service and the SDK return:
//
//   - "dynamodb.<Method>" (every method): the call fails before it reaches
//     the wrapped client, throttled (ProvisionedThroughputExceededException)
//     or timed out (an SDK request-send error around a net/http-like
//     timeout).
//   - "dynamodb.<Method> condition" (UpdateItem and DeleteItem with a
//     ConditionExpression): the call fails with
//     ConditionalCheckFailedException without being applied, as a write
//     that raced another worker's.
//   - "dynamodb.<Method> applied" (UpdateItem, DeleteItem, BatchWriteItem):
//     the write is applied, then the call reports a timeout, as one whose
//     answer was lost; the caller cannot tell it from a timeout before.
//   - "dynamodb.BatchWriteItem partial": some write requests (at least one,
//     each of the others with probability 1/2) are not sent and come back
//     in UnprocessedItems, as from a table under load.
//
// Throttles match ErrThrottled and timeouts ErrTimeout (and so
// context.DeadlineExceeded) under errors.Is, besides the SDK's typed
// exception under errors.As; a failed condition matches only the SDK's
// ConditionalCheckFailedException, as the store must treat it like a real
// one. Rate("*", p) also sets the rates of "condition", "applied" and
// "partial"; give them their own (0 to turn one off).
//
// The zero value is not usable; make one with NewDynamoDB. A DynamoDB is
// safe for concurrent use as the wrapped client is. Cost: one to three
// schedule draws per call, and for a partial BatchWriteItem a copy of the
// request lists.
type DynamoDB struct {
	c     DynamoDBClient
	sched *Schedule

	mu     sync.Mutex
	counts map[string]int64 // by "Method what"
}

// NewDynamoDB wraps c; sched decides the faults.
func NewDynamoDB(c DynamoDBClient, sched *Schedule) *DynamoDB {
	return &DynamoDB{c: c, sched: sched, counts: map[string]int64{}}
}

var _ DynamoDBClient = (*DynamoDB)(nil)

// Injected returns how many faults of each kind the wrapper injected, keyed
// by method and kind ("UpdateItem ConditionalCheckFailedException",
// "BatchWriteItem unprocessed requests", "UpdateItem applied timeout", ...).
func (d *DynamoDB) Injected() map[string]int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return maps.Clone(d.counts)
}

func (d *DynamoDB) count(key string, n int) {
	d.mu.Lock()
	d.counts[key] += int64(n)
	d.mu.Unlock()
}

// before runs the schedule for one call and returns the error to inject, in
// the shape the SDK returns it, or nil. conditional says whether the call
// has a condition a fault may fail.
func (d *DynamoDB) before(ctx context.Context, method string, conditional bool) error {
	err := d.sched.before(ctx, "dynamodb."+method, ErrThrottled, ErrTimeout)
	if err == nil && conditional {
		if fail, _, _ := d.sched.draw("dynamodb."+method+" condition", 1); fail {
			d.count(method+" ConditionalCheckFailedException", 1)
			return &smithy.OperationError{ServiceID: "DynamoDB", OperationName: method,
				Err: &types.ConditionalCheckFailedException{Message: aws.String("The conditional request failed (injected)")}}
		}
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrThrottled):
		d.count(method+" ProvisionedThroughputExceededException", 1)
		api := &types.ProvisionedThroughputExceededException{Message: aws.String("Throughput exceeds the current capacity (injected)")}
		return &smithy.OperationError{ServiceID: "DynamoDB", OperationName: method, Err: &ddbInjected{api, ErrThrottled}}
	case errors.Is(err, ErrTimeout):
		d.count(method+" timeout", 1)
		return ddbTimeout(method)
	default:
		// The context ended while the call was slowed.
		return &smithy.OperationError{ServiceID: "DynamoDB", OperationName: method, Err: &smithy.CanceledError{Err: err}}
	}
}

// appliedTimeout decides whether a write that reached the table reports a
// timeout instead of its answer.
func (d *DynamoDB) appliedTimeout(method string) bool {
	fail, _, _ := d.sched.draw("dynamodb."+method+" applied", 1)
	if fail {
		d.count(method+" applied timeout", 1)
	}
	return fail
}

// ddbInjected is a service error put there by the schedule: errors.As finds
// the SDK's exception in it, errors.Is the faults sentinel.
type ddbInjected struct{ api, cause error }

func (e *ddbInjected) Error() string   { return e.api.Error() }
func (e *ddbInjected) Unwrap() []error { return []error{e.api, e.cause} }

// ddbTimeout is what the SDK returns when its HTTP client gives up: a send
// error around a url.Error whose cause is a net.Error timeout that also
// matches ErrTimeout and context.DeadlineExceeded.
func ddbTimeout(method string) error {
	return &smithy.OperationError{ServiceID: "DynamoDB", OperationName: method, Err: &smithyhttp.RequestSendError{
		Err: &url.Error{Op: "Post", URL: "https://dynamodb", Err: ddbNetTimeout{}},
	}}
}

type ddbNetTimeout struct{}

func (ddbNetTimeout) Error() string   { return "request timed out (injected)" }
func (ddbNetTimeout) Timeout() bool   { return true }
func (ddbNetTimeout) Temporary() bool { return true }
func (ddbNetTimeout) Unwrap() error   { return ErrTimeout }

// GetItem reads an item unless a fault is injected.
func (d *DynamoDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	if err := d.before(ctx, "GetItem", false); err != nil {
		return nil, err
	}
	return d.c.GetItem(ctx, in, optFns...)
}

// UpdateItem writes unless a fault is injected; an applied fault writes and
// reports a timeout.
func (d *DynamoDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if err := d.before(ctx, "UpdateItem", in.ConditionExpression != nil); err != nil {
		return nil, err
	}
	out, err := d.c.UpdateItem(ctx, in, optFns...)
	if err == nil && d.appliedTimeout("UpdateItem") {
		return nil, ddbTimeout("UpdateItem")
	}
	return out, err
}

// DeleteItem deletes unless a fault is injected; an applied fault deletes
// and reports a timeout.
func (d *DynamoDB) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	if err := d.before(ctx, "DeleteItem", in.ConditionExpression != nil); err != nil {
		return nil, err
	}
	out, err := d.c.DeleteItem(ctx, in, optFns...)
	if err == nil && d.appliedTimeout("DeleteItem") {
		return nil, ddbTimeout("DeleteItem")
	}
	return out, err
}

// Scan scans unless a fault is injected.
func (d *DynamoDB) Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	if err := d.before(ctx, "Scan", false); err != nil {
		return nil, err
	}
	return d.c.Scan(ctx, in, optFns...)
}

// Query queries unless a fault is injected.
func (d *DynamoDB) Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	if err := d.before(ctx, "Query", false); err != nil {
		return nil, err
	}
	return d.c.Query(ctx, in, optFns...)
}

// BatchWriteItem writes unless a fault is injected; a partial fault sends
// only some requests and returns the others as unprocessed, an applied one
// writes and reports a timeout.
func (d *DynamoDB) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	if err := d.before(ctx, "BatchWriteItem", false); err != nil {
		return nil, err
	}
	send, held := d.hold(in.RequestItems)
	out := &dynamodb.BatchWriteItemOutput{}
	if len(send) > 0 {
		req := *in
		req.RequestItems = send
		var err error
		if out, err = d.c.BatchWriteItem(ctx, &req, optFns...); err != nil {
			return nil, err
		}
		if d.appliedTimeout("BatchWriteItem") {
			return nil, ddbTimeout("BatchWriteItem")
		}
	}
	if len(held) == 0 {
		return out, nil
	}
	merged := *out
	merged.UnprocessedItems = make(map[string][]types.WriteRequest, len(held))
	for table, rs := range held {
		merged.UnprocessedItems[table] = append(merged.UnprocessedItems[table], rs...)
	}
	for table, rs := range out.UnprocessedItems {
		merged.UnprocessedItems[table] = append(merged.UnprocessedItems[table], rs...)
	}
	return &merged, nil
}

// hold decides a partial BatchWriteItem: the requests to send and those to
// hand back unprocessed (nil for none).
func (d *DynamoDB) hold(items map[string][]types.WriteRequest) (send, held map[string][]types.WriteRequest) {
	n := 0
	for _, rs := range items {
		n += len(rs)
	}
	if n == 0 {
		return items, nil
	}
	fail, seed, _ := d.sched.draw("dynamodb.BatchWriteItem partial", 1<<31)
	if !fail {
		return items, nil
	}
	// One schedule draw seeds the choice of requests, so a batch costs the
	// schedule the same whatever its size. Tables are walked in a fixed
	// order so the seed decides the same requests every time.
	rng := rand.New(rand.NewPCG(uint64(seed), uint64(n)))
	first := rng.IntN(n)
	send, held = map[string][]types.WriteRequest{}, map[string][]types.WriteRequest{}
	i := 0
	for _, table := range slices.Sorted(maps.Keys(items)) {
		for _, r := range items[table] {
			if i == first || rng.IntN(2) == 0 {
				held[table] = append(held[table], r)
			} else {
				send[table] = append(send[table], r)
			}
			i++
		}
	}
	kept := 0
	for _, rs := range held {
		kept += len(rs)
	}
	d.count("BatchWriteItem unprocessed requests", kept)
	return send, held
}
