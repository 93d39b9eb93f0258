package kinesisstream_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/streamtop/streamtop/internal/awstest"
	"github.com/streamtop/streamtop/internal/logbuf"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/kinesisstream"
)

// On kinesalite, through the SDK: a stream that does not exist is
// source.ErrStreamNotFound from Shards and Open, naming the stream, and a
// shard the stream does not have is source.ErrShardNotFound; a deleted
// stream's shards are not reported as missing shards, since a Consumer
// deletes the lease of a missing shard.
func TestMissingStreamIsStreamNotFound(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	client := awstest.Kinesis(t)
	name := awstest.UniqueName(t, "missing")
	st, err := kinesisstream.New(client, name)
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, err, want error) {
		t.Helper()
		if !errors.Is(err, want) || !strings.Contains(err.Error(), "stream "+name) {
			t.Errorf("%s: %v; want %v naming stream %s", what, err, want, name)
		}
		if want == source.ErrStreamNotFound && errors.Is(err, source.ErrShardNotFound) {
			t.Errorf("%s: %v also says the shard is missing", what, err)
		}
	}
	_, err = st.Shards(ctx)
	check("Shards of a missing stream", err, source.ErrStreamNotFound)
	_, err = st.Open(ctx, "shardId-000000000000", source.Position{})
	check("Open on a missing stream", err, source.ErrStreamNotFound)

	if err := kinesisstream.CreateStream(ctx, client, name, 1); err != nil {
		t.Fatal(err)
	}
	_, err = st.Open(ctx, "shardId-000000000007", source.Position{})
	check("Open of a missing shard", err, source.ErrShardNotFound)
	r, err := st.Open(ctx, "shardId-000000000000", source.Position{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := kinesisstream.DeleteStream(ctx, client, name); err != nil {
		t.Fatal(err)
	}
	_, err = r.Read(ctx, 10)
	check("Read of a deleted stream", err, source.ErrStreamNotFound)
}

// deniedClient refuses every call as AWS refuses bad credentials;
// kinesalite accepts any, so the refusal is injected as the SDK returns it.
type deniedClient struct{ calls int }

func (d *deniedClient) err() error {
	d.calls++
	return &smithy.GenericAPIError{Code: "UnrecognizedClientException", Message: "The security token included in the request is invalid."}
}

func (d *deniedClient) ListShards(context.Context, *kinesis.ListShardsInput, ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	return nil, d.err()
}

func (d *deniedClient) GetShardIterator(context.Context, *kinesis.GetShardIteratorInput, ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error) {
	return nil, d.err()
}

func (d *deniedClient) GetRecords(context.Context, *kinesis.GetRecordsInput, ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error) {
	return nil, d.err()
}

func TestDeniedIsAccessDenied(t *testing.T) {
	d := &deniedClient{}
	st, err := kinesisstream.New(d, "orders")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Shards(context.Background()); !errors.Is(err, source.ErrAccessDenied) || !strings.Contains(err.Error(), "stream orders") {
		t.Errorf("Shards: %v; want source.ErrAccessDenied naming the stream", err)
	}
	if _, err := st.Open(context.Background(), "shardId-000000000000", source.Position{}); !errors.Is(err, source.ErrAccessDenied) {
		t.Errorf("Open: %v; want source.ErrAccessDenied", err)
	}
	if d.calls != 2 {
		t.Errorf("%d calls; a refusal is not retried", d.calls)
	}
}

// throttledClient throttles every ListShards call.
type throttledClient struct{ deniedClient }

func (*throttledClient) ListShards(context.Context, *kinesis.ListShardsInput, ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	return nil, &types.LimitExceededException{Message: aws.String("Rate exceeded")}
}

// Retried calls are logged through WithLogger, at most one line per call
// every 10 s, naming the stream.
func TestRetriesAreLoggedRateLimited(t *testing.T) {
	var logs logbuf.Buffer
	st, err := kinesisstream.New(&throttledClient{}, "orders", kinesisstream.WithMaxAttempts(5),
		kinesisstream.WithBackoff(time.Millisecond, time.Millisecond),
		kinesisstream.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := st.Shards(context.Background()); !errors.Is(err, kinesisstream.ErrThrottled) {
			t.Fatalf("Shards: %v; want ErrThrottled", err)
		}
	}
	out := logs.String()
	if n := strings.Count(out, "\n"); n != 1 {
		t.Errorf("%d lines for 12 retries in well under 10 s; want 1:\n%s", n, out)
	}
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "stream=orders") || !strings.Contains(out, "op=ListShards") {
		t.Errorf("log line does not say what was retried:\n%s", out)
	}
}
