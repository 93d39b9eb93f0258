package checkpointtest

// The subtests of a lease's life and of the values it carries, and the
// helpers every subtest uses.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/internal/testname"
)

// A sequence number as Kinesis writes them: longer than an int64 holds, so a
// store that parses it as a number would lose it.
const seq = "49590338271490256608559692538361571095921575989136588898"

// key returns a lease key unique to the running subtest and run, so
// subtests sharing one table, and later runs of them (-count), never see
// each other's leases.
func key(t *testing.T, name string) string { return testname.Unique(t, name) }

// leaseOpts compare states as byte strings: cmp's element-by-element walk
// takes minutes on a state of many megabytes.
var leaseOpts = cmp.Options{
	cmpopts.EquateEmpty(),
	cmp.FilterValues(func(a, b []byte) bool { return len(a) > 0 || len(b) > 0 }, cmp.Comparer(bytes.Equal)),
}

func diff(want, got checkpoint.Lease) string { return cmp.Diff(want, got, leaseOpts) }

func create(t *testing.T, s checkpoint.Store, l checkpoint.Lease) {
	t.Helper()
	ok, err := s.Create(t.Context(), l)
	if err != nil || !ok {
		t.Fatalf("Create(%q) = %v, %v; want true, nil", l.Key, ok, err)
	}
}

func get(t *testing.T, s checkpoint.Store, k string) checkpoint.Lease {
	t.Helper()
	l, err := s.Get(t.Context(), k)
	if err != nil {
		t.Fatalf("Get(%q): %v", k, err)
	}
	return l
}

// stored checks that the store holds exactly want under want.Key.
func stored(t *testing.T, s checkpoint.Store, want checkpoint.Lease) {
	t.Helper()
	if d := diff(want, get(t, s, want.Key)); d != "" {
		t.Fatalf("stored lease %q (-want +got):\n%s", want.Key, d)
	}
}

// must checks a write that should succeed and that what it returned is what
// the store now holds.
func must(t *testing.T, s checkpoint.Store, op string, l checkpoint.Lease, err error) checkpoint.Lease {
	t.Helper()
	if err != nil {
		t.Fatalf("%s(%q): %v", op, l.Key, err)
	}
	stored(t, s, l)
	return l
}

func take(t *testing.T, s checkpoint.Store, l checkpoint.Lease, owner string) checkpoint.Lease {
	t.Helper()
	got, err := s.Take(t.Context(), l, owner)
	return must(t, s, "Take", got, err)
}

func renew(t *testing.T, s checkpoint.Store, l checkpoint.Lease) checkpoint.Lease {
	t.Helper()
	got, err := s.Renew(t.Context(), l)
	return must(t, s, "Renew", got, err)
}

func checkpointAt(t *testing.T, s checkpoint.Store, l checkpoint.Lease, at string, sub int64) checkpoint.Lease {
	t.Helper()
	l.Checkpoint, l.SubSequence = at, sub
	got, err := s.Checkpoint(t.Context(), l)
	return must(t, s, "Checkpoint", got, err)
}

func requestHandoff(t *testing.T, s checkpoint.Store, l checkpoint.Lease, by string) checkpoint.Lease {
	t.Helper()
	got, err := s.RequestHandoff(t.Context(), l, by)
	return must(t, s, "RequestHandoff", got, err)
}

func release(t *testing.T, s checkpoint.Store, l checkpoint.Lease) checkpoint.Lease {
	t.Helper()
	got, err := s.Release(t.Context(), l)
	return must(t, s, "Release", got, err)
}

func lost(t *testing.T, op string, err error) {
	t.Helper()
	if !errors.Is(err, checkpoint.ErrLeaseLost) {
		t.Fatalf("%s: err = %v; want ErrLeaseLost", op, err)
	}
}

