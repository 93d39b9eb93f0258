package ddb

import (
	"context"

	"github.com/streamtop/streamtop/internal/callhook"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// OneAttempt turns the SDK's own retries off for a call: the adapters retry
// it under their policy (internal/backoff, with awserr.Transient), so the
// calls of one operation are bounded by that policy's attempts alone, not
// by them times the SDK's three.
func OneAttempt(o *dynamodb.Options) { o.RetryMaxAttempts = 1 }

// Once wraps a client so that every call it makes is one attempt
// (OneAttempt), reported to Obs (nil: to no one). It is the one place every
// DynamoDB call of the adapters passes, so each attempt of each retry loop
// is observed once. The adapters' own Client interfaces hold some of
// Client's methods; a call to one the wrapped client lacks panics, which
// the adapters never make (they check the client's methods in New).
type Once struct {
	C   any
	Obs *callhook.Observer
}

func (o Once) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	t := o.Obs.Start()
	out, err := o.C.(interface {
		GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	}).GetItem(ctx, in, append(opts, OneAttempt)...)
	o.Obs.Done(ctx, "GetItem", t, err)
	return out, err
}

func (o Once) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	t := o.Obs.Start()
	out, err := o.C.(interface {
		UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	}).UpdateItem(ctx, in, append(opts, OneAttempt)...)
	o.Obs.Done(ctx, "UpdateItem", t, err)
	return out, err
}

func (o Once) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	t := o.Obs.Start()
	out, err := o.C.(interface {
		DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	}).DeleteItem(ctx, in, append(opts, OneAttempt)...)
	o.Obs.Done(ctx, "DeleteItem", t, err)
	return out, err
}

func (o Once) Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	t := o.Obs.Start()
	out, err := o.C.(interface {
		Scan(context.Context, *dynamodb.ScanInput, ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	}).Scan(ctx, in, append(opts, OneAttempt)...)
	o.Obs.Done(ctx, "Scan", t, err)
	return out, err
}

func (o Once) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	t := o.Obs.Start()
	out, err := o.C.(interface {
		Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	}).Query(ctx, in, append(opts, OneAttempt)...)
	o.Obs.Done(ctx, "Query", t, err)
	return out, err
}

func (o Once) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	t := o.Obs.Start()
	out, err := o.C.(interface {
		BatchWriteItem(context.Context, *dynamodb.BatchWriteItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	}).BatchWriteItem(ctx, in, append(opts, OneAttempt)...)
	o.Obs.Done(ctx, "BatchWriteItem", t, err)
	return out, err
}
