package checkpointtest

// The subtests of Lease.State: what a processor saves with its checkpoint.

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/streamtop/streamtop/checkpoint"
)

// checkpointState checkpoints l at `at` with state.
func checkpointState(t *testing.T, s checkpoint.Store, l checkpoint.Lease, at string, state []byte) checkpoint.Lease {
	t.Helper()
	l.Checkpoint, l.SubSequence, l.State = at, 0, state
	got, err := s.Checkpoint(t.Context(), l)
	return must(t, s, "Checkpoint", got, err)
}

// everyByte is a state holding each byte value once, so an encoding that
// treats the state as text (UTF-8, NUL-terminated, base64 twice) shows.
func everyByte() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

func testStateRoundTrip(t *testing.T, s checkpoint.Store) {
	ctx := t.Context()
	k := key(t, "shard")
	create(t, s, checkpoint.Lease{Key: k, Checkpoint: checkpoint.TrimHorizon})
	state := everyByte()
	l := take(t, s, get(t, s, k), "w1")
	l = checkpointState(t, s, l, seq, state)
	if !slices.Equal(l.State, everyByte()) {
		t.Fatalf("Checkpoint returned state %x; want %x", l.State, everyByte())
	}
	state[0] = 0xff // the caller reuses its buffer
	if got := get(t, s, k).State; !slices.Equal(got, everyByte()) {
		t.Fatalf("stored state changed with the caller's buffer: %x", got)
	}
	l.State[1] = 0xff // and scribbles on the returned lease
	stored(t, s, checkpoint.Lease{Key: k, Owner: "w1", Counter: l.Counter, Checkpoint: seq, State: everyByte()})
	l.State = everyByte()

	// Every write that is not a checkpoint keeps the state, so whoever owns
	// the lease next restores the state that goes with the checkpoint.
	l = renew(t, s, l)
	l = requestHandoff(t, s, l, "w2")
	got, err := s.Handoff(ctx, l)
	l = must(t, s, "Handoff", got, err)
	l = release(t, s, l)
	l = take(t, s, l, "w3")
	if !slices.Equal(l.State, everyByte()) || l.Checkpoint != seq {
		t.Fatalf("after renew, hand-off, release and take: checkpoint %q, state %x; want %q, %x", l.Checkpoint, l.State, seq, everyByte())
	}
	// List leaves states out: a Consumer lists on every sync.
	all, err := s.List(ctx)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	i := slices.IndexFunc(all, func(x checkpoint.Lease) bool { return x.Key == k })
	if i < 0 {
		t.Fatalf("List misses %q", k)
	}
	if all[i].State != nil {
		t.Fatalf("List returned state %x for %q; List must leave states out", all[i].State, k)
	}
	listed := l.Clone()
	listed.State = nil
	if d := diff(listed, all[i]); d != "" {
		t.Fatalf("List entry (-want +got):\n%s", d)
	}

	// A later checkpoint replaces the state as a whole.
	l = checkpointState(t, s, l, "2", []byte("second"))
	if string(l.State) != "second" {
		t.Fatalf("state after a second checkpoint = %q; want %q", l.State, "second")
	}
}

func testStateNilRemoves(t *testing.T, s checkpoint.Store) {
	for _, empty := range []struct {
		name  string
		state []byte
	}{{"Nil", nil}, {"Empty", []byte{}}} {
		t.Run(empty.name, func(t *testing.T) {
			k := key(t, "shard")
			create(t, s, checkpoint.Lease{Key: k, Checkpoint: checkpoint.TrimHorizon})
			l := take(t, s, get(t, s, k), "w1")
			l = checkpointState(t, s, l, "1", []byte("window"))
			l = checkpointState(t, s, l, "2", empty.state)
			if len(l.State) != 0 {
				t.Fatalf("state after a checkpoint without one = %q; want none", l.State)
			}
			if got := get(t, s, k).State; len(got) != 0 {
				t.Fatalf("stored state after a checkpoint without one = %q; want none", got)
			}
		})
	}
}

