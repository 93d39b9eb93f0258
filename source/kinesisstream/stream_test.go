package kinesisstream

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/streamtop/streamtop/source"
)

func newTestStream(t testing.TB, f *fakeKinesis, opts ...StreamOption) *Stream {
	t.Helper()
	s, err := New(f, "test", opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func seqs(recs []source.Record) []string {
	var s []string
	for _, r := range recs {
		s = append(s, r.SequenceNumber)
	}
	return s
}

func fakeSeqs(f *fakeKinesis, shard string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var s []string
	for _, r := range f.shard(shard).records {
		s = append(s, *r.SequenceNumber)
	}
	return s
}

func TestNewRejectsBadOptions(t *testing.T) {
	f := newFakeKinesis("shardId-0")
	for _, c := range []struct {
		name   string
		client ReadClient
		stream string
		opts   []StreamOption
	}{
		{"NilClient", nil, "s", nil},
		{"EmptyName", f, "", nil},
		{"NilOption", f, "s", []StreamOption{nil}},
		{"ZeroPoll", f, "s", []StreamOption{WithPollInterval(0)}},
		{"ZeroReadLimit", f, "s", []StreamOption{WithReadLimit(0)}},
		{"BackoffMaxBelowBase", f, "s", []StreamOption{WithBackoff(time.Second, time.Millisecond)}},
		{"ZeroBackoff", f, "s", []StreamOption{WithBackoff(0, time.Second)}},
		{"NegativeAttempts", f, "s", []StreamOption{WithMaxAttempts(-1)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := New(c.client, c.stream, c.opts...); !errors.Is(err, ErrInvalidOption) {
				t.Fatalf("New = %v, want ErrInvalidOption", err)
			}
		})
	}
}

func TestShardsFollowsPagination(t *testing.T) {
	f := newFakeKinesis("shardId-0", "shardId-1", "shardId-2", "shardId-3", "shardId-4")
	f.shards[0].closed = true
	f.shards[3].parent = "shardId-0"
	f.pageSize = 2
	got, err := newTestStream(t, f).Shards(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range got {
		ids = append(ids, s.ID)
	}
	if diff := cmp.Diff([]string{"shardId-0", "shardId-1", "shardId-2", "shardId-3", "shardId-4"}, ids); diff != "" {
		t.Fatalf("shard IDs (-want +got):\n%s", diff)
	}
	if f.count("ListShards") != 3 {
		t.Errorf("%d ListShards calls for 5 shards in pages of 2, want 3", f.count("ListShards"))
	}
	if !got[0].Closed() || got[1].Closed() || !slices.Equal(got[3].Parents(), []string{"shardId-0"}) || got[3].HashKeyEnd != "9" {
		t.Errorf("shards lost their details: %+v", got)
	}
}

func TestShardsRestartsAfterExpiredNextToken(t *testing.T) {
	f := newFakeKinesis("shardId-0", "shardId-1", "shardId-2")
	f.pageSize = 1
	f.inject = func(op string, n int) error {
		if op == "ListShards" && n == 2 {
			return &types.ExpiredNextTokenException{Message: aws.String("expired")}
		}
		return nil
	}
	got, err := newTestStream(t, f).Shards(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].ID != "shardId-0" || got[1].ID != "shardId-1" || got[2].ID != "shardId-2" {
		t.Fatalf("Shards = %+v, want each of 3 shards once", got)
	}
}

func TestShardsErrors(t *testing.T) {
	for _, c := range []struct {
		name  string
		err   error
		want  error
		calls int
	}{
		{"NotFound", &types.ResourceNotFoundException{}, (*types.ResourceNotFoundException)(nil), 1},
		{"Throttled", &types.LimitExceededException{}, ErrThrottled, 3},
		{"AccessDenied", &types.AccessDeniedException{}, (*types.AccessDeniedException)(nil), 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeKinesis("shardId-0")
				f.inject = func(string, int) error { return c.err }
				_, err := newTestStream(t, f, WithMaxAttempts(3)).Shards(context.Background())
				checkErr(t, err, c.want)
				if n := f.count("ListShards"); n != c.calls {
					t.Errorf("%d calls, want %d", n, c.calls)
				}
			})
		})
	}
}

