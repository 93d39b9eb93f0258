package hook_test

import (
	"fmt"
	"time"

	"github.com/streamtop/streamtop/hook"
)

// slowBatches reports batches that took longer than limit: a hook of one
// event, which a Consumer finds among its Config.Hooks by its OnBatch
// method.
type slowBatches struct{ limit time.Duration }

func (s slowBatches) OnBatch(b hook.Batch) {
	if b.Duration > s.limit {
		fmt.Printf("shard %s: %d records took %v\n", b.Shard, b.Records, b.Duration)
	}
}

func Example() {
	hooks := []hook.Hook{slowBatches{limit: time.Second}}
	// What a Consumer does with its Config.Hooks, once, when it is made:
	batches := hook.Find[hook.Batches](hooks)
	fmt.Println(len(batches), "batch hook,", len(hook.Find[hook.Calls](hooks)), "call hooks")
	// And after each ProcessRecords call:
	for _, h := range batches {
		h.OnBatch(hook.Batch{Shard: "shardId-000000000001", Records: 500, Duration: 3 * time.Second})
	}
	// Output:
	// 1 batch hook, 0 call hooks
	// shard shardId-000000000001: 500 records took 3s
}
