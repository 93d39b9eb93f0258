package source

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/hook"
)

// nopHook takes every Consumer event and does nothing with it.
type nopHook struct{}

func (nopHook) OnBatch(hook.Batch)           {}
func (nopHook) OnCheckpoint(hook.Checkpoint) {}

// nopProcessor accepts every batch and checkpoints nothing.
type nopProcessor struct{}

func (nopProcessor) Initialize(context.Context, InitInput) error                  { return nil }
func (nopProcessor) ProcessRecords(context.Context, []Record, Checkpointer) error { return nil }
func (nopProcessor) LeaseLost(context.Context) error                              { return nil }
func (nopProcessor) ShardEnded(context.Context, Checkpointer) error               { return nil }
func (nopProcessor) ShutdownRequested(context.Context, Checkpointer) error        { return nil }

// The cost of the batch hook around ProcessRecords: with no hook it must
// be a length test (0 allocs, no clock read); with one, two clock reads
// and a call.
func BenchmarkBatchHook(b *testing.B) {
	for _, bc := range []struct {
		name  string
		hooks []hook.Batches
	}{{"none", nil}, {"one", []hook.Batches{nopHook{}}}} {
		b.Run(bc.name, func(b *testing.B) {
			s := &shardLoop{key: "shardId-000000000000", cfg: loopConfig{hooks: bc.hooks}, procCtx: context.Background()}
			recs := make([]Record, 100)
			b.ReportAllocs()
			for b.Loop() {
				if err := s.processRecords(nopProcessor{}, recs, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// The cost of the checkpoint hook around a write to the in-memory store.
func BenchmarkCheckpointHook(b *testing.B) {
	for _, bc := range []struct {
		name  string
		hooks []hook.Checkpoints
	}{{"none", nil}, {"one", []hook.Checkpoints{nopHook{}}}} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			store := checkpoint.NewMemoryStore()
			if _, err := store.Create(ctx, checkpoint.Lease{Key: "s", Checkpoint: checkpoint.TrimHorizon}); err != nil {
				b.Fatal(err)
			}
			l, err := store.Get(ctx, "s")
			if err != nil {
				b.Fatal(err)
			}
			if l, err = store.Take(ctx, l, "w"); err != nil {
				b.Fatal(err)
			}
			var counts counters
			h := newLease(l, store, leaseTiming{self: "w", renewInterval: time.Second, failover: 3 * time.Second},
				slog.New(slog.DiscardHandler), &counts)
			h.hooks = bc.hooks
			l.Checkpoint = "00001"
			b.ReportAllocs()
			for b.Loop() {
				if l, err = h.storeCheckpoint(ctx, l); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
