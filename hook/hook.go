// Package hook defines the events streamtop reports as they happen, for
// figures that polled Stats cannot give: how long a batch, a checkpoint, an
// AWS call or a sink write took, how often a call was throttled or
// retried, and how late a window's snapshot was written.
//
// A hook is any value; the events it receives are decided by which of the
// one-method interfaces below it implements, as franz-go's hooks are. One
// value may implement several and be passed to every component:
//
//	h := promstats.NewHistograms(reg)   // implements all of them
//	consumer, _ := source.NewConsumer(source.Config{..., Hooks: []hook.Hook{h}})
//	store, _ := dynamostore.New(client, table, dynamostore.WithHooks(h))
//
// Components sort their hooks by interface once, when they are made, so an
// event costs one call per hook that wants it, and nothing (no clock read,
// no allocation) when none does. Hooks are called synchronously on the
// goroutine that did the work, possibly from many goroutines at once: they
// must be safe for concurrent use, return quickly, and not block.
//
// This package imports nothing beyond the standard library, so a hook for
// any metrics system can be written without the library depending on it.
package hook

import "time"

// Hook is a value implementing one or more of Batches, Checkpoints, Calls,
// Writes and Windows. A value implementing none is accepted and ignored.
type Hook = any

// Batch is one call of a Processor's ProcessRecords by a source.Consumer.
type Batch struct {
	Shard    string
	Records  int
	Duration time.Duration // how long ProcessRecords ran
	Err      error         // what it returned; the Consumer retries the batch when not nil
}

// Batches receives every ProcessRecords call's outcome.
type Batches interface{ OnBatch(Batch) }

// Checkpoint is one checkpoint write a source.Consumer made to its lease
// store (checkpoint.Store.Checkpoint).
type Checkpoint struct {
	Shard    string
	Duration time.Duration
	Err      error // nil: written
}

// Checkpoints receives every checkpoint write's outcome.
type Checkpoints interface{ OnCheckpoint(Checkpoint) }

// Call is one attempt of one AWS API call made by an adapter. The adapters
// make each attempt themselves (the SDK's own retries are off), so every
// retry is a Call of its own.
type Call struct {
	Adapter  string // the adapter's package: "kinesisstream", "dynamostore", "dynamosink"
	API      string // the operation: "GetRecords", "UpdateItem", …
	Duration time.Duration
	Err      error // nil: the call succeeded
	// Retryable reports that Err is a failure the adapters retry
	// (throttling, a timeout, a server fault): the operation calls again
	// unless its attempts or its context have run out.
	Retryable bool
	// Throttled reports that Err is the service asking to slow down
	// (ProvisionedThroughputExceeded and the like); Retryable is true too.
	Throttled bool
}

// Calls receives every AWS call attempt of the adapters given it.
type Calls interface{ OnCall(Call) }

// Write is one Write of snapshots to a sink (sink/dynamosink), from the
// call to its return, retries included.
type Write struct {
	Snapshots int
	Duration  time.Duration
	Err       error
}

// Writes receives every sink Write's outcome.
type Writes interface{ OnWrite(Write) }

// Window is a window's snapshot accepted by the sink: Latency is how long
// after the window's end (in record time) the snapshot was written,
// measured on the writer's clock. It is the delay a reader of the sink
// sees, watermark wait included; records replayed after a failover make it
// large, as their windows close again.
type Window struct {
	Group   string
	End     time.Time
	Latency time.Duration
}

// Windows receives a Window for each snapshot an aggregate.Aggregator's
// processors write.
type Windows interface{ OnWindow(Window) }

// Find returns the hooks among hs that implement T, in order; nil when
// there are none. Components call it once, when they are made.
func Find[T any](hs []Hook) []T {
	var out []T
	for _, h := range hs {
		if t, ok := h.(T); ok {
			out = append(out, t)
		}
	}
	return out
}
