package dynamostore_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/checkpoint/dynamostore"
	"github.com/streamtop/streamtop/internal/awstest"
	"github.com/streamtop/streamtop/internal/hooktest"
)

// Every DynamoDB call the Store makes on dynalite, each throttled attempt
// included, reaches its hook.Calls with the SDK operation's name; the
// throttles are marked so, the successes carry no error.
func TestHooksSeeEveryCall(t *testing.T) {
	ctx := t.Context()
	client, name := table(t)
	f := &flaky{Client: client, err: &types.ProvisionedThroughputExceededException{Message: ptr("slow down")}}
	rec := &hooktest.Recorder{}
	s, err := dynamostore.New(f, name, dynamostore.WithHooks(rec), dynamostore.WithBackoff(time.Millisecond, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	key := awstest.UniqueName(t, "shard")
	if _, err := s.Create(ctx, checkpoint.Lease{Key: key, Checkpoint: checkpoint.TrimHorizon}); err != nil {
		t.Fatal(err)
	}
	f.fail.Store(2)
	if _, err := s.Get(ctx, key); err != nil {
		t.Fatal(err)
	}

	calls := rec.Calls()
	if int64(len(calls)) != f.calls.Load() {
		t.Fatalf("%d calls seen by the hook, %d made: %+v", len(calls), f.calls.Load(), calls)
	}
	gets := rec.CallsOf("GetItem")
	if len(gets) != 3 {
		t.Fatalf("GetItem calls %+v; want 2 throttled, then 1", gets)
	}
	for i, c := range gets {
		throttled := i < 2
		if c.Adapter != "dynamostore" || c.Throttled != throttled || c.Retryable != throttled || (c.Err != nil) != throttled || c.Duration < 0 {
			t.Errorf("GetItem call %d: %+v; want adapter dynamostore, throttled %v", i, c, throttled)
		}
	}
	if len(rec.CallsOf("UpdateItem")) == 0 {
		t.Errorf("no UpdateItem seen for Create: %+v", calls)
	}
}