func testCreateIfAbsent(t *testing.T, s checkpoint.Store) {
	ctx := t.Context()
	k := key(t, "shard-0")
	// Fields a new lease must not take from its argument: a lease table
	// row is born unowned, whatever the caller filled in.
	ok, err := s.Create(ctx, checkpoint.Lease{
		Key: k, Owner: "w1", Counter: 7, PendingOwner: "w2", OwnerSwitchesSinceCheckpoint: 3,
		Checkpoint: checkpoint.TrimHorizon, SubSequence: 2, Parents: []string{"p"},
	})
	if err != nil || !ok {
		t.Fatalf("Create = %v, %v; want true, nil", ok, err)
	}
	want := checkpoint.Lease{Key: k, Checkpoint: checkpoint.TrimHorizon, SubSequence: 2, Parents: []string{"p"}}
	stored(t, s, want)

	ok, err = s.Create(ctx, checkpoint.Lease{Key: k, Checkpoint: checkpoint.Latest})
	if err != nil || ok {
		t.Fatalf("second Create = %v, %v; want false, nil", ok, err)
	}
	stored(t, s, want)

	held := take(t, s, want, "w1")
	ok, err = s.Create(ctx, checkpoint.Lease{Key: k, Checkpoint: checkpoint.Latest})
	if err != nil || ok {
		t.Fatalf("Create over a held lease = %v, %v; want false, nil", ok, err)
	}
	stored(t, s, held)
}

func testGetMissing(t *testing.T, s checkpoint.Store) {
	_, err := s.Get(t.Context(), key(t, "never-created"))
	if !errors.Is(err, checkpoint.ErrNotFound) {
		t.Fatalf("Get of a missing key: err = %v; want ErrNotFound", err)
	}
}

func testListInKeyOrder(t *testing.T, s checkpoint.Store) {
	names := []string{"shard-3", "shard-10", "shard-1", "a", "shard-2", "B"}
	var want []checkpoint.Lease
	for i, n := range names {
		l := checkpoint.Lease{Key: key(t, n), Checkpoint: checkpoint.TrimHorizon, SubSequence: int64(i)}
		create(t, s, l)
		want = append(want, l)
	}
	held := take(t, s, want[2], "w1")
	want[2] = held
	slices.SortFunc(want, func(a, b checkpoint.Lease) int { return strings.Compare(a.Key, b.Key) })

	all, err := s.List(t.Context())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if !slices.IsSortedFunc(all, func(a, b checkpoint.Lease) int { return strings.Compare(a.Key, b.Key) }) {
		t.Errorf("List is not in key order: %v", keys(all))
	}
	prefix := key(t, "")
	var mine []checkpoint.Lease
	for _, l := range all {
		if strings.HasPrefix(l.Key, prefix) {
			mine = append(mine, l)
		}
	}
	if d := cmp.Diff(want, mine, leaseOpts); d != "" {
		t.Errorf("List (-want +got):\n%s", d)
	}
}

func keys(ls []checkpoint.Lease) []string {
	var ks []string
	for _, l := range ls {
		ks = append(ks, l.Key)
	}
	return ks
}

func testLifecycle(t *testing.T, s checkpoint.Store) {
	k := key(t, "shard-0")
	create(t, s, checkpoint.Lease{Key: k, Checkpoint: checkpoint.TrimHorizon})
	l := get(t, s, k)

	l = take(t, s, l, "w1")
	if d := diff(checkpoint.Lease{Key: k, Owner: "w1", Counter: 1, Checkpoint: checkpoint.TrimHorizon, OwnerSwitchesSinceCheckpoint: 1}, l); d != "" {
		t.Fatalf("after Take (-want +got):\n%s", d)
	}
	l = renew(t, s, l)
	if l.Counter != 2 {
		t.Fatalf("after Renew: Counter = %d; want 2", l.Counter)
	}
	l = checkpointAt(t, s, l, seq, 3)
	if d := diff(checkpoint.Lease{Key: k, Owner: "w1", Counter: 3, Checkpoint: seq, SubSequence: 3}, l); d != "" {
		t.Fatalf("after Checkpoint (-want +got):\n%s", d)
	}
	// Taking a lease one already owns is not an owner switch.
	l = take(t, s, l, "w1")
	if l.Counter != 4 || l.OwnerSwitchesSinceCheckpoint != 0 {
		t.Fatalf("after re-Take by the owner: Counter %d, switches %d; want 4, 0", l.Counter, l.OwnerSwitchesSinceCheckpoint)
	}
	l = release(t, s, l)
	if d := diff(checkpoint.Lease{Key: k, Counter: 5, Checkpoint: seq, SubSequence: 3}, l); d != "" {
		t.Fatalf("after Release (-want +got):\n%s", d)
	}
	l = take(t, s, l, "w2")
	if d := diff(checkpoint.Lease{Key: k, Owner: "w2", Counter: 6, Checkpoint: seq, SubSequence: 3, OwnerSwitchesSinceCheckpoint: 1}, l); d != "" {
		t.Fatalf("after Take by w2 (-want +got):\n%s", d)
	}
	// A steal without a checkpoint in between counts a second switch.
	l = take(t, s, l, "w3")
	if l.OwnerSwitchesSinceCheckpoint != 2 || l.Owner != "w3" || l.Counter != 7 {
		t.Fatalf("after steal by w3: %+v; want owner w3, counter 7, 2 switches", l)
	}
	l = checkpointAt(t, s, l, checkpoint.ShardEnd, 0)
	if l.OwnerSwitchesSinceCheckpoint != 0 || l.Checkpoint != checkpoint.ShardEnd {
		t.Fatalf("after Checkpoint(SHARD_END): %+v", l)
	}
}

