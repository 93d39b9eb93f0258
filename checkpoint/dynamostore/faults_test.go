package dynamostore_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/checkpoint/dynamostore"
	"github.com/streamtop/streamtop/internal/awstest"
	"github.com/streamtop/streamtop/internal/faults"
)

// TestCheckpointsUnderFaults has one worker checkpoint a lease 60 times
// (with a state each time) through a client that throttles, times out
// before and after applying, fails conditions and stalls, on a seeded
// schedule. Every error must be typed (lease lost, throttled, timed out);
// after each, the table holds either the last checkpoint or the one just
// tried, never anything else; and retrying from a fresh read until the
// table holds it loses no checkpoint.
func TestCheckpointsUnderFaults(t *testing.T) {
	client, table := table(t)
	sched := faults.NewSchedule(11,
		faults.Rate("*", 0.15),
		faults.Rate("dynamodb.UpdateItem condition", 0.1),
		faults.Rate("dynamodb.UpdateItem applied", 0.1),
		faults.Slow(0.1, 5*time.Millisecond),
	)
	faulty := faults.NewDynamoDB(client, sched)
	s, err := dynamostore.New(faulty, table, dynamostore.WithMaxAttempts(3), dynamostore.WithBackoff(time.Millisecond, 5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	clean := newStoreOn(t, client, table)
	ctx := t.Context()
	key := awstest.UniqueName(t, "shard")
	if _, err := clean.Create(ctx, checkpoint.Lease{Key: key, Checkpoint: checkpoint.TrimHorizon}); err != nil {
		t.Fatal(err)
	}
	l, err := clean.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if l, err = clean.Take(ctx, l, "w1"); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for i := range 60 {
		at, state := fmt.Sprint(1000+i), []byte(fmt.Sprint("state ", i))
		before := l
		for try := 0; ; try++ {
			v := l
			v.Checkpoint, v.State = at, state
			got, err := s.Checkpoint(ctx, v)
			if err == nil {
				l = got
				break
			}
			var throttled *dynamostore.ThrottledError
			var failed *types.ConditionalCheckFailedException
			switch {
			case errors.Is(err, checkpoint.ErrLeaseLost) && !errors.As(err, &failed):
				kinds["lease lost"]++ // the condition failed (injected, or after an applied timeout)
			case errors.As(err, &throttled) && errors.Is(err, faults.ErrThrottled):
				kinds["throttled"]++
			case errors.Is(err, faults.ErrTimeout):
				kinds["timeout"]++
			default:
				t.Fatalf("checkpoint %s: untyped error %v", at, err)
			}
			if try == 30 {
				t.Fatalf("checkpoint %s failed 30 times: %v", at, err)
			}
			// A worker that cannot tell whether its write landed reads the
			// lease again: it is still the owner, and the table holds either
			// the old checkpoint or the new one.
			stored, err := clean.Get(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case stored.Owner != "w1":
				t.Fatalf("after a failed checkpoint the owner is %q", stored.Owner)
			case stored.Counter == before.Counter && stored.Checkpoint == before.Checkpoint && string(stored.State) == string(before.State):
			case stored.Counter == before.Counter+1 && stored.Checkpoint == at && string(stored.State) == string(state):
				l = stored // applied, answer lost
			default:
				t.Fatalf("after a failed checkpoint %s the table holds %+v; before it held %+v", at, stored, before)
			}
			if l.Checkpoint == at {
				break
			}
			l = stored
		}
	}
	sched.SetEnabled(false)
	final, err := clean.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if final.Checkpoint != "1059" || string(final.State) != "state 59" || final.Owner != "w1" {
		t.Fatalf("final lease %+v; want checkpoint 1059 with state 59, owned by w1", final)
	}
	t.Logf("errors seen: %v; injected: %v", kinds, faulty.Injected())
	if kinds["lease lost"] == 0 {
		t.Errorf("no lease lost error seen; the schedule does not exercise it")
	}
	// Throttling and timeouts are retried inside the Store, under its one
	// policy; they must have happened, and an applied write whose answer
	// was lost too (its retry then finds the condition failed).
	for _, k := range []string{"UpdateItem ProvisionedThroughputExceededException", "UpdateItem timeout", "UpdateItem applied timeout"} {
		if faulty.Injected()[k] == 0 {
			t.Errorf("no %q injected", k)
		}
	}
}
