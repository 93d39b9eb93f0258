package kinesisstream

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"
)

func newTestProducer(t testing.TB, f *fakeKinesis, opts ...ProducerOption) *Producer {
	t.Helper()
	p, err := NewProducer(f, "test", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	return p
}

// fast are the options for tests on the real clock: short linger and
// backoff, so a test with many retries still takes milliseconds.
var fast = []ProducerOption{WithLinger(time.Millisecond), WithBackoff(50*time.Microsecond, time.Millisecond)}

func TestNewProducerRejectsBadOptions(t *testing.T) {
	f := newFakeKinesis("shardId-0")
	for _, c := range []struct {
		name   string
		client PutClient
		stream string
		opts   []ProducerOption
	}{
		{"NilClient", nil, "s", nil},
		{"EmptyName", f, "", nil},
		{"NilOption", f, "s", []ProducerOption{nil}},
		{"NegativeLinger", f, "s", []ProducerOption{WithLinger(-time.Second)}},
		{"NoBufferRecords", f, "s", []ProducerOption{WithBufferLimit(0, 64<<20)}},
		{"BufferBelowRecord", f, "s", []ProducerOption{WithBufferLimit(10, MaxRecordSize-1)}},
		{"ZeroConcurrency", f, "s", []ProducerOption{WithConcurrency(0)}},
		{"BatchTooManyRecords", f, "s", []ProducerOption{WithBatchLimit(501, MaxBatchSize)}},
		{"BatchTooBig", f, "s", []ProducerOption{WithBatchLimit(10, MaxBatchSize+1)}},
		{"BatchBelowRecord", f, "s", []ProducerOption{WithBatchLimit(10, 1000)}},
		{"NilHandler", f, "s", []ProducerOption{WithFailureHandler(nil)}},
		{"AggregateTooSmall", f, "s", []ProducerOption{WithAggregation(1023)}},
		{"AggregateTooLarge", f, "s", []ProducerOption{WithAggregation(MaxRecordSize + 1)}},
		{"AggregationWithoutListShards", putOnly{f}, "s", []ProducerOption{WithAggregation(DefaultAggregateSize)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := NewProducer(c.client, c.stream, c.opts...); !errors.Is(err, ErrInvalidOption) {
				t.Fatalf("NewProducer = %v, want ErrInvalidOption", err)
			}
		})
	}
}

func TestPutRejectsRecordsThatCanNeverBeSent(t *testing.T) {
	p := newTestProducer(t, newFakeKinesis("shardId-0"), fast...)
	for _, c := range []struct {
		name string
		key  string
		data []byte
		ok   bool
	}{
		{"EmptyKey", "", []byte("x"), false},
		{"KeyOf257", strings.Repeat("k", 257), []byte("x"), false},
		{"KeyOf256", strings.Repeat("k", 256), []byte("x"), true},
		{"KeyOf256Runes", strings.Repeat("é", 256), []byte("x"), true},
		{"KeyOf257Runes", strings.Repeat("é", 257), []byte("x"), false},
		{"TooLarge", "k", make([]byte, MaxRecordSize), false},
		{"JustFits", "k", make([]byte, MaxRecordSize-1), true},
		{"EmptyData", "k", nil, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := p.Put(context.Background(), c.key, c.data)
			if c.ok && err != nil {
				t.Fatalf("Put = %v, want nil", err)
			}
			if !c.ok && !errors.Is(err, ErrInvalidRecord) {
				t.Fatalf("Put = %v, want ErrInvalidRecord", err)
			}
		})
	}
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := p.Stats(); s.Sent != 4 || s.Failed != 0 {
		t.Fatalf("Stats = %+v, want the 4 valid records sent", s)
	}
}

func TestProducerCopiesData(t *testing.T) {
	f := newFakeKinesis("shardId-0")
	p := newTestProducer(t, f, fast...)
	buf := []byte("original")
	if err := p.Put(context.Background(), "k", buf); err != nil {
		t.Fatal(err)
	}
	copy(buf, "XXXXXXXX")
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := string(f.stored()[0].Data); got != "original" {
		t.Fatalf("stored %q, want %q", got, "original")
	}
}

