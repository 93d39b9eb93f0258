package kinesisstream_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/streamtop/streamtop/internal/awstest"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/kinesisstream"
)

// readShards reads every shard of st from TRIM_HORIZON until want records
// have come, or the shards end, and returns them per partition key in the
// order read: parents before children, as the Consumer reads them.
func readShards(t *testing.T, ctx context.Context, st *kinesisstream.Stream, want int) map[string][]string {
	t.Helper()
	shards, err := st.Shards(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Parents first: a shard's ID is larger than its parents' in Kinesis.
	slices.SortFunc(shards, func(a, b source.Shard) int { return compareIDs(a.ID, b.ID) })
	byKey := map[string][]string{}
	got := 0
	for _, sh := range shards {
		r, err := st.Open(ctx, sh.ID, source.Position{})
		if err != nil {
			t.Fatal(err)
		}
		for got < want {
			res, err := r.Read(ctx, 10000)
			if err != nil {
				t.Fatal(err)
			}
			for _, rec := range res.Records {
				byKey[rec.PartitionKey] = append(byKey[rec.PartitionKey], string(rec.Data))
			}
			got += len(res.Records)
			if res.End || (len(res.Records) == 0 && !sh.Closed()) {
				break
			}
		}
		r.Close()
	}
	return byKey
}

func compareIDs(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// throttlingClient passes PutRecords to kinesalite, but first refuses some
// calls whole and, in the others, stores only some entries and reports the
// rest as ProvisionedThroughputExceeded, as the service does under load.
type throttlingClient struct {
	*sdk.Client
	calls, refused, dropped atomic.Int64
}

func (c *throttlingClient) PutRecords(ctx context.Context, in *sdk.PutRecordsInput, opts ...func(*sdk.Options)) (*sdk.PutRecordsOutput, error) {
	n := c.calls.Add(1)
	if n%4 == 1 {
		c.refused.Add(1)
		return nil, &types.ProvisionedThroughputExceededException{Message: aws.String("injected")}
	}
	// Every third entry is refused; the rest go to the emulator.
	var pass []types.PutRecordsRequestEntry
	for i, e := range in.Records {
		if (int(n)+i)%3 != 0 {
			pass = append(pass, e)
		}
	}
	var out *sdk.PutRecordsOutput
	if len(pass) > 0 {
		var err error
		out, err = c.Client.PutRecords(ctx, &sdk.PutRecordsInput{StreamName: in.StreamName, Records: pass}, opts...)
		if err != nil {
			return nil, err
		}
	}
	res := &sdk.PutRecordsOutput{}
	j := 0
	for i := range in.Records {
		if (int(n)+i)%3 != 0 {
			res.Records = append(res.Records, out.Records[j])
			j++
			continue
		}
		c.dropped.Add(1)
		res.Records = append(res.Records, types.PutRecordsResultEntry{
			ErrorCode:    aws.String("ProvisionedThroughputExceededException"),
			ErrorMessage: aws.String("injected"),
		})
	}
	return res, nil
}

// TestProducerOnEmulator writes through the Producer to kinesalite while
// the client throttles, then reads everything back: each record once, each
// key's records in Put order.
func TestProducerOnEmulator(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	es := newEmulatorStream(t, 2)
	client := &throttlingClient{Client: es.client}
	p, err := kinesisstream.NewProducer(client, es.Name(), kinesisstream.WithKeyOrder(), kinesisstream.WithLinger(5*time.Millisecond),
		kinesisstream.WithBackoff(time.Millisecond, 20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	const n, keys = 3000, 40
	want := map[string][]string{}
	for i := range n {
		k := fmt.Sprint("key-", i%keys)
		data := fmt.Sprint(k, "/", i)
		if err := p.Put(ctx, k, []byte(data)); err != nil {
			t.Fatal(err)
		}
		want[k] = append(want[k], data)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	s := p.Stats()
	if s.Sent != n || s.Failed != 0 {
		t.Fatalf("Stats = %+v, want %d sent, none failed", s, n)
	}
	if client.refused.Load() == 0 || client.dropped.Load() == 0 || s.Retried < client.dropped.Load() {
		t.Fatalf("throttling was not exercised: %d calls refused, %d entries refused, %d retried", client.refused.Load(), client.dropped.Load(), s.Retried)
	}
	got := readShards(t, ctx, es.Stream, n)
	for k, w := range want {
		if !slices.Equal(got[k], w) {
			t.Fatalf("key %s: read %d records %v..., want %d in Put order", k, len(got[k]), got[k][:min(5, len(got[k]))], len(w))
		}
	}
	if len(got) != keys {
		t.Fatalf("read %d keys, want %d", len(got), keys)
	}
	t.Logf("%d records through %d PutRecords calls, %d refused whole, %d entries refused, %d resends",
		n, client.calls.Load(), client.refused.Load(), client.dropped.Load(), s.Retried)
}

// expiringClient makes kinesalite's GetRecords report an expired iterator
// on every fifth call, as the service does for an iterator over 5 minutes
// old.
type expiringClient struct {
	*sdk.Client
	calls, expired atomic.Int64
}

func (c *expiringClient) GetRecords(ctx context.Context, in *sdk.GetRecordsInput, opts ...func(*sdk.Options)) (*sdk.GetRecordsOutput, error) {
	if c.calls.Add(1)%5 == 0 {
		c.expired.Add(1)
		return nil, &types.ExpiredIteratorException{Message: aws.String("injected")}
	}
	return c.Client.GetRecords(ctx, in, opts...)
}

func TestExpiredIteratorOnEmulator(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	es := newEmulatorStream(t, 1)
	var want []string
	for i := range 60 {
		_, seq, err := es.Put(ctx, "k", []byte(fmt.Sprint(i)))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, seq)
	}
	client := &expiringClient{Client: es.client}
	st, err := kinesisstream.New(client, es.Name(), kinesisstream.WithPollInterval(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	shards, err := st.Shards(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r, err := st.Open(ctx, shards[0].ID, source.Position{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < len(want) {
		res, err := r.Read(ctx, 7)
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range res.Records {
			got = append(got, rec.SequenceNumber)
		}
		if len(res.Records) == 0 {
			break
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("read %d records across %d expiries, want the %d put, in order, once each", len(got), client.expired.Load(), len(want))
	}
	if client.expired.Load() < 2 {
		t.Fatalf("only %d expiries injected", client.expired.Load())
	}
}

// TestMergeOnEmulator reads across a merge in the order kinesalite accepts
// (the contract suite declares the refused order and checks the refusal).
func TestMergeOnEmulator(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	es := newEmulatorStream(t, 2)
	before, err := es.Shards(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(before, func(a, b source.Shard) int { return compareIDs(a.ID, b.ID) })
	lower, upper := before[0], before[1]
	want := map[string][]string{}
	put := func(round string) {
		for i := range 20 {
			k := fmt.Sprint("key-", i)
			if _, _, err := es.Put(ctx, k, []byte(round+k)); err != nil {
				t.Fatal(err)
			}
			want[k] = append(want[k], round+k)
		}
	}
	put("a/")
	if err := es.MergeShards(ctx, lower.ID, upper.ID); err != nil {
		t.Fatal(err)
	}
	put("b/")
	after, err := es.Shards(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != 3 {
		t.Fatalf("%d shards after a merge of 2, want 3", len(after))
	}
	child := after[2]
	if child.ParentID != lower.ID || child.AdjacentParentID != upper.ID || child.Closed() ||
		child.HashKeyStart != lower.HashKeyStart || child.HashKeyEnd != upper.HashKeyEnd {
		t.Fatalf("merged child %+v: want open, parents %s and %s, their union's range", child, lower.ID, upper.ID)
	}
	if !after[0].Closed() || !after[1].Closed() {
		t.Fatalf("parents not closed: %+v", after[:2])
	}
	got := readShards(t, ctx, es.Stream, 80)
	for k, w := range want {
		if !slices.Equal(got[k], w) {
			t.Fatalf("key %s read as %v, want %v", k, got[k], w)
		}
	}
}

func TestStreamHelpersOnEmulator(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	client := awstest.Kinesis(t)
	name := awstest.UniqueName(t, "helpers")
	if err := kinesisstream.CreateStream(ctx, client, name, 2); err != nil {
		t.Fatal(err)
	}
	if err := kinesisstream.CreateStream(ctx, client, name, 5); err != nil {
		t.Fatalf("CreateStream of an existing stream = %v, want nil", err)
	}
	st, err := kinesisstream.New(client, name)
	if err != nil {
		t.Fatal(err)
	}
	if shards, err := st.Shards(ctx); err != nil || len(shards) != 2 {
		t.Fatalf("Shards = %d shards, %v; want the 2 of the first CreateStream", len(shards), err)
	}
	if err := kinesisstream.DeleteStream(ctx, client, name); err != nil {
		t.Fatal(err)
	}
	if err := kinesisstream.DeleteStream(ctx, client, name); err != nil {
		t.Fatalf("DeleteStream of a deleted stream = %v, want nil", err)
	}
	var notFound *types.ResourceNotFoundException
	if err := kinesisstream.WaitActive(ctx, client, name); !errors.As(err, &notFound) {
		t.Fatalf("WaitActive of a deleted stream = %v, want ResourceNotFoundException", err)
	}
	if _, err := st.Shards(ctx); !errors.As(err, &notFound) {
		t.Fatalf("Shards of a deleted stream = %v, want ResourceNotFoundException", err)
	}
	for _, c := range []struct {
		name string
		err  error
	}{
		{"CreateNoShards", kinesisstream.CreateStream(ctx, client, name, 0)},
		{"CreateNoName", kinesisstream.CreateStream(ctx, client, "", 1)},
		{"DeleteNoName", kinesisstream.DeleteStream(ctx, client, "")},
	} {
		if !errors.Is(c.err, kinesisstream.ErrInvalidOption) {
			t.Errorf("%s = %v, want ErrInvalidOption", c.name, c.err)
		}
	}
	// Concurrent creators of one stream all succeed.
	name = awstest.UniqueName(t, "helpers")
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- kinesisstream.CreateStream(ctx, client, name, 1)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent CreateStream = %v", err)
		}
	}
	if err := kinesisstream.DeleteStream(ctx, client, name); err != nil {
		t.Fatal(err)
	}
}
