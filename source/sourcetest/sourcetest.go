// Package sourcetest is the contract suite for source.Stream: a test that any
// stream backend, in this module or outside it, runs to prove it behaves as
// the Consumer expects. The embedded memstream runs it directly, the Kinesis
// adapter against a local emulator; a stream on Kafka, Redis or a database
// log can run the same.
//
// # What it checks
//
//   - A new stream lists the shards asked for: open, without parents, each
//     with a starting sequence number, their hash ranges tiling
//     [0, 2^128-1] without gap or overlap.
//   - Routing and order: a record goes to the shard whose hash range holds
//     the MD5 of its partition key; a shard returns its records in put
//     order, with increasing sequence numbers and arrival times that never go
//     back, each record with its data, partition key, shard and arrival time;
//     Put copies the data it is given.
//   - Every source.Position: TRIM_HORIZON, LATEST, AT_ and
//     AFTER_SEQUENCE_NUMBER, AT_TIMESTAMP; a caught-up reader of an open
//     shard reports neither End nor time behind; readers see records put
//     after they were opened, and several readers of one shard do not
//     disturb each other. Read never returns more than it is asked for.
//   - Waiting: a reader that is a source.Waiter returns from Wait when a
//     record arrives or its shard closes, at once when a record is unread,
//     and at ctx's end otherwise. A backend without Wait says so (see
//     WithoutWaiter) and the suite checks that polling Read sees the same.
//   - Resharding, if the stream is a Resharder: after a split or a merge the
//     parents are listed closed with their ranges unchanged, the children
//     name their parents and cover the parents' range, new records go to the
//     children, a parent's reader reaches End after its last record (and
//     stays there), and each partition key's records, read from parents then
//     children, come in put order. Reshards that make no sense are refused
//     and change nothing.
//   - Errors: opening an unknown shard fails with source.ErrShardNotFound;
//     a malformed, empty, foreign or unknown position fails with
//     source.ErrInvalidPosition, from Open or from the first Read.
//
// # What it assumes
//
// The shape source.Shard describes, which is Kinesis': hash keys and
// sequence numbers are decimal integers, hash keys 128-bit, and a record's
// hash key is the MD5 of its partition key. A backend whose own partitioning
// differs presents it in these terms.
//
// Beyond that, only the exported behaviour of source.Stream: a backend may
// return fewer records than asked, check a position lazily (on the first
// Read instead of Open), and report End with a shard's last records or on a
// Read after them.
//
// The suite writes records through the Stream interface below (Put), so a
// backend's test wraps its producer where the stream itself cannot write.
// Every subtest asks for a new stream, because it counts the stream's shards
// and reshards them; streams are not shared. Subtests run one after another,
// each within a deadline (WithTimeout) that bounds every wait for records.
//
// # Gaps a backend declares
//
// Where a backend falls short of Kinesis in a way the Consumer tolerates, or
// has a limit of Kinesis' own, an Option says so (WithoutWaiter,
// WithMergeLowerFirst, WithOneReaderPerShard), and the suite checks
// the declared behaviour in place of the missing one: reading by polling, or
// the refusal. A declared gap is never skipped, and a declaration gone stale
// (the backend learned the missing behaviour) fails, so a gap stays visible
// in the test names. Resharding is different: a stream that cannot reshard
// is not a Resharder, the suite cannot make one reshard, and it skips those
// subtests, saying why.
//
// # How to call it
//
// From a test in the backend's own package:
//
//	func TestStream(t *testing.T) {
//		sourcetest.Run(t, func(t *testing.T, shards int) sourcetest.Stream {
//			s, err := mystream.Create(t.Context(), client, shards)
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Delete(context.Background()) })
//			return s
//		}, sourcetest.WithTimeout(time.Minute))
//	}
package sourcetest

import (
	"context"
	"testing"
	"time"

	"github.com/streamtop/streamtop/source"
)

// Stream is a source.Stream the suite can write to. memstream.Stream is one
// as it is; the test of a remote backend wraps the stream with its producer.
type Stream interface {
	source.Stream
	// Put writes one record and returns the shard that took it and its
	// sequence number.
	Put(ctx context.Context, partitionKey string, data []byte) (shardID, sequenceNumber string, err error)
}

// Resharder is implemented by streams the suite can reshard, as Kinesis
// does; the suite finds it by type assertion. Both methods return only once
// the new shards are listed and take records (for Kinesis: once the stream
// is ACTIVE again). Both refuse, with an error and changing nothing, a
// reshard that makes no sense: an unknown or closed shard, a split key
// that is malformed or not inside the shard's range past its start, a
// merge of a shard with itself or with one that is not adjacent.
type Resharder interface {
	// SplitShard closes shardID and opens two children: one from the start
	// of its hash range to newStartingHashKey-1, one from there to its end.
	SplitShard(ctx context.Context, shardID, newStartingHashKey string) error
	// MergeShards closes two open shards whose hash ranges are adjacent
	// and opens one child covering both, with ParentID shardID and
	// AdjacentParentID adjacentShardID.
	MergeShards(ctx context.Context, shardID, adjacentShardID string) error
}

// An Option tells Run about the stream under test.
type Option func(*config)

type config struct {
	tick       func()
	timeout    time.Duration
	lowerFirst bool
	noWaiter   bool
	another    func(t *testing.T, st Stream) Stream // WithOneReaderPerShard
}