// TestProducerLosesNothing checks the Producer against the simplest model,
// the list of records Put accepted: whatever the batch limits, concurrency,
// partial failures and throttling, after Flush each record is stored
// exactly once, and with WithKeyOrder each key's records are in Put order.
func TestProducerLosesNothing(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		f := newFakeKinesis("shardId-0")
		var mu sync.Mutex
		failEntry := rapid.IntRange(0, 60).Draw(t, "entry failure %")
		failCall := rapid.IntRange(0, 40).Draw(t, "call failure %")
		seed := rapid.Uint64().Draw(t, "seed")
		n := uint64(0)
		roll := func(pct int) bool { // a deterministic stream of coin flips
			mu.Lock()
			defer mu.Unlock()
			n++
			x := (seed + n) * 0x9E3779B97F4A7C15
			return int((x>>33)%100) < pct
		}
		injected := atomic.Int64{}
		f.putEntry = func(string, []byte) string {
			if roll(failEntry) {
				injected.Add(1)
				if roll(50) {
					return "InternalFailure"
				}
				return "ProvisionedThroughputExceededException"
			}
			return ""
		}
		f.inject = func(op string, _ int) error {
			if roll(failCall) {
				return &types.ProvisionedThroughputExceededException{}
			}
			return nil
		}
		ordered := rapid.Bool().Draw(t, "key order")
		opts := append(slices.Clone(fast),
			WithConcurrency(rapid.IntRange(1, 4).Draw(t, "concurrency")),
			WithBatchLimit(rapid.IntRange(1, 20).Draw(t, "batch records"), MaxRecordSize),
			WithBufferLimit(rapid.IntRange(1, 50).Draw(t, "buffer records"), 2*MaxRecordSize),
		)
		if ordered {
			opts = append(opts, WithKeyOrder())
		}
		p, err := NewProducer(f, "test", opts...)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close(context.Background())
		keys := rapid.SliceOfN(rapid.SampledFrom([]string{"a", "b", "c", "d", "e"}), 0, 150).Draw(t, "keys")
		var want []string
		for i, k := range keys {
			data := fmt.Sprintf("%s/%d", k, i)
			if err := p.Put(context.Background(), k, []byte(data)); err != nil {
				t.Fatal(err)
			}
			want = append(want, data)
			if rapid.IntRange(0, 30).Draw(t, "flush?") == 0 {
				if err := p.Flush(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := p.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range f.stored() {
			got = append(got, string(r.Data))
		}
		if ordered {
			for _, k := range []string{"a", "b", "c", "d", "e"} {
				w := slices.DeleteFunc(slices.Clone(want), func(s string) bool { return !strings.HasPrefix(s, k+"/") })
				g := slices.DeleteFunc(slices.Clone(got), func(s string) bool { return !strings.HasPrefix(s, k+"/") })
				if diff := cmp.Diff(w, g); diff != "" {
					t.Fatalf("key %s stored out of Put order or incomplete (-want +got):\n%s", k, diff)
				}
			}
		}
		slices.Sort(want)
		slices.Sort(got)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("stored records (-accepted +stored):\n%s", diff)
		}
		s := p.Stats()
		if s.Sent != int64(len(want)) || s.Failed != 0 || s.Buffered != 0 || s.Retried < injected.Load() {
			t.Fatalf("Stats = %+v; want Sent %d, no failures, nothing buffered, Retried >= %d", s, len(want), injected.Load())
		}
		for _, sz := range f.putSizes {
			if sz[0] > MaxBatchRecords || sz[1] > MaxBatchSize {
				t.Fatalf("a PutRecords request of %d records, %d bytes", sz[0], sz[1])
			}
		}
	})
}

