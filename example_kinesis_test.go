package streamtop_test

import (
	"context"
	"log"
	"os"
	"os/signal"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/streamtop/streamtop/checkpoint/dynamostore"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/kinesisstream"
)

// A durable consumer of a Kinesis stream. Every process started with the
// same lease table takes a share of the stream's shards; one that stops hands
// its shards over, and one that dies has them taken over within the failover
// time. Each resumes after the last batch checkpointed, so no record is lost.
// The lease table is made once, with dynamostore.CreateTable.
func Example_kinesis() {
	handle := source.HandlerFunc(func(ctx context.Context, records []source.Record) error {
		for _, r := range records {
			log.Printf("%s: %s", r.PartitionKey, r.Data)
		}
		return nil // the Consumer checkpoints the batch
	})

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	stream, err := kinesisstream.New(kinesis.NewFromConfig(cfg), "visits")
	if err != nil {
		log.Fatal(err)
	}
	leases, err := dynamostore.New(dynamodb.NewFromConfig(cfg), "visits-leases")
	if err != nil {
		log.Fatal(err)
	}
	host, _ := os.Hostname()
	c, err := source.NewConsumer(source.Config{Stream: stream, Leases: leases, WorkerID: host,
		NewProcessor: func(string) source.Processor { return handle }})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Run(ctx); err != nil { // returns after a graceful hand-over once ctx ends
		log.Fatal(err)
	}
}