func testStateTooLarge(t *testing.T, s checkpoint.Store, max int) {
	if max <= 0 {
		t.Skip("checkpointtest: no WithMaxStateSize given, so no bound to check")
	}
	ctx := t.Context()
	k := key(t, "shard")
	create(t, s, checkpoint.Lease{Key: k, Checkpoint: checkpoint.TrimHorizon})
	l := take(t, s, get(t, s, k), "w1")

	// The bound is a promise: a state of exactly max bytes is kept.
	big := bytes.Repeat(everyByte(), max/256+1)[:max]
	l = checkpointState(t, s, l, "1", big)
	if !slices.Equal(l.State, big) {
		t.Fatalf("state of %d bytes came back as %d bytes", max, len(l.State))
	}

	for _, n := range []int{max + 1, 2 * max} {
		v := l
		v.Checkpoint, v.State = "2", make([]byte, n)
		_, err := s.Checkpoint(ctx, v)
		if !errors.Is(err, checkpoint.ErrStateTooLarge) || errors.Is(err, checkpoint.ErrLeaseLost) {
			t.Fatalf("Checkpoint with a state of %d bytes (max %d): err = %v; want ErrStateTooLarge", n, max, err)
		}
		// Nothing written: not the checkpoint, not a truncated state, and
		// the counter did not move, so the owner's view is still good.
		stored(t, s, l)
	}
	renew(t, s, l)
}

func testLostWorkerCannotWriteState(t *testing.T, s checkpoint.Store) {
	ctx := t.Context()
	k := key(t, "shard")
	create(t, s, checkpoint.Lease{Key: k, Checkpoint: checkpoint.TrimHorizon})
	w1 := take(t, s, get(t, s, k), "w1")
	w1 = checkpointState(t, s, w1, "100", []byte("w1 at 100"))

	w2 := take(t, s, get(t, s, k), "w2")
	if string(w2.State) != "w1 at 100" {
		t.Fatalf("new owner sees state %q; want the one saved with the checkpoint", w2.State)
	}
	w2 = checkpointState(t, s, w2, "200", []byte("w2 at 200"))

	for _, st := range [][]byte{[]byte("w1 at 150"), nil} {
		v := w1
		v.Checkpoint, v.State = "150", st
		_, err := s.Checkpoint(ctx, v)
		lost(t, fmt.Sprintf("w1 Checkpoint with state %q and its old view", st), err)
		fresh := get(t, s, k)
		fresh.Owner, fresh.Checkpoint, fresh.State = "w1", "150", st
		_, err = s.Checkpoint(ctx, fresh)
		lost(t, fmt.Sprintf("w1 Checkpoint with state %q and the current counter", st), err)
	}
	stored(t, s, w2)
}

// largeState returns n bytes that differ from one state to the next (seed)
// and from one part of a state to another, so that parts swapped, lost or
// taken from another state show.
func largeState(n int, seed byte) []byte {
	b := make([]byte, n)
	x := uint32(seed) + 1
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	return b
}

