package dynamostore_test

import (
	"context"
	"log"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	awsddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/checkpoint/dynamostore"
)

// The SDK's client is what New and CreateTable take.
var (
	_ dynamostore.Client      = (*awsddb.Client)(nil)
	_ dynamostore.TableClient = (*awsddb.Client)(nil)
)

// The lease table of a Consumer. The endpoint override points the client at a
// local DynamoDB (dynalite, DynamoDB Local); leave it out to use AWS.
func Example() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion("us-east-1"))
	if err != nil {
		log.Fatal(err)
	}
	client := awsddb.NewFromConfig(cfg, func(o *awsddb.Options) {
		o.BaseEndpoint = aws.String("http://127.0.0.1:4567")
	})
	if err := dynamostore.CreateTable(ctx, client, "visualizer-leases"); err != nil {
		log.Fatal(err)
	}
	var leases checkpoint.Store
	leases, err = dynamostore.New(client, "visualizer-leases")
	if err != nil {
		log.Fatal(err)
	}
	// Hand leases to source.Config{Leases: leases, ...}.
	_ = leases
}
