package dynamosink_test

import (
	"context"
	"errors"
	"log"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	awsddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/streamtop/streamtop/sink"
	"github.com/streamtop/streamtop/sink/dynamosink"
	"github.com/streamtop/streamtop/topk"
)

// The SDK's client is what New and CreateTable take.
var (
	_ dynamosink.Client      = (*awsddb.Client)(nil)
	_ dynamosink.TableClient = (*awsddb.Client)(nil)
)

// The visualizer's counts table. The endpoint override points the client at
// a local DynamoDB (dynalite, DynamoDB Local); leave it out to use AWS.
func Example() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion("us-east-1"))
	if err != nil {
		log.Fatal(err)
	}
	client := awsddb.NewFromConfig(cfg, func(o *awsddb.Options) {
		o.BaseEndpoint = aws.String("http://127.0.0.1:4567")
	})
	err = dynamosink.CreateTable(ctx, client, "visualizer-counts")
	if errors.Is(err, dynamosink.ErrNoTTL) {
		// A local emulator: old snapshots stay, but are not read.
		log.Print(err)
	} else if err != nil {
		log.Fatal(err)
	}
	counts, err := dynamosink.New(client, "visualizer-counts", dynamosink.WithTTL(6*time.Hour))
	if err != nil {
		log.Fatal(err)
	}

	now := time.Now()
	err = counts.Write(ctx, []sink.Snapshot{{
		Group: "/index.html", Time: now, Window: 10 * time.Second, Host: "worker-1",
		Counts: []topk.Entry[string]{{Key: "http://www.amazon.com", Count: 30}},
	}})
	if err != nil {
		log.Fatal(err)
	}
	lastMinutes, err := counts.Query(ctx, "/index.html", now.Add(-2*time.Minute))
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("%d snapshots", len(lastMinutes))
}
