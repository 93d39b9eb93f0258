package main

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/internal/awstest"
	"github.com/streamtop/streamtop/source"
)

// A consumer whose lease table is deleted under it, on kinesalite and
// dynalite: the library gives up after source.DefaultGiveUpAfter, and run
// returns its error, naming the table, so main exits non-zero instead of
// running on with a WARN a second.
func TestAWSModeConsumerFailsWhenItsTableGoes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the Kinesis and DynamoDB emulators and waits 30 s")
	}
	setAWSEnv(t)
	c := awsConfig(t, roles{consumer: true}, "consumer-1")
	c.leaseTable = awstest.UniqueName(t, "leases")
	c.countsTable = awstest.UniqueName(t, "counts")

	started := make(chan struct{})
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { done <- run(ctx, c, io.Discard, func(*app) { close(started) }) }()
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("run: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("not started within 60 s")
	}
	ddb := awstest.DynamoDBClient(c.dynamodbEndpoint)
	if _, err := ddb.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(c.leaseTable)}); err != nil {
		t.Fatal(err)
	}
	deleted := time.Now()
	select {
	case err := <-done:
		took := time.Since(deleted)
		t.Logf("run returned %v after the table was deleted: %v", took, err)
		if !errors.Is(err, checkpoint.ErrTableNotFound) || !strings.Contains(err.Error(), c.leaseTable) {
			t.Errorf("run = %v; want checkpoint.ErrTableNotFound naming %s", err, c.leaseTable)
		}
		if took < source.DefaultGiveUpAfter {
			t.Errorf("gave up after %v; want at least %v", took, source.DefaultGiveUpAfter)
		}
	case <-time.After(source.DefaultGiveUpAfter + 30*time.Second):
		t.Fatal("run did not return after the lease table was deleted")
	}
}
