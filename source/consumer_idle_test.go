package source_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/internal/consumertest"
	"github.com/streamtop/streamtop/source"
)

// idleProbe records what an IdleProcessor is told: its InitInput, and when
// its idle calls came.
type idleProbe struct {
	mu    sync.Mutex
	init  map[string]source.InitInput
	idles map[string][]time.Time
}

type idleProc struct {
	source.HandlerFunc
	probe *idleProbe
	shard string
}

func (p idleProc) Initialize(_ context.Context, in source.InitInput) error {
	p.probe.mu.Lock()
	p.probe.init[p.shard] = in
	p.probe.mu.Unlock()
	return nil
}

func (p idleProc) ProcessIdle(ctx context.Context, cp source.Checkpointer) error {
	p.probe.mu.Lock()
	p.probe.idles[p.shard] = append(p.probe.idles[p.shard], time.Now())
	p.probe.mu.Unlock()
	return cp.Checkpoint(ctx)
}

// A quiet shard's IdleProcessor is called about once per IdleWait, and every
// processor learns its shard's hash key range.
func TestIdleProcessor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		stream := consumertest.NewStream(t, 2)
		probe := &idleProbe{init: map[string]source.InitInput{}, idles: map[string][]time.Time{}}
		cfg := consumertest.FastConfig(stream, checkpoint.NewMemoryStore(), "a", func(shard string) source.Processor {
			nothing := func(context.Context, []source.Record) error { return nil }
			return idleProc{probe: probe, shard: shard, HandlerFunc: nothing}
		})
		cfg.IdleWait = 100 * time.Millisecond
		w := consumertest.StartWorker(t, cfg)
		consumertest.WaitFor(t, 10*time.Second, "both shards held", func() bool { return w.Held() == 2 })
		time.Sleep(2 * time.Second)
		w.Stop(t)

		shards, err := stream.Shards(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		probe.mu.Lock()
		defer probe.mu.Unlock()
		for _, sh := range shards {
			in := probe.init[sh.ID]
			if in.Shard != sh {
				t.Errorf("shard %s: InitInput.Shard = %+v, want %+v", sh.ID, in.Shard, sh)
			}
			calls := probe.idles[sh.ID]
			// 2 s of quiet at one call per 100 ms: about 20.
			if len(calls) < 10 || len(calls) > 25 {
				t.Errorf("shard %s: %d idle calls in 2 s at IdleWait 100ms; want about 20", sh.ID, len(calls))
			}
		}
	})
}