// checkErr asserts that err matches want: a sentinel through errors.Is, or
// a typed nil pointer through errors.As of its type.
func checkErr(t *testing.T, err, want error) {
	t.Helper()
	switch w := want.(type) {
	case *types.ResourceNotFoundException:
		if !errors.As(err, &w) {
			t.Fatalf("err = %v, want a %T", err, w)
		}
	case *types.AccessDeniedException:
		if !errors.As(err, &w) {
			t.Fatalf("err = %v, want a %T", err, w)
		}
	case *types.ProvisionedThroughputExceededException:
		if !errors.As(err, &w) {
			t.Fatalf("err = %v, want a %T", err, w)
		}
	default:
		if !errors.Is(err, want) {
			t.Fatalf("err = %v, want %v", err, want)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	f := newFakeKinesis("shardId-0")
	f.add("shardId-0", 3, 0)
	s := newTestStream(t, f)
	for _, c := range []struct {
		name  string
		shard string
		from  source.Position
		want  error
	}{
		{"UnknownShard", "shardId-9", source.Position{}, source.ErrShardNotFound},
		{"EmptyShardID", "", source.Position{}, source.ErrShardNotFound},
		{"UnknownSequence", "shardId-0", source.Position{Type: source.AtSequence, SequenceNumber: "77"}, source.ErrInvalidPosition},
		{"NoSequence", "shardId-0", source.Position{Type: source.AfterSequence}, source.ErrInvalidPosition},
		{"NoTimestamp", "shardId-0", source.Position{Type: source.AtTimestamp}, source.ErrInvalidPosition},
		{"UnknownType", "shardId-0", source.Position{Type: 42}, source.ErrInvalidPosition},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.Open(context.Background(), c.shard, c.from)
			checkErr(t, err, c.want)
		})
	}
}

// readAll reads a shard to its end (or until a read comes back empty on an
// open shard), alternating Wait and Read as the Consumer does.
func readAll(t *testing.T, r source.ShardReader, max int) ([]source.Record, bool) {
	t.Helper()
	var got []source.Record
	for {
		res, err := r.Read(context.Background(), max)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Records) > max {
			t.Fatalf("Read(%d) returned %d records", max, len(res.Records))
		}
		got = append(got, res.Records...)
		if res.End {
			return got, true
		}
		if len(res.Records) == 0 {
			return got, false
		}
	}
}

func TestReaderPacesCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeKinesis("shardId-0")
		f.add("shardId-0", 40, 10)
		r, err := newTestStream(t, f).Open(context.Background(), "shardId-0", source.Position{})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := readAll(t, r, 7)
		if diff := cmp.Diff(fakeSeqs(f, "shardId-0"), seqs(got)); diff != "" {
			t.Fatalf("records (-want +got):\n%s", diff)
		}
		times := f.callTimes("GetRecords")
		for i := 1; i < len(times); i++ {
			if gap := times[i].Sub(times[i-1]); gap != DefaultPollInterval {
				t.Fatalf("GetRecords %d came %v after the one before, want exactly %v (no more than the limit needs)", i, gap, DefaultPollInterval)
			}
		}
		if len(times) != 7 { // 6 full batches and an empty one
			t.Errorf("%d GetRecords calls, want 7", len(times))
		}
	})
}

func TestReaderKeepsToByteLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeKinesis("shardId-0")
		const size = 100 << 10
		f.add("shardId-0", 300, size) // about 30 MiB
		const limit = 2 << 20
		r, err := newTestStream(t, f).Open(context.Background(), "shardId-0", source.Position{})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		got, _ := readAll(t, r, 20) // 2 MiB a call: the budget binds, not the poll
		if len(got) != 300 {
			t.Fatalf("read %d records, want 300", len(got))
		}
		bytesOf := func(recs []source.Record) (n int) {
			for _, rec := range recs {
				n += len(rec.Data) + len(rec.PartitionKey)
			}
			return n
		}
		times := f.callTimes("GetRecords")
		// Bytes read by the start of each call never exceed the 5 s burst plus
		// what the budget earned since the first call; each call returned the
		// next 20 records.
		for i, at := range times {
			read := bytesOf(got[:min(len(got), 20*i)])
			if earned := at.Sub(start).Seconds() * limit; float64(read) > 5*limit+earned+1 {
				t.Fatalf("call %d at %v: %d bytes read already, budget allows %.0f", i, at.Sub(start), read, 5*limit+earned)
			}
		}
		// And the reader waits no longer than the budget needs.
		total := bytesOf(got)
		wantMax := time.Duration(float64(total-5*limit)/limit*float64(time.Second)) + DefaultPollInterval
		if took := times[len(times)-1].Sub(start); took > wantMax {
			t.Errorf("reading %d bytes took %v, want at most %v", total, took, wantMax)
		}
	})
}

