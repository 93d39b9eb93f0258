package source_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/internal/consumertest"
	"github.com/streamtop/streamtop/source"
)

// missingTable is a lease store whose table goes missing on request.
type missingTable struct {
	checkpoint.Store
	gone atomic.Bool
}

func (m *missingTable) List(ctx context.Context) ([]checkpoint.Lease, error) {
	if m.gone.Load() {
		return nil, fmt.Errorf("%w: table LEASES", checkpoint.ErrTableNotFound)
	}
	return m.Store.List(ctx)
}

// Health says ready once the Consumer has synced, and not ready, naming the
// lease table, while the table is missing: a probe sees it long before Run
// gives up.
func TestHealth(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &missingTable{Store: checkpoint.NewMemoryStore()}
		cfg := consumertest.FastConfig(consumertest.NewStream(t, 2), store, "a", func(string) source.Processor {
			return source.HandlerFunc(func(context.Context, []source.Record) error { return nil })
		})
		c, err := source.NewConsumer(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if h := c.Health(); h.Ready || !h.LastSync.IsZero() {
			t.Fatalf("before Run: %+v; want not ready, never synced", h)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx) }()
		consumertest.WaitFor(t, 10*time.Second, "ready with both shards", func() bool {
			h := c.Health()
			return h.Ready && h.LeasesHeld == 2
		})
		store.gone.Store(true)
		consumertest.WaitFor(t, 10*time.Second, "not ready", func() bool { return !c.Health().Ready })
		h := c.Health()
		if !errors.Is(h.Failing, checkpoint.ErrTableNotFound) {
			t.Errorf("Failing = %v, want the missing table", h.Failing)
		}
		store.gone.Store(false)
		consumertest.WaitFor(t, 10*time.Second, "ready again", func() bool { return c.Health().Ready })
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
	})
}
