package faults

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/sink"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/memstream"
)

// The same seed gives the same faults for the same calls.
func TestScheduleIsSeeded(t *testing.T) {
	draws := func(seed uint64) []bool {
		s := NewSchedule(seed, Rate("*", 0.3))
		var got []bool
		for range 200 {
			fail, _, _ := s.draw("op", 1)
			got = append(got, fail)
		}
		return got
	}
	a, b, c := draws(1), draws(1), draws(2)
	if !slices.Equal(a, b) {
		t.Fatal("one seed gave two schedules")
	}
	if slices.Equal(a, c) {
		t.Fatal("two seeds gave one schedule")
	}
	n := 0
	for _, f := range a {
		if f {
			n++
		}
	}
	if n < 30 || n > 90 {
		t.Fatalf("%d of 200 calls failed at rate 0.3", n)
	}
}

// Every operation fails with one of its documented errors, and injects
// nothing once disabled.
func TestInjectedErrors(t *testing.T) {
	ctx := context.Background()
	stream, err := memstream.New(1)
	if err != nil {
		t.Fatal(err)
	}
	store := checkpoint.NewMemoryStore()
	if _, err := store.Create(ctx, checkpoint.Lease{Key: "k", Checkpoint: checkpoint.TrimHorizon}); err != nil {
		t.Fatal(err)
	}
	mem, err := sink.NewMemory()
	if err != nil {
		t.Fatal(err)
	}
	lease := func() checkpoint.Lease { l, _ := store.Get(ctx, "k"); return l }
	tests := []struct {
		op   string
		call func(*Schedule) error
		errs []error
	}{
		{"stream.Shards", func(s *Schedule) error { _, err := NewStream(stream, s).Shards(ctx); return err }, []error{ErrThrottled, ErrTimeout}},
		{"stream.Open", func(s *Schedule) error {
			_, err := NewStream(stream, s).Open(ctx, "shardId-000000000000", source.Position{})
			return err
		}, []error{ErrThrottled, ErrTimeout}},
		{"stream.Read", func(s *Schedule) error {
			r, err := NewStream(stream, s).Open(ctx, "shardId-000000000000", source.Position{})
			if err != nil {
				return err
			}
			_, err = r.Read(ctx, 10)
			return err
		}, []error{ErrThrottled, ErrTimeout, ErrIteratorExpired}},
		{"store.List", func(s *Schedule) error { _, err := NewStore(store, s).List(ctx); return err }, []error{ErrThrottled, ErrTimeout}},
		{"store.Get", func(s *Schedule) error { _, err := NewStore(store, s).Get(ctx, "k"); return err }, []error{ErrThrottled, ErrTimeout}},
		{"store.Create", func(s *Schedule) error {
			_, err := NewStore(store, s).Create(ctx, checkpoint.Lease{Key: "x"})
			return err
		}, []error{ErrThrottled, ErrTimeout}},
		{"store.Take", func(s *Schedule) error { _, err := NewStore(store, s).Take(ctx, lease(), "w"); return err }, []error{ErrThrottled, ErrTimeout, checkpoint.ErrLeaseLost}},
		{"store.Delete", func(s *Schedule) error { return NewStore(store, s).Delete(ctx, lease()) }, []error{ErrThrottled, ErrTimeout}},
		{"sink.Write", func(s *Schedule) error {
			return NewWriter(mem, s).Write(ctx, []sink.Snapshot{{Group: "g", Time: time.Unix(1, 0)}})
		}, []error{ErrThrottled, ErrTimeout}},
	}
	for _, tt := range tests {
		t.Run(tt.op, func(t *testing.T) {
			seen := map[error]bool{}
			for i := range 40 {
				s := NewSchedule(uint64(i), Rate(tt.op, 1))
				err := tt.call(s)
				i := slices.IndexFunc(tt.errs, func(e error) bool { return errors.Is(err, e) })
				if i < 0 {
					t.Fatalf("error %v is none of %v", err, tt.errs)
				}
				seen[tt.errs[i]] = true
				if s.Injected()[tt.op] != 1 {
					t.Fatalf("Injected = %v", s.Injected())
				}
				s.SetEnabled(false)
				if err := tt.call(s); err != nil && tt.op != "store.Delete" && tt.op != "store.Take" {
					t.Fatalf("disabled schedule: %v", err)
				}
			}
			if len(seen) < 2 {
				t.Fatalf("only %v injected in 40 seeds", seen)
			}
		})
	}
}

