package dynamostore_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/checkpoint/dynamostore"
	"github.com/streamtop/streamtop/internal/faults"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/memstream"
)

// The consumer targets with the lease table on DynamoDB: Consumers with
// default settings on a 4-shard memstream, sharing a dynalite lease table.

// ledger counts how often each record was processed.
type ledger struct {
	mu   sync.Mutex
	seen map[string]int // shard/sequence number -> times processed
	put  atomic.Int64
}

func (l *ledger) handler() func(string) source.Processor {
	return func(string) source.Processor {
		return source.HandlerFunc(func(ctx context.Context, records []source.Record) error {
			l.mu.Lock()
			defer l.mu.Unlock()
			for _, r := range records {
				l.seen[r.ShardID+"/"+r.SequenceNumber]++
			}
			return nil
		})
	}
}

// counts returns how many distinct records were processed and how many of
// those more than once.
func (l *ledger) counts() (distinct, twice int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, n := range l.seen {
		if n > 1 {
			twice++
		}
	}
	return len(l.seen), twice
}

// scenario is one run: worker a alone, then b joins (scale-out), then a is
// cut off from the lease table and b takes everything (failover).
type scenario struct {
	scaleOut, takeover time.Duration
	scaleOutTwice      int // records processed twice by the end of the scale-out
	put, distinct      int
}

func runScenario(t testing.TB) scenario {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client, name := newTable(t)
	store, err := dynamostore.New(client, name)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := memstream.New(4)
	if err != nil {
		t.Fatal(err)
	}
	l := &ledger{seen: map[string]int{}}

	// About 200 records/s over 4 shards, for the whole run.
	produced := make(chan struct{})
	stopProducing := make(chan struct{})
	go func() {
		defer close(produced)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stopProducing:
				return
			case <-tick.C:
			}
			if _, _, err := stream.Put(ctx, fmt.Sprint("key-", i%64), []byte(fmt.Sprint(i))); err != nil {
				return
			}
			l.put.Add(1)
		}
	}()

	var runs sync.WaitGroup
	start := func(id string, leases checkpoint.Store) (*source.Consumer, context.CancelFunc) {
		c, err := source.NewConsumer(source.Config{Stream: stream, Leases: leases, WorkerID: id, NewProcessor: l.handler()})
		if err != nil {
			t.Fatal(err)
		}
		wctx, stop := context.WithCancel(ctx)
		runs.Go(func() { _ = c.Run(wctx) })
		return c, stop
	}
	waitFor := func(limit time.Duration, what string, cond func() bool) time.Duration {
		t.Helper()
		begin := time.Now()
		for !cond() {
			if time.Since(begin) > limit {
				t.Fatalf("no %s after %v", what, limit)
			}
			time.Sleep(10 * time.Millisecond)
		}
		return time.Since(begin)
	}

	var offA atomic.Bool
	cutA := faults.Cut{Store: store, Off: &offA}
	a, stopA := start("a", cutA)
	defer stopA()
	waitFor(30*time.Second, "worker a holding 4 leases", func() bool { return a.Stats().LeasesHeld == 4 })
	b, stopB := start("b", store)
	defer stopB()
	var sc scenario
	sc.scaleOut = waitFor(30*time.Second, "2/2 split", func() bool {
		return a.Stats().LeasesHeld == 2 && b.Stats().LeasesHeld == 2
	})
	_, sc.scaleOutTwice = l.counts()

	offA.Store(true)
	sc.takeover = waitFor(60*time.Second, "takeover by b", func() bool { return b.Stats().LeasesHeld == 4 })

	close(stopProducing)
	<-produced
	sc.put = int(l.put.Load())
	waitFor(30*time.Second, "every record processed", func() bool {
		d, _ := l.counts()
		return d == sc.put
	})
	sc.distinct, _ = l.counts()
	cancel()
	runs.Wait()
	return sc
}

// TestConsumersOnDynamoDBLeases checks, with default Consumer settings, that
// a second worker takes half the shards with no record processed twice, and
// that when the first is cut off the second takes everything and nothing is
// lost. It takes about 15 s; BenchmarkConsumerTargets reports the times.
func TestConsumersOnDynamoDBLeases(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for the default failover time (10 s)")
	}
	sc := runScenario(t)
	if sc.scaleOutTwice != 0 {
		t.Errorf("%d records processed twice during the scale-out; want 0", sc.scaleOutTwice)
	}
	if sc.distinct != sc.put {
		t.Errorf("%d of %d records processed", sc.distinct, sc.put)
	}
	t.Logf("scale-out %v, takeover %v, %d records", sc.scaleOut, sc.takeover, sc.put)
}

// BenchmarkConsumerTargets measures the consumer issue's targets with the
// lease table on dynalite: seconds to a 2/2 split after a second worker
// starts (goal 5 s, 0 records twice), and seconds from a worker's loss to
// the takeover of its shards (goal 12 s). Run with -benchtime=1x.
func BenchmarkConsumerTargets(b *testing.B) {
	var scaleOut, takeover time.Duration
	twice := 0
	for range b.N {
		sc := runScenario(b)
		scaleOut += sc.scaleOut
		takeover += sc.takeover
		twice += sc.scaleOutTwice
	}
	b.ReportMetric(scaleOut.Seconds()/float64(b.N), "s-to-2/2")
	b.ReportMetric(float64(twice)/float64(b.N), "scale-out-duplicates")
	b.ReportMetric(takeover.Seconds()/float64(b.N), "s-to-takeover")
}
