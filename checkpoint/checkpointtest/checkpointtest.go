// Package checkpointtest is the contract suite for checkpoint.Store: a test
// that any lease store, in this module or outside it, runs to prove it keeps
// the rules a Consumer relies on. The in-memory store and the DynamoDB store
// both run it; a store on Postgres, etcd or Redis can run the same.
//
// # What it checks
//
//   - Create makes a lease only if its key is free, born unowned whatever
//     the caller filled in; Get of a missing key is checkpoint.ErrNotFound;
//     List returns every lease in key order, without State.
//   - The life of a lease: Take, Renew, Checkpoint, RequestHandoff, Handoff,
//     Release and Delete, with the counter, owner, pending owner and owner
//     switches each of them leaves.
//   - Every conditional write, given a view of the lease that is out of
//     date (stale or future counter, another owner, a released lease, a
//     changed pending owner), fails with checkpoint.ErrLeaseLost and changes
//     nothing; so does a worker that lost its lease and wakes up later.
//   - Racing writers: of several Takes or Checkpoints from one view exactly
//     one lands, whole.
//   - Arguments that make no sense (an empty owner) fail with an error that
//     is not ErrLeaseLost; a canceled context fails with context.Canceled
//     and writes nothing.
//   - Values round-trip: Parents, the special checkpoints (TRIM_HORIZON,
//     SHARD_END, ...), sequence numbers longer than an int64, and a State of
//     any bytes; a nil State removes the stored one; a State over the
//     store's bound is refused with checkpoint.ErrStateTooLarge (see
//     WithMaxStateSize). Slices passed in or handed out are not shared with
//     the store.
//
// # What it assumes
//
// Only what checkpoint.Store promises: the suite never looks past the
// interface. Each subtest asks for a store and names its leases after
// itself and a token drawn once per run, so one table can serve every
// subtest and every run of the suite (go test -count=N, go test again, on
// two machines at once) without a subtest meeting another's leases. Leases
// of other tests in the table are ignored, List included. The suite does
// not delete what it creates; a backend that must stay small gives each run
// a table of its own.
//
// Subtests run one after another; a few make concurrent calls to one store.
// The suite sets no deadline of its own: every call gets the test's context.
//
// # How to call it
//
// From a test in the store's own package:
//
//	func TestStore(t *testing.T) {
//		checkpointtest.Run(t, func(t *testing.T) checkpoint.Store {
//			return mystore.New(db, "leases") // on a shared table
//		}, checkpointtest.WithMaxStateSize(mystore.MaxStateSize))
//	}
package checkpointtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/internal/testname"
)

// A sequence number as Kinesis writes them: longer than an int64 holds, so a
// store that parses it as a number would lose it.
const seq = "49590338271490256608559692538361571095921575989136588898"

// An Option tells Run about the store under test.
type Option func(*config)

type config struct {
	maxState    int
	maxStateSet bool
}

// WithMaxStateSize declares the largest Lease.State the store keeps, n > 0
// bytes. The suite then checks that a state of exactly n bytes is kept and
// that one of n+1 is refused with checkpoint.ErrStateTooLarge, writing
// nothing. Without it the StateTooLarge subtest is skipped: the suite cannot
// guess a bound, and a store need not have one.
func WithMaxStateSize(n int) Option {
	return func(c *config) { c.maxState, c.maxStateSet = n, true }
}

// Run runs the suite as subtests of t. newStore is called once per subtest
// and returns the store to test, ready for use; it may return the same store
// every time, or new ones on a shared table, and registers whatever cleanup
// it needs with t.Cleanup. A failing subtest fails t; Run returns when all
// have run.
func Run(t *testing.T, newStore func(t *testing.T) checkpoint.Store, opts ...Option) {
	t.Helper()
	var cfg config
	for _, opt := range opts {
		opt(&cfg)
	}
	if newStore == nil {
		t.Fatal("checkpointtest: newStore is nil")
	}
	if cfg.maxStateSet && cfg.maxState <= 0 {
		t.Fatalf("checkpointtest: WithMaxStateSize(%d); want a positive size", cfg.maxState)
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, s checkpoint.Store)
	}{
		{"CreateIfAbsent", testCreateIfAbsent},
		{"GetMissing", testGetMissing},
		{"ListInKeyOrder", testListInKeyOrder},
		{"Lifecycle", testLifecycle},
		{"Handoff", testHandoff},
		{"TakeClearsPendingOwner", testTakeClearsPendingOwner},
		{"ReleaseClearsPendingOwner", testReleaseClearsPendingOwner},
		{"Delete", testDelete},
		{"ConditionalFailures", testConditionalFailures},
		{"InvalidArguments", testInvalidArguments},
		{"LostWorkerCannotOverwrite", testLostWorkerCannotOverwrite},
		{"ConcurrentTakers", testConcurrentTakers},
		{"ConcurrentCheckpoints", testConcurrentCheckpoints},
		{"ParentsRoundTrip", testParentsRoundTrip},
		{"NoAliasing", testNoAliasing},
		{"SpecialCheckpoints", testSpecialCheckpoints},
		{"CanceledContext", testCanceledContext},
		{"StateRoundTrip", testStateRoundTrip},
		{"StateNilRemoves", testStateNilRemoves},
		{"StateTooLarge", func(t *testing.T, s checkpoint.Store) { testStateTooLarge(t, s, cfg.maxState) }},
		{"LostWorkerCannotWriteState", testLostWorkerCannotWriteState},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newStore(t))
		})
	}
}

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