// Reads through a faulty stream, retried on error, return every record once
// in order whatever is injected, partial reads included.
func TestStreamLosesNothing(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ctx := context.Background()
		ms, err := memstream.New(1)
		if err != nil {
			t.Fatal(err)
		}
		n := rapid.IntRange(0, 300).Draw(t, "records")
		var want []string
		for i := range n {
			if _, _, err := ms.Put(ctx, "k", fmt.Appendf(nil, "%d", i)); err != nil {
				t.Fatal(err)
			}
			want = append(want, fmt.Sprint(i))
		}
		all, _ := ms.Shards(ctx)
		if err := ms.SplitShard(ctx, all[0].ID, "1000"); err != nil {
			t.Fatal(err)
		}
		s := NewSchedule(rapid.Uint64().Draw(t, "seed"), Rate("*", 0.2), Rate("stream.Read partial", 0.5))
		r, err := NewStream(ms, s).Open(ctx, all[0].ID, source.Position{})
		for err != nil {
			r, err = NewStream(ms, s).Open(ctx, all[0].ID, source.Position{})
		}
		var got []string
		for {
			res, err := r.Read(ctx, rapid.IntRange(1, 50).Draw(t, "max"))
			if err != nil {
				continue
			}
			for _, rec := range res.Records {
				got = append(got, string(rec.Data))
			}
			if res.End {
				break
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("records (-want +got):\n%s", diff)
		}
	})
}

// A write reported as timed out after it was applied leaves the caller's
// lease stale: its next write fails as lost.
func TestStoreAppliedTimeout(t *testing.T) {
	ctx := context.Background()
	mem := checkpoint.NewMemoryStore()
	if _, err := mem.Create(ctx, checkpoint.Lease{Key: "k", Checkpoint: checkpoint.TrimHorizon}); err != nil {
		t.Fatal(err)
	}
	l, _ := mem.Get(ctx, "k")
	l, err := mem.Take(ctx, l, "w")
	if err != nil {
		t.Fatal(err)
	}
	st := NewStore(mem, NewSchedule(1, Rate("store.Renew applied", 1)))
	if _, err := st.Renew(ctx, l); !errors.Is(err, ErrTimeout) {
		t.Fatalf("Renew = %v, want ErrTimeout", err)
	}
	if _, err := mem.Renew(ctx, l); !errors.Is(err, checkpoint.ErrLeaseLost) {
		t.Fatalf("Renew with the stale lease = %v, want ErrLeaseLost", err)
	}
}

// A partial sink write stores a prefix and fails; the retry stores all.
func TestWriterPartial(t *testing.T) {
	ctx := context.Background()
	mem, err := sink.NewMemory()
	if err != nil {
		t.Fatal(err)
	}
	w := NewWriter(mem, NewSchedule(3, Rate("sink.Write partial", 1)))
	snaps := []sink.Snapshot{{Group: "a", Time: time.Unix(1, 0)}, {Group: "b", Time: time.Unix(1, 0)}, {Group: "c", Time: time.Unix(1, 0)}}
	if err := w.Write(ctx, snaps); !errors.Is(err, ErrThrottled) {
		t.Fatalf("Write = %v, want ErrThrottled", err)
	}
	groups, _ := mem.Groups(ctx)
	if len(groups) == 0 || len(groups) == 3 {
		t.Fatalf("partial write stored %v", groups)
	}
	if err := NewWriter(mem, nil).Write(ctx, snaps); err != nil {
		t.Fatal(err)
	}
	if groups, _ := mem.Groups(ctx); len(groups) != 3 {
		t.Fatalf("after the retry: %v", groups)
	}
}

// A slowed call waits, but no longer than its context.
func TestSlow(t *testing.T) {
	s := NewSchedule(1, Slow(1, time.Hour))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	mem, _ := sink.NewMemory()
	if err := NewWriter(mem, s).Write(ctx, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Write = %v, want the context's deadline", err)
	}
}
