package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/streamtop/streamtop/internal/workload"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/memstream"
)

// demoShards is the visualizer's stream shape: two shards, which the pages'
// partition keys both use.
const demoShards = 2

// demoSource is the visualizer's simulated traffic: a producer puts page
// visits (JSON {"resource": ..., "referrer": ...}, partition key the page) on
// an embedded memstream at a steady rate, and a shardSource reads them back,
// as it would read Kinesis. The referrers' shares drift over a cycle of about
// 30 seconds, so the ranking moves while one watches.
//
// Its zero value is not usable; use newDemo. Memory is bounded: the stream
// keeps records for 30 seconds, long after they were read.
type demoSource struct {
	stream *memstream.Stream
	rate   int
	visits [][]byte
	keys   []string
	reader *shardSource
}

func newDemo(rate int) (*demoSource, error) {
	st, err := memstream.New(demoShards, memstream.WithRetention(30*time.Second))
	if err != nil {
		return nil, err
	}
	period := min(30*rate, 1<<18) // records: a drift cycle of about 30 s, or faster
	vs := workload.VisitStream(period, period, 1)
	d := &demoSource{stream: st, rate: rate, visits: make([][]byte, len(vs)), keys: make([]string, len(vs))}
	for i, v := range vs {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		d.visits[i], d.keys[i] = b, v.Resource
	}
	d.reader = &shardSource{
		stream: st,
		label:  fmt.Sprintf("demo (%d visits/s, %d shards)", rate, demoShards),
		from:   source.Position{Type: source.TrimHorizon},
	}
	return d, nil
}

func (d *demoSource) name() string { return d.reader.name() }

// run produces and reads until ctx ends; it never ends by itself.
func (d *demoSource) run(ctx context.Context, deliver func(batch)) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		if err := d.produce(ctx); err != nil {
			cancel(err)
		}
	}()
	return d.reader.run(ctx, deliver)
}

// produce puts what the rate owes every 20 ms, catching up after a slow put
// but never by more than a second's worth.
func (d *demoSource) produce(ctx context.Context) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	last, next := time.Now(), 0
	owed := 0.0
	var entries []memstream.Entry
	for {
		select {
		case <-ctx.Done():
			return nil
		case t := <-tick.C:
			owed = min(owed+float64(d.rate)*t.Sub(last).Seconds(), float64(d.rate))
			last = t
			entries = entries[:0]
			for ; owed >= 1; owed-- {
				entries = append(entries, memstream.Entry{PartitionKey: d.keys[next], Data: d.visits[next]})
				next = (next + 1) % len(d.visits)
			}
			if len(entries) == 0 {
				continue
			}
			if _, err := d.stream.PutRecords(ctx, entries); err != nil && ctx.Err() == nil {
				return fmt.Errorf("demo producer: %w", err)
			}
		}
	}
}
