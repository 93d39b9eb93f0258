package source_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/internal/consumertest"
	"github.com/streamtop/streamtop/source"
)

// storeKeepsState reports whether s stores Lease.State with a checkpoint.
func storeKeepsState(t *testing.T, s checkpoint.Store) bool {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Create(ctx, checkpoint.Lease{Key: "probe", Checkpoint: checkpoint.TrimHorizon}); err != nil {
		t.Fatal(err)
	}
	l, err := s.Get(ctx, "probe")
	if err != nil {
		t.Fatal(err)
	}
	if l, err = s.Take(ctx, l, "probe"); err != nil {
		t.Fatal(err)
	}
	l.Checkpoint, l.State = "1", []byte("state")
	if l, err = s.Checkpoint(ctx, l); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "probe")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, got); err != nil {
		t.Fatal(err)
	}
	return string(got.State) == "state"
}

// tally counts records into state saved with every checkpoint, as a window
// would: a new owner restores the count and goes on.
type tally struct {
	mu       *sync.Mutex
	totals   map[string]int64 // shard -> count, as the latest processor sees it
	restored chan int64
	shard    string
	count    int64
}

func (p *tally) Initialize(_ context.Context, in source.InitInput) error {
	if in.State != nil {
		n, err := strconv.ParseInt(string(in.State), 10, 64)
		if err != nil {
			return err
		}
		p.count = n
		select {
		case p.restored <- n:
		default:
		}
	}
	return nil
}

func (p *tally) ProcessRecords(ctx context.Context, recs []source.Record, cp source.Checkpointer) error {
	n := p.count + int64(len(recs))
	if err := cp.(source.StateCheckpointer).CheckpointState(ctx, recs[len(recs)-1].Sequence(), []byte(strconv.FormatInt(n, 10))); err != nil {
		return err
	}
	p.count = n
	p.mu.Lock()
	p.totals[p.shard] = n
	p.mu.Unlock()
	return nil
}

func (p *tally) LeaseLost(context.Context) error { return nil }
func (p *tally) ShardEnded(ctx context.Context, cp source.Checkpointer) error {
	return cp.Checkpoint(ctx)
}
func (p *tally) ShutdownRequested(ctx context.Context, cp source.Checkpointer) error {
	return cp.Checkpoint(ctx) // the checkpoint does not move: the state stays
}

// State saved through a StateCheckpointer comes back in InitInput on the next
// owner, after a graceful hand-over and after a crash, and the count it
// carries ends exact: nothing counted twice, nothing missed.
func TestConsumerStateSurvivesFailover(t *testing.T) {
	for _, how := range []string{"stop", "kill"} {
		t.Run(how, func(t *testing.T) {
			store := checkpoint.NewMemoryStore()
			if !storeKeepsState(t, store) {
				t.Skip("checkpoint.MemoryStore does not store Lease.State yet")
			}
			stream := consumertest.NewStream(t, 1)
			var mu sync.Mutex
			totals := map[string]int64{}
			restored := make(chan int64, 1)
			newTally := func(shard string) source.Processor {
				return &tally{mu: &mu, totals: totals, restored: restored, shard: shard}
			}
			cfg := func(id string) source.Config {
				c := consumertest.FastConfig(stream, store, id, newTally)
				c.MaxRecords = 7
				return c
			}
			put := 0
			a := consumertest.StartWorker(t, cfg("a"))
			put += len(putN(t, stream, 100))
			consumertest.WaitFor(t, 5*time.Second, "a to count some", func() bool { mu.Lock(); defer mu.Unlock(); return totals["shardId-000000000000"] > 0 })
			if how == "kill" {
				a.Kill(t)
			} else {
				a.Stop(t)
			}
			put += len(putN(t, stream, 50))
			consumertest.StartWorker(t, cfg("b"))
			select {
			case n := <-restored:
				t.Logf("b restored a count of %d", n)
			case <-time.After(5 * time.Second):
				t.Fatal("b did not get a's state")
			}
			consumertest.WaitFor(t, 5*time.Second, "the exact count", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return totals["shardId-000000000000"] == int64(put)
			})
			time.Sleep(50 * time.Millisecond)
			mu.Lock()
			defer mu.Unlock()
			if got := totals["shardId-000000000000"]; got != int64(put) {
				t.Errorf("count %d after failover, want %d", got, put)
			}
		})
	}
}

