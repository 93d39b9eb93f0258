package kinesisstream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/streamtop/streamtop/internal/backoff"
)

// AdminClient is the part of *kinesis.Client that CreateStream, WaitActive
// and DeleteStream call: CreateStream, DeleteStream and
// DescribeStreamSummary. A *kinesis.Client has it; so can a wrapper or a
// fake. The helpers call it from the caller's goroutine only.
type AdminClient interface {
	CreateStream(ctx context.Context, in *kinesis.CreateStreamInput, optFns ...func(*kinesis.Options)) (*kinesis.CreateStreamOutput, error)
	DeleteStream(ctx context.Context, in *kinesis.DeleteStreamInput, optFns ...func(*kinesis.Options)) (*kinesis.DeleteStreamOutput, error)
	DescribeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput, optFns ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error)
}

// statusPoll is how often the helpers ask for a stream's status. Kinesis
// takes from half a second (the emulator) to tens of seconds (the service)
// to finish a change, and allows 20 DescribeStreamSummary calls a second.
const statusPoll = 100 * time.Millisecond

// CreateStream creates a provisioned stream with the given number of shards
// unless one of that name exists, then waits until it is ACTIVE. An existing
// stream is left as it is, whatever its shard count.
func CreateStream(ctx context.Context, client AdminClient, name string, shards int) error {
	if client == nil || name == "" || shards < 1 {
		return fmt.Errorf("%w: CreateStream needs a client, a name and >= 1 shard (got %d)", ErrInvalidOption, shards)
	}
	_, err := client.CreateStream(ctx, &kinesis.CreateStreamInput{
		StreamName: aws.String(name),
		ShardCount: aws.Int32(int32(shards)),
	})
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("kinesisstream: CreateStream %s: %w", name, err)
	}
	return WaitActive(ctx, client, name)
}

// WaitActive waits until the stream is ACTIVE: after CreateStream, and after
// SplitShard, MergeShards or UpdateShardCount, which leave it UPDATING for a
// while. It fails if the stream does not exist or is being deleted.
func WaitActive(ctx context.Context, client AdminClient, name string) error {
	for {
		out, err := client.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		switch {
		case err != nil && !retryable(ctx, err):
			return fmt.Errorf("kinesisstream: waiting for stream %s: %w", name, err)
		case err == nil && out.StreamDescriptionSummary != nil:
			switch st := out.StreamDescriptionSummary.StreamStatus; st {
			case types.StreamStatusActive:
				return nil
			case types.StreamStatusDeleting:
				return fmt.Errorf("kinesisstream: waiting for stream %s: it is %s", name, st)
			}
		}
		if err := backoff.Sleep(ctx, statusPoll); err != nil {
			return fmt.Errorf("kinesisstream: waiting for stream %s: %w", name, err)
		}
	}
}

// DeleteStream deletes the stream and waits until it is gone, so its name
// can be used again at once. A stream that does not exist is not an error.
func DeleteStream(ctx context.Context, client AdminClient, name string) error {
	if client == nil || name == "" {
		return fmt.Errorf("%w: DeleteStream needs a client and a name", ErrInvalidOption)
	}
	_, err := client.DeleteStream(ctx, &kinesis.DeleteStreamInput{
		StreamName:              aws.String(name),
		EnforceConsumerDeletion: aws.Bool(true),
	})
	var notFound *types.ResourceNotFoundException
	switch {
	case errors.As(err, &notFound):
		return nil
	case err != nil:
		return fmt.Errorf("kinesisstream: DeleteStream %s: %w", name, err)
	}
	for {
		_, err := client.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		switch {
		case errors.As(err, &notFound):
			return nil
		case err != nil && !retryable(ctx, err):
			return fmt.Errorf("kinesisstream: waiting for stream %s to go: %w", name, err)
		}
		if err := backoff.Sleep(ctx, statusPoll); err != nil {
			return fmt.Errorf("kinesisstream: waiting for stream %s to go: %w", name, err)
		}
	}
}