// op is one conditional write, applied to the caller's view of a lease.
type op struct {
	name    string
	byOwner bool // conditional on the owner as well as the counter
	do      func(ctx context.Context, s checkpoint.Store, l checkpoint.Lease) error
}

var ops = []op{
	{"Take", false, func(ctx context.Context, s checkpoint.Store, l checkpoint.Lease) error {
		_, err := s.Take(ctx, l, "w9")
		return err
	}},
	{"Renew", true, func(ctx context.Context, s checkpoint.Store, l checkpoint.Lease) error {
		_, err := s.Renew(ctx, l)
		return err
	}},
	{"Checkpoint", true, func(ctx context.Context, s checkpoint.Store, l checkpoint.Lease) error {
		l.Checkpoint = "99"
		_, err := s.Checkpoint(ctx, l)
		return err
	}},
	{"RequestHandoff", true, func(ctx context.Context, s checkpoint.Store, l checkpoint.Lease) error {
		_, err := s.RequestHandoff(ctx, l, "w9")
		return err
	}},
	{"Handoff", true, func(ctx context.Context, s checkpoint.Store, l checkpoint.Lease) error {
		_, err := s.Handoff(ctx, l)
		return err
	}},
	{"Release", true, func(ctx context.Context, s checkpoint.Store, l checkpoint.Lease) error {
		_, err := s.Release(ctx, l)
		return err
	}},
	{"Delete", false, func(ctx context.Context, s checkpoint.Store, l checkpoint.Lease) error {
		return s.Delete(ctx, l)
	}},
}

func testConditionalFailures(t *testing.T, s checkpoint.Store) {
	// Each case starts from a lease owned by w1 with a hand-off to w2
	// requested, so every op would succeed on the unchanged view, and spoils
	// the view (or the lease) one way.
	cases := []struct {
		name    string
		byOwner bool // applies only to writes conditional on the owner
		onlyOp  string
		spoil   func(t *testing.T, s checkpoint.Store, view *checkpoint.Lease)
	}{
		{name: "StaleCounter", spoil: func(t *testing.T, s checkpoint.Store, v *checkpoint.Lease) { v.Counter-- }},
		{name: "FutureCounter", spoil: func(t *testing.T, s checkpoint.Store, v *checkpoint.Lease) { v.Counter++ }},
		{name: "MovedOn", spoil: func(t *testing.T, s checkpoint.Store, v *checkpoint.Lease) {
			renew(t, s, *v)
		}},
		{name: "Deleted", spoil: func(t *testing.T, s checkpoint.Store, v *checkpoint.Lease) {
			if err := s.Delete(t.Context(), *v); err != nil {
				t.Fatalf("Delete: %v", err)
			}
		}},
		{name: "WrongOwner", byOwner: true, spoil: func(t *testing.T, s checkpoint.Store, v *checkpoint.Lease) { v.Owner = "intruder" }},
		{name: "EmptyOwner", byOwner: true, spoil: func(t *testing.T, s checkpoint.Store, v *checkpoint.Lease) { v.Owner = "" }},
		{name: "Released", byOwner: true, spoil: func(t *testing.T, s checkpoint.Store, v *checkpoint.Lease) {
			// The view is current but nobody owns the lease; keep a pending
			// owner in the view so Handoff reaches its condition.
			*v = release(t, s, *v)
			v.PendingOwner = "w2"
		}},
		{name: "WrongPendingOwner", onlyOp: "Handoff", spoil: func(t *testing.T, s checkpoint.Store, v *checkpoint.Lease) { v.PendingOwner = "w3" }},
		{name: "PendingOwnerChanged", onlyOp: "Handoff", spoil: func(t *testing.T, s checkpoint.Store, v *checkpoint.Lease) {
			requestHandoff(t, s, get(t, s, v.Key), "w3")
		}},
	}
	for _, o := range ops {
		for _, c := range cases {
			if c.byOwner && !o.byOwner || c.onlyOp != "" && c.onlyOp != o.name {
				continue
			}
			t.Run(o.name+"/"+c.name, func(t *testing.T) {
				k := key(t, "shard")
				create(t, s, checkpoint.Lease{Key: k, Checkpoint: seq, Parents: []string{"p"}})
				take(t, s, get(t, s, k), "w1")
				view := requestHandoff(t, s, get(t, s, k), "w2")
				c.spoil(t, s, &view)
				before, beforeErr := s.Get(t.Context(), k)

				lost(t, o.name, o.do(t.Context(), s, view))

				after, afterErr := s.Get(t.Context(), k)
				if (beforeErr == nil) != (afterErr == nil) || errors.Is(beforeErr, checkpoint.ErrNotFound) != errors.Is(afterErr, checkpoint.ErrNotFound) {
					t.Fatalf("Get after failed %s: err = %v; before it was %v", o.name, afterErr, beforeErr)
				}
				if d := diff(before, after); d != "" {
					t.Fatalf("failed %s changed the lease (-before +after):\n%s", o.name, d)
				}
			})
		}
	}
}

