package source_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/internal/consumertest"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/memstream"
)

// ledger records what was put and what was processed, and checks the
// Consumer's promises: every record processed, per key in put order, and a
// record processed again only if it came after its shard's last checkpoint.
type ledger struct {
	mu         sync.Mutex
	puts       map[string][]string // partition key -> sequence numbers, in put order
	putCount   int
	times      map[string]int      // sequence number -> times processed
	firsts     map[string][]string // partition key -> sequence numbers, first processing order
	checkpoint map[string]string   // shard -> highest sequence checkpointed
	dups       int
	problems   []string
	processed  atomic.Int64             // distinct records processed
	paused     map[string]chan struct{} // shard -> closed when its processing may go on
}

// pause holds back processing of a shard's batches until resume.
func (l *ledger) pause(shard string) {
	l.mu.Lock()
	l.paused[shard] = make(chan struct{})
	l.mu.Unlock()
}

func (l *ledger) resume() {
	l.mu.Lock()
	for k, ch := range l.paused {
		close(ch)
		delete(l.paused, k)
	}
	l.mu.Unlock()
}

func newLedger() *ledger {
	return &ledger{
		puts: map[string][]string{}, times: map[string]int{},
		firsts: map[string][]string{}, checkpoint: map[string]string{},
		paused: map[string]chan struct{}{},
	}
}

func (l *ledger) problem(format string, args ...any) {
	if len(l.problems) < 20 {
		l.problems = append(l.problems, fmt.Sprintf(format, args...))
	}
}

func (l *ledger) put(key, seq string) {
	l.mu.Lock()
	l.puts[key] = append(l.puts[key], seq)
	l.putCount++
	l.mu.Unlock()
}

func (l *ledger) process(recs []source.Record) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range recs {
		n := l.times[r.SequenceNumber]
		l.times[r.SequenceNumber] = n + 1
		if n == 0 {
			l.firsts[r.PartitionKey] = append(l.firsts[r.PartitionKey], r.SequenceNumber)
			l.processed.Add(1)
			continue
		}
		l.dups++
		if cp := l.checkpoint[r.ShardID]; cp != "" && r.SequenceNumber <= cp {
			l.problem("record %s of %s processed again though the shard was checkpointed at %s", r.SequenceNumber, r.ShardID, cp)
		}
	}
}

func (l *ledger) checkpointed(shard, seq string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if seq == checkpoint.ShardEnd || seq == checkpoint.TrimHorizon || seq == checkpoint.Latest {
		return
	}
	if prev := l.checkpoint[shard]; seq < prev {
		l.problem("checkpoint of %s went back from %s to %s", shard, prev, seq)
		return
	}
	l.checkpoint[shard] = seq
}

func (l *ledger) allProcessed() bool {
	l.mu.Lock()
	n := l.putCount
	l.mu.Unlock()
	return l.processed.Load() >= int64(n)
}

func (l *ledger) duplicates() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.dups
}

// check reports every broken promise.
func (l *ledger) check(t testing.TB) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range l.problems {
		t.Error(p)
	}
	missing := 0
	for key, seqs := range l.puts {
		for _, s := range seqs {
			if l.times[s] == 0 {
				missing++
			}
		}
		if got := l.firsts[key]; !slices.Equal(got, seqs) {
			i := 0
			for i < len(got) && i < len(seqs) && got[i] == seqs[i] {
				i++
			}
			t.Errorf("key %s: record %d of %d processed first is %v, put there was %v",
				key, i, len(seqs), head(got[i:]), head(seqs[i:]))
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d records never processed", missing, l.putCount)
	}
}

func head(s []string) []string {
	if len(s) > 8 {
		return append(slices.Clip(s[:8]), "...")
	}
	return s
}

// handler returns a NewProcessor whose processors record into l and
// checkpoint after every batch (the HandlerFunc adapter).
func (l *ledger) handler() func(string) source.Processor {
	return func(string) source.Processor {
		return source.HandlerFunc(func(ctx context.Context, recs []source.Record) error {
			l.mu.Lock()
			gate := l.paused[recs[0].ShardID]
			l.mu.Unlock()
			if gate != nil {
				select {
				case <-gate:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			l.process(recs)
			return nil
		})
	}
}

// watchedStore reports every successful checkpoint to a ledger.
type watchedStore struct {
	checkpoint.Store
	l *ledger
}

func (s watchedStore) Checkpoint(ctx context.Context, l checkpoint.Lease) (checkpoint.Lease, error) {
	nl, err := s.Store.Checkpoint(ctx, l)
	if err == nil {
		s.l.checkpointed(nl.Key, nl.Checkpoint)
	}
	return nl, err
}

// startProducer puts records under a fixed set of keys until halted, and
// tells l what it put.
func startProducer(t testing.TB, s *memstream.Stream, l *ledger, keys int) *consumertest.Producer {
	t.Helper()
	i := 0
	return consumertest.StartProducer(t, func(<-chan struct{}) bool {
		entries := make([]memstream.Entry, 20)
		for j := range entries {
			entries[j] = memstream.Entry{PartitionKey: fmt.Sprintf("key-%d", (i*20+j)%keys), Data: []byte("visit")}
		}
		i++
		res, err := s.PutRecords(context.Background(), entries)
		if err != nil {
			t.Errorf("PutRecords: %v", err)
			return false
		}
		for j, r := range res {
			l.put(entries[j].PartitionKey, r.SequenceNumber)
		}
		time.Sleep(2 * time.Millisecond)
		return true
	})
}

// ownership counts the active (not ended) leases per owner in the table.
func ownership(t testing.TB, store checkpoint.Store) map[string]int {
	t.Helper()
	leases, err := store.List(context.Background())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	m := map[string]int{}
	for _, l := range leases {
		if l.Checkpoint != checkpoint.ShardEnd {
			m[l.Owner]++
		}
	}
	return m
}
