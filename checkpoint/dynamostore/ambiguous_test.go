package dynamostore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/checkpoint/dynamostore"
	"github.com/streamtop/streamtop/internal/awstest"
)

// lostAnswers is a client whose next UpdateItem calls, as many as lose
// says, reach dynalite, are applied, and then fail as if the connection had
// dropped before the answer came: a server error, which a Store retries.
type lostAnswers struct {
	*awsddb.Client
	lose int
}

func (c *lostAnswers) UpdateItem(ctx context.Context, in *awsddb.UpdateItemInput, opts ...func(*awsddb.Options)) (*awsddb.UpdateItemOutput, error) {
	out, err := c.Client.UpdateItem(ctx, in, opts...)
	if err == nil && c.lose > 0 {
		c.lose--
		return nil, &types.InternalServerError{Message: aws.String("the answer was lost")}
	}
	return out, err
}

// A checkpoint, a renewal or a take whose first attempt was applied but
// whose answer was lost is retried, fails the condition on its own write,
// and is then found applied: the call succeeds with the lease as stored,
// not with ErrLeaseLost. One that was not applied, on a lease another
// worker took meanwhile, is still lost.
func TestAppliedButAnswerLost(t *testing.T) {
	client, name := table(t)
	ctx := t.Context()
	lost := &lostAnswers{Client: client}
	s := storeOn(t, lost, name)
	k := awstest.UniqueName(t, "shard")
	if ok, err := s.Create(ctx, checkpoint.Lease{Key: k, Checkpoint: checkpoint.TrimHorizon}); err != nil || !ok {
		t.Fatalf("Create = %v, %v", ok, err)
	}
	l, err := s.Get(ctx, k)
	if err != nil {
		t.Fatal(err)
	}

	lost.lose = 1
	if l, err = s.Take(ctx, l, "w1"); err != nil || l.Owner != "w1" {
		t.Fatalf("Take with its answer lost = %+v, %v; want w1's lease", l, err)
	}
	lost.lose = 1
	l.Checkpoint, l.State = "12345", []byte("state of 12345")
	got, err := s.Checkpoint(ctx, l)
	if err != nil {
		t.Fatalf("Checkpoint with its answer lost: %v", err)
	}
	if got.Counter != l.Counter+1 || got.Checkpoint != "12345" || string(got.State) != "state of 12345" {
		t.Fatalf("Checkpoint with its answer lost = %+v; want counter %d, checkpoint 12345 and its state", got, l.Counter+1)
	}
	lost.lose = 1
	if l, err = s.Renew(ctx, got); err != nil || l.Counter != got.Counter+1 {
		t.Fatalf("Renew with its answer lost = %+v, %v; want counter %d", l, err, got.Counter+1)
	}

	// Another worker takes the lease; w1's next checkpoint, retried after a
	// failure that was not applied, is refused.
	other := newStoreOn(t, client, name)
	if _, err := other.Take(ctx, l, "w2"); err != nil {
		t.Fatal(err)
	}
	refused := &lostAnswers{Client: client}
	stale := storeOn(t, &failOnce{lostAnswers: refused}, name)
	l.Checkpoint = "12346"
	if _, err := stale.Checkpoint(ctx, l); !errors.Is(err, checkpoint.ErrLeaseLost) {
		t.Fatalf("a stale owner's checkpoint after a failed attempt: %v, want ErrLeaseLost", err)
	}
}

// storeOn returns a Store on table through client, retrying at once.
func storeOn(t *testing.T, client dynamostore.Client, table string) *dynamostore.Store {
	t.Helper()
	s, err := dynamostore.New(client, table, dynamostore.WithBackoff(time.Millisecond, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// failOnce fails its first UpdateItem with a server error without sending
// it.
type failOnce struct {
	*lostAnswers
	failed bool
}

func (c *failOnce) UpdateItem(ctx context.Context, in *awsddb.UpdateItemInput, opts ...func(*awsddb.Options)) (*awsddb.UpdateItemOutput, error) {
	if !c.failed {
		c.failed = true
		return nil, &types.InternalServerError{Message: aws.String("not sent")}
	}
	return c.lostAnswers.UpdateItem(ctx, in, opts...)
}
