package kinesisstream_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	sdk "github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/kinesisstream"
)

// The SDK's client is what every function takes, through the small
// interfaces of the methods each one calls.
var (
	_ kinesisstream.ReadClient  = (*sdk.Client)(nil)
	_ kinesisstream.PutClient   = (*sdk.Client)(nil)
	_ kinesisstream.AdminClient = (*sdk.Client)(nil)
)

// newClient builds the SDK client the way an application does. With
// KINESIS_ENDPOINT set (say http://127.0.0.1:4567, a local kinesalite) it
// talks to that endpoint instead of AWS; kinesalite accepts any static
// credentials, e.g. AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x.
func newClient(ctx context.Context) *sdk.Client {
	opts := []func(*config.LoadOptions) error{config.WithRegion("us-east-1")}
	if ep := os.Getenv("KINESIS_ENDPOINT"); ep != "" {
		opts = append(opts, config.WithBaseEndpoint(ep))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		log.Fatal(err)
	}
	return sdk.NewFromConfig(cfg)
}

// Reading one shard from its oldest record, as the Consumer does for each
// shard it holds: Read, and Wait when nothing came.
func Example() {
	ctx := context.Background()
	client := newClient(ctx)
	if err := kinesisstream.CreateStream(ctx, client, "visits", 2); err != nil {
		log.Fatal(err)
	}
	stream, err := kinesisstream.New(client, "visits")
	if err != nil {
		log.Fatal(err)
	}
	shards, err := stream.Shards(ctx)
	if err != nil {
		log.Fatal(err)
	}
	r, err := stream.Open(ctx, shards[0].ID, source.Position{Type: source.TrimHorizon})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	for {
		res, err := r.Read(ctx, 1000)
		if err != nil {
			log.Fatal(err)
		}
		for _, rec := range res.Records {
			fmt.Printf("%s %s\n", rec.PartitionKey, rec.Data)
		}
		if res.End {
			return // closed by a reshard: read its children next
		}
		if len(res.Records) == 0 {
			if err := r.(source.Waiter).Wait(ctx); err != nil {
				log.Fatal(err)
			}
		}
	}
}

// Writing through a Producer: Put returns at once, records go out in
// batches, and Close sends what is left.
func ExampleProducer() {
	ctx := context.Background()
	client := newClient(ctx)
	p, err := kinesisstream.NewProducer(client, "visits", kinesisstream.WithKeyOrder())
	if err != nil {
		log.Fatal(err)
	}
	for i := range 1000 {
		visit := fmt.Sprintf(`{"resource":"/page/%d","referrer":"https://example.com"}`, i%10)
		if err := p.Put(ctx, fmt.Sprint("/page/", i%10), []byte(visit)); err != nil {
			log.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		log.Fatal(err) // a *kinesisstream.LostError: some records were not sent
	}
	s := p.Stats()
	fmt.Printf("sent %d, retried %d, failed %d\n", s.Sent, s.Retried, s.Failed)
}

// A Producer that packs small records into aggregated records, by shard,
// and reports each record it loses at once. Readers de-aggregate them (a
// Stream does by default).
func ExampleWithAggregation() {
	ctx := context.Background()
	client := newClient(ctx)
	p, err := kinesisstream.NewProducer(client, "visits",
		kinesisstream.WithAggregation(kinesisstream.DefaultAggregateSize),
		kinesisstream.WithFailureHandler(func(key string, data []byte, err error) {
			log.Printf("lost a record of %s: %v", key, err)
		}))
	if err != nil {
		log.Fatal(err)
	}
	for i := range 100000 {
		if err := p.Put(ctx, fmt.Sprint("visitor-", i%1000), []byte(`{"resource":"/"}`)); err != nil {
			log.Fatal(err)
		}
	}
	var lost *kinesisstream.LostError
	if err := p.Close(ctx); errors.As(err, &lost) {
		log.Fatalf("%d records lost, the last because %v", lost.Records, lost.Last)
	}
	s := p.Stats()
	fmt.Printf("%d records in %d requests\n", s.Sent, s.Requests)
}

// Resharding is asynchronous: wait for ACTIVE before listing the children.
func ExampleWaitActive() {
	ctx := context.Background()
	client := newClient(ctx)
	_, err := client.SplitShard(ctx, &sdk.SplitShardInput{
		StreamName:         aws.String("visits"),
		ShardToSplit:       aws.String("shardId-000000000000"),
		NewStartingHashKey: aws.String("85070591730234615865843651857942052864"),
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := kinesisstream.WaitActive(ctx, client, "visits"); err != nil {
		log.Fatal(err)
	}
}
