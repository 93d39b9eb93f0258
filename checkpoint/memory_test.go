package checkpoint_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/checkpoint/checkpointtest"
)

func TestMemoryStore(t *testing.T) {
	checkpointtest.Run(t, func(*testing.T) checkpoint.Store { return checkpoint.NewMemoryStore() },
		checkpointtest.WithMaxStateSize(checkpoint.MaxMemoryStateSize))
}

// outcome is how a model write ends.
type outcome int

const (
	ok      outcome = iota
	lost            // ErrLeaseLost
	invalid         // a bad argument: an error that is not ErrLeaseLost
)

func (o outcome) String() string {
	return [...]string{"ok", "lost", "invalid"}[o]
}

func outcomeOf(err error) outcome {
	switch {
	case err == nil:
		return ok
	case errors.Is(err, checkpoint.ErrLeaseLost):
		return lost
	}
	return invalid
}

// model is the Store contract read literally, one lease at a time, with none
// of the memory store's sharing of code between operations.
type model map[string]checkpoint.Lease

func (m model) create(l checkpoint.Lease) bool {
	if _, found := m[l.Key]; found {
		return false
	}
	m[l.Key] = checkpoint.Lease{Key: l.Key, Checkpoint: l.Checkpoint, SubSequence: l.SubSequence, Parents: slices.Clone(l.Parents)}
	return true
}

// write applies a write to the model; arg is Take's owner or
// RequestHandoff's requester.
func (m model) write(op string, v checkpoint.Lease, arg string) (checkpoint.Lease, outcome) {
	if (op == "Take" || op == "RequestHandoff") && arg == "" || op == "Handoff" && v.PendingOwner == "" {
		return checkpoint.Lease{}, invalid
	}
	cur, found := m[v.Key]
	if !found || cur.Counter != v.Counter {
		return checkpoint.Lease{}, lost
	}
	if op != "Take" && op != "Delete" && (v.Owner == "" || v.Owner != cur.Owner) {
		return checkpoint.Lease{}, lost
	}
	switch op {
	case "Take":
		if cur.Owner != arg {
			cur.OwnerSwitchesSinceCheckpoint++
		}
		cur.Owner, cur.PendingOwner = arg, ""
		cur.Counter++
	case "Renew":
		cur.Counter++
	case "Checkpoint":
		cur.Checkpoint, cur.SubSequence = v.Checkpoint, v.SubSequence
		cur.State = nil
		if len(v.State) > 0 {
			cur.State = slices.Clone(v.State)
		}
		cur.OwnerSwitchesSinceCheckpoint = 0
		cur.Counter++
	case "RequestHandoff":
		cur.PendingOwner = arg
	case "Handoff":
		if cur.PendingOwner != v.PendingOwner {
			return checkpoint.Lease{}, lost
		}
		if cur.Owner != cur.PendingOwner {
			cur.OwnerSwitchesSinceCheckpoint++
		}
		cur.Owner, cur.PendingOwner = cur.PendingOwner, ""
		cur.Counter++
	case "Release":
		cur.Owner, cur.PendingOwner = "", ""
		cur.Counter++
	case "Delete":
		delete(m, v.Key)
		return checkpoint.Lease{}, ok
	}
	m[v.Key] = cur
	return cur.Clone(), ok
}

// list is what List returns: every lease without its state.
func (m model) list() []checkpoint.Lease {
	var out []checkpoint.Lease
	for _, k := range slices.Sorted(maps.Keys(m)) {
		l := m[k].Clone()
		l.State = nil
		out = append(out, l)
	}
	return out
}

var (
	genKey     = rapid.SampledFrom([]string{"shard-0", "shard-1", "shard-2"})
	genWorker  = rapid.SampledFrom([]string{"", "w1", "w2", "w3"})
	genPoint   = rapid.SampledFrom([]string{checkpoint.TrimHorizon, checkpoint.Latest, checkpoint.ShardEnd, "1", "2"})
	genParents = rapid.SliceOfN(rapid.SampledFrom([]string{"p0", "p1", "p2"}), 0, 2)
	// States are short: what matters is present, absent (nil) and empty.
	genState = rapid.OneOf(rapid.Just([]byte(nil)), rapid.SliceOfN(rapid.Byte(), 0, 4))
)

