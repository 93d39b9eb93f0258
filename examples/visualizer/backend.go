package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/sink"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/memstream"
)

// streamRetention bounds the embedded stream's memory: records older than
// it are dropped. Kinesis keeps 24 hours, which at the rates the producer can
// reach would be gigabytes a minute; the consumer needs only what it has not
// read yet (its windows travel with its checkpoints), plus a margin for a
// consumer that falls behind. So the stream keeps about
// retainedRecords records, and never less than 20 s (two windows) or more
// than 5 minutes.
func streamRetention(rate int) time.Duration {
	const retainedRecords = 1_000_000
	d := time.Duration(float64(retainedRecords) / float64(max(rate, 1)) * float64(time.Second))
	return min(max(d, 20*time.Second), 5*time.Minute)
}

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
}

// openBackend returns the backend the flags choose. Only the parts the
// process's roles use are set: a web-only process has no stream.
func openBackend(ctx context.Context, c config, log io.Writer) (*backend, error) {
	if c.awsMode() {
		return openAWS(ctx, c, log)
	}
	return openEmbedded(c)
}

func openEmbedded(c config) (*backend, error) {
	stream, err := memstream.New(c.shards, memstream.WithRetention(streamRetention(c.rate)))
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