func TestProducerBatchLimits(t *testing.T) {
	f := newFakeKinesis("shardId-0")
	p := newTestProducer(t, f, WithLinger(time.Hour), WithConcurrency(1), WithBufferLimit(5000, 64<<20))
	big := make([]byte, 700<<10)
	for range 20 { // 14 MiB: needs 3 requests by size
		if err := p.Put(context.Background(), "big", big); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 1200 { // 1200 records: needs 3 requests by count
		if err := p.Put(context.Background(), fmt.Sprint(i), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := len(f.stored()); got != 1220 {
		t.Fatalf("stored %d records, want 1220", got)
	}
	full := 0
	for _, sz := range f.putSizes {
		if sz[0] > MaxBatchRecords || sz[1] > MaxBatchSize {
			t.Fatalf("PutRecords of %d records, %d bytes: over the limits", sz[0], sz[1])
		}
		if sz[0] == MaxBatchRecords || sz[1]+len(big) > MaxBatchSize {
			full++
		}
	}
	if len(f.putSizes) > 6 || full < 4 {
		t.Fatalf("requests %v: want batches filled to the limits", f.putSizes)
	}
}

func TestProducerLingers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeKinesis("shardId-0")
		p := newTestProducer(t, f, WithLinger(100*time.Millisecond))
		for i := range 3 {
			if err := p.Put(context.Background(), fmt.Sprint(i), []byte("x")); err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait() // the dispatcher set its linger timer
		if n := f.count("PutRecords"); n != 0 {
			t.Fatalf("%d PutRecords before the linger time, want 0", n)
		}
		time.Sleep(99 * time.Millisecond)
		synctest.Wait()
		if n := f.count("PutRecords"); n != 0 {
			t.Fatalf("%d PutRecords 1 ms before the linger time, want 0", n)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if n, stored := f.count("PutRecords"), len(f.stored()); n != 1 || stored != 3 {
			t.Fatalf("after the linger time: %d PutRecords, %d records stored; want one batch of 3", n, stored)
		}
	})
}

// TestBlockedPutSkipsLinger: once a Put waits for room, no record can join
// the lingering batch, so it goes at once instead of at the end of the
// linger time.
func TestBlockedPutSkipsLinger(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeKinesis("shardId-0")
		p := newTestProducer(t, f, WithLinger(time.Hour), WithBufferLimit(10, MaxRecordSize))
		start := time.Now()
		for i := range 35 {
			if err := p.Put(context.Background(), fmt.Sprint(i), []byte("x")); err != nil {
				t.Fatal(err)
			}
		}
		if d := time.Since(start); d != 0 {
			t.Fatalf("35 Puts into a buffer of 10 took %v, want no wait for the linger time", d)
		}
		synctest.Wait()
		if n, stored := f.count("PutRecords"), len(f.stored()); n != 3 || stored != 30 {
			t.Fatalf("%d PutRecords, %d records stored; want 3 batches of 10, the last 5 lingering", n, stored)
		}
	})
}

// blockingPuts makes every PutRecords wait until release is closed.
func blockingPuts(f *fakeKinesis) (release func()) {
	ch := make(chan struct{})
	f.putHook = func(*kinesis.PutRecordsInput) { <-ch }
	var once sync.Once
	return func() { once.Do(func() { close(ch) }) }
}

