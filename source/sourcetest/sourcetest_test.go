package sourcetest_test

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamtop/streamtop/internal/childtest"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/memstream"
	"github.com/streamtop/streamtop/source/sourcetest"
)

// limited is a memstream with the gaps a backend can declare, and a bug, so
// that the suite's checks of them run without an emulator.
type limited struct {
	*memstream.Stream
	lowerFirst bool     // refuse MergeShards with the upper shard first
	noWaiter   bool     // hide source.Waiter from readers
	afterIsAt  bool     // the bug: read AFTER_SEQUENCE_NUMBER as AT_SEQUENCE_NUMBER
	readers    *readers // serve one reader per shard, as Kinesis fan-out does per consumer
}

// readers holds the reader of each shard of one view of a limited stream.
type readers struct {
	mu   sync.Mutex
	lost map[string]*atomic.Bool // set when another reader took the shard
}

// hold makes r the reader of its shard; the previous one's Reads fail.
func (h *readers) hold(shardID string, r source.ShardReader) source.ShardReader {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lost == nil {
		h.lost = make(map[string]*atomic.Bool)
	}
	if old := h.lost[shardID]; old != nil {
		old.Store(true)
	}
	lost := new(atomic.Bool)
	h.lost[shardID] = lost
	return heldReader{r, lost}
}

type heldReader struct {
	source.ShardReader
	lost *atomic.Bool
}

func (r heldReader) Read(ctx context.Context, max int) (source.ReadResult, error) {
	if r.lost.Load() {
		return source.ReadResult{}, errors.New("limited: another reader took the shard")
	}
	return r.ShardReader.Read(ctx, max)
}

func (r heldReader) Wait(ctx context.Context) error { return r.ShardReader.(source.Waiter).Wait(ctx) }

// anotherView is WithOneReaderPerShard's view of a limited stream: the same
// memstream, with readers of its own.
func anotherView(t *testing.T, st sourcetest.Stream) sourcetest.Stream {
	l := st.(limited)
	l.readers = new(readers)
	return l
}

func (s limited) MergeShards(ctx context.Context, shardID, adjacentShardID string) error {
	if s.lowerFirst {
		shards, err := s.Shards(ctx)
		if err != nil {
			return err
		}
		start := map[string]*big.Int{}
		for _, sh := range shards {
			start[sh.ID], _ = new(big.Int).SetString(sh.HashKeyStart, 10)
		}
		if a, b := start[shardID], start[adjacentShardID]; a != nil && b != nil && a.Cmp(b) > 0 {
			return errors.New("limited: the upper shard must come second")
		}
	}
	return s.Stream.MergeShards(ctx, shardID, adjacentShardID)
}

func (s limited) Open(ctx context.Context, shardID string, from source.Position) (source.ShardReader, error) {
	if s.afterIsAt && from.Type == source.AfterSequence {
		from.Type = source.AtSequence
	}
	r, err := s.Stream.Open(ctx, shardID, from)
	if err == nil && s.readers != nil {
		r = s.readers.hold(shardID, r)
	}
	if err != nil || !s.noWaiter {
		return r, err
	}
	// Embedding the interface, not the reader, leaves Wait out of the
	// method set.
	return struct{ source.ShardReader }{r}, nil
}

// noReshard is a stream that cannot reshard: embedding the interface leaves
// SplitShard and MergeShards out of the method set.
type noReshard struct{ sourcetest.Stream }

// newStream returns a function that makes the streams of one suite run.
func newStream(wrap func(*memstream.Stream) sourcetest.Stream) func(t *testing.T, shards int) sourcetest.Stream {
	return func(t *testing.T, shards int) sourcetest.Stream {
		s, err := memstream.New(shards)
		if err != nil {
			t.Fatal(err)
		}
		return wrap(s)
	}
}

var timeout = sourcetest.WithTimeout(10 * time.Second)

// TestDeclaredGapsPass runs the whole suite on a backend with every gap,
// declared.
func TestDeclaredGapsPass(t *testing.T) {
	sourcetest.Run(t, newStream(func(s *memstream.Stream) sourcetest.Stream {
		return limited{Stream: s, lowerFirst: true, noWaiter: true, readers: new(readers)}
	}), sourcetest.WithMergeLowerFirst(), sourcetest.WithoutWaiter(), sourcetest.WithOneReaderPerShard(anotherView), timeout)
}

