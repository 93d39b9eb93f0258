package ddb

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// OneAttempt turns the SDK's own retries off for a call: the adapters retry
// it under their policy (internal/backoff, with awserr.Transient), so the
// calls of one operation are bounded by that policy's attempts alone, not
// by them times the SDK's three.
func OneAttempt(o *dynamodb.Options) { o.RetryMaxAttempts = 1 }

// Once wraps a client so that every call it makes is one attempt
// (OneAttempt). The adapters' own Client interfaces hold some of Client's
// methods; a call to one the wrapped client lacks panics, which the
// adapters never make (they check the client's methods in New).
type Once struct{ C any }

func (o Once) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return o.C.(interface {
		GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	}).GetItem(ctx, in, append(opts, OneAttempt)...)
}

func (o Once) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return o.C.(interface {
		UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	}).UpdateItem(ctx, in, append(opts, OneAttempt)...)
}

func (o Once) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	return o.C.(interface {
		DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	}).DeleteItem(ctx, in, append(opts, OneAttempt)...)
}

func (o Once) Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	return o.C.(interface {
		Scan(context.Context, *dynamodb.ScanInput, ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	}).Scan(ctx, in, append(opts, OneAttempt)...)
}

func (o Once) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	return o.C.(interface {
		Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	}).Query(ctx, in, append(opts, OneAttempt)...)
}

func (o Once) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	return o.C.(interface {
		BatchWriteItem(context.Context, *dynamodb.BatchWriteItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	}).BatchWriteItem(ctx, in, append(opts, OneAttempt)...)
}