func testHandoff(t *testing.T, s checkpoint.Store) {
	ctx := t.Context()
	k := key(t, "shard-0")
	create(t, s, checkpoint.Lease{Key: k, Checkpoint: checkpoint.TrimHorizon})
	owned := take(t, s, get(t, s, k), "w1")

	// w2 asks, from its own reading of the table; the counter stays, so the
	// owner's next renewal still works and tells it of the request.
	asked := requestHandoff(t, s, get(t, s, k), "w2")
	if asked.Counter != owned.Counter || asked.PendingOwner != "w2" || asked.Owner != "w1" {
		t.Fatalf("after RequestHandoff: %+v; want owner w1, pending w2, counter %d", asked, owned.Counter)
	}
	owned = renew(t, s, owned)
	if owned.PendingOwner != "w2" {
		t.Fatalf("Renew did not report the pending owner: %+v", owned)
	}
	owned = checkpointAt(t, s, owned, seq, 0)
	if owned.PendingOwner != "w2" {
		t.Fatalf("Checkpoint dropped the pending owner: %+v", owned)
	}

	moved, err := s.Handoff(ctx, owned)
	moved = must(t, s, "Handoff", moved, err)
	want := checkpoint.Lease{Key: k, Owner: "w2", Counter: owned.Counter + 1, Checkpoint: seq, OwnerSwitchesSinceCheckpoint: 1}
	if d := diff(want, moved); d != "" {
		t.Fatalf("after Handoff (-want +got):\n%s", d)
	}
	// The old owner is out; the new one works from the table.
	_, err = s.Renew(ctx, owned)
	lost(t, "old owner's Renew after Handoff", err)
	renew(t, s, get(t, s, k))
}

func testTakeClearsPendingOwner(t *testing.T, s checkpoint.Store) {
	k := key(t, "shard-0")
	create(t, s, checkpoint.Lease{Key: k, Checkpoint: checkpoint.TrimHorizon})
	take(t, s, get(t, s, k), "w1")
	requestHandoff(t, s, get(t, s, k), "w2")
	l := take(t, s, get(t, s, k), "w3")
	if l.PendingOwner != "" || l.Owner != "w3" {
		t.Fatalf("after steal: %+v; want owner w3 and no pending owner", l)
	}
}

func testReleaseClearsPendingOwner(t *testing.T, s checkpoint.Store) {
	k := key(t, "shard-0")
	create(t, s, checkpoint.Lease{Key: k, Checkpoint: checkpoint.TrimHorizon})
	take(t, s, get(t, s, k), "w1")
	l := requestHandoff(t, s, get(t, s, k), "w2")
	l = release(t, s, l)
	if l.PendingOwner != "" || l.Owner != "" {
		t.Fatalf("after Release: %+v; want no owner and no pending owner", l)
	}
}

func testDelete(t *testing.T, s checkpoint.Store) {
	ctx := t.Context()
	k := key(t, "shard-0")
	create(t, s, checkpoint.Lease{Key: k, Checkpoint: checkpoint.ShardEnd})
	l := take(t, s, get(t, s, k), "w1")

	stale := l
	stale.Counter--
	lost(t, "Delete with a stale counter", s.Delete(ctx, stale))
	stored(t, s, l)

	if err := s.Delete(ctx, l); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Get(ctx, k); !errors.Is(err, checkpoint.ErrNotFound) {
		t.Fatalf("Get after Delete: err = %v; want ErrNotFound", err)
	}
	lost(t, "second Delete", s.Delete(ctx, l))
	// A deleted key can be created again, from scratch.
	create(t, s, checkpoint.Lease{Key: k, Checkpoint: checkpoint.Latest})
	stored(t, s, checkpoint.Lease{Key: k, Checkpoint: checkpoint.Latest})
}

