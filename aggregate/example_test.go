package aggregate_test

import (
	"context"
	"encoding/json"
	"log"
	"time"

	"github.com/streamtop/streamtop/aggregate"
	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/sink"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/memstream"
)

// A Consumer counting page views per page, by referrer, over 10 s windows
// that slide every second, into an in-memory sink.
func ExampleAggregator() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	stream, _ := memstream.New(2)
	out, _ := sink.NewMemory()
	agg, err := aggregate.New(aggregate.Config{
		Size:   10 * time.Second,
		Bucket: time.Second,
		Decoder: aggregate.DecoderFunc(func(r source.Record, dst []aggregate.Item) ([]aggregate.Item, error) {
			var v struct{ Resource, Referrer string }
			if err := json.Unmarshal(r.Data, &v); err != nil {
				return dst, err
			}
			return append(dst, aggregate.Item{Group: v.Resource, Key: v.Referrer, Time: r.ArrivalTime, N: 1}), nil
		}),
		Sink: out,
		Host: "worker-1",
	})
	if err != nil {
		log.Fatal(err)
	}
	c, err := source.NewConsumer(source.Config{
		Stream:       stream,
		Leases:       checkpoint.NewMemoryStore(),
		WorkerID:     "worker-1",
		NewProcessor: agg.NewProcessor,
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Run(ctx); err != nil {
		log.Fatal(err)
	}
	_ = agg.Stats()
}