func TestPutWhenFull(t *testing.T) {
	t.Run("Fails", func(t *testing.T) {
		f := newFakeKinesis("shardId-0")
		release := blockingPuts(f)
		defer release()
		p := newTestProducer(t, f, append(fast, WithBufferLimit(2, MaxRecordSize), WithFailWhenFull())...)
		for i := range 2 {
			if err := p.Put(context.Background(), "k", []byte{byte(i)}); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.Put(context.Background(), "k", []byte("x")); !errors.Is(err, ErrBufferFull) {
			t.Fatalf("Put into a full buffer = %v, want ErrBufferFull", err)
		}
		release()
		if err := p.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := p.Put(context.Background(), "k", []byte("x")); err != nil {
			t.Fatalf("Put after the buffer drained = %v", err)
		}
	})
	t.Run("FailsByBytes", func(t *testing.T) {
		f := newFakeKinesis("shardId-0")
		release := blockingPuts(f)
		defer release()
		p := newTestProducer(t, f, append(fast, WithBufferLimit(100, MaxRecordSize), WithFailWhenFull())...)
		if err := p.Put(context.Background(), "k", make([]byte, MaxRecordSize/2)); err != nil {
			t.Fatal(err)
		}
		if err := p.Put(context.Background(), "k", make([]byte, MaxRecordSize/2)); !errors.Is(err, ErrBufferFull) {
			t.Fatalf("Put past the byte limit = %v, want ErrBufferFull", err)
		}
	})
	t.Run("Blocks", func(t *testing.T) {
		f := newFakeKinesis("shardId-0")
		release := blockingPuts(f)
		defer release()
		p := newTestProducer(t, f, append(fast, WithBufferLimit(2, MaxRecordSize))...)
		for i := range 2 {
			if err := p.Put(context.Background(), "k", []byte{byte(i)}); err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		defer cancel()
		if err := p.Put(ctx, "k", []byte("x")); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Put into a full buffer = %v, want to block until ctx ends", err)
		}
		done := make(chan error)
		go func() { done <- p.Put(context.Background(), "k", []byte("late")) }()
		time.Sleep(10 * time.Millisecond)
		release()
		if err := <-done; err != nil {
			t.Fatalf("blocked Put = %v after room was made", err)
		}
		if err := p.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := len(f.stored()); got != 3 {
			t.Fatalf("stored %d records, want 3", got)
		}
	})
}

func TestProducerPermanentFailures(t *testing.T) {
	for _, c := range []struct {
		name   string
		entry  string // a per-entry error code, or
		call   error  // an error for the whole request
		failed int64
		want   error
	}{
		{"EntryRefused", "KMSAccessDeniedException", nil, 2, (*entryError)(nil)},
		{"StreamGone", "", &types.ResourceNotFoundException{}, 5, (*types.ResourceNotFoundException)(nil)},
		{"AccessDenied", "", &types.AccessDeniedException{}, 5, (*types.AccessDeniedException)(nil)},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeKinesis("shardId-0")
			if c.entry != "" {
				f.putEntry = func(key string, _ []byte) string {
					if key == "bad" {
						return c.entry
					}
					return ""
				}
			}
			if c.call != nil {
				f.inject = func(string, int) error { return c.call }
			}
			var handled atomic.Int64
			p := newTestProducer(t, f, append(fast, WithFailureHandler(func(key string, data []byte, err error) {
				handled.Add(1)
			}))...)
			for i, k := range []string{"ok", "bad", "ok", "bad", "ok"} {
				if err := p.Put(context.Background(), k, []byte{byte(i)}); err != nil {
					t.Fatal(err)
				}
			}
			err := p.Flush(context.Background())
			var lost *LostError
			if !errors.Is(err, ErrSendFailed) || !errors.As(err, &lost) || int64(lost.Records) != c.failed {
				t.Fatalf("Flush = %v, want a *LostError of %d records", err, c.failed)
			}
			switch w := c.want.(type) {
			case *entryError:
				if !errors.As(err, &w) || w.ErrorCode() != c.entry {
					t.Fatalf("Flush = %v, want the entry's error code %s", err, c.entry)
				}
			case *types.ResourceNotFoundException:
				if !errors.As(err, &w) {
					t.Fatalf("Flush = %v, want a %T", err, w)
				}
			case *types.AccessDeniedException:
				if !errors.As(err, &w) {
					t.Fatalf("Flush = %v, want a %T", err, w)
				}
			}
			if s := p.Stats(); s.Failed != c.failed || s.Sent != 5-c.failed || s.Buffered != 0 {
				t.Fatalf("Stats = %+v, want %d failed, %d sent", s, c.failed, 5-c.failed)
			}
			if handled.Load() != c.failed {
				t.Fatalf("failure handler called %d times, want %d", handled.Load(), c.failed)
			}
			if err := p.Flush(context.Background()); err != nil {
				t.Fatalf("second Flush = %v, want nil: failures are reported once", err)
			}
		})
	}
}