func TestReaderEndOfShard(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeKinesis("shardId-0")
		f.add("shardId-0", 5, 0)
		f.shards[0].closed = true
		r, err := newTestStream(t, f).Open(context.Background(), "shardId-0", source.Position{Type: source.AfterSequence, SequenceNumber: fakeSeqs(f, "shardId-0")[1]})
		if err != nil {
			t.Fatal(err)
		}
		got, end := readAll(t, r, 100)
		if !end || len(got) != 3 {
			t.Fatalf("read %d records, End=%v; want 3 and End", len(got), end)
		}
		if err := r.(source.Waiter).Wait(context.Background()); err != nil {
			t.Fatalf("Wait at SHARD_END = %v, want nil at once", err)
		}
		res, err := r.Read(context.Background(), 10)
		if err != nil || !res.End || len(res.Records) != 0 {
			t.Fatalf("Read after End = %+v, %v; want End and nothing", res, err)
		}
		calls := f.count("GetRecords")
		r.Read(context.Background(), 10)
		if f.count("GetRecords") != calls {
			t.Error("Read after End called GetRecords")
		}
		r.Close()
		if _, err := r.Read(context.Background(), 10); !errors.Is(err, ErrClosed) {
			t.Fatalf("Read after Close = %v, want ErrClosed", err)
		}
	})
}

func TestWaitPollsAndKeepsRecords(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeKinesis("shardId-0")
		r, err := newTestStream(t, f).Open(context.Background(), "shardId-0", source.Position{Type: source.Latest})
		if err != nil {
			t.Fatal(err)
		}
		polls := 0
		f.inject = func(op string, n int) error {
			if op == "GetRecords" && n == 4 {
				f.add("shardId-0", 3, 0) // arrives while Wait polls
			}
			polls = n
			return nil
		}
		if err := r.(source.Waiter).Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		if polls != 4 {
			t.Fatalf("Wait returned after %d polls, want 4 (the first that found records)", polls)
		}
		got, _ := readAll(t, r, 2)
		if diff := cmp.Diff(fakeSeqs(f, "shardId-0"), seqs(got)); diff != "" {
			t.Fatalf("records (-want +got):\n%s", diff)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := r.(source.Waiter).Wait(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Wait with ctx done = %v, want context.Canceled", err)
		}
	})
}

func TestReaderRetriesThrottling(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeKinesis("shardId-0")
		f.add("shardId-0", 3, 0)
		throttles := 4
		f.inject = func(op string, n int) error {
			if op == "GetRecords" && n <= throttles {
				if n%2 == 0 {
					return &types.KMSThrottlingException{}
				}
				return &types.ProvisionedThroughputExceededException{}
			}
			return nil
		}
		r, err := newTestStream(t, f, WithBackoff(100*time.Millisecond, time.Second)).Open(context.Background(), "shardId-0", source.Position{})
		if err != nil {
			t.Fatal(err)
		}
		res, err := r.Read(context.Background(), 10)
		if err != nil || len(res.Records) != 3 {
			t.Fatalf("Read = %d records, %v; want 3 after the throttling", len(res.Records), err)
		}
		times := f.callTimes("GetRecords")
		for i := 1; i < len(times); i++ {
			ceiling := min(time.Second, 100*time.Millisecond<<(i-1))
			gap := times[i].Sub(times[i-1])
			if gap < max(DefaultPollInterval, ceiling/2) || gap > max(DefaultPollInterval, ceiling) {
				t.Errorf("retry %d came after %v, want within [%v, %v]", i, gap, max(DefaultPollInterval, ceiling/2), max(DefaultPollInterval, ceiling))
			}
		}
	})
}