// childCases are runs of the suite made in a child process by
// TestSuiteCatches, because a failing subtest would fail the test that ran
// it.
var childCases = map[string]func(t *testing.T){
	"Full": func(t *testing.T) {
		sourcetest.Run(t, newStream(func(s *memstream.Stream) sourcetest.Stream { return limited{Stream: s} }), timeout)
	},
	"StaleMergeLowerFirst": func(t *testing.T) {
		sourcetest.Run(t, newStream(func(s *memstream.Stream) sourcetest.Stream { return limited{Stream: s} }),
			sourcetest.WithMergeLowerFirst(), timeout)
	},
	"UndeclaredLowerFirst": func(t *testing.T) {
		sourcetest.Run(t, newStream(func(s *memstream.Stream) sourcetest.Stream {
			return limited{Stream: s, lowerFirst: true}
		}), timeout)
	},
	"StaleNoWaiter": func(t *testing.T) {
		sourcetest.Run(t, newStream(func(s *memstream.Stream) sourcetest.Stream { return limited{Stream: s} }),
			sourcetest.WithoutWaiter(), timeout)
	},
	"UndeclaredNoWaiter": func(t *testing.T) {
		sourcetest.Run(t, newStream(func(s *memstream.Stream) sourcetest.Stream {
			return limited{Stream: s, noWaiter: true}
		}), timeout)
	},
	"StaleOneReaderPerShard": func(t *testing.T) {
		sourcetest.Run(t, newStream(func(s *memstream.Stream) sourcetest.Stream { return limited{Stream: s} }),
			sourcetest.WithOneReaderPerShard(anotherView), timeout)
	},
	"UndeclaredOneReader": func(t *testing.T) {
		sourcetest.Run(t, newStream(func(s *memstream.Stream) sourcetest.Stream {
			return limited{Stream: s, readers: new(readers)}
		}), timeout)
	},
	"NoResharder": func(t *testing.T) {
		sourcetest.Run(t, newStream(func(s *memstream.Stream) sourcetest.Stream { return noReshard{s} }), timeout)
	},
	"AfterIsAt": func(t *testing.T) {
		sourcetest.Run(t, newStream(func(s *memstream.Stream) sourcetest.Stream {
			return limited{Stream: s, afterIsAt: true}
		}), timeout)
	},
	"ZeroTimeout": func(t *testing.T) {
		sourcetest.Run(t, newStream(func(s *memstream.Stream) sourcetest.Stream { return s }), sourcetest.WithTimeout(0))
	},
}

// TestChild is the child process of TestSuiteCatches; in an ordinary run it
// does nothing.
func TestChild(t *testing.T) { childtest.Dispatch(t, childCases) }

// TestSuiteCatches checks that a wrong declaration, stale or missing, fails
// exactly the subtest it concerns, that a stream without resharding skips
// just the reshard subtests, and that a broken stream fails.
func TestSuiteCatches(t *testing.T) {
	reshards := []string{"Wait/ShardClosed", "Split", "Merge", "MergeIntoLower", "ReshardErrors"}
	for _, c := range []struct {
		name    string
		failing []string // exactly the subtests that fail; nil for none
		skipped []string // exactly the subtests that are skipped
		passing []string // subtests that must pass
		message string   // the output must say this
	}{
		{name: "Full", passing: append([]string{"Wait"}, reshards...)},
		{name: "StaleMergeLowerFirst", failing: []string{"MergeIntoLowerRefused"}, message: "WithMergeLowerFirst says the backend refuses it"},
		{name: "UndeclaredLowerFirst", failing: []string{"MergeIntoLower"}, message: "the upper shard must come second"},
		{name: "StaleNoWaiter", failing: []string{"WaitByPolling"}, message: "drop the option"},
		{name: "UndeclaredNoWaiter", failing: []string{"Wait"}, message: "declare a backend without Wait with WithoutWaiter"},
		{name: "StaleOneReaderPerShard", failing: []string{"OneReaderPerShard"}, message: "drop the option"},
		{
			name: "UndeclaredOneReader",
			failing: []string{"ReadersAreIndependent", "Positions", "Positions/TrimHorizon", "Positions/AtSequenceFirst",
				"Positions/AtSequence", "Positions/AfterSequence", "Positions/AfterSequenceLast", "Positions/AtTimestamp"},
			passing: []string{"Positions/AtTimestampBeforeAll", "ReadMax", "Wait"},
			message: "another reader took the shard",
		},
		{name: "NoResharder", skipped: reshards, passing: []string{"Wait", "Positions"}, message: "is not a sourcetest.Resharder"},
		{
			name:    "AfterIsAt",
			failing: []string{"Positions", "Positions/AfterSequence", "Positions/AfterSequenceLast"},
			passing: []string{"Positions/AtSequence", "RoutingAndOrder"},
		},
		{name: "ZeroTimeout", message: "sourcetest: WithTimeout(0s); want a positive duration"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := childtest.Run(t, "TestChild", c.name)
			wantFail := c.failing != nil || strings.HasPrefix(c.message, "sourcetest:")
			switch {
			case !wantFail && r.Err != nil:
				t.Errorf("suite failed: %v", r.Err)
			case wantFail && r.Err == nil:
				t.Errorf("suite passed; want it to fail")
			}
			slices.Sort(r.Failed)
			slices.Sort(r.Skipped)
			if fmt.Sprint(r.Failed) != fmt.Sprint(slices.Sorted(slices.Values(c.failing))) {
				t.Errorf("failing subtests %v, want %v", r.Failed, c.failing)
			}
			if fmt.Sprint(r.Skipped) != fmt.Sprint(slices.Sorted(slices.Values(c.skipped))) {
				t.Errorf("skipped subtests %v, want %v", r.Skipped, c.skipped)
			}
			r.Expect(t, nil, c.passing, c.message) // failing is checked exactly above
		})
	}
}