func TestProducerMaxAttempts(t *testing.T) {
	f := newFakeKinesis("shardId-0")
	f.putEntry = func(string, []byte) string { return "ProvisionedThroughputExceededException" }
	p := newTestProducer(t, f, append(fast, WithMaxAttempts(3))...)
	if err := p.Put(context.Background(), "k", []byte("x")); err != nil {
		t.Fatal(err)
	}
	err := p.Flush(context.Background())
	if !errors.Is(err, ErrSendFailed) || !errors.Is(err, ErrThrottled) {
		t.Fatalf("Flush = %v, want ErrSendFailed and ErrThrottled", err)
	}
	if n := f.count("PutRecords"); n != 3 {
		t.Fatalf("%d PutRecords, want 3 attempts", n)
	}
	if s := p.Stats(); s.Retried != 2 || s.Failed != 1 {
		t.Fatalf("Stats = %+v, want 2 retries, 1 failure", s)
	}
}

func TestProducerRetriesOnlyFailedEntries(t *testing.T) {
	f := newFakeKinesis("shardId-0")
	var refused atomic.Bool
	f.putEntry = func(key string, _ []byte) string {
		if key == "b" && refused.CompareAndSwap(false, true) {
			return "ProvisionedThroughputExceededException"
		}
		return ""
	}
	var sizes [][]string
	var mu sync.Mutex
	f.putHook = func(in *kinesis.PutRecordsInput) {
		mu.Lock()
		defer mu.Unlock()
		var keys []string
		for _, e := range in.Records {
			keys = append(keys, aws.ToString(e.PartitionKey))
		}
		sizes = append(sizes, keys)
	}
	p := newTestProducer(t, f, append(fast, WithLinger(time.Hour))...)
	for _, k := range []string{"a", "b", "c"} {
		if err := p.Put(context.Background(), k, []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][]string{{"a", "b", "c"}, {"b"}}, sizes); diff != "" {
		t.Fatalf("requests (-want +got):\n%s", diff)
	}
	if s := p.Stats(); s.Sent != 3 || s.Retried != 1 {
		t.Fatalf("Stats = %+v, want 3 sent, 1 retried", s)
	}
}

