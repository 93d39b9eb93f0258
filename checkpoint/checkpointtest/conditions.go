package checkpointtest

// The subtests of the conditions on every write: views out of date, workers
// that lost their lease, and writers racing.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/streamtop/streamtop/checkpoint"
)

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
