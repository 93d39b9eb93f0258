package dynamosink_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/streamtop/streamtop/internal/awstest"
	"github.com/streamtop/streamtop/internal/faults"
	"github.com/streamtop/streamtop/sink"
	"github.com/streamtop/streamtop/sink/dynamosink"
	"github.com/streamtop/streamtop/topk"
)

// TestWriteUnderFaults writes the partials of two shards, and their
// progress, through a client that throttles, times out (before and after
// applying), fails progress conditions as a racing writer would, and
// stalls, on a seeded schedule. Every failed Write or WriteProgress must be
// a typed timeout (or a throttled read), and writing again (as a caller
// retrying an idempotent write does) must leave exactly the partials
// written, none lost, none doubled, and every window complete.
func TestWriteUnderFaults(t *testing.T) {
	client, table := newTable(t)
	sched := faults.NewSchedule(7,
		faults.Rate("dynamodb.UpdateItem", 0.1),
		faults.Rate("dynamodb.UpdateItem condition", 0.2),
		faults.Rate("dynamodb.UpdateItem applied", 0.03),
		faults.Rate("dynamodb.GetItem", 0.2),
		faults.Slow(0.1, 5*time.Millisecond),
	)
	faulty := faults.NewDynamoDB(client, sched)
	at := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC) // date-proof: the sink is given a clock at it
	// Reads judge expiry on the sink's clock: the test sets it, so the
	// snapshots stamped at are live whatever the date (issue 12).
	s, err := dynamosink.New(faulty, table, dynamosink.WithBackoff(time.Millisecond, 10*time.Millisecond), clockAt(at))
	if err != nil {
		t.Fatal(err)
	}
	group := awstest.UniqueName(t, "/faults")
	const windows, perWrite = 150, 3
	ctx := t.Context()
	timeouts := 0
	retry := func(what string, write func() error) {
		t.Helper()
		for try := 0; ; try++ {
			err := write()
			if err == nil {
				return
			}
			if !errors.Is(err, faults.ErrTimeout) && !errors.Is(err, faults.ErrThrottled) {
				t.Fatalf("%s: %v; want nil or a timeout", what, err)
			}
			if try == 30 {
				t.Fatalf("%s failed 30 times in a row: %v", what, err)
			}
			timeouts++
		}
	}
	var want []sink.Snapshot
	for start := 0; start < windows; start += perWrite {
		var batch []sink.Snapshot
		for i := start; i < start+perWrite; i++ {
			end := at.Add(time.Duration(i) * time.Millisecond)
			for k, shard := range []string{"a", "b"} {
				batch = append(batch, sink.Snapshot{Group: group, Time: end, Window: time.Second, Host: "w-" + shard, Shard: shard,
					Counts: []topk.Entry[string]{{Key: fmt.Sprint("ref", i%7), Count: int64(i * (k + 1))}}})
			}
			want = append(want, sink.Snapshot{Group: group, Time: end, Window: time.Second, Host: "w-a,w-b", Complete: true,
				Counts: []topk.Entry[string]{{Key: fmt.Sprint("ref", i%7), Count: int64(3 * i)}}})
		}
		retry("Write", func() error { return s.Write(ctx, batch) })
		through := batch[len(batch)-1].Time
		retry("WriteProgress", func() error { return s.WriteProgress(ctx, progress("a", "0", keyHalf, through)) })
		retry("WriteProgress", func() error { return s.WriteProgress(ctx, progress("b", keyHalfNext, keyMax, through)) })
	}
	sched.SetEnabled(false)
	got, err := s.Query(ctx, group, at)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got, cmpopts.EquateEmpty()); d != "" {
		t.Fatalf("snapshots after writes under faults (-want +got):\n%s", d)
	}
	// The test says nothing unless the faults happened.
	inj := faulty.Injected()
	t.Logf("injected: %v; writes retried: %d", inj, timeouts)
	for _, kind := range []string{"UpdateItem ProvisionedThroughputExceededException", "UpdateItem timeout",
		"UpdateItem applied timeout", "UpdateItem ConditionalCheckFailedException", "GetItem timeout"} {
		if inj[kind] == 0 {
			t.Errorf("no %q injected; the schedule does not exercise it", kind)
		}
	}
}

// TestQueryUnderFaults reads through a client that throttles and times out
// half its calls: Query retries throttling, so most reads succeed, and a read
// that fails says why with a typed error.
func TestQueryUnderFaults(t *testing.T) {
	client, table := table(t)
	at := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC) // date-proof: the sink is given a clock at it
	s := newSink(t, clockAt(at))
	group := awstest.UniqueName(t, "/faults")
	if err := s.Write(t.Context(), []sink.Snapshot{{Group: group, Time: at}}); err != nil {
		t.Fatal(err)
	}
	sched := faults.NewSchedule(3, faults.Rate("dynamodb.Query", 0.5), faults.Rate("dynamodb.Scan", 0.5))
	faulty := faults.NewDynamoDB(client, sched)
	fs, err := dynamosink.New(faulty, table, dynamosink.WithBackoff(time.Millisecond, 10*time.Millisecond), clockAt(at))
	if err != nil {
		t.Fatal(err)
	}
	ok := 0
	for range 40 {
		got, err := fs.Query(t.Context(), group, at)
		switch {
		case err == nil && len(got) == 1:
			ok++
		case errors.Is(err, faults.ErrTimeout), errors.Is(err, faults.ErrThrottled):
		default:
			t.Fatalf("Query = %d snapshots, %v; want 1 or a typed fault", len(got), err)
		}
	}
	inj := faulty.Injected()
	t.Logf("injected: %v; %d of 40 queries succeeded", inj, ok)
	// Without retries, about half the queries would fail: a quarter by
	// timeout, a quarter throttled. With them only timeouts get through.
	if throttles, timeouts := inj["Query ProvisionedThroughputExceededException"], inj["Query timeout"]; throttles == 0 || int64(40-ok) > timeouts+1 {
		t.Fatalf("%d throttles and %d timeouts injected, %d queries failed: throttles are not retried", throttles, timeouts, 40-ok)
	}
}