// TestMemoryStoreModel drives the store and the model with the same random
// calls. Views are mostly the current lease, sometimes spoiled in one field,
// so both the success paths and every condition get exercised.
func TestMemoryStoreModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ctx := context.Background()
		s := checkpoint.NewMemoryStore()
		m := model{}

		view := func(t *rapid.T) checkpoint.Lease {
			k := genKey.Draw(t, "key")
			v, found := m[k]
			if !found {
				v = checkpoint.Lease{Key: k, Counter: rapid.Int64Range(0, 3).Draw(t, "counter")}
			}
			v = v.Clone()
			switch rapid.IntRange(0, 4).Draw(t, "spoil") {
			case 1:
				v.Counter += rapid.SampledFrom([]int64{-1, 1}).Draw(t, "counterDelta")
			case 2:
				v.Owner = genWorker.Draw(t, "owner")
			case 3:
				v.PendingOwner = genWorker.Draw(t, "pending")
			}
			v.Checkpoint = genPoint.Draw(t, "checkpoint")
			v.SubSequence = rapid.Int64Range(0, 2).Draw(t, "sub")
			v.State = genState.Draw(t, "state")
			return v
		}
		check := func(t *rapid.T, op string, got checkpoint.Lease, err error, want checkpoint.Lease, wantOut outcome) {
			if out := outcomeOf(err); out != wantOut {
				t.Fatalf("%s: outcome %v (err %v); model says %v", op, out, err, wantOut)
			}
			if d := cmp.Diff(want, got, cmpopts.EquateEmpty()); wantOut == ok && d != "" {
				t.Fatalf("%s result (-model +store):\n%s", op, d)
			}
		}
		write := func(op string, call func(v checkpoint.Lease, arg string) (checkpoint.Lease, error)) func(*rapid.T) {
			return func(t *rapid.T) {
				v := view(t)
				arg := genWorker.Draw(t, "arg")
				got, err := call(v, arg)
				want, wantOut := m.write(op, v, arg)
				check(t, op, got, err, want, wantOut)
			}
		}

		t.Repeat(map[string]func(*rapid.T){
			"Create": func(t *rapid.T) {
				l := checkpoint.Lease{
					Key: genKey.Draw(t, "key"), Owner: genWorker.Draw(t, "owner"),
					Counter: rapid.Int64Range(0, 3).Draw(t, "counter"), Checkpoint: genPoint.Draw(t, "checkpoint"),
					Parents: genParents.Draw(t, "parents"),
				}
				created, err := s.Create(ctx, l)
				if want := m.create(l); err != nil || created != want {
					t.Fatalf("Create(%+v) = %v, %v; model says %v", l, created, err, want)
				}
			},
			"Get": func(t *rapid.T) {
				k := genKey.Draw(t, "key")
				got, err := s.Get(ctx, k)
				want, found := m[k]
				if !found {
					if !errors.Is(err, checkpoint.ErrNotFound) {
						t.Fatalf("Get(%q) err = %v; want ErrNotFound", k, err)
					}
					return
				}
				check(t, "Get", got, err, want, ok)
			},
			"Take": write("Take", func(v checkpoint.Lease, arg string) (checkpoint.Lease, error) {
				return s.Take(ctx, v, arg)
			}),
			"Renew": write("Renew", func(v checkpoint.Lease, _ string) (checkpoint.Lease, error) {
				return s.Renew(ctx, v)
			}),
			"Checkpoint": write("Checkpoint", func(v checkpoint.Lease, _ string) (checkpoint.Lease, error) {
				return s.Checkpoint(ctx, v)
			}),
			"RequestHandoff": write("RequestHandoff", func(v checkpoint.Lease, arg string) (checkpoint.Lease, error) {
				return s.RequestHandoff(ctx, v, arg)
			}),
			"Handoff": write("Handoff", func(v checkpoint.Lease, _ string) (checkpoint.Lease, error) {
				return s.Handoff(ctx, v)
			}),
			"Release": write("Release", func(v checkpoint.Lease, _ string) (checkpoint.Lease, error) {
				return s.Release(ctx, v)
			}),
			"Delete": write("Delete", func(v checkpoint.Lease, _ string) (checkpoint.Lease, error) {
				return checkpoint.Lease{}, s.Delete(ctx, v)
			}),
			"": func(t *rapid.T) {
				got, err := s.List(ctx)
				if err != nil {
					t.Fatalf("List: %v", err)
				}
				if d := cmp.Diff(m.list(), got, cmpopts.EquateEmpty()); d != "" {
					t.Fatalf("List (-model +store):\n%s", d)
				}
			},
		})
	})
}

// BenchmarkMemoryStoreRenew measures the cost a worker pays per lease per
// renewal, the store's hottest path.
func BenchmarkMemoryStoreRenew(b *testing.B) {
	ctx := context.Background()
	s := checkpoint.NewMemoryStore()
	if _, err := s.Create(ctx, checkpoint.Lease{Key: "shard-0", Parents: []string{"p"}}); err != nil {
		b.Fatal(err)
	}
	l, err := s.Get(ctx, "shard-0")
	if err != nil {
		b.Fatal(err)
	}
	if l, err = s.Take(ctx, l, "w1"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if l, err = s.Renew(ctx, l); err != nil {
			b.Fatal(err)
		}
	}
}
