// Package integration runs streamtop's pieces together against the local
// emulators: Consumers reading a kinesalite stream through source/kinesisstream,
// sharing a lease table on dynalite through checkpoint/dynamostore, while the
// stream is split and merged and workers join and crash. It has tests only.
package integration

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/streamtop/streamtop/checkpoint/dynamostore"
	"github.com/streamtop/streamtop/internal/awstest"
	"github.com/streamtop/streamtop/internal/faults"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/kinesisstream"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// ledger is what the processors saw: every record's deliveries, who first
// processed it, and each partition key's payload counters in first-delivery
// order.
type ledger struct {
	mu      sync.Mutex
	times   map[string]int    // shard/sequence -> deliveries
	firstBy map[string]string // shard/sequence -> worker
	order   map[string][]int  // partition key -> counters, first deliveries
}

func newLedger() *ledger {
	return &ledger{times: map[string]int{}, firstBy: map[string]string{}, order: map[string][]int{}}
}

// handler returns w's processors. Once w.crashed is set, they fail every
// batch, so the worker neither records nor checkpoints anything more: its
// process is gone, as far as the stream and the table can tell. With
// w.crashAfter set, the next batch is recorded and then the worker crashes,
// before the checkpoint that would cover it: the worst moment for
// duplicates.
func (l *ledger) handler(w *worker) func(string) source.Processor {
	return func(string) source.Processor {
		return source.HandlerFunc(func(ctx context.Context, records []source.Record) error {
			if w.crashed.Load() {
				return errors.New("crashed")
			}
			if w.crashAfter.Load() {
				defer w.crashed.Store(true)
			}
			worker := w.id
			l.mu.Lock()
			defer l.mu.Unlock()
			for _, r := range records {
				id := r.ShardID + "/" + r.SequenceNumber
				l.times[id]++
				if l.times[id] > 1 {
					continue
				}
				l.firstBy[id] = worker
				n, _ := strconv.Atoi(string(r.Data))
				l.order[r.PartitionKey] = append(l.order[r.PartitionKey], n)
			}
			return nil
		})
	}
}

// counts returns distinct records processed, and the IDs of those
// processed more than once.
func (l *ledger) counts() (distinct int, twice []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, n := range l.times {
		if n > 1 {
			twice = append(twice, id)
		}
	}
	return len(l.times), twice
}

// result is what one run measured.
type result struct {
	scaleOut       time.Duration // second and third worker start -> each of two holds a shard
	scaleOutTwice  int           // records processed twice by then
	reshardTwice   int           // ... and by the end of the split and the merge
	takeover       time.Duration // crash -> survivors hold every open shard
	put, distinct  int
	twice          []string
	crashedFirst   int // of the records processed twice, those the crashed worker processed first
	outOfKeyOrder  []string
	openShardsSeen []int
}

type worker struct {
	id      string
	c       *source.Consumer
	crashed atomic.Bool
	// crashAfter makes the worker crash after its next batch.
	crashAfter atomic.Bool
	stop       context.CancelFunc
	finished   chan struct{}
}

// emulatorBackends makes a stream of shards on the shared kinesalite and a
// lease table of its own on dynalite, and returns the Kinesis client, the
// stream's name, a Store on the table, and the function that deletes the
// stream: kinesalite holds 10 shards an account, so callers that run
// scenarios in a loop (the benchmark) must give them back after each.
func emulatorBackends(t testing.TB, ctx context.Context, shards int) (*sdk.Client, string, *dynamostore.Store, func()) {
	t.Helper()
	return backendsOn(t, ctx, awstest.Kinesis(t), shards)
}

