package source_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/internal/consumertest"
	"github.com/streamtop/streamtop/source"
)

// subStream delivers each record of its Stream as subs user records, as
// kinesisstream does with an aggregated record: same sequence number,
// sub-sequence numbers 0 to subs-1. Like Kinesis it places a read by
// sequence number only. Its readers fail reads 5, 6 and 7 of every 8, so
// the Consumer opens a new reader, often after a batch that ended inside a
// record.
type subStream struct {
	source.Stream
	subs int

	mu    sync.Mutex
	opens []source.Position
}

func (s *subStream) Open(ctx context.Context, id string, from source.Position) (source.ShardReader, error) {
	s.mu.Lock()
	s.opens = append(s.opens, from)
	s.mu.Unlock()
	r, err := s.Stream.Open(ctx, id, from)
	if err != nil {
		return nil, err
	}
	return &subReader{r: r, subs: s.subs}, nil
}

type subReader struct {
	r     source.ShardReader
	subs  int
	buf   []source.Record
	reads int
}

func (r *subReader) Read(ctx context.Context, max int) (source.ReadResult, error) {
	r.reads++
	if r.reads%8 >= 5 {
		return source.ReadResult{}, errors.New("injected read failure")
	}
	var res source.ReadResult
	if len(r.buf) == 0 {
		var err error
		if res, err = r.r.Read(ctx, max); err != nil {
			return res, err
		}
		for _, rec := range res.Records {
			for i := range r.subs {
				u := rec
				u.SubSequenceNumber = int64(i)
				u.Data = fmt.Appendf(nil, "%s/%d", rec.SequenceNumber, i)
				r.buf = append(r.buf, u)
			}
		}
	}
	n := min(max, len(r.buf))
	res.Records, r.buf = r.buf[:n:n], r.buf[n:]
	res.End = res.End && len(r.buf) == 0
	return res, nil
}

func (r *subReader) Close() error { return r.r.Close() }

// Batches cut inside records, reads that fail and reopen the shard, and a
// second worker that starts from a checkpoint inside a record: every user
// record is processed once, in order.
func TestConsumerResumesInsideRecords(t *testing.T) {
	ms := consumertest.NewStream(t, 1)
	const records, subs = 30, 4
	seqs := putN(t, ms, records)
	stream := &subStream{Stream: ms, subs: subs}
	store := checkpoint.NewMemoryStore()

	var mu sync.Mutex
	var seen []string
	gate := true    // the first worker stops inside a record
	var refuse bool // and then takes no more batches
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(seen) }
	half := records * subs / 2
	newProc := func(string) source.Processor {
		return &funcProcessor{process: func(ctx context.Context, recs []source.Record, cp source.Checkpointer) error {
			mu.Lock()
			defer mu.Unlock()
			if refuse {
				return errors.New("stopping")
			}
			for _, r := range recs {
				seen = append(seen, string(r.Data))
			}
			if last := recs[len(recs)-1]; gate && len(seen) >= half && last.SubSequenceNumber != subs-1 {
				refuse = true
			}
			return cp.Checkpoint(ctx)
		}}
	}
	cfg := consumertest.FastConfig(stream, store, "w1", newProc)
	cfg.MaxRecords = 3 // never a whole record's worth
	cfg.IdleWait = 5 * time.Millisecond
	w := consumertest.StartWorker(t, cfg)
	consumertest.WaitFor(t, 5*time.Second, "half the user records", func() bool { mu.Lock(); defer mu.Unlock(); return refuse })
	w.Stop(t)
	l, err := store.Get(context.Background(), "shardId-000000000000")
	if err != nil {
		t.Fatal(err)
	}
	if l.SubSequence == 0 {
		t.Fatalf("the first worker's checkpoint %s/%d is not inside a record", l.Checkpoint, l.SubSequence)
	}

	mu.Lock()
	gate, refuse = false, false
	mu.Unlock()
	cfg.WorkerID = "w2"
	w = consumertest.StartWorker(t, cfg)
	consumertest.WaitFor(t, 5*time.Second, "every user record", func() bool { return count() >= records*subs })
	time.Sleep(50 * time.Millisecond) // a record processed twice would show by now
	w.Stop(t)

	var want []string
	for _, seq := range seqs {
		for i := range subs {
			want = append(want, fmt.Sprintf("%s/%d", seq, i))
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff(want, seen); diff != "" {
		t.Errorf("user records processed (-want +got):\n%s", diff)
	}
	stream.mu.Lock()
	defer stream.mu.Unlock()
	for _, p := range stream.opens {
		if p.Type == source.AfterSequence {
			t.Errorf("opened %+v: a read after a sequence number skips the rest of its record", p)
		}
	}
	if len(stream.opens) < 3 {
		t.Errorf("%d opens; want the reads that fail to have opened the shard again", len(stream.opens))
	}
}
