package source_test

import (
	"context"
	"fmt"
	"log"
	"sync/atomic"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/memstream"
)

// A Consumer on the embedded stream with a plain handler, checkpointed after
// every batch. More workers sharing the same lease store would split the
// shards between them.
func ExampleConsumer() {
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := memstream.New(2)
	if err != nil {
		log.Fatal(err)
	}
	for _, page := range []string{"/", "/docs", "/blog"} {
		if _, _, err := stream.Put(ctx, page, []byte("visit")); err != nil {
			log.Fatal(err)
		}
	}

	var seen atomic.Int64
	c, err := source.NewConsumer(source.Config{
		Stream:   stream,
		Leases:   checkpoint.NewMemoryStore(),
		WorkerID: "worker-1",
		NewProcessor: func(shardID string) source.Processor {
			return source.HandlerFunc(func(ctx context.Context, records []source.Record) error {
				if seen.Add(int64(len(records))) == 3 {
					cancel() // done: shut down gracefully
				}
				return nil
			})
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Run(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("processed", seen.Load(), "records")
	// Output: processed 3 records
}