// backendsOn is emulatorBackends with the stream on kc's Kinesis.
func backendsOn(t testing.TB, ctx context.Context, kc *sdk.Client, shards int) (*sdk.Client, string, *dynamostore.Store, func()) {
	t.Helper()
	dc := awstest.DynamoDB(t)
	name := awstest.UniqueName(t, "stream")
	table := awstest.UniqueName(t, "leases")
	if err := kinesisstream.CreateStream(ctx, kc, name, shards); err != nil {
		t.Fatalf("CreateStream: %v", err)
	}
	deleteStream := func() {
		if err := kinesisstream.DeleteStream(context.Background(), kc, name); err != nil {
			t.Errorf("DeleteStream: %v", err)
		}
	}
	if err := dynamostore.CreateTable(ctx, dc, table); err != nil {
		deleteStream()
		t.Fatalf("CreateTable: %v", err)
	}
	store, err := dynamostore.New(dc, table)
	if err != nil {
		deleteStream()
		t.Fatal(err)
	}
	return kc, name, store, deleteStream
}

// run drives one scenario on a fresh 2-shard stream and lease table: w1
// alone, then w2 and w3 join (scale-out), shard 0 is split and one child
// merged with shard 1, then the worker holding most leases crashes. cfg's
// Stream, Leases, WorkerID and NewProcessor are filled in per worker.
func run(t testing.TB, cfg source.Config) result { return runOn(t, awstest.Kinesis(t), cfg) }

