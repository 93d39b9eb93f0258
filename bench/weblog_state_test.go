package bench

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/streamtop/streamtop/aggregate"
	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/checkpoint/dynamostore"
	"github.com/streamtop/streamtop/internal/awstest"
	"github.com/streamtop/streamtop/internal/workload"
	"github.com/streamtop/streamtop/sink"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/topk"
)

// storeCheckpointer saves a processor's checkpoints, state included, in a
// checkpoint.Store, as a Consumer does for the lease it holds.
type storeCheckpointer struct {
	store checkpoint.Store
	lease checkpoint.Lease
}

func (c *storeCheckpointer) Checkpoint(context.Context) error { return nil }

func (c *storeCheckpointer) CheckpointAt(ctx context.Context, at source.Sequence) error {
	return c.CheckpointState(ctx, at, nil)
}

func (c *storeCheckpointer) CheckpointState(ctx context.Context, at source.Sequence, state []byte) error {
	l := c.lease
	l.Checkpoint, l.SubSequence, l.State = at.Number, at.Sub, state
	got, err := c.store.Checkpoint(ctx, l)
	if err != nil {
		return err
	}
	c.lease = got
	return nil
}

// BenchmarkWeblogCheckpointBytes is issue 15's checkpoint-cost target on
// its workload: one shard's share of BenchmarkWeblogTopIPs (about 11,500
// lines a second), counted in Sketch mode at capacity 8192 over a 60 s
// window of 1 s buckets, checkpointed with its state at every bucket into
// dynamostore with a state table on dynalite.
//
// Metrics, over the 60 checkpoints once the window is full: bytes/bucket, what
// the Store wrote to the state table per checkpoint (new chunks and the
// manifest); pane-bytes, one bucket's topk.SpaceSaving of the same capacity
// in its own encoding; bucket/pane, their ratio (target ≤ 2); state-bytes,
// the whole state's size, which a checkpoint used to write. It runs once per
// call: use -benchtime 1x.
func BenchmarkWeblogCheckpointBytes(b *testing.B) {
	const capacity, perBucket, window = 8192, 11_500, 60
	buckets := 2 * window // a whole block of the Sketch's slides, amortised
	if quick {
		buckets = window + 5
	}
	client := awstest.DynamoDB(b)
	ctx := context.Background()
	leases, states := awstest.UniqueName(b, "leases"), awstest.UniqueName(b, "state")
	if err := dynamostore.CreateTable(ctx, client, leases); err != nil {
		b.Fatal(err)
	}
	if err := dynamostore.CreateStateTable(ctx, client, states); err != nil {
		b.Fatal(err)
	}
	t0 := time.Unix(1_800_000_000, 0) // date-proof: arrival times are data here; the processor never idles
	for b.Loop() {
		store, err := dynamostore.New(client, leases, dynamostore.WithStateTable(states))
		if err != nil {
			b.Fatal(err)
		}
		key := fmt.Sprint("shard-", b.N)
		if _, err := store.Create(ctx, checkpoint.Lease{Key: key, Checkpoint: checkpoint.TrimHorizon}); err != nil {
			b.Fatal(err)
		}
		l, err := store.Get(ctx, key)
		if err != nil {
			b.Fatal(err)
		}
		if l, err = store.Take(ctx, l, "w"); err != nil {
			b.Fatal(err)
		}
		cp := &storeCheckpointer{store: store, lease: l}
		out, err := sink.NewMemory()
		if err != nil {
			b.Fatal(err)
		}
		agg, err := aggregate.New(aggregate.Config{Size: window * time.Second, Bucket: time.Second, Sink: out, K: 100,
			SketchCapacity: capacity, Decoder: aggregate.DecoderFunc(func(r source.Record, dst []aggregate.Item) ([]aggregate.Item, error) {
				ip, _, _ := bytes.Cut(r.Data, []byte{' '})
				return append(dst, aggregate.Item{Group: "ips", Key: string(ip), Time: r.ArrivalTime, N: 1}), nil
			})})
		if err != nil {
			b.Fatal(err)
		}
		proc := agg.NewProcessor(key)
		if err := proc.Initialize(ctx, source.InitInput{ShardID: key, Start: source.Position{Type: source.TrimHorizon},
			Shard: source.Shard{ID: key}}); err != nil {
			b.Fatal(err)
		}
		gen := workload.NewWebLog(1_000_000, 1.1, 7)
		seq := 0
		var paneBytes, written, generations int64
		var stateBytes int
		for bucket := range buckets {
			pane, err := topk.NewSpaceSaving[string](capacity)
			if err != nil {
				b.Fatal(err)
			}
			batch := make([]source.Record, 0, 500)
			for n := range perBucket {
				line, ip := gen.Next()
				pane.Add(string(ip), 1)
				seq++
				batch = append(batch, source.Record{Data: bytes.Clone(line), ShardID: key, SequenceNumber: fmt.Sprintf("%020d", seq),
					ArrivalTime: t0.Add(time.Duration(bucket)*time.Second + time.Duration(n)*time.Second/perBucket)})
				if len(batch) == cap(batch) || n == perBucket-1 {
					before := store.Stats()
					if err := proc.ProcessRecords(ctx, batch, cp); err != nil {
						b.Fatal(err)
					}
					after := store.Stats()
					if bucket > window && after.StateGenerations > before.StateGenerations {
						written += after.StateBytesWritten - before.StateBytesWritten
						generations += after.StateGenerations - before.StateGenerations
						stateBytes = len(cp.lease.State)
					}
					batch = batch[:0]
				}
			}
			if bucket >= window {
				enc, _ := pane.MarshalBinary()
				paneBytes += int64(len(enc))
			}
		}
		if generations == 0 {
			b.Fatal("no checkpoint with state once the window was full")
		}
		perCheckpoint := float64(written) / float64(generations)
		pane := float64(paneBytes) / float64(buckets-window)
		b.ReportMetric(perCheckpoint, "bytes/bucket")
		b.ReportMetric(pane, "pane-bytes")
		b.ReportMetric(perCheckpoint/pane, "bucket/pane")
		b.ReportMetric(float64(stateBytes), "state-bytes")
	}
}
