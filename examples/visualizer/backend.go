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
// this are dropped. A failover replays one window (10 s), so minutes are
// plenty, where Kinesis' 24 hours would hold gigabytes at high rates.
const streamRetention = 5 * time.Minute

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
	stream, err := memstream.New(c.shards, memstream.WithRetention(streamRetention))
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