// runOn is run with the stream on kc's Kinesis.
func runOn(t testing.TB, kc *sdk.Client, cfg source.Config) result {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kc, name, store, deleteStream := backendsOn(t, ctx, kc, 2)
	defer deleteStream()
	stream, err := kinesisstream.New(kc, name)
	if err != nil {
		t.Fatal(err)
	}
	l := newLedger()

	// One PutRecord at a time, about 150 records/s over 32 keys, each key's
	// counter rising: per-key order is checkable at the end.
	var put atomic.Int64
	stopProducing := make(chan struct{})
	produced := make(chan error, 1)
	go func() {
		next := map[string]int{}
		for i := 0; ; i++ {
			select {
			case <-stopProducing:
				produced <- nil
				return
			default:
			}
			key := fmt.Sprint("key-", i%32)
			next[key]++
			_, err := kc.PutRecord(ctx, &sdk.PutRecordInput{
				StreamName: aws.String(name), PartitionKey: aws.String(key), Data: []byte(strconv.Itoa(next[key])),
			})
			if err != nil {
				produced <- err
				return
			}
			put.Add(1)
			time.Sleep(5 * time.Millisecond)
		}
	}()

	var runs sync.WaitGroup
	workers := map[string]*worker{}
	start := func(id string) *worker {
		w := &worker{id: id, finished: make(chan struct{})}
		c := cfg
		c.Stream, c.Leases, c.WorkerID = stream, faults.Cut{Store: store, Off: &w.crashed}, id
		c.NewProcessor = l.handler(w)
		var err error
		if w.c, err = source.NewConsumer(c); err != nil {
			t.Fatal(err)
		}
		wctx, stop := context.WithCancel(ctx)
		w.stop = stop
		runs.Go(func() {
			defer close(w.finished)
			_ = w.c.Run(wctx)
		})
		workers[id] = w
		return w
	}
	defer func() {
		cancel()
		runs.Wait()
	}()
	held := func(ids ...string) []int {
		var hs []int
		for _, id := range ids {
			hs = append(hs, workers[id].c.Stats().LeasesHeld)
		}
		return hs
	}
	waitFor := func(limit time.Duration, what string, cond func() bool) time.Duration {
		t.Helper()
		begin := time.Now()
		for !cond() {
			if time.Since(begin) > limit {
				t.Fatalf("no %s after %v (leases held: %v)", what, limit, held(slices.Sorted(mapKeys(workers))...))
			}
			time.Sleep(10 * time.Millisecond)
		}
		return time.Since(begin)
	}
	openShards := func() int {
		shards, err := stream.Shards(ctx)
		if err != nil {
			t.Fatalf("Shards: %v", err)
		}
		n := 0
		for _, s := range shards {
			if !s.Closed() {
				n++
			}
		}
		return n
	}
	sum := func(hs []int) int {
		n := 0
		for _, h := range hs {
			n += h
		}
		return n
	}

	var res result
	start("w1")
	waitFor(30*time.Second, "w1 holding both shards", func() bool { return sum(held("w1")) == 2 })
	start("w2")
	start("w3")
	res.scaleOut = waitFor(30*time.Second, "scale-out to two workers", func() bool {
		hs := held("w1", "w2", "w3")
		return hs[0] == 1 && sum(hs) == 2
	})
	_, twice := l.counts()
	res.scaleOutTwice = len(twice)

	// Split shard 0 at the middle of its range, then merge its upper child
	// with shard 1 (kinesalite wants the lower shard named first).
	shards, err := stream.Shards(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s0 := shards[0]
	lo, _ := new(big.Int).SetString(s0.HashKeyStart, 10)
	hi, _ := new(big.Int).SetString(s0.HashKeyEnd, 10)
	mid := new(big.Int).Rsh(new(big.Int).Add(lo, hi), 1)
	if _, err := kc.SplitShard(ctx, &sdk.SplitShardInput{
		StreamName: aws.String(name), ShardToSplit: aws.String(s0.ID), NewStartingHashKey: aws.String(mid.String()),
	}); err != nil {
		t.Fatalf("SplitShard: %v", err)
	}
	if err := kinesisstream.WaitActive(ctx, kc, name); err != nil {
		t.Fatal(err)
	}
	res.openShardsSeen = append(res.openShardsSeen, openShards())
	waitFor(60*time.Second, "three workers on three shards after the split", func() bool {
		return slices.Equal(held("w1", "w2", "w3"), []int{1, 1, 1})
	})
	shards, err = stream.Shards(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var upper, s1 string
	for _, s := range shards {
		switch {
		case s.ParentID == s0.ID && s.HashKeyStart == mid.String():
			upper = s.ID
		case !s.Closed() && s.ParentID == "" && s.ID != s0.ID:
			s1 = s.ID
		}
	}
	if upper == "" || s1 == "" {
		t.Fatalf("no upper child or shard 1 among %+v", shards)
	}
	if _, err := kc.MergeShards(ctx, &sdk.MergeShardsInput{
		StreamName: aws.String(name), ShardToMerge: aws.String(upper), AdjacentShardToMerge: aws.String(s1),
	}); err != nil {
		t.Fatalf("MergeShards: %v", err)
	}
	if err := kinesisstream.WaitActive(ctx, kc, name); err != nil {
		t.Fatal(err)
	}
	res.openShardsSeen = append(res.openShardsSeen, openShards())
	waitFor(60*time.Second, "two open shards held after the merge", func() bool {
		hs := held("w1", "w2", "w3")
		return sum(hs) == 2 && slices.Max(hs) == 1
	})
	_, twice = l.counts()
	res.reshardTwice = len(twice)

	// Crash a worker holding a shard: its processors stop, and it can no
	// longer reach the table, so its leases expire for the others.
	var victim *worker
	for _, id := range []string{"w1", "w2", "w3"} {
		if workers[id].c.Stats().LeasesHeld > 0 {
			victim = workers[id]
			break
		}
	}
	victim.crashAfter.Store(true)
	waitFor(30*time.Second, "a batch for the worker about to crash", victim.crashed.Load)
	survivors := []string{}
	for _, id := range []string{"w1", "w2", "w3"} {
		if id != victim.id {
			survivors = append(survivors, id)
		}
	}
	res.takeover = waitFor(60*time.Second, "takeover of the crashed worker's shard", func() bool {
		return sum(held(survivors...)) == 2
	})

	close(stopProducing)
	if err := <-produced; err != nil {
		t.Fatalf("PutRecord: %v", err)
	}
	res.put = int(put.Load())
	waitFor(60*time.Second, "every record processed", func() bool {
		d, _ := l.counts()
		return d >= res.put
	})
	res.distinct, res.twice = l.counts()
	l.mu.Lock()
	for _, id := range res.twice {
		if l.firstBy[id] == victim.id {
			res.crashedFirst++
		}
	}
	for key, ns := range l.order {
		if !slices.IsSorted(ns) || len(slices.Compact(slices.Clone(ns))) != len(ns) {
			res.outOfKeyOrder = append(res.outOfKeyOrder, key)
		}
	}
	l.mu.Unlock()
	return res
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestConsumersOnEmulators checks the multi-worker run on kinesalite with the
// lease table on dynalite: nothing lost, each key's records processed in put
// order across the split and the merge, no record processed twice through
// the scale-out and the reshards (hand-offs are graceful), and after the
// crash only records the crashed worker had processed past its last
// checkpoint are processed again. A 3 s failover keeps it near half a
// minute; BenchmarkConsumerDefaults measures with the defaults.
//
// It runs on both Kinesis implementations: kinesalite, and kinesis-local,
// which returns ChildShards and MillisBehindLatest as the service does.
func TestConsumersOnEmulators(t *testing.T) {
	t.Run("kinesalite", func(t *testing.T) { testConsumersOn(t, awstest.Kinesis(t)) })
	t.Run("kinesis-local", func(t *testing.T) {
		testConsumersOn(t, awstest.KinesisClient(awstest.KinesisLocal(t).Endpoint))
	})
}

func testConsumersOn(t *testing.T, kc *sdk.Client) {
	res := runOn(t, kc, source.Config{FailoverTime: 3 * time.Second})
	t.Logf("scale-out %v, takeover %v (failover 3 s), %d records, %d processed twice (%d first by the crashed worker), open shards after split/merge %v",
		res.scaleOut, res.takeover, res.put, len(res.twice), res.crashedFirst, res.openShardsSeen)
	if res.distinct != res.put {
		t.Errorf("%d of %d records processed", res.distinct, res.put)
	}
	if res.scaleOutTwice != 0 || res.reshardTwice != 0 {
		t.Errorf("%d records processed twice by the end of the scale-out, %d by the end of the reshards; want 0", res.scaleOutTwice, res.reshardTwice)
	}
	if res.crashedFirst != len(res.twice) {
		t.Errorf("%d records processed twice, only %d of them first by the crashed worker", len(res.twice), res.crashedFirst)
	}
	if len(res.outOfKeyOrder) > 0 {
		t.Errorf("keys processed out of put order: %s", strings.Join(res.outOfKeyOrder, ", "))
	}
	if !slices.Equal(res.openShardsSeen, []int{3, 2}) {
		t.Errorf("open shards after the split and the merge: %v; want [3 2]", res.openShardsSeen)
	}
}

// BenchmarkConsumerDefaults measures the consumer targets with default
// Consumer settings on kinesalite + dynalite: seconds to scale out to a
// second worker (goal 5 s, 0 records twice) and from a crash to the takeover
// of the crashed worker's shards (goal 12 s). Run with -benchtime=1x; one
// run takes about 40 s.
func BenchmarkConsumerDefaults(b *testing.B) {
	var scaleOut, takeover time.Duration
	twice, dup := 0, 0
	for range b.N {
		res := run(b, source.Config{})
		if res.distinct != res.put {
			b.Fatalf("%d of %d records processed", res.distinct, res.put)
		}
		scaleOut += res.scaleOut
		takeover += res.takeover
		twice += res.scaleOutTwice
		dup += len(res.twice)
	}
	n := float64(b.N)
	b.ReportMetric(scaleOut.Seconds()/n, "s-to-scale-out")
	b.ReportMetric(float64(twice)/n, "scale-out-duplicates")
	b.ReportMetric(takeover.Seconds()/n, "s-to-takeover")
	b.ReportMetric(float64(dup)/n, "crash-duplicates")
}
