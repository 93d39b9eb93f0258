package source

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/streamtop/streamtop/checkpoint"
)

// Sequences compare as the decimal integers they are, then by sub-sequence.
func TestSequenceCompareIsNumeric(t *testing.T) {
	digits := rapid.StringMatching(`[1-9][0-9]{0,60}`)
	rapid.Check(t, func(rt *rapid.T) {
		a, b := digits.Draw(rt, "a"), digits.Draw(rt, "b")
		sa, sb := rapid.Int64Range(0, 3).Draw(rt, "subA"), rapid.Int64Range(0, 3).Draw(rt, "subB")
		x, _ := new(big.Int).SetString(a, 10)
		y, _ := new(big.Int).SetString(b, 10)
		want := x.Cmp(y)
		if want == 0 {
			want = cmp.Compare(sa, sb)
		}
		if got := (Sequence{a, sa}).Compare(Sequence{b, sb}); got != want {
			rt.Fatalf("Sequence{%s, %d}.Compare(Sequence{%s, %d}) = %d, want %d", a, sa, b, sb, got, want)
		}
	})
}

// A lease's checkpoint only moves forward, and only to a position its rules
// allow: a named one between the stored checkpoint and the last record
// delivered, an implied one if it is not covered already, or SHARD_END. What
// it refuses it refuses with ErrInvalidCheckpoint and writes nothing.
func TestLeaseCheckpointRules(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		ctx := context.Background()
		store := checkpoint.NewMemoryStore()
		if _, err := store.Create(ctx, checkpoint.Lease{Key: "s", Checkpoint: checkpoint.TrimHorizon}); err != nil {
			rt.Fatal(err)
		}
		l, err := store.Get(ctx, "s")
		if err != nil {
			rt.Fatal(err)
		}
		if l, err = store.Take(ctx, l, "w"); err != nil {
			rt.Fatal(err)
		}
		var counts counters
		h := newLease(l, store, leaseTiming{self: "w", renewInterval: time.Second, failover: 3 * time.Second},
			slog.New(slog.DiscardHandler), &counts)
		seq := func(n int) Sequence { return Sequence{Number: fmt.Sprintf("%05d", n)} }
		stored := Sequence{} // zero: TRIM_HORIZON
		ended := false
		delivered := 0
		for range rapid.IntRange(1, 30).Draw(rt, "steps") {
			delivered += rapid.IntRange(0, 3).Draw(rt, "deliver")
			at := seq(rapid.IntRange(1, 40).Draw(rt, "at"))
			mode := checkpointMode(rapid.IntRange(0, 2).Draw(rt, "mode"))
			if mode == shardEnd && rapid.IntRange(0, 5).Draw(rt, "end") > 0 {
				mode = named // SHARD_END rarely, so the runs go on
			}
			upTo := seq(delivered)
			if delivered == 0 {
				upTo = Sequence{}
			}
			if mode == implied {
				at = upTo
				if at.IsZero() {
					continue // the Checkpointer writes nothing for it
				}
			}
			before := counts.checkpoints.Load()
			err := h.checkpoint(ctx, mode, at, upTo, nil, false)
			c := at.Compare(stored)
			var wantOK, wantWrite bool
			switch {
			case mode == shardEnd:
				wantOK, wantWrite = true, !ended
			case ended:
				wantOK = mode == implied
			case mode == implied:
				wantOK, wantWrite = true, c > 0
			default:
				wantOK = c == 0 && !stored.IsZero() || c > 0 && at.Compare(upTo) <= 0
				wantWrite = wantOK && c > 0
			}
			if wantOK != (err == nil) || !wantOK && !errors.Is(err, ErrInvalidCheckpoint) {
				rt.Fatalf("checkpoint(%d, %v, up to %v) with %v stored (ended %v) = %v", mode, at, upTo, stored, ended, err)
			}
			if got := counts.checkpoints.Load() > before; got != wantWrite {
				rt.Fatalf("checkpoint(%d, %v, up to %v) with %v stored: wrote %v, want %v", mode, at, upTo, stored, got, wantWrite)
			}
			if wantWrite && mode == shardEnd {
				ended = true
			} else if wantWrite {
				stored = at
			}
			got, err := store.Get(ctx, "s")
			if err != nil {
				rt.Fatal(err)
			}
			want := stored.Number
			switch {
			case ended:
				want = checkpoint.ShardEnd
			case stored.IsZero():
				want = checkpoint.TrimHorizon
			}
			if got.Checkpoint != want {
				rt.Fatalf("stored checkpoint %q, want %q", got.Checkpoint, want)
			}
		}
	})
}
