package dynamostore_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/checkpoint/dynamostore"
	"github.com/streamtop/streamtop/internal/testname"
)

// outcome classifies an error the way a Consumer acts on it.
func outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, checkpoint.ErrLeaseLost):
		return "lost"
	case errors.Is(err, checkpoint.ErrNotFound):
		return "not found"
	default:
		return "invalid"
	}
}

// TestMatchesMemoryStore runs random sequences of writes, from current and
// stale views of the leases, against the DynamoDB Store and against
// checkpoint.MemoryStore as the reference model, and requires the same
// outcome, the same returned lease and the same table after every step.
func TestMatchesMemoryStore(t *testing.T) {
	client, name := table(t)
	store, err := dynamostore.New(client, name)
	if err != nil {
		t.Fatal(err)
	}
	var runs atomic.Int64
	eq := cmpopts.EquateEmpty()
	rapid.Check(t, func(rt *rapid.T) {
		ctx := context.Background()
		prefix := testname.Unique(t, fmt.Sprint(runs.Add(1), "-"))
		model := checkpoint.NewMemoryStore()
		// One key: leases are independent rows, and every step spent on a
		// second key is one not spent on a longer history of the first.
		keys := []string{prefix + "a"}
		// The empty worker ID is an invalid argument; keep it, rarely.
		workers := []string{"w1", "w2", "w3", "w1", "w2", "w3", ""}

		// view is what a worker believes the lease is: the current lease,
		// or one spoiled the ways a slow or confused worker's view is.
		view := func(rt *rapid.T) checkpoint.Lease {
			key := rapid.SampledFrom(keys).Draw(rt, "key")
			l, err := model.Get(ctx, key)
			if err != nil {
				l = checkpoint.Lease{Key: key}
			}
			// Mostly current views, so that sequences of successful writes
			// (take, request, release...) happen often enough to be tested.
			switch rapid.IntRange(0, 9).Draw(rt, "spoil") {
			case 6:
				l.Counter--
			case 7:
				l.Counter++
			case 8:
				l.Owner = rapid.SampledFrom(workers).Draw(rt, "viewOwner")
			case 9:
				l.PendingOwner = rapid.SampledFrom(workers).Draw(rt, "viewPending")
			}
			return l
		}
		same := func(rt *rapid.T, op string, got checkpoint.Lease, gotErr error, want checkpoint.Lease, wantErr error) {
			if outcome(gotErr) != outcome(wantErr) {
				rt.Fatalf("%s: DynamoDB says %v; the model says %v", op, gotErr, wantErr)
			}
			if d := cmp.Diff(want, got, eq); d != "" {
				rt.Fatalf("%s returned (-model +dynamodb):\n%s", op, d)
			}
		}
		// write applies one drawn write to both stores; draw makes the
		// write's arguments once, so both stores see the same call.
		type writeFn func(s checkpoint.Store, l checkpoint.Lease) (checkpoint.Lease, error)
		write := func(op string, draw func(rt *rapid.T) writeFn) func(*rapid.T) {
			return func(rt *rapid.T) {
				l := view(rt)
				do := draw(rt)
				want, wantErr := do(model, l)
				got, gotErr := do(store, l)
				same(rt, op, got, gotErr, want, wantErr)
				// A failed write must have changed nothing, and a good one
				// must have stored what it returned.
				want, wantErr = model.Get(ctx, l.Key)
				got, gotErr = store.Get(ctx, l.Key)
				same(rt, "Get after "+op, got, gotErr, want, wantErr)
			}
		}

		create := func(rt *rapid.T) {
			l := checkpoint.Lease{
				Key:         rapid.SampledFrom(keys).Draw(rt, "key"),
				Checkpoint:  rapid.SampledFrom([]string{"", checkpoint.TrimHorizon, checkpoint.ShardEnd, "4959"}).Draw(rt, "checkpoint"),
				SubSequence: rapid.Int64Range(0, 3).Draw(rt, "sub"),
				// A string set comes back sorted and without duplicates;
				// the model keeps what it is given, so give it that.
				Parents: rapid.SampledFrom([][]string{nil, {"p1"}, {"p1", "p2"}}).Draw(rt, "parents"),
			}
			want, wantErr := model.Create(ctx, l)
			got, gotErr := store.Create(ctx, l)
			if got != want || outcome(gotErr) != outcome(wantErr) {
				rt.Fatalf("Create(%q) = %v, %v; the model says %v, %v", l.Key, got, gotErr, want, wantErr)
			}
		}
		// Most histories worth testing start with a lease in the table.
		create(rt)
		rt.Repeat(map[string]func(*rapid.T){
			"Create": create,
			"Take": write("Take", func(rt *rapid.T) writeFn {
				taker := rapid.SampledFrom(workers).Draw(rt, "taker")
				return func(s checkpoint.Store, l checkpoint.Lease) (checkpoint.Lease, error) { return s.Take(ctx, l, taker) }
			}),
			"Renew": write("Renew", func(rt *rapid.T) writeFn {
				return func(s checkpoint.Store, l checkpoint.Lease) (checkpoint.Lease, error) { return s.Renew(ctx, l) }
			}),
			"Checkpoint": write("Checkpoint", func(rt *rapid.T) writeFn {
				at := rapid.SampledFrom([]string{"", "100", "200", checkpoint.ShardEnd}).Draw(rt, "at")
				sub := rapid.Int64Range(0, 2).Draw(rt, "atSub")
				state := rapid.SampledFrom([][]byte{nil, {}, {0}, []byte("window"), {0xff, 0, 0xfe}}).Draw(rt, "state")
				return func(s checkpoint.Store, l checkpoint.Lease) (checkpoint.Lease, error) {
					l.Checkpoint, l.SubSequence, l.State = at, sub, state
					return s.Checkpoint(ctx, l)
				}
			}),
			"RequestHandoff": write("RequestHandoff", func(rt *rapid.T) writeFn {
				by := rapid.SampledFrom(workers).Draw(rt, "by")
				return func(s checkpoint.Store, l checkpoint.Lease) (checkpoint.Lease, error) {
					return s.RequestHandoff(ctx, l, by)
				}
			}),
			"Handoff": write("Handoff", func(rt *rapid.T) writeFn {
				return func(s checkpoint.Store, l checkpoint.Lease) (checkpoint.Lease, error) { return s.Handoff(ctx, l) }
			}),
			"Release": write("Release", func(rt *rapid.T) writeFn {
				return func(s checkpoint.Store, l checkpoint.Lease) (checkpoint.Lease, error) { return s.Release(ctx, l) }
			}),
			"Delete": write("Delete", func(rt *rapid.T) writeFn {
				return func(s checkpoint.Store, l checkpoint.Lease) (checkpoint.Lease, error) {
					return checkpoint.Lease{}, s.Delete(ctx, l)
				}
			}),
		})
	})
}