func testParentsRoundTrip(t *testing.T, s checkpoint.Store) {
	cases := []struct {
		name    string
		parents []string
	}{
		{"Original", nil},
		{"Split", []string{"shardId-000000000000"}},
		{"Merge", []string{"shardId-000000000001", "shardId-000000000002"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k := key(t, "child")
			want := checkpoint.Lease{Key: k, Checkpoint: checkpoint.TrimHorizon, Parents: c.parents}
			create(t, s, want)
			stored(t, s, want)
			l := take(t, s, get(t, s, k), "w1")
			l = checkpointAt(t, s, l, seq, 0)
			if d := cmp.Diff(c.parents, l.Parents, leaseOpts); d != "" {
				t.Fatalf("Parents after Take and Checkpoint (-want +got):\n%s", d)
			}
			all, err := s.List(t.Context())
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			i := slices.IndexFunc(all, func(x checkpoint.Lease) bool { return x.Key == k })
			if i < 0 {
				t.Fatalf("List misses %q", k)
			}
			if d := diff(l, all[i]); d != "" {
				t.Fatalf("List entry (-want +got):\n%s", d)
			}
		})
	}
}

func testNoAliasing(t *testing.T, s checkpoint.Store) {
	ctx := t.Context()
	k := key(t, "child")
	parents := []string{"a", "b"}
	create(t, s, checkpoint.Lease{Key: k, Checkpoint: checkpoint.TrimHorizon, Parents: parents})
	parents[0] = "changed by the caller after Create"

	want := checkpoint.Lease{Key: k, Checkpoint: checkpoint.TrimHorizon, Parents: []string{"a", "b"}}
	got := get(t, s, k)
	got.Parents[1] = "changed by the caller after Get"
	stored(t, s, want)

	all, err := s.List(ctx)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	for _, l := range all {
		if len(l.Parents) > 0 {
			l.Parents[0] = "changed by the caller after List"
		}
	}
	stored(t, s, want)

	l, err := s.Take(ctx, want, "w1")
	if err != nil {
		t.Fatalf("Take: %v", err)
	}
	l.Parents[0] = "changed by the caller after Take"
	if p := get(t, s, k).Parents; !slices.Equal(p, []string{"a", "b"}) {
		t.Fatalf("stored Parents = %q after the caller changed Take's result", p)
	}
}

func testSpecialCheckpoints(t *testing.T, s checkpoint.Store) {
	values := []string{checkpoint.TrimHorizon, checkpoint.Latest, checkpoint.AtTimestamp, checkpoint.ShardEnd, seq}
	for _, v := range values {
		for _, sub := range []int64{0, 7} {
			t.Run(fmt.Sprintf("%s/%d", v, sub), func(t *testing.T) {
				k := key(t, "shard")
				// As the initial value of a new lease...
				want := checkpoint.Lease{Key: k, Checkpoint: v, SubSequence: sub}
				create(t, s, want)
				stored(t, s, want)
				// ...and as a checkpoint written by the owner.
				l := take(t, s, get(t, s, k), "w1")
				l = checkpointAt(t, s, l, "1", 1)
				l = checkpointAt(t, s, l, v, sub)
				if l.Checkpoint != v || l.SubSequence != sub {
					t.Fatalf("after Checkpoint: %q/%d; want %q/%d", l.Checkpoint, l.SubSequence, v, sub)
				}
			})
		}
	}
}

func testCanceledContext(t *testing.T, s checkpoint.Store) {
	k := key(t, "shard")
	create(t, s, checkpoint.Lease{Key: k, Checkpoint: seq})
	l := take(t, s, get(t, s, k), "w1")
	l = requestHandoff(t, s, l, "w2")

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	calls := map[string]func() error{
		"List": func() error { _, err := s.List(ctx); return err },
		"Get":  func() error { _, err := s.Get(ctx, k); return err },
		"Create": func() error {
			_, err := s.Create(ctx, checkpoint.Lease{Key: key(t, "other")})
			return err
		},
	}
	for _, o := range ops {
		calls[o.name] = func() error { return o.do(ctx, s, l) }
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context: err = %v; want context.Canceled", name, err)
		}
	}
	stored(t, s, l)
	if _, err := s.Get(t.Context(), key(t, "other")); !errors.Is(err, checkpoint.ErrNotFound) {
		t.Errorf("Create with a canceled context stored a lease (Get err = %v)", err)
	}
}
