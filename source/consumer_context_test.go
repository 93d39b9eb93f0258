package source_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/internal/consumertest"
	"github.com/streamtop/streamtop/source"
)

type traceKey struct{}

// contextWitness records, per call, whether the context carried the trace id.
type contextWitness struct {
	mu      sync.Mutex
	missing []string
	seen    map[string]bool
}

func (w *contextWitness) saw(ctx context.Context, call string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seen[call] = true
	if ctx.Value(traceKey{}) != "trace-1" {
		w.missing = append(w.missing, call)
	}
}

// witnessStore reports the context of every lease write.
type witnessStore struct {
	checkpoint.Store
	w *contextWitness
}

func (s witnessStore) Take(ctx context.Context, l checkpoint.Lease, owner string) (checkpoint.Lease, error) {
	s.w.saw(ctx, "Store.Take")
	return s.Store.Take(ctx, l, owner)
}

func (s witnessStore) Renew(ctx context.Context, l checkpoint.Lease) (checkpoint.Lease, error) {
	s.w.saw(ctx, "Store.Renew")
	return s.Store.Renew(ctx, l)
}

func (s witnessStore) Checkpoint(ctx context.Context, l checkpoint.Lease) (checkpoint.Lease, error) {
	s.w.saw(ctx, "Store.Checkpoint")
	return s.Store.Checkpoint(ctx, l)
}

func (s witnessStore) Release(ctx context.Context, l checkpoint.Lease) (checkpoint.Lease, error) {
	s.w.saw(ctx, "Store.Release")
	return s.Store.Release(ctx, l)
}

// The values of Run's context (a trace id) reach every processor hook and
// every lease write, the last ones after Run's context has ended included.
func TestRunContextValuesReachProcessorAndStore(t *testing.T) {
	stream := consumertest.NewStream(t, 1)
	putN(t, stream, 10)
	w := &contextWitness{seen: map[string]bool{}}
	processed := make(chan struct{}, 100)
	proc := &funcProcessor{
		process: func(ctx context.Context, recs []source.Record, cp source.Checkpointer) error {
			w.saw(ctx, "ProcessRecords")
			processed <- struct{}{}
			return cp.Checkpoint(ctx)
		},
	}
	p := &contextProcessor{funcProcessor: proc, w: w}
	cfg := consumertest.FastConfig(stream, witnessStore{checkpoint.NewMemoryStore(), w}, "w", func(string) source.Processor { return p })
	cfg.RenewInterval = 20 * time.Millisecond
	c, err := source.NewConsumer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), traceKey{}, "trace-1"))
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	select {
	case <-processed:
	case <-time.After(5 * time.Second):
		t.Fatal("no batch processed")
	}
	time.Sleep(100 * time.Millisecond) // a few renewals
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, call := range []string{"Initialize", "ProcessRecords", "ShutdownRequested", "Store.Take", "Store.Renew", "Store.Checkpoint", "Store.Release"} {
		if !w.seen[call] {
			t.Errorf("%s was not called", call)
		}
	}
	if len(w.missing) > 0 {
		t.Errorf("calls without Run's context values: %v", w.missing)
	}
}

// contextProcessor adds witnesses of Initialize and ShutdownRequested.
type contextProcessor struct {
	*funcProcessor
	w *contextWitness
}

func (p *contextProcessor) Initialize(ctx context.Context, in source.InitInput) error {
	p.w.saw(ctx, "Initialize")
	return p.funcProcessor.Initialize(ctx, in)
}

func (p *contextProcessor) ShutdownRequested(ctx context.Context, cp source.Checkpointer) error {
	p.w.saw(ctx, "ShutdownRequested")
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("ShutdownRequested's context ended already: %w", err)
	}
	return p.funcProcessor.ShutdownRequested(ctx, cp)
}