// testLargeState: a state of a megabyte (or the store's bound, if lower)
// survives every write that is not a checkpoint, is replaced whole by a
// smaller one and by a larger one, and is removed by nil: what a store that
// keeps large states beside the lease item must do as one that keeps them
// in it does.
func testLargeState(t *testing.T, s checkpoint.Store, cfg config) {
	n := 1 << 20
	if cfg.maxStateSet && cfg.maxState < n {
		n = cfg.maxState
	}
	k := key(t, "shard")
	create(t, s, checkpoint.Lease{Key: k, Checkpoint: checkpoint.TrimHorizon})
	l := take(t, s, get(t, s, k), "w1")
	big := largeState(n, 1)
	l = checkpointState(t, s, l, seq, big)
	check := func(what string, got checkpoint.Lease, want []byte) {
		t.Helper()
		if !bytes.Equal(got.State, want) {
			t.Fatalf("%s: state of %d bytes, want the %d written", what, len(got.State), len(want))
		}
	}
	check("Checkpoint", l, big)
	l = renew(t, s, l)
	check("Renew", l, big)
	l = requestHandoff(t, s, l, "w2")
	check("RequestHandoff", l, big)
	got, err := s.Handoff(t.Context(), l)
	l = must(t, s, "Handoff", got, err)
	check("Handoff", l, big)
	l = release(t, s, l)
	check("Release", l, big)
	l = take(t, s, l, "w3")
	check("Take", l, big)
	check("Get", get(t, s, k), big)

	// Later checkpoints, each after the one before.
	seq2, seq3, seq4, seq5 := seq[:len(seq)-1]+"9", seq+"0", seq+"1", seq+"2"
	small := largeState(n/3, 2)
	l = checkpointState(t, s, l, seq2, small)
	check("Get after a smaller state", get(t, s, k), small)
	tiny := []byte("tiny")
	l = checkpointState(t, s, l, seq3, tiny)
	check("Get after a tiny state", get(t, s, k), tiny)
	again := largeState(n, 3)
	l = checkpointState(t, s, l, seq4, again)
	check("Get after a large state again", get(t, s, k), again)
	l = checkpointState(t, s, l, seq5, nil)
	if got := get(t, s, k); got.State != nil {
		t.Fatalf("after a nil state: %d bytes kept", len(got.State))
	}
	if l.State != nil {
		t.Fatalf("Checkpoint with a nil state returned %d bytes", len(l.State))
	}
}

// testSlidingState: states that share most of their bytes with the one
// before, as a sliding window's do (a header that changes, panes of which
// each checkpoint drops the oldest and adds a newest), read back whole after
// every checkpoint, across owners, and after a stale owner's refused
// attempt: what a store that writes only what changed must still do.
func testSlidingState(t *testing.T, s checkpoint.Store, cfg config) {
	const panes = 24
	pane := 16 << 10
	if cfg.maxStateSet && cfg.maxState < (panes+1)*pane {
		pane = cfg.maxState / (panes + 1)
	}
	k := key(t, "shard")
	create(t, s, checkpoint.Lease{Key: k, Checkpoint: checkpoint.TrimHorizon})
	l := take(t, s, get(t, s, k), "w1")
	var window [][]byte
	slide := func(i int) []byte {
		window = append(window, largeState(pane, byte(i)))
		if len(window) > panes {
			window = window[1:]
		}
		return append([]byte(fmt.Sprintf("header %d;", i)), bytes.Join(window, nil)...)
	}
	at := func(i int) string { return fmt.Sprintf("%s%04d", seq, i) }
	for i := range 2 * panes {
		state := slide(i)
		l = checkpointState(t, s, l, at(i), state)
		if got := get(t, s, k); !bytes.Equal(got.State, state) || got.Checkpoint != at(i) {
			t.Fatalf("checkpoint %d: Get = %q with %d bytes of state; want %q with the %d written", i, got.Checkpoint, len(got.State), at(i), len(state))
		}
		if i == panes {
			// Another worker takes the lease over, and the old owner's
			// next checkpoint is refused without harming its state.
			stale := l
			release(t, s, l)
			l = take(t, s, get(t, s, k), "w2")
			stale.Checkpoint, stale.State = at(i+1), slide(i+1)
			if _, err := s.Checkpoint(t.Context(), stale); !errors.Is(err, checkpoint.ErrLeaseLost) {
				t.Fatalf("the old owner's checkpoint: %v, want ErrLeaseLost", err)
			}
			window = window[:len(window)-1]
			if got := get(t, s, k); !bytes.Equal(got.State, state) {
				t.Fatalf("after the old owner's refused checkpoint: %d bytes of state, want the %d of the last", len(got.State), len(state))
			}
		}
	}
}