// WithTick gives the suite a way to make every record put after tick returns
// arrive strictly later than every record put before it: advance the
// stream's fake clock, or sleep past the backend's timestamp resolution. The
// AT_TIMESTAMP subtests depend on it. The default sleeps 10 ms.
func WithTick(tick func()) Option { return func(c *config) { c.tick = tick } }

// WithTimeout bounds each subtest, and with it every wait for records to
// become readable and every reshard; d must be positive. The default is 30 s.
func WithTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// WithMergeLowerFirst declares that the backend's MergeShards takes an
// adjacent pair only with the shard of the lower hash range first, and
// refuses the other order with an error, changing nothing; kinesalite 3.3.3
// does so, where the Kinesis service takes either order. The suite then
// checks the refusal (MergeIntoLowerRefused) instead of the merge
// (MergeIntoLower). Swapping the arguments in the backend's test would not
// hide the gap: the child would name the other parent first.
func WithMergeLowerFirst() Option { return func(c *config) { c.lowerFirst = true } }

// WithoutWaiter declares that the backend's readers are not source.Waiters,
// so a Consumer polls them. The suite then checks that a reader at LATEST
// sees new records, and the end of a shard closed under it, by polling Read
// (WaitByPolling) instead of checking Wait; readers that are Waiters fail
// that subtest, as readers that are not fail Wait.
func WithoutWaiter() Option { return func(c *config) { c.noWaiter = true } }

// WithOneReaderPerShard declares that the backend serves one reader of a
// shard at a time: opening a second reader of a shard either fails or ends
// the first, whose next Read then fails. Kinesis enhanced fan-out is so: the
// service allows one subscription per shard and stream consumer. another
// returns a view of st that reads the same stream independently, as a
// second stream consumer does, and registers its own cleanup with t.Cleanup.
// The suite opens each reader that must read beside another of the same
// shard (ReadersAreIndependent, Positions) on a view of its own, and checks
// the declared behaviour (OneReaderPerShard) on one view: a backend that
// serves two readers there fails it.
func WithOneReaderPerShard(another func(t *testing.T, st Stream) Stream) Option {
	return func(c *config) { c.another = another }
}

// Run runs the suite as subtests of t. newStream is called once per subtest
// and returns a new, empty stream with the given number of open shards,
// ready for use, registering its own cleanup with t.Cleanup. A backend that
// names its streams gives each one a name that no other subtest, and no
// other run of the suite, uses: the subtest's name and a random suffix, say.
// A failing subtest fails t; Run returns when all have run.
func Run(t *testing.T, newStream func(t *testing.T, shards int) Stream, opts ...Option) {
	t.Helper()
	cfg := config{tick: func() { time.Sleep(10 * time.Millisecond) }, timeout: 30 * time.Second}
	for _, opt := range opts {
		opt(&cfg)
	}
	switch {
	case newStream == nil:
		t.Fatal("sourcetest: newStream is nil")
	case cfg.tick == nil:
		t.Fatal("sourcetest: WithTick(nil)")
	case cfg.timeout <= 0:
		t.Fatalf("sourcetest: WithTimeout(%v); want a positive duration", cfg.timeout)
	}
	s := suite{cfg: cfg, newStream: newStream}
	type test struct {
		name string
		run  func(*testing.T, context.Context)
	}
	wait := test{"Wait", s.wait}
	if cfg.noWaiter {
		wait = test{"WaitByPolling", s.waitByPolling}
	}
	mergeIntoLower := test{"MergeIntoLower", s.mergeIntoLower}
	if cfg.lowerFirst {
		mergeIntoLower = test{"MergeIntoLowerRefused", s.mergeIntoLowerRefused}
	}
	tests := []test{
		{"ShardsCoverHashSpace", s.shardsCoverHashSpace},
		{"RoutingAndOrder", s.routingAndOrder},
		{"DataIsCopiedOnPut", s.dataIsCopiedOnPut},
		{"Positions", s.positions},
		{"ReadMax", s.readMax},
		{"ReadersAreIndependent", s.readersAreIndependent},
		wait,
		{"Split", s.split},
		{"Merge", s.merge},
		mergeIntoLower,
		{"ReshardErrors", s.reshardErrors},
		{"UnknownShard", s.unknownShard},
		{"InvalidPositions", s.invalidPositions},
	}
	if cfg.another != nil {
		tests = append(tests, test{"OneReaderPerShard", s.oneReaderPerShard})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), cfg.timeout)
			defer cancel()
			tc.run(t, ctx)
		})
	}
}

type suite struct {
	cfg       config
	newStream func(t *testing.T, shards int) Stream
}

// view returns a view of st for a reader that reads beside another of the
// same shard: st itself, unless the backend serves one reader per shard.
func (s suite) view(t *testing.T, st Stream) Stream {
	t.Helper()
	if s.cfg.another == nil {
		return st
	}
	return s.cfg.another(t, st)
}

// resharder returns st as a Resharder, or skips the test if it is not one.
func resharder(t *testing.T, st Stream) Resharder {
	t.Helper()
	rs, ok := st.(Resharder)
	if !ok {
		t.Skipf("sourcetest: the stream, a %T, is not a sourcetest.Resharder", st)
	}
	return rs
}