func testInvalidArguments(t *testing.T, s checkpoint.Store) {
	cases := []struct {
		name string
		do   func(ctx context.Context, l checkpoint.Lease) error
	}{
		{"TakeByNobody", func(ctx context.Context, l checkpoint.Lease) error {
			_, err := s.Take(ctx, l, "")
			return err
		}},
		{"RequestHandoffByNobody", func(ctx context.Context, l checkpoint.Lease) error {
			_, err := s.RequestHandoff(ctx, l, "")
			return err
		}},
		{"HandoffToNobody", func(ctx context.Context, l checkpoint.Lease) error {
			l.PendingOwner = ""
			_, err := s.Handoff(ctx, l)
			return err
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k := key(t, "shard")
			create(t, s, checkpoint.Lease{Key: k, Checkpoint: seq})
			l := take(t, s, get(t, s, k), "w1")
			err := c.do(t.Context(), l)
			if err == nil || errors.Is(err, checkpoint.ErrLeaseLost) {
				t.Fatalf("err = %v; want an error that is not ErrLeaseLost", err)
			}
			stored(t, s, l)
		})
	}
}

func testLostWorkerCannotOverwrite(t *testing.T, s checkpoint.Store) {
	ctx := t.Context()
	k := key(t, "shard-0")
	create(t, s, checkpoint.Lease{Key: k, Checkpoint: checkpoint.TrimHorizon})
	w1 := take(t, s, get(t, s, k), "w1")
	w1 = checkpointAt(t, s, w1, "100", 0)

	// w2 judged the lease expired (w1 paused) and took it.
	w2 := take(t, s, get(t, s, k), "w2")
	w2 = checkpointAt(t, s, w2, "200", 0)

	// w1 wakes up and carries on with its old view.
	for _, o := range ops {
		v := w1
		v.PendingOwner = "w1" // Handoff's own condition must not be what stops it
		lost(t, "w1 "+o.name+" with its old view", o.do(ctx, s, v))
	}
	// Even reading the table again does not make w1 the owner.
	fresh := get(t, s, k)
	fresh.Owner = "w1"
	fresh.Checkpoint = "150"
	_, err := s.Checkpoint(ctx, fresh)
	lost(t, "w1 Checkpoint with the current counter", err)
	stored(t, s, w2)
}

func testConcurrentTakers(t *testing.T, s checkpoint.Store) {
	const workers, rounds = 8, 10
	ctx := t.Context()
	k := key(t, "shard-0")
	create(t, s, checkpoint.Lease{Key: k, Checkpoint: checkpoint.TrimHorizon})
	for round := range rounds {
		view := get(t, s, k)
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			wins []checkpoint.Lease
			errs []error
		)
		start := make(chan struct{})
		for w := range workers {
			wg.Go(func() {
				<-start
				l, err := s.Take(ctx, view, fmt.Sprintf("w%d", w))
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					wins = append(wins, l)
				} else if !errors.Is(err, checkpoint.ErrLeaseLost) {
					errs = append(errs, err)
				}
			})
		}
		close(start)
		wg.Wait()
		if len(errs) > 0 {
			t.Fatalf("round %d: unexpected errors: %v", round, errs)
		}
		if len(wins) != 1 {
			t.Fatalf("round %d: %d takers won; want exactly 1: %+v", round, len(wins), wins)
		}
		stored(t, s, wins[0])
		if wins[0].Counter != view.Counter+1 {
			t.Fatalf("round %d: counter %d; want %d", round, wins[0].Counter, view.Counter+1)
		}
	}
}

func testConcurrentCheckpoints(t *testing.T, s checkpoint.Store) {
	const writers = 8
	ctx := t.Context()
	k := key(t, "shard-0")
	create(t, s, checkpoint.Lease{Key: k, Checkpoint: checkpoint.TrimHorizon})
	view := take(t, s, get(t, s, k), "w1")

	// Two goroutines of one worker racing with the same view (a bug in the
	// caller, or a retry after a timeout): one write lands, never a mix.
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		wins []checkpoint.Lease
		errs []error
	)
	start := make(chan struct{})
	for i := range writers {
		wg.Go(func() {
			<-start
			v := view
			v.Checkpoint, v.SubSequence = fmt.Sprint(1000+i), int64(i)
			l, err := s.Checkpoint(ctx, v)
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				wins = append(wins, l)
			} else if !errors.Is(err, checkpoint.ErrLeaseLost) {
				errs = append(errs, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("unexpected errors: %v", errs)
	}
	if len(wins) != 1 {
		t.Fatalf("%d checkpoints won; want exactly 1: %+v", len(wins), wins)
	}
	if w := wins[0]; w.Checkpoint != fmt.Sprint(1000+w.SubSequence) {
		t.Fatalf("checkpoint %q with sub-sequence %d: a mix of two writes", w.Checkpoint, w.SubSequence)
	}
	stored(t, s, wins[0])
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
