package checkpoint_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/streamtop/streamtop/checkpoint"
)

// A worker that paused past the failover time comes back to find its lease
// taken: its checkpoint is refused instead of overwriting the new owner's.
func ExampleMemoryStore() {
	ctx := context.Background()
	store := checkpoint.NewMemoryStore()

	if _, err := store.Create(ctx, checkpoint.Lease{Key: "shardId-000000000000", Checkpoint: checkpoint.TrimHorizon}); err != nil {
		fmt.Println(err)
		return
	}
	l, _ := store.Get(ctx, "shardId-000000000000")
	mine, _ := store.Take(ctx, l, "worker-a")

	// worker-b saw the counter stand still and takes the lease over.
	l, _ = store.Get(ctx, "shardId-000000000000")
	theirs, _ := store.Take(ctx, l, "worker-b")
	theirs.Checkpoint = "49590338271490256608559692538361571095921575989136588898"
	if _, err := store.Checkpoint(ctx, theirs); err != nil {
		fmt.Println(err)
		return
	}

	mine.Checkpoint = "1"
	_, err := store.Checkpoint(ctx, mine)
	fmt.Println("worker-a lost its lease:", errors.Is(err, checkpoint.ErrLeaseLost))

	l, _ = store.Get(ctx, "shardId-000000000000")
	fmt.Println(l.Owner, l.Counter, l.Checkpoint)
	// Output:
	// worker-a lost its lease: true
	// worker-b 3 49590338271490256608559692538361571095921575989136588898
}
