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
	return c.Client.SubscribeToShard(ctx, in, append(optFns, func(o *sdk.Options) { o.HTTPClient = cutAfterFirst{o.HTTPClient} })...)
}

// cutAfterFirst ends a response's event stream after its first message.
type cutAfterFirst struct{ sdk.HTTPClient }

func (c cutAfterFirst) Do(req *http.Request) (*http.Response, error) {
	resp, err := c.HTTPClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	msg, err := eventstream.NewDecoder().Decode(resp.Body, nil)
	var first bytes.Buffer
	if err == nil {
		err = eventstream.NewEncoder().Encode(&first, msg)
	}
	if err != nil {
		resp.Body.Close()
		return nil, err
	}
	resp.Body = struct {
		io.Reader
		io.Closer
	}{&first, resp.Body}
	return resp, nil
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