func TestReaderErrors(t *testing.T) {
	for _, c := range []struct {
		name  string
		err   error
		want  error
		calls int
	}{
		{"ThrottledTooLong", &types.ProvisionedThroughputExceededException{}, ErrThrottled, 3},
		{"ThrottledKeepsCause", &types.ProvisionedThroughputExceededException{}, (*types.ProvisionedThroughputExceededException)(nil), 3},
		{"ShardGone", &types.ResourceNotFoundException{}, source.ErrShardNotFound, 1},
		{"AccessDenied", &types.AccessDeniedException{}, (*types.AccessDeniedException)(nil), 1},
		{"ExpiresForever", &types.ExpiredIteratorException{}, (*types.ExpiredIteratorException)(nil), maxRenewals + 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeKinesis("shardId-0")
				f.inject = func(op string, n int) error {
					if op == "GetRecords" {
						return c.err
					}
					return nil
				}
				r, err := newTestStream(t, f, WithMaxAttempts(3)).Open(context.Background(), "shardId-0", source.Position{})
				if err != nil {
					t.Fatal(err)
				}
				_, err = r.Read(context.Background(), 10)
				if c.name == "ExpiresForever" {
					var e *types.ExpiredIteratorException
					if !errors.As(err, &e) {
						t.Fatalf("err = %v, want ExpiredIteratorException", err)
					}
				} else {
					checkErr(t, err, c.want)
				}
				if n := f.count("GetRecords"); n != c.calls {
					t.Errorf("%d GetRecords calls, want %d", n, c.calls)
				}
			})
		})
	}
}

// TestReaderNeverSkipsOrRepeats checks a reader against the simplest model
// of a shard, a slice: whatever the read sizes, Waits, expired iterators
// and throttling, the records come out exactly once, in order.
func TestReaderNeverSkipsOrRepeats(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		f := newFakeKinesis("shardId-0")
		f.add("shardId-0", rapid.IntRange(0, 60).Draw(t, "records"), 0)
		f.shards[0].closed = rapid.Bool().Draw(t, "closed")
		want := fakeSeqs(f, "shardId-0")
		start := rapid.IntRange(0, len(want)).Draw(t, "start")
		from := source.Position{}
		if start > 0 {
			from = source.Position{Type: source.AfterSequence, SequenceNumber: want[start-1]}
		}
		faults := rapid.SliceOfN(rapid.SampledFrom([]string{"", "", "expired", "throttled", "internal"}), 0, 40).Draw(t, "faults")
		// More expiries in a row than maxRenewals is an error by design.
		for i, run := 0, 0; i < len(faults); i++ {
			if run = run + 1; faults[i] != "expired" {
				run = 0
			} else if run > maxRenewals {
				faults[i], run = "", 0
			}
		}
		f.inject = func(op string, n int) error {
			if op != "GetRecords" || n > len(faults) {
				return nil
			}
			switch faults[n-1] {
			case "expired":
				return &types.ExpiredIteratorException{}
			case "throttled":
				return &types.ProvisionedThroughputExceededException{}
			case "internal":
				return &types.InternalFailureException{}
			}
			return nil
		}
		// On the real clock, paced and backing off by the microsecond: rapid
		// fails by panicking, which a synctest bubble would not survive.
		s, err := New(f, "test", WithMaxAttempts(0), WithPollInterval(time.Microsecond), WithBackoff(time.Microsecond, time.Microsecond))
		if err != nil {
			t.Fatal(err)
		}
		r, err := s.Open(context.Background(), "shardId-0", from)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for range 200 {
			// Wait on a caught-up open shard would rightly poll forever.
			caughtUp := len(got) >= len(want)-start
			if rapid.Bool().Draw(t, "wait") && (f.shards[0].closed || !caughtUp) {
				if err := r.(source.Waiter).Wait(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			res, err := r.Read(context.Background(), rapid.IntRange(1, 15).Draw(t, "max"))
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, seqs(res.Records)...)
			if res.End || (len(res.Records) == 0 && len(got) >= len(want)-start) {
				if res.End != f.shards[0].closed {
					t.Fatalf("End = %v on a shard closed=%v", res.End, f.shards[0].closed)
				}
				break
			}
		}
		if diff := cmp.Diff(want[start:], got, cmpEmpty); diff != "" {
			t.Fatalf("records (-want +got):\n%s", diff)
		}
	})
}

