package kinesisstream_test

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/streamtop/streamtop/internal/faults"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/kinesisstream"
)

// TestFaultsOnEmulator writes to kinesalite through a Producer and reads
// through a source.Stream at the same time, every call going through
// faults.Kinesis: throttles, timeouts, expired iterators, partial
// PutRecords and slow calls. Every record is read once, each key's in Put
// order, and no reader ever reuses an iterator it was told had expired.
//
// The schedules are seeded, one per goroutine that draws from them (the
// Producer's two senders share one), so the faults come in a fixed order;
// which records they hit depends on timing.
func TestFaultsOnEmulator(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const seed = 20261125
	const n, keys = 4000, 100
	es := newEmulatorStream(t, 2)
	slow := faults.Slow(0.02, 25*time.Millisecond)

	writer := faults.NewKinesis(es.client, faults.NewSchedule(seed,
		faults.Rate("kinesis.PutRecords", 0.15),
		faults.Rate("kinesis.PutRecords partial", 0.3),
		faults.Rate("kinesis.PutRecords applied", 0), // would duplicate: at-least-once
		slow))
	p, err := kinesisstream.NewProducer(writer, es.Name(), kinesisstream.WithKeyOrder(),
		kinesisstream.WithLinger(5*time.Millisecond), kinesisstream.WithBackoff(time.Millisecond, 20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}

	listing := faults.NewKinesis(es.client, faults.NewSchedule(seed+1, faults.Rate("kinesis.ListShards", 0.5)))
	lister, err := kinesisstream.New(listing, es.Name(), kinesisstream.WithBackoff(time.Millisecond, 20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	var shards []source.Shard
	// Whether a listing's calls fail or not, it gives the same shards.
	for i := 0; i < 50 && len(listing.Injected()) < 2; i++ {
		if shards, err = lister.Shards(ctx); err != nil {
			t.Fatal(err)
		}
		if len(shards) != 2 {
			t.Fatalf("%d shards, want 2", len(shards))
		}
	}

	// One reader per shard, each on its own faulty client.
	type shardRead struct {
		recs   []source.Record
		client *faults.Kinesis
		err    error
	}
	reads := make([]shardRead, len(shards))
	produced := make(chan struct{})
	var wg sync.WaitGroup
	for i, sh := range shards {
		reads[i].client = faults.NewKinesis(es.client, faults.NewSchedule(seed+2+uint64(i),
			faults.Rate("kinesis.GetRecords", 0.3),
			faults.Rate("kinesis.GetShardIterator", 0.3),
			slow))
		st, err := kinesisstream.New(reads[i].client, es.Name(),
			kinesisstream.WithPollInterval(10*time.Millisecond), kinesisstream.WithBackoff(time.Millisecond, 20*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func(out *shardRead) {
			defer wg.Done()
			r, err := st.Open(ctx, sh.ID, source.Position{Type: source.TrimHorizon})
			if err != nil {
				out.err = err
				return
			}
			defer r.Close()
			for {
				// Small reads, so that each reader makes enough calls
				// (kinesalite takes 0.1-1 s to answer one under writes)
				// for every kind of fault to land.
				res, err := r.Read(ctx, 20)
				if err != nil {
					out.err = err
					return
				}
				// A reader's records are its own only until the next Read.
				for _, rec := range res.Records {
					rec.Data = bytes.Clone(rec.Data)
					out.recs = append(out.recs, rec)
				}
				if len(res.Records) > 0 || res.MillisBehindLatest > 0 {
					continue
				}
				select {
				case <-produced:
					return // every record was acknowledged before this empty read
				default:
				}
			}
		}(&reads[i])
	}

	start := time.Now()
	want := map[string][]string{}
	for i := range n {
		k := fmt.Sprint("key-", i%keys)
		data := fmt.Sprint(k, "/", i)
		if err := p.Put(ctx, k, []byte(data)); err != nil {
			t.Fatal(err)
		}
		want[k] = append(want[k], data)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	produce := time.Since(start)
	close(produced)
	wg.Wait()
	elapsed := time.Since(start)

	stats := p.Stats()
	if stats.Sent != n || stats.Failed != 0 {
		t.Fatalf("Producer stats %+v, want %d sent, none failed", stats, n)
	}
	got := map[string][]string{}
	seen := map[string]int{}
	total := 0
	for i, rd := range reads {
		if rd.err != nil {
			t.Fatalf("reader of %s: %v", shards[i].ID, rd.err)
		}
		for j, rec := range rd.recs {
			if j > 0 && compareIDs(rd.recs[j-1].SequenceNumber, rec.SequenceNumber) >= 0 {
				t.Fatalf("%s: sequence number %s after %s", shards[i].ID, rec.SequenceNumber, rd.recs[j-1].SequenceNumber)
			}
			got[rec.PartitionKey] = append(got[rec.PartitionKey], string(rec.Data))
			seen[string(rec.Data)]++
		}
		total += len(rd.recs)
	}
	for data, c := range seen {
		if c != 1 {
			t.Fatalf("record %s read %d times", data, c)
		}
	}
	if total != n {
		t.Fatalf("read %d records, want %d (each once)", total, n)
	}
	for k, w := range want {
		if !slices.Equal(got[k], w) {
			t.Fatalf("key %s read in the order %v..., want Put order %v...", k, got[k][:min(5, len(got[k]))], w[:min(5, len(w))])
		}
	}

	// The faults were there, and were handled as they must be.
	injected := writer.Injected()
	for i := range reads {
		for kind, c := range reads[i].client.Injected() {
			injected[kind] += c
		}
	}
	maps.Copy(injected, listing.Injected())
	for _, kind := range []string{
		"PutRecords ProvisionedThroughputExceededException", "PutRecords timeout", "PutRecords refused entries",
		"GetRecords ProvisionedThroughputExceededException", "GetRecords timeout", "GetRecords ExpiredIteratorException",
		"GetShardIterator ProvisionedThroughputExceededException", "GetShardIterator timeout",
		"ListShards LimitExceededException", "ListShards timeout",
	} {
		if injected[kind] == 0 {
			t.Errorf("no %q injected: %v", kind, injected)
		}
	}
	if c := injected["GetRecords expired iterator reused"]; c != 0 {
		t.Errorf("readers called GetRecords %d times with an iterator reported expired", c)
	}
	if stats.Retried < injected["PutRecords refused entries"] {
		t.Errorf("%d resends for %d refused entries", stats.Retried, injected["PutRecords refused entries"])
	}
	t.Logf("%d records, %d keys: produced in %v, all read %v after the first Put; producer %+v; faults %v",
		n, keys, produce.Round(time.Millisecond), elapsed.Round(time.Millisecond), stats, injected)
}

// TestLostRepliesOnEmulator shows where at-least-once begins: a PutRecords
// whose records were stored but whose answer was lost ("applied" faults) is
// sent again, so those records are stored twice. With WithKeyOrder a key's
// next record waits for the resend, so each duplicate sits right after its
// original and each key's records, duplicates dropped, are in Put order.
func TestLostRepliesOnEmulator(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const n, keys = 1000, 50
	es := newEmulatorStream(t, 2)
	writer := faults.NewKinesis(es.client, faults.NewSchedule(7, faults.Rate("kinesis.PutRecords applied", 0.2)))
	p, err := kinesisstream.NewProducer(writer, es.Name(), kinesisstream.WithKeyOrder(),
		kinesisstream.WithLinger(5*time.Millisecond), kinesisstream.WithBackoff(time.Millisecond, 20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{}
	for i := range n {
		k := fmt.Sprint("key-", i%keys)
		data := fmt.Sprint(k, "/", i)
		if err := p.Put(ctx, k, []byte(data)); err != nil {
			t.Fatal(err)
		}
		want[k] = append(want[k], data)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	lost := writer.Injected()["PutRecords applied timeout"]
	if lost == 0 {
		t.Fatal("no reply was lost")
	}
	// Read everything: the Producer is closed, so an empty read is the end.
	got := map[string][]string{}
	total := 0
	shards, err := es.Shards(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, sh := range shards {
		r, err := es.Open(ctx, sh.ID, source.Position{Type: source.TrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		for {
			res, err := r.Read(ctx, 10000)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Records) == 0 && res.MillisBehindLatest == 0 {
				break
			}
			for _, rec := range res.Records {
				got[rec.PartitionKey] = append(got[rec.PartitionKey], string(rec.Data))
			}
			total += len(res.Records)
		}
		r.Close()
	}
	for k, w := range want {
		if c := slices.Compact(slices.Clone(got[k])); !slices.Equal(c, w) {
			t.Fatalf("key %s read as %v..., want Put order %v... with duplicates only next to their originals", k, got[k][:min(6, len(got[k]))], w[:min(5, len(w))])
		}
	}
	if total <= n {
		t.Fatalf("read %d records after %d lost replies, want duplicates beyond the %d put", total, lost, n)
	}
	t.Logf("%d records put, %d PutRecords replies lost, %d records read (%d duplicates); Producer %+v", n, lost, total, total-n, p.Stats())
}
