package integration

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/streamtop/streamtop/internal/crash"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/kinesisstream"
	"github.com/streamtop/streamtop/source/kinesisstream/kpl"
)

// crashingProcessor records every user record it processes. At the record
// whose data is crashAt it checkpoints that record, then kills its worker,
// so the rest of its batch is never processed; otherwise it never
// checkpoints, so what the next worker does rests on that one checkpoint.
type crashingProcessor struct {
	crashAt string
	kill    context.CancelCauseFunc
	worker  string
	log     *aggLog
}

// aggLog is what the processors of every worker saw, in order.
type aggLog struct {
	mu     sync.Mutex
	seen   []string // data of each record processed
	by     map[string][]string
	starts []source.Position
}

func (l *aggLog) snapshot() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.seen)
}

func (p *crashingProcessor) Initialize(_ context.Context, in source.InitInput) error {
	p.log.mu.Lock()
	p.log.starts = append(p.log.starts, in.Start)
	p.log.mu.Unlock()
	return nil
}

func (p *crashingProcessor) ProcessRecords(ctx context.Context, records []source.Record, cp source.Checkpointer) error {
	for _, r := range records {
		if context.Cause(ctx) != nil {
			return context.Cause(ctx)
		}
		p.log.mu.Lock()
		p.log.seen = append(p.log.seen, string(r.Data))
		p.log.by[p.worker] = append(p.log.by[p.worker], string(r.Data))
		p.log.mu.Unlock()
		if string(r.Data) == p.crashAt {
			if err := cp.CheckpointAt(ctx, r.Sequence()); err != nil {
				return err
			}
			p.kill(crash.ErrKilled)
			return crash.ErrKilled
		}
	}
	return nil
}

func (p *crashingProcessor) LeaseLost(context.Context) error { return nil }
func (p *crashingProcessor) ShardEnded(ctx context.Context, cp source.Checkpointer) error {
	return cp.Checkpoint(ctx)
}
func (p *crashingProcessor) ShutdownRequested(context.Context, source.Checkpointer) error { return nil }

// TestCrashInsideAggregatedRecord puts plain and KPL-aggregated records on a
// one-shard kinesalite stream. A first worker checkpoints user record 4 of
// an aggregate and dies; a second, taking the lease over, checkpoints user
// record 0 of the next aggregate and dies; a third finishes. Together they
// must process every user record exactly once, in order: a resume after the
// checkpoint's Kinesis record would lose the rest of each aggregate, one at
// its start would repeat its first user records.
func TestCrashInsideAggregatedRecord(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	kc, name, store, deleteStream := emulatorBackends(t, ctx, 1)
	defer deleteStream()

	var want []string
	putPlain := func(data string) {
		if _, err := kc.PutRecord(ctx, &sdk.PutRecordInput{StreamName: aws.String(name), PartitionKey: aws.String("plain"), Data: []byte(data)}); err != nil {
			t.Fatal(err)
		}
		want = append(want, data)
	}
	putAggregate := func(prefix string, n int) {
		var a kpl.Aggregator
		for i := range n {
			data := fmt.Sprint(prefix, i)
			if err := a.Add(kpl.Record{PartitionKey: fmt.Sprint("key-", i%3), Data: []byte(data)}); err != nil {
				t.Fatal(err)
			}
			want = append(want, data)
		}
		agg, _ := a.Flush()
		in := &sdk.PutRecordInput{StreamName: aws.String(name), PartitionKey: aws.String(agg.PartitionKey), Data: agg.Data}
		if agg.ExplicitHashKey != "" {
			in.ExplicitHashKey = aws.String(agg.ExplicitHashKey)
		}
		if _, err := kc.PutRecord(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	putPlain("p0")
	putAggregate("a", 10)
	putAggregate("b", 5)
	putPlain("p1")

	stream, err := kinesisstream.New(kc, name, kinesisstream.WithPollInterval(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	log := &aggLog{by: map[string][]string{}}
	runWorker := func(id, crashAt string, maxRecords int) (stop context.CancelCauseFunc, done chan error) {
		wctx, stop := context.WithCancelCause(ctx)
		c, err := source.NewConsumer(source.Config{
			Stream: stream, Leases: store, WorkerID: id,
			NewProcessor: func(string) source.Processor {
				return &crashingProcessor{crashAt: crashAt, kill: stop, worker: id, log: log}
			},
			FailoverTime: time.Second, SyncInterval: 100 * time.Millisecond, MaxRecords: maxRecords,
			RetryBackoff: 10 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		done = make(chan error, 1)
		go func() { done <- c.Run(wctx) }()
		return stop, done
	}
	waitKilled := func(id string, done chan error) {
		t.Helper()
		select {
		case <-done:
		case <-ctx.Done():
			t.Fatalf("worker %s never reached its crash point; processed %q", id, log.snapshot())
		}
	}

	_, done := runWorker("w1", "a4", 0)
	waitKilled("w1", done)
	_, done = runWorker("w2", "b0", 2) // batches of 2 cut the aggregates too
	waitKilled("w2", done)
	stop, done := runWorker("w3", "", 0)
	for deadline := time.Now().Add(20 * time.Second); len(log.snapshot()) < len(want) && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // anything processed twice would show by now
	stop(errors.New("test over"))
	if err := <-done; err != nil {
		t.Errorf("w3 Run: %v", err)
	}

	if got := log.snapshot(); !slices.Equal(got, want) {
		t.Fatalf("processed %q\nwant each once, in order: %q", got, want)
	}
	wantBy := map[string][]string{
		"w1": {"p0", "a0", "a1", "a2", "a3", "a4"},
		"w2": {"a5", "a6", "a7", "a8", "a9", "b0"},
		"w3": {"b1", "b2", "b3", "b4", "p1"},
	}
	for w, recs := range wantBy {
		if !slices.Equal(log.by[w], recs) {
			t.Errorf("worker %s processed %q, want %q", w, log.by[w], recs)
		}
	}
	if n := len(log.starts); n != 3 || log.starts[1].SubSequenceNumber != 4 || log.starts[2].SubSequenceNumber != 0 ||
		log.starts[1].Type != source.AfterSequence || log.starts[2].Type != source.AfterSequence {
		t.Errorf("processors started at %+v, want TRIM_HORIZON, after sub-record 4, after sub-record 0", log.starts)
	}
	if st := stream.Stats(); st.Aggregated < 2 || st.Corrupt != 0 || st.OutOfRange != 0 {
		t.Errorf("Stats() = %+v, want aggregates read, none corrupt or dropped", st)
	}
}
