package source_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/internal/consumertest"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/memstream"
)

// A processor that panics on one record, in a 4-shard run with default
// settings on the bubble's clock: the Consumer recovers each panic, logs it
// (the stack once per streak), counts it, and starts the shard again with a
// new processor from its checkpoint, after a growing backoff, keeping the
// lease; the other shards are processed meanwhile. Once the processor stops
// panicking, every record has been processed: none was lost.
func TestConsumerSurvivesAPanickingProcessor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		stream := consumertest.NewStream(t, 4)
		perShard := map[string][]string{}
		for i := range 400 {
			sh, seq, err := stream.Put(context.Background(), fmt.Sprint("key-", i), []byte("visit"))
			if err != nil {
				t.Fatal(err)
			}
			perShard[sh] = append(perShard[sh], seq)
		}
		var poisoned string
		for sh, seqs := range perShard {
			if len(seqs) > 20 {
				poisoned = sh
			}
		}
		poison := perShard[poisoned][len(perShard[poisoned])/2]

		var (
			mu      sync.Mutex
			seen    = map[string]int{} // sequence number -> deliveries
			panicky atomic.Bool
		)
		panicky.Store(true)
		proc := func(string) source.Processor {
			return source.HandlerFunc(func(_ context.Context, recs []source.Record) error {
				for _, r := range recs {
					if r.SequenceNumber == poison && panicky.Load() {
						panic("cannot decode record " + r.SequenceNumber)
					}
					mu.Lock()
					seen[r.SequenceNumber]++
					mu.Unlock()
				}
				return nil
			})
		}
		processed := func(seqs []string) bool {
			mu.Lock()
			defer mu.Unlock()
			for _, s := range seqs {
				if seen[s] == 0 {
					return false
				}
			}
			return true
		}
		logs := &records{}
		w := consumertest.StartWorker(t, source.Config{Stream: stream, Leases: checkpoint.NewMemoryStore(),
			WorkerID: "w", NewProcessor: proc, MaxRecords: 10, Logger: slog.New(logs)})

		consumertest.WaitFor(t, time.Minute, "the other shards to be processed", func() bool {
			for sh, seqs := range perShard {
				if sh != poisoned && !processed(seqs) {
					return false
				}
			}
			return w.C.Stats().Panics >= 3
		})
		time.Sleep(30 * time.Second)
		st := w.C.Stats()
		t.Logf("%d panics in the first minute or so", st.Panics)
		if st.LeasesHeld != 4 {
			t.Errorf("holding %d leases while one shard's processor panics; want all 4 kept", st.LeasesHeld)
		}
		if processed([]string{poison}) {
			t.Fatal("the poison record was processed")
		}
		// The backoff grows to DefaultMaxRetryBackoff: about 12 restarts
		// in the first minute, not thousands.
		if st.Panics < 5 || st.Panics > 20 {
			t.Errorf("%d panics in about a minute; want the backoff to space them (5 to 20)", st.Panics)
		}
		for _, sh := range st.Shards {
			if want := int64(0); sh.ShardID != poisoned && sh.Panics != want {
				t.Errorf("shard %s: %d panics; want 0", sh.ShardID, sh.Panics)
			}
			if sh.ShardID == poisoned && sh.Panics != st.Panics {
				t.Errorf("shard %s: %d panics; want all %d", sh.ShardID, sh.Panics, st.Panics)
			}
		}

		panicky.Store(false)
		consumertest.WaitFor(t, time.Minute, "every record", func() bool { return processed(perShard[poisoned]) })
		w.Stop(t)

		lines := logs.matching("processor panicked")
		if int64(len(lines)) < st.Panics {
			t.Errorf("%d panic lines for %d panics", len(lines), st.Panics)
		}
		stacks := 0
		for _, r := range lines {
			if strings.Contains(attr(r, "stack"), "goroutine") {
				stacks++
			}
			if got := attr(r, "panic"); got != "cannot decode record "+poison {
				t.Errorf("panic logged as %q", got)
			}
		}
		if stacks != 1 {
			t.Errorf("the stack was logged %d times for one streak of panics; want once", stacks)
		}
	})
}

// A panic in ShutdownRequested does not keep the lease from being released
// on a graceful stop.
func TestConsumerReleasesAfterAPanicOnShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		stream, err := memstream.New(2)
		if err != nil {
			t.Fatal(err)
		}
		store := checkpoint.NewMemoryStore()
		proc := &funcProcessor{shutdown: func() { panic("broken shutdown") }}
		w := consumertest.StartWorker(t, source.Config{Stream: stream, Leases: store, WorkerID: "w",
			NewProcessor: func(string) source.Processor { return proc }})
		consumertest.WaitFor(t, time.Minute, "both leases", func() bool { return w.Held() == 2 })
		w.Stop(t)
		leases, err := store.List(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range leases {
			if l.Owner != "" {
				t.Errorf("lease %s still owned by %q after a graceful stop", l.Key, l.Owner)
			}
		}
		if p := w.C.Stats().Panics; p != 2 {
			t.Errorf("%d panics counted; want 2", p)
		}
	})
}
