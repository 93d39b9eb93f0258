package kinesisstream

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/streamtop/streamtop/hook"
	"github.com/streamtop/streamtop/internal/callhook"
)

// WithHooks adds hooks that a Stream or a Producer reports to: each
// Kinesis call it makes (GetRecords, PutRecords, ListShards, …), retries
// included, goes to the hook.Calls among them as a hook.Call of Adapter
// "kinesisstream", so their latency and their throttling can be measured.
// Hooks implementing no hook interface are ignored; with no hook.Calls the
// client is used as given and no clock is read for them.
func WithHooks(hs ...hook.Hook) Option {
	return retryOption(func(c *retryConfig) error {
		c.hooks = append(c.hooks, hs...)
		return nil
	})
}

// observed wraps a client so that each call it makes is reported to obs:
// the one place every Kinesis call of a Stream or a Producer passes, so an
// attempt is observed once whichever loop retries it. A call of a method
// the wrapped client lacks panics; the constructors wrap a client only
// after checking the methods their options need.
type observed struct {
	c   any
	obs *callhook.Observer
}

// observe returns client wrapped for c's hooks, or client itself when no
// hook wants calls.
func observe[C any](client C, c retryConfig) C {
	obs := callhook.New("kinesisstream", c.hooks)
	if obs == nil {
		return client
	}
	var w any = observed{c: client, obs: obs}
	return w.(C)
}

func observedCall[In, Out any](o observed, ctx context.Context, api string, in In, opts []func(*kinesis.Options),
	call func(context.Context, In, ...func(*kinesis.Options)) (Out, error)) (Out, error) {
	t := o.obs.Start()
	out, err := call(ctx, in, opts...)
	o.obs.Done(ctx, api, t, err)
	return out, err
}

func (o observed) ListShards(ctx context.Context, in *kinesis.ListShardsInput, opts ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	return observedCall(o, ctx, "ListShards", in, opts, o.c.(shardLister).ListShards)
}

func (o observed) GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, opts ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error) {
	return observedCall(o, ctx, "GetShardIterator", in, opts, o.c.(ReadClient).GetShardIterator)
}

func (o observed) GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, opts ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error) {
	return observedCall(o, ctx, "GetRecords", in, opts, o.c.(ReadClient).GetRecords)
}

func (o observed) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, opts ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	return observedCall(o, ctx, "PutRecords", in, opts, o.c.(PutClient).PutRecords)
}

func (o observed) DescribeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput, opts ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error) {
	return observedCall(o, ctx, "DescribeStreamSummary", in, opts, o.c.(FanOutClient).DescribeStreamSummary)
}

func (o observed) RegisterStreamConsumer(ctx context.Context, in *kinesis.RegisterStreamConsumerInput, opts ...func(*kinesis.Options)) (*kinesis.RegisterStreamConsumerOutput, error) {
	return observedCall(o, ctx, "RegisterStreamConsumer", in, opts, o.c.(FanOutClient).RegisterStreamConsumer)
}

func (o observed) DescribeStreamConsumer(ctx context.Context, in *kinesis.DescribeStreamConsumerInput, opts ...func(*kinesis.Options)) (*kinesis.DescribeStreamConsumerOutput, error) {
	return observedCall(o, ctx, "DescribeStreamConsumer", in, opts, o.c.(FanOutClient).DescribeStreamConsumer)
}

func (o observed) DeregisterStreamConsumer(ctx context.Context, in *kinesis.DeregisterStreamConsumerInput, opts ...func(*kinesis.Options)) (*kinesis.DeregisterStreamConsumerOutput, error) {
	return observedCall(o, ctx, "DeregisterStreamConsumer", in, opts, o.c.(FanOutClient).DeregisterStreamConsumer)
}

func (o observed) SubscribeToShard(ctx context.Context, in *kinesis.SubscribeToShardInput, opts ...func(*kinesis.Options)) (*kinesis.SubscribeToShardOutput, error) {
	return observedCall(o, ctx, "SubscribeToShard", in, opts, o.c.(FanOutClient).SubscribeToShard)
}
