package integration

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/checkpoint/dynamostore"
	"github.com/streamtop/streamtop/internal/awstest"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/kinesisstream"
)

// A Consumer pointed at a stream or a lease table that does not exist, on
// kinesalite and dynalite through the SDK, as a user with a typo meets it:
// Run returns an error that errors.Is finds and that names the resource,
// GiveUpAfter after the first failure.
func TestConsumerGivesUpOnMissingResources(t *testing.T) {
	const giveUp = 2 * time.Second
	kin, ddb := awstest.Kinesis(t), awstest.DynamoDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	existingStream := awstest.UniqueName(t, "stream")
	if err := kinesisstream.CreateStream(ctx, kin, existingStream, 1); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kinesisstream.DeleteStream(context.Background(), kin, existingStream) })
	existingTable := awstest.UniqueName(t, "leases")
	if err := dynamostore.CreateTable(ctx, ddb, existingTable); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name          string
		stream, table string
		want          error
		names         string
	}{
		{"missing stream", awstest.UniqueName(t, "nostream"), existingTable, source.ErrStreamNotFound, "stream "},
		{"missing table", existingStream, awstest.UniqueName(t, "notable"), checkpoint.ErrTableNotFound, "table "},
	} {
		t.Run(c.name, func(t *testing.T) {
			stream, err := kinesisstream.New(kin, c.stream)
			if err != nil {
				t.Fatal(err)
			}
			leases, err := dynamostore.New(ddb, c.table)
			if err != nil {
				t.Fatal(err)
			}
			consumer, err := source.NewConsumer(source.Config{Stream: stream, Leases: leases, WorkerID: "w",
				NewProcessor: func(string) source.Processor { return source.HandlerFunc(nil) }, GiveUpAfter: giveUp})
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			err = consumer.Run(ctx)
			took := time.Since(start)
			t.Logf("Run returned after %v: %v", took, err)
			if !errors.Is(err, c.want) {
				t.Errorf("Run = %v; want %v", err, c.want)
			}
			missing := c.table
			if c.want == source.ErrStreamNotFound {
				missing = c.stream
			}
			if err != nil && !strings.Contains(err.Error(), c.names+missing) {
				t.Errorf("Run's error does not name %s%s", c.names, missing)
			}
			// The bound, plus a sync period and the calls of a sync.
			if took < giveUp || took > giveUp+3*time.Second {
				t.Errorf("Run returned after %v; want just after GiveUpAfter (%v)", took, giveUp)
			}
			if ctx.Err() != nil {
				t.Fatal("Run returned only when its context ended")
			}
		})
	}
}

// A stream deleted under a running Consumer: Run returns
// source.ErrStreamNotFound, naming the stream, GiveUpAfter after the reads
// began to fail, and the shards' leases are not deleted as if the shards
// alone were gone.
func TestConsumerGivesUpOnDeletedStream(t *testing.T) {
	const giveUp = 2 * time.Second
	kin, ddb := awstest.Kinesis(t), awstest.DynamoDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name, table := awstest.UniqueName(t, "stream"), awstest.UniqueName(t, "leases")
	if err := kinesisstream.CreateStream(ctx, kin, name, 2); err != nil {
		t.Fatal(err)
	}
	if err := dynamostore.CreateTable(ctx, ddb, table); err != nil {
		t.Fatal(err)
	}
	stream, err := kinesisstream.New(kin, name, kinesisstream.WithPollInterval(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	leases, err := dynamostore.New(ddb, table)
	if err != nil {
		t.Fatal(err)
	}
	consumer, err := source.NewConsumer(source.Config{Stream: stream, Leases: leases, WorkerID: "w",
		NewProcessor: func(string) source.Processor { return source.HandlerFunc(nil) }, GiveUpAfter: giveUp,
		RetryBackoff: 10 * time.Millisecond, MaxRetryBackoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- consumer.Run(ctx) }()
	for consumer.Stats().LeasesHeld != 2 {
		if ctx.Err() != nil {
			t.Fatal("the consumer never held both shards")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := kinesisstream.DeleteStream(ctx, kin, name); err != nil {
		t.Fatal(err)
	}
	deleted := time.Now()
	err = <-done
	took := time.Since(deleted)
	t.Logf("Run returned %v after the deletion: %v", took, err)
	if !errors.Is(err, source.ErrStreamNotFound) || !strings.Contains(err.Error(), "stream "+name) {
		t.Errorf("Run = %v; want source.ErrStreamNotFound naming stream %s", err, name)
	}
	if took > giveUp+3*time.Second {
		t.Errorf("Run returned %v after the deletion; want about GiveUpAfter (%v)", took, giveUp)
	}
	if ctx.Err() != nil {
		t.Fatal("Run returned only when its context ended")
	}
	got, err := leases.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Errorf("%d leases left after the stream was deleted; want the 2 kept", len(got))
	}
}
