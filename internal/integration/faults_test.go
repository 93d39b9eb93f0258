package integration

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/streamtop/streamtop/checkpoint/dynamostore"
	"github.com/streamtop/streamtop/internal/awstest"
	"github.com/streamtop/streamtop/internal/faults"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/kinesisstream"
)

// TestConsumersUnderLeaseTableFaults runs two Consumers on a 4-shard
// kinesalite stream whose lease table answers through a client that
// throttles, times out (before and after applying writes), fails conditions
// and stalls, on a seeded schedule. Leases may change hands more often than
// they should, and each lease lost to a fault (a failed condition, or a
// write whose answer was lost) costs the batch in hand being processed again;
// but every record must be processed, each key in put order.
func TestConsumersUnderLeaseTableFaults(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	kc := awstest.Kinesis(t)
	dc := awstest.DynamoDB(t)
	name := awstest.UniqueName(t, "stream")
	table := awstest.UniqueName(t, "leases")
	if err := kinesisstream.CreateStream(ctx, kc, name, 4); err != nil {
		t.Fatalf("CreateStream: %v", err)
	}
	t.Cleanup(func() {
		if err := kinesisstream.DeleteStream(context.Background(), kc, name); err != nil {
			t.Errorf("DeleteStream: %v", err)
		}
	})
	if err := dynamostore.CreateTable(ctx, dc, table); err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	sched := faults.NewSchedule(5,
		faults.Rate("*", 0.05),
		faults.Rate("dynamodb.UpdateItem condition", 0.02),
		faults.Rate("dynamodb.UpdateItem applied", 0.02),
		faults.Slow(0.05, 50*time.Millisecond),
	)
	faulty := faults.NewDynamoDB(dc, sched)
	store, err := dynamostore.New(faulty, table, dynamostore.WithMaxAttempts(4), dynamostore.WithBackoff(5*time.Millisecond, 50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	stream, err := kinesisstream.New(kc, name)
	if err != nil {
		t.Fatal(err)
	}
	l := newLedger()
	var runs sync.WaitGroup
	var consumers []*source.Consumer
	for _, id := range []string{"w1", "w2"} {
		w := &worker{id: id}
		c, err := source.NewConsumer(source.Config{
			Stream: stream, Leases: store, WorkerID: id, NewProcessor: l.handler(w), FailoverTime: 3 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		consumers = append(consumers, c)
		runs.Go(func() { _ = c.Run(ctx) })
	}
	defer func() {
		cancel()
		runs.Wait()
	}()

	// Six seconds of records, one PutRecord at a time over 32 keys.
	put := 0
	next := map[string]int{}
	for end := time.Now().Add(6 * time.Second); time.Now().Before(end); put++ {
		key := fmt.Sprint("key-", put%32)
		next[key]++
		if _, err := kc.PutRecord(ctx, &sdk.PutRecordInput{
			StreamName: aws.String(name), PartitionKey: aws.String(key), Data: []byte(strconv.Itoa(next[key])),
		}); err != nil {
			t.Fatalf("PutRecord: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		d, _ := l.counts()
		if d >= put {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d records processed after 60 s (leases held %d, %d)", d, put,
				consumers[0].Stats().LeasesHeld, consumers[1].Stats().LeasesHeld)
		}
		time.Sleep(20 * time.Millisecond)
	}
	distinct, twice := l.counts()
	inj := faulty.Injected()
	t.Logf("%d records, %d processed twice; injected %v", put, len(twice), inj)
	if distinct != put {
		t.Errorf("%d distinct records processed; %d put", distinct, put)
	}
	l.mu.Lock()
	for key, ns := range l.order {
		if !slices.IsSorted(ns) {
			t.Errorf("key %s processed out of put order: %v", key, ns)
		}
	}
	l.mu.Unlock()
	total := int64(0)
	for _, n := range inj {
		total += n
	}
	if total == 0 {
		t.Fatal("no faults injected")
	}
}
