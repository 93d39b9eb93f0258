package source_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/hook"
	"github.com/streamtop/streamtop/internal/consumertest"
	"github.com/streamtop/streamtop/internal/hooktest"
	"github.com/streamtop/streamtop/source"
)

// The hooks in Config.Hooks see every ProcessRecords call, failed ones
// too, and every checkpoint write; a hook implementing none of hook's
// interfaces is accepted and ignored.
func TestConsumerHooks(t *testing.T) {
	stream := consumertest.NewStream(t, 2)
	rec := &hooktest.Recorder{}
	var failed atomic.Bool
	proc := func(string) source.Processor {
		return source.HandlerFunc(func(ctx context.Context, records []source.Record) error {
			if failed.CompareAndSwap(false, true) {
				return errors.New("first batch refused")
			}
			return nil
		})
	}
	cfg := consumertest.FastConfig(stream, checkpoint.NewMemoryStore(), "w", proc)
	cfg.Hooks = []hook.Hook{rec, struct{}{}}
	w := consumertest.StartWorker(t, cfg)
	const n = 120
	for i := range n {
		if _, _, err := stream.Put(context.Background(), fmt.Sprint("k", i), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	consumertest.WaitFor(t, 10*time.Second, "all records processed", func() bool { return w.C.Stats().RecordsProcessed >= n })
	w.Stop(t)

	accepted, refused := 0, 0
	shards := map[string]bool{}
	for _, b := range rec.Batches() {
		shards[b.Shard] = true
		if b.Records < 1 || b.Duration < 0 {
			t.Errorf("batch %+v: want records and a duration", b)
		}
		if b.Err != nil {
			refused++
		} else {
			accepted += b.Records
		}
	}
	if accepted != n || refused != 1 {
		t.Errorf("batches: %d records accepted, %d refused; want %d and 1", accepted, refused, n)
	}
	if len(shards) != 2 {
		t.Errorf("batches from %d shards, want 2", len(shards))
	}
	cps := rec.Checkpoints()
	if got, want := int64(len(cps)), w.C.Stats().Checkpoints; got != want {
		t.Errorf("%d checkpoint events, Stats says %d writes", got, want)
	}
	for _, c := range cps {
		if c.Err != nil || c.Shard == "" {
			t.Errorf("checkpoint %+v: want a shard and no error", c)
		}
	}
}
