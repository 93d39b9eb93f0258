package source_test

import (
	"context"
	"fmt"
	"log"
	"strconv"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/memstream"
)

// counter counts a shard's records and saves the count with each
// checkpoint, at the last record it covers.
type counter struct {
	n      int64
	done   int64 // cancel once n reaches it
	cancel context.CancelFunc
}

func (c *counter) Initialize(_ context.Context, in source.InitInput) error {
	if in.State != nil {
		n, err := strconv.ParseInt(string(in.State), 10, 64)
		if err != nil {
			return err
		}
		c.n = n
		fmt.Println("restored", n, "starting", in.Start.Type)
	}
	return nil
}

func (c *counter) ProcessRecords(ctx context.Context, records []source.Record, cp source.Checkpointer) error {
	n := c.n + int64(len(records))
	last := records[len(records)-1].Sequence()
	// The count covers every record up to and including last: say so.
	if err := cp.(source.StateCheckpointer).CheckpointState(ctx, last, []byte(strconv.FormatInt(n, 10))); err != nil {
		return err
	}
	c.n = n
	if c.n == c.done {
		c.cancel()
	}
	return nil
}

func (c *counter) LeaseLost(context.Context) error { return nil }

func (c *counter) ShardEnded(ctx context.Context, cp source.Checkpointer) error {
	return cp.Checkpoint(ctx)
}

func (c *counter) ShutdownRequested(context.Context, source.Checkpointer) error {
	return nil // every count was saved with its checkpoint already
}

// A processor that keeps state saves it with the position it covers; the next
// worker to hold the shard gets both back and goes on from there.
func ExampleStateCheckpointer() {
	stream, err := memstream.New(1)
	if err != nil {
		log.Fatal(err)
	}
	leases := checkpoint.NewMemoryStore()
	put := func(n int) {
		for range n {
			if _, _, err := stream.Put(context.Background(), "key", []byte("visit")); err != nil {
				log.Fatal(err)
			}
		}
	}
	run := func(worker string, until int64) {
		ctx, cancel := context.WithCancel(context.Background())
		p := &counter{done: until, cancel: cancel}
		c, err := source.NewConsumer(source.Config{Stream: stream, Leases: leases, WorkerID: worker,
			NewProcessor: func(string) source.Processor { return p }})
		if err != nil {
			log.Fatal(err)
		}
		if err := c.Run(ctx); err != nil {
			log.Fatal(err)
		}
		fmt.Println(worker, "counted", p.n)
	}
	put(3)
	run("worker-1", 3)
	put(2)
	run("worker-2", 5)
	// Output:
	// worker-1 counted 3
	// restored 3 starting AFTER_SEQUENCE_NUMBER
	// worker-2 counted 5
}