func TestCloseSendsEverythingAndStops(t *testing.T) {
	f := newFakeKinesis("shardId-0")
	p := newTestProducer(t, f, WithLinger(time.Hour), WithKeyOrder())
	for i := range 100 {
		if err := p.Put(context.Background(), fmt.Sprint(i%3), []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := len(f.stored()); got != 100 {
		t.Fatalf("Close left %d of 100 records unsent", 100-got)
	}
	if err := p.Put(context.Background(), "k", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Put after Close = %v, want ErrClosed", err)
	}
	if err := p.Flush(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Flush after Close = %v, want ErrClosed", err)
	}
	if err := p.Close(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close = %v, want ErrClosed", err)
	}
}

func TestCloseGivesUpWhenCtxEnds(t *testing.T) {
	f := newFakeKinesis("shardId-0")
	f.inject = func(string, int) error { return &types.ProvisionedThroughputExceededException{} }
	var handled atomic.Int64
	p := newTestProducer(t, f, WithLinger(time.Hour), WithKeyOrder(), WithBackoff(time.Millisecond, 5*time.Millisecond),
		WithFailureHandler(func(string, []byte, error) { handled.Add(1) }))
	for i := range 50 {
		if err := p.Put(context.Background(), fmt.Sprint(i%2), []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := p.Close(ctx)
	if !errors.Is(err, ErrSendFailed) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v, want ErrSendFailed and context.DeadlineExceeded", err)
	}
	if s := p.Stats(); s.Failed != 50 || s.Sent != 0 || s.Buffered != 0 {
		t.Fatalf("Stats = %+v, want all 50 failed, none held", s)
	}
	if handled.Load() != 50 {
		t.Fatalf("failure handler called %d times, want 50", handled.Load())
	}
}

func TestFlushWaitsOnlyForEarlierRecords(t *testing.T) {
	f := newFakeKinesis("shardId-0")
	p := newTestProducer(t, f, fast...)
	if err := p.Put(context.Background(), "k", []byte("early")); err != nil {
		t.Fatal(err)
	}
	release := blockingPuts(f)
	defer release()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if err := p.Flush(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Flush with its record stuck = %v, want context.DeadlineExceeded", err)
	}
	release()
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(f.stored()) != 1 {
		t.Fatal("record not stored")
	}
}

func TestDeque(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var d deque
		var model []*pending
		for _, op := range rapid.SliceOfN(rapid.IntRange(0, 2), 0, 3000).Draw(t, "ops") {
			switch op {
			case 0:
				r := &pending{}
				d.pushBack(r)
				model = append(model, r)
			case 1:
				r := &pending{}
				d.pushFront(r)
				model = append([]*pending{r}, model...)
			case 2:
				got := d.popFront()
				var want *pending
				if len(model) > 0 {
					want, model = model[0], model[1:]
				}
				if got != want {
					t.Fatalf("popFront = %p, want %p", got, want)
				}
			}
			if d.len() != len(model) {
				t.Fatalf("len = %d, want %d", d.len(), len(model))
			}
		}
	})
}

// With WithKeyOrder, a key's later records wait for the earlier ones, but
// not for the linger time again: their time to linger passed while they
// waited.
func TestKeyOrderDoesNotLingerTwice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeKinesis("shardId-0")
		p := newTestProducer(t, f, WithLinger(100*time.Millisecond), WithKeyOrder())
		for i := range 5 {
			if err := p.Put(context.Background(), "k", []byte{byte(i)}); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(100 * time.Millisecond) // the one and only linger
		synctest.Wait()
		var got []byte
		for _, r := range f.stored() {
			got = append(got, r.Data...)
		}
		if !slices.Equal(got, []byte{0, 1, 2, 3, 4}) || f.count("PutRecords") != 5 {
			t.Fatalf("stored %v in %d requests; want 0..4 in order, one request each, with no more clock time", got, f.count("PutRecords"))
		}
	})
}

// putOnly is a client with PutRecords alone, as a wrapper might be.
type putOnly struct{ f *fakeKinesis }

func (c putOnly) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, opts ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	return c.f.PutRecords(ctx, in, opts...)
}

// TestFailureHandlerMayCallTheProducer: the handler runs with no lock held,
// so it can read Stats and Put a record again; Flush returns only after it
// has seen every failure it reports.
func TestFailureHandlerMayCallTheProducer(t *testing.T) {
	f := newFakeKinesis("shardId-0")
	f.putEntry = func(key string, _ []byte) string {
		if key == "bad" {
			return "KMSAccessDeniedException"
		}
		return ""
	}
	var p *Producer
	var handled atomic.Int64
	p = newTestProducer(t, f, append(fast, WithFailureHandler(func(key string, data []byte, err error) {
		if p.Stats().Failed == 0 {
			t.Errorf("handler for %s ran before Stats counted it", data)
		}
		if err := p.Put(context.Background(), "retried", data); err != nil {
			t.Errorf("Put from the handler: %v", err)
		}
		handled.Add(1)
	}))...)
	for i := range 20 {
		key := "ok"
		if i%4 == 0 {
			key = "bad"
		}
		if err := p.Put(context.Background(), key, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	err := p.Flush(context.Background())
	var lost *LostError
	if !errors.As(err, &lost) || lost.Records != 5 || handled.Load() != 5 {
		t.Fatalf("Flush = %v after %d handler calls, want 5 records lost and handled", err, handled.Load())
	}
	var refused *entryError
	if !errors.As(err, &refused) || refused.ErrorCode() != "KMSAccessDeniedException" {
		t.Fatalf("Flush = %v, want the entry's error in it", err)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatalf("Close = %v, want the handler's records sent", err)
	}
	if s := p.Stats(); s.Sent != 20 || s.Failed != 5 {
		t.Fatalf("Stats = %+v, want 20 sent (15 + 5 put again by the handler), 5 failed", s)
	}
}
