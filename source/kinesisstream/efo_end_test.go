package kinesisstream_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	sdk "github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/streamtop/streamtop/internal/awstest"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/kinesisstream"
)

// bareSubscriptions is a FanOutClient whose subscriptions end right after
// the initial response, before a single event: as a subscription that the
// service ends, or the network drops, before it pushes what the shard holds.
type bareSubscriptions struct{ *sdk.Client }

func (c bareSubscriptions) SubscribeToShard(ctx context.Context, in *sdk.SubscribeToShardInput, optFns ...func(*sdk.Options)) (*sdk.SubscribeToShardOutput, error) {
	return c.Client.SubscribeToShard(ctx, in, append(optFns, func(o *sdk.Options) { o.HTTPClient = cutAfter{o.HTTPClient, 1} })...)
}

// cutAfter sends a request and ends the response's event stream after its
// first n messages (the first is the initial response).
type cutAfter struct {
	sdk.HTTPClient
	n int
}

func (c cutAfter) Do(req *http.Request) (*http.Response, error) {
	resp, err := c.HTTPClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	var kept bytes.Buffer
	dec, enc := eventstream.NewDecoder(), eventstream.NewEncoder()
	for range c.n {
		msg, err := dec.Decode(resp.Body, nil)
		if err == nil {
			err = enc.Encode(&kept, msg)
		}
		if err != nil {
			resp.Body.Close()
			return nil, err
		}
	}
	resp.Body = struct {
		io.Reader
		io.Closer
	}{&kept, resp.Body}
	return resp, nil
}

// oneEventSubscriptions is a FanOutClient whose subscriptions each end after
// their first event, as at the end of a subscription's 5 minutes, and which
// calls between before every subscription but the first.
type oneEventSubscriptions struct {
	*sdk.Client
	between func()
	calls   int
}

func (c *oneEventSubscriptions) SubscribeToShard(ctx context.Context, in *sdk.SubscribeToShardInput, optFns ...func(*sdk.Options)) (*sdk.SubscribeToShardOutput, error) {
	if c.calls++; c.calls > 1 {
		c.between()
	}
	return c.Client.SubscribeToShard(ctx, in, append(optFns, func(o *sdk.Options) { o.HTTPClient = cutAfter{o.HTTPClient, 2} })...)
}

// A reader opened at LATEST whose subscription ends before any record came
// subscribes again from where the service said it stood (the event's
// ContinuationSequenceNumber), not at LATEST again: a record put between
// the two subscriptions is read, not skipped.
func TestFanOutResubscribesFromContinuation(t *testing.T) {
	client := awstest.KinesisFanOut(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	es := newStreamOn(t, client, 1)
	var put []string
	c := &oneEventSubscriptions{Client: client, between: func() {
		data := fmt.Sprint("between-", len(put))
		if _, err := client.PutRecord(ctx, &sdk.PutRecordInput{StreamName: aws.String(es.Name()),
			PartitionKey: aws.String("k"), Data: []byte(data)}); err != nil {
			t.Error(err)
		}
		put = append(put, data)
	}}
	st, err := kinesisstream.New(c, es.Name(), kinesisstream.WithEnhancedFanOut("continuation"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := st.Open(ctx, "shardId-000000000000", source.Position{Type: source.Latest})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer r.Close()
	// Every subscription but the first follows a put, and every one ends
	// after an event: the records read are those put, in order, once each.
	wait, stop := context.WithTimeout(ctx, 30*time.Second)
	defer stop()
	var got []string
	for len(got) < 5 {
		if err := r.(source.Waiter).Wait(wait); err != nil {
			t.Fatalf("Wait after %q: %v; put between subscriptions: %q", got, err, put)
		}
		res, err := r.Read(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range res.Records {
			got = append(got, string(rec.Data))
		}
	}
	if !slices.Equal(got, put[:len(got)]) {
		t.Fatalf("read %q, want the first %d of %q", got, len(got), put)
	}
}

// A reader whose subscriptions all end without an event and without
// ChildShards still reads a closed shard to its end: the records through
// GetRecords, in order, then End with the shard's children.
func TestFanOutEndsWhenSubscriptionsEndBare(t *testing.T) {
	client := awstest.KinesisFanOut(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	es := newStreamOn(t, client, 1)
	var seqs []string
	for i := range 5 {
		out, err := client.PutRecord(ctx, &sdk.PutRecordInput{StreamName: aws.String(es.Name()),
			PartitionKey: aws.String(fmt.Sprint("k", i)), Data: fmt.Appendf(nil, "r%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, aws.ToString(out.SequenceNumber))
	}
	const parent = "shardId-000000000000"
	if err := es.SplitShard(ctx, parent, "170141183460469231731687303715884105728"); err != nil {
		t.Fatal(err)
	}
	st, err := kinesisstream.New(bareSubscriptions{client}, es.Name(), kinesisstream.WithEnhancedFanOut("bare"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := st.Open(ctx, parent, source.Position{Type: source.TrimHorizon})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer r.Close()
	var got []string
	var last source.ReadResult
	for !last.End {
		if err := r.(source.Waiter).Wait(ctx); err != nil {
			t.Fatalf("Wait after %d records: %v", len(got), err)
		}
		if last, err = r.Read(ctx, 100); err != nil {
			t.Fatalf("Read after %d records: %v", len(got), err)
		}
		for _, rec := range last.Records {
			got = append(got, rec.SequenceNumber)
		}
	}
	if !slices.Equal(got, seqs) {
		t.Errorf("read %v, want %v", got, seqs)
	}
	shards, err := st.Shards(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var want, children []string
	for _, sh := range shards {
		if sh.ParentID == parent {
			want = append(want, sh.ID)
		}
	}
	for _, c := range last.Children {
		children = append(children, c.ID)
	}
	slices.Sort(children)
	slices.Sort(want)
	if len(want) != 2 || !slices.Equal(children, want) {
		t.Errorf("End names children %v, want the split's %v", children, want)
	}
}
