// Package checkpointtest is the contract suite for checkpoint.Store: a test
// that any lease store, in this module or outside it, runs to prove it keeps
// the rules a Consumer relies on. The in-memory store and the DynamoDB store
// both run it; a store on Postgres, etcd or Redis can run the same.
//
// # What it checks
//
//   - Create makes a lease only if its key is free, born unowned whatever
//     the caller filled in; Get of a missing key is checkpoint.ErrNotFound;
//     List returns every lease in key order, without State.
//   - The life of a lease: Take, Renew, Checkpoint, RequestHandoff, Handoff,
//     Release and Delete, with the counter, owner, pending owner and owner
//     switches each of them leaves.
//   - Every conditional write, given a view of the lease that is out of
//     date (stale or future counter, another owner, a released lease, a
//     changed pending owner), fails with checkpoint.ErrLeaseLost and changes
//     nothing; so does a worker that lost its lease and wakes up later.
//   - Racing writers: of several Takes or Checkpoints from one view exactly
//     one lands, whole.
//   - Arguments that make no sense (an empty owner) fail with an error that
//     is not ErrLeaseLost; a canceled context fails with context.Canceled
//     and writes nothing.
//   - Values round-trip: Parents, the special checkpoints (TRIM_HORIZON,
//     SHARD_END, ...), sequence numbers longer than an int64, and a State of
//     any bytes; a nil State removes the stored one; a State over the
//     store's bound is refused with checkpoint.ErrStateTooLarge (see
//     WithMaxStateSize). Slices passed in or handed out are not shared with
//     the store.
//
// # What it assumes
//
// Only what checkpoint.Store promises: the suite never looks past the
// interface. Each subtest asks for a store and names its leases after
// itself and a token drawn once per run, so one table can serve every
// subtest and every run of the suite (go test -count=N, go test again, on
// two machines at once) without a subtest meeting another's leases. Leases
// of other tests in the table are ignored, List included. The suite does
// not delete what it creates; a backend that must stay small gives each run
// a table of its own.
//
// Subtests run one after another; a few make concurrent calls to one store.
// The suite sets no deadline of its own: every call gets the test's context.
//
// # How to call it
//
// From a test in the store's own package:
//
//	func TestStore(t *testing.T) {
//		checkpointtest.Run(t, func(t *testing.T) checkpoint.Store {
//			return mystore.New(db, "leases") // on a shared table
//		}, checkpointtest.WithMaxStateSize(mystore.MaxStateSize))
//	}
package checkpointtest

import (
	"testing"

	"github.com/streamtop/streamtop/checkpoint"
)

// An Option tells Run about the store under test.
type Option func(*config)

type config struct {
	maxState    int
	maxStateSet bool
}

// WithMaxStateSize declares the largest Lease.State the store keeps, n > 0
// bytes. The suite then checks that a state of exactly n bytes is kept and
// that one of n+1 is refused with checkpoint.ErrStateTooLarge, writing
// nothing. Without it the StateTooLarge subtest is skipped: the suite cannot
// guess a bound, and a store need not have one.
func WithMaxStateSize(n int) Option {
	return func(c *config) { c.maxState, c.maxStateSet = n, true }
}

// Run runs the suite as subtests of t. newStore is called once per subtest
// and returns the store to test, ready for use; it may return the same store
// every time, or new ones on a shared table, and registers whatever cleanup
// it needs with t.Cleanup. A failing subtest fails t; Run returns when all
// have run.
func Run(t *testing.T, newStore func(t *testing.T) checkpoint.Store, opts ...Option) {
	t.Helper()
	var cfg config
	for _, opt := range opts {
		opt(&cfg)
	}
	if newStore == nil {
		t.Fatal("checkpointtest: newStore is nil")
	}
	if cfg.maxStateSet && cfg.maxState <= 0 {
		t.Fatalf("checkpointtest: WithMaxStateSize(%d); want a positive size", cfg.maxState)
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, s checkpoint.Store)
	}{
		{"CreateIfAbsent", testCreateIfAbsent},
		{"GetMissing", testGetMissing},
		{"ListInKeyOrder", testListInKeyOrder},
		{"Lifecycle", testLifecycle},
		{"Handoff", testHandoff},
		{"TakeClearsPendingOwner", testTakeClearsPendingOwner},
		{"ReleaseClearsPendingOwner", testReleaseClearsPendingOwner},
		{"Delete", testDelete},
		{"ConditionalFailures", testConditionalFailures},
		{"InvalidArguments", testInvalidArguments},
		{"LostWorkerCannotOverwrite", testLostWorkerCannotOverwrite},
		{"ConcurrentTakers", testConcurrentTakers},
		{"ConcurrentCheckpoints", testConcurrentCheckpoints},
		{"ParentsRoundTrip", testParentsRoundTrip},
		{"NoAliasing", testNoAliasing},
		{"SpecialCheckpoints", testSpecialCheckpoints},
		{"CanceledContext", testCanceledContext},
		{"StateRoundTrip", testStateRoundTrip},
		{"StateNilRemoves", testStateNilRemoves},
		{"StateTooLarge", func(t *testing.T, s checkpoint.Store) { testStateTooLarge(t, s, cfg.maxState) }},
		{"LargeState", func(t *testing.T, s checkpoint.Store) { testLargeState(t, s, cfg) }},
		{"SlidingState", func(t *testing.T, s checkpoint.Store) { testSlidingState(t, s, cfg) }},
		{"LostWorkerCannotWriteState", testLostWorkerCannotWriteState},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newStore(t))
		})
	}
}
