package main

import (
	"context"
	"fmt"
	"github.com/streamtop/streamtop/promstats"
	"io"
	"time"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/sink"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/memstream"
)

// The embedded stream's memory bound. The consumer needs only what it has
// not read yet (its windows travel with its checkpoints), plus a margin for
// a consumer that falls behind, not Kinesis' 24 hours. Retention by time
// alone, sized from -rate, kept 2 million records at -rate 100000 and the
// process grew to 856 MB. So the stream keeps the last 5 minutes and at
// most streamMaxRecords records, split evenly over the shards (each shard
// may hold up to 16,384 more until memstream frees them a chunk at a time).
// At -rate 100000 that is 2 s of records, against a consumer lag that
// /api/status showed as 0 ms, and the process stays at about 145 MB.
const (
	streamRetention  = 5 * time.Minute
	streamMaxRecords = 200_000
)

// backend is where the three roles meet: the stream the producer writes and
// the consumer reads, the lease table the consumers share, and the sink the
// consumers write and the web server reads. The embedded backend keeps all of
// them in this process; an AWS backend (Kinesis, DynamoDB) plugs in here, with
// each role free to run in its own process.
type backend struct {
	stream source.Stream
	// put is safe for concurrent use.
	put    func(ctx context.Context, batch []message) error
	leases checkpoint.Store
	out    sink.Writer
	in     sink.Reader
	groups func(ctx context.Context) ([]string, error)
	close  func() error
	// metrics are the backend's own figures for /metrics: the Kinesis
	// stream's and producer's in the AWS mode.
	metrics []promstats.Source
	// hooks receive the library's events (batch and checkpoint times, AWS
	// calls, window latency) as histograms for /metrics.
	hooks *promstats.Hooks
}

// openBackend returns the backend the flags choose. Only the parts the
// process's roles use are set: a web-only process has no stream.
func openBackend(ctx context.Context, c config, log io.Writer) (*backend, error) {
	hooks := promstats.NewHooks("visualizer")
	open := func() (*backend, error) { return openEmbedded(c) }
	if c.awsMode() {
		open = func() (*backend, error) { return openAWS(ctx, c, log, hooks) }
	}
	b, err := open()
	if err != nil {
		return nil, err
	}
	b.hooks = hooks
	return b, nil
}

func openEmbedded(c config) (*backend, error) {
	perShard := streamMaxRecords / c.shards
	stream, err := memstream.New(c.shards, memstream.WithRetention(streamRetention), memstream.WithMaxRecords(perShard))
	if err != nil {
		return nil, fmt.Errorf("embedded stream: %w", err)
	}
	mem, err := sink.NewMemory()
	if err != nil {
		return nil, fmt.Errorf("embedded sink: %w", err)
	}
	return &backend{
		stream: stream,
		put:    memstreamPut(stream),
		leases: checkpoint.NewMemoryStore(),
		out:    mem,
		in:     mem,
		groups: mem.Groups,
		close:  func() error { return nil },
	}, nil
}

// memstreamPut sends a batch with one PutRecords call. The function it
// returns is safe for concurrent use: one slice per batch costs little next
// to the stream's own copy of the records.
func memstreamPut(s *memstream.Stream) func(context.Context, []message) error {
	return func(ctx context.Context, batch []message) error {
		entries := make([]memstream.Entry, len(batch))
		for i, m := range batch {
			entries[i] = memstream.Entry{PartitionKey: m.key, Data: m.data}
		}
		_, err := s.PutRecords(ctx, entries)
		return err
	}
}