// A plain checkpoint that moves past a saved state removes it: the state no
// longer covers the records before the checkpoint.
func TestConsumerPlainCheckpointDropsStaleState(t *testing.T) {
	store := checkpoint.NewMemoryStore()
	if !storeKeepsState(t, store) {
		t.Skip("checkpoint.MemoryStore does not store Lease.State yet")
	}
	stream := consumertest.NewStream(t, 1)
	seqs := putN(t, stream, 4)
	batches := make(chan struct{}, 10)
	proceed := make(chan struct{})
	proc := &funcProcessor{process: func(ctx context.Context, recs []source.Record, cp source.Checkpointer) error {
		defer func() { batches <- struct{}{} }()
		if recs[0].SequenceNumber == seqs[0] {
			err := cp.(source.StateCheckpointer).CheckpointState(ctx, recs[len(recs)-1].Sequence(), []byte("after the first batch"))
			batches <- struct{}{}
			<-proceed
			return err
		}
		return cp.Checkpoint(ctx)
	}}
	cfg := consumertest.FastConfig(stream, store, "w", func(string) source.Processor { return proc })
	cfg.MaxRecords = 2
	w := consumertest.StartWorker(t, cfg)
	<-batches
	l, err := store.Get(context.Background(), "shardId-000000000000")
	if err != nil {
		t.Fatal(err)
	}
	if l.Checkpoint != seqs[1] || string(l.State) != "after the first batch" {
		t.Errorf("after CheckpointState: checkpoint %s state %q; want %s and the state", l.Checkpoint, l.State, seqs[1])
	}
	close(proceed)
	<-batches // the first batch returns
	<-batches // the second is checkpointed
	w.Stop(t)
	if l, err = store.Get(context.Background(), "shardId-000000000000"); err != nil {
		t.Fatal(err)
	}
	if l.Checkpoint != seqs[3] || l.State != nil {
		t.Errorf("after a plain checkpoint: checkpoint %s state %q; want %s and no state", l.Checkpoint, l.State, seqs[3])
	}
}

// A processor that named a position inside a batch that then failed (it saved
// state covering that batch) keeps that checkpoint through a shutdown that
// comes before the retry: ShutdownRequested's plain Checkpoint, which stands
// for the batch accepted before, does not move the checkpoint back, and the
// state stays with it.
func TestShutdownAfterFailedBatchKeepsNamedCheckpoint(t *testing.T) {
	stream := consumertest.NewStream(t, 1)
	seqs := putN(t, stream, 4)
	store := checkpoint.NewMemoryStore()
	failed := make(chan struct{})
	var once sync.Once
	proc := &funcProcessor{process: func(ctx context.Context, recs []source.Record, cp source.Checkpointer) error {
		if recs[0].SequenceNumber == seqs[0] {
			return cp.Checkpoint(ctx)
		}
		last := recs[len(recs)-1].Sequence()
		if err := cp.(source.StateCheckpointer).CheckpointState(ctx, last, []byte("covers the failed batch")); err != nil {
			return err
		}
		once.Do(func() { close(failed) })
		return errors.New("downstream unavailable")
	}}
	cfg := consumertest.FastConfig(stream, store, "w", func(string) source.Processor { return proc })
	cfg.MaxRecords = 2
	cfg.RetryBackoff, cfg.MaxRetryBackoff = time.Minute, time.Minute // the shutdown comes first
	w := consumertest.StartWorker(t, cfg)
	select {
	case <-failed:
	case <-time.After(5 * time.Second):
		t.Fatal("the second batch was not delivered")
	}
	w.Stop(t)
	l, err := store.Get(context.Background(), "shardId-000000000000")
	if err != nil {
		t.Fatal(err)
	}
	if l.Checkpoint != seqs[3] || string(l.State) != "covers the failed batch" {
		t.Errorf("after shutdown: checkpoint %s, state %q; want %s and the state saved with it", l.Checkpoint, l.State, seqs[3])
	}
}