var cmpEmpty = cmp.Comparer(func(a, b []string) bool { return slices.Equal(a, b) })

func TestRetryable(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&types.ProvisionedThroughputExceededException{}, true},
		{&types.KMSThrottlingException{}, true},
		{&types.LimitExceededException{}, true},
		{&types.InternalFailureException{}, true},
		{fmt.Errorf("wrapped: %w", &types.ProvisionedThroughputExceededException{}), true},
		{&types.ResourceNotFoundException{}, false},
		{&types.InvalidArgumentException{}, false},
		{&types.ExpiredIteratorException{}, false},
		{&types.KMSAccessDeniedException{}, false},
		{context.Canceled, false},
		// A timeout of the call itself, while the caller still waits.
		{context.DeadlineExceeded, true},
		{&url.Error{Op: "Post", URL: "http://x", Err: fmt.Errorf("Client.Timeout exceeded: %w", context.DeadlineExceeded)}, true},
		{errors.New("something else"), false},
	} {
		if got := retryable(context.Background(), c.err); got != c.want {
			t.Errorf("retryable(%v) = %v, want %v", c.err, got, c.want)
		}
	}
	// Once the caller's context has ended, nothing is worth another try.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, err := range []error{context.DeadlineExceeded, &types.ProvisionedThroughputExceededException{}} {
		if retryable(ctx, err) {
			t.Errorf("retryable(ended ctx, %v) = true, want false", err)
		}
	}
}

func TestPartialReadIsBehind(t *testing.T) {
	f := newFakeKinesis("shardId-0")
	f.add("shardId-0", 10, 0) // arrivals 1 ms apart
	r, err := newTestStream(t, f).Open(context.Background(), "shardId-0", source.Position{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.(source.Waiter).Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	res, err := r.Read(context.Background(), 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Records) != 3 || res.MillisBehindLatest != 7 {
		t.Fatalf("Read(3) of 10 fetched = %d records, %d ms behind; want 3, and 7 ms (the newest fetched arrived 7 ms later)", len(res.Records), res.MillisBehindLatest)
	}
	res, err = r.Read(context.Background(), 10)
	if err != nil || len(res.Records) != 7 || res.MillisBehindLatest != 0 {
		t.Fatalf("Read of the rest = %d records, %d ms behind, %v; want 7, caught up", len(res.Records), res.MillisBehindLatest, err)
	}
}

// TestOptionsFitTheirType checks what makes a misplaced option a compile
// error: a Stream's options are no ProducerOption, a Producer's no
// StreamOption, and the shared ones are both.
func TestOptionsFitTheirType(t *testing.T) {
	for name, o := range map[string]any{
		"WithPollInterval": WithPollInterval(time.Second),
		"WithReadLimit":    WithReadLimit(1),
	} {
		if _, ok := o.(ProducerOption); ok {
			t.Errorf("%s is a ProducerOption; want a StreamOption only", name)
		}
	}
	for name, o := range map[string]any{
		"WithLinger":         WithLinger(0),
		"WithBufferLimit":    WithBufferLimit(1, MaxRecordSize),
		"WithFailWhenFull":   WithFailWhenFull(),
		"WithKeyOrder":       WithKeyOrder(),
		"WithConcurrency":    WithConcurrency(1),
		"WithBatchLimit":     WithBatchLimit(1, MaxRecordSize),
		"WithFailureHandler": WithFailureHandler(func(string, []byte, error) {}),
	} {
		if _, ok := o.(StreamOption); ok {
			t.Errorf("%s is a StreamOption; want a ProducerOption only", name)
		}
	}
	for name, o := range map[string]any{
		"WithBackoff":     WithBackoff(time.Second, time.Second),
		"WithMaxAttempts": WithMaxAttempts(1),
	} {
		_, s := o.(StreamOption)
		_, p := o.(ProducerOption)
		if !s || !p {
			t.Errorf("%s: StreamOption %v, ProducerOption %v; want both", name, s, p)
		}
	}
}
