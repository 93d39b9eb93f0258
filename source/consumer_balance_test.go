package source

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/streamtop/streamtop/checkpoint"
)

// simWorker is one worker of the balancing simulation: its leases are those
// the table says it owns (a real Consumer adopts those at once).
type simWorker struct {
	id    string
	alive bool
	seen  map[string]observation
	asked map[string]time.Time
}

// TestPlanBalancesLikeTheModel runs the balancing rules of several workers
// against a real in-memory lease table, round after round, and checks the
// model's outcome: every active lease owned by a live worker, each live
// worker holding floor or ceil of the fair share, and no lease handed to a
// dead worker. Dead workers stop renewing; time moves past the failover time
// so their leases expire.
func TestPlanBalancesLikeTheModel(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		ctx := context.Background()
		const failover = 10 * time.Second
		nWorkers := rapid.IntRange(1, 5).Draw(rt, "workers")
		nLeases := rapid.IntRange(0, 16).Draw(rt, "leases")
		store := checkpoint.NewMemoryStore()
		workers := make([]*simWorker, nWorkers)
		for i := range workers {
			workers[i] = &simWorker{id: fmt.Sprintf("w%d", i), alive: true,
				seen: map[string]observation{}, asked: map[string]time.Time{}}
		}
		// Some leases start owned (by any worker, live or soon dead),
		// some ended, some children of ended or running parents.
		for i := range nLeases {
			l := checkpoint.Lease{Key: fmt.Sprintf("s%02d", i), Checkpoint: checkpoint.TrimHorizon}
			if i > 0 && rapid.Bool().Draw(rt, "child") {
				l.Parents = []string{fmt.Sprintf("s%02d", rapid.IntRange(0, i-1).Draw(rt, "parent"))}
			}
			if rapid.IntRange(0, 4).Draw(rt, "ended") == 0 {
				l.Checkpoint = checkpoint.ShardEnd
			}
			if _, err := store.Create(ctx, l); err != nil {
				rt.Fatal(err)
			}
			if o := rapid.IntRange(-1, nWorkers-1).Draw(rt, "owner"); o >= 0 {
				cur, _ := store.Get(ctx, l.Key)
				if _, err := store.Take(ctx, cur, workers[o].id); err != nil {
					rt.Fatal(err)
				}
			}
		}
		for _, w := range workers[1:] {
			if rapid.IntRange(0, 3).Draw(rt, "dies") == 0 {
				w.alive = false
			}
		}
		rng := rand.New(rand.NewPCG(rapid.Uint64().Draw(rt, "seed"), 1))

		now := time.Unix(1000, 0) // date-proof: plan is a pure function of the now it is given
		round := func() {
			order := rng.Perm(len(workers))
			for _, i := range order {
				w := workers[i]
				if !w.alive {
					continue
				}
				leases, _ := store.List(ctx)
				held := map[string]bool{}
				for _, l := range leases {
					if l.Owner == w.id {
						held[l.Key] = true
						if _, err := store.Renew(ctx, l); err != nil {
							rt.Fatalf("%s renewing %s: %v", w.id, l.Key, err)
						}
					}
				}
				leases, _ = store.List(ctx)
				observe(w.seen, leases, now)
				p := plan(balanceInput{self: w.id, leases: leases, seen: w.seen, held: held,
					asked: w.asked, now: now, failover: failover, rand: rng})
				if len(p.adopt) > 0 {
					rt.Fatalf("%s asked to adopt %v though it holds every lease it owns", w.id, p.adopt)
				}
				for _, l := range p.handoff {
					cur, _ := store.Get(ctx, l.Key)
					if _, err := store.Handoff(ctx, cur); err != nil {
						rt.Fatalf("%s handing %s to %s: %v", w.id, l.Key, cur.PendingOwner, err)
					}
				}
				for _, k := range p.forget {
					delete(w.asked, k)
				}
				for _, l := range p.steal {
					rt.Fatalf("%s steals %s though every live owner honours requests at once", w.id, l.Key)
				}
				taken := 0
				for _, l := range p.take {
					if taken == p.takeBudget {
						break
					}
					if _, err := store.Take(ctx, l, w.id); err == nil {
						taken++
					}
				}
				for _, l := range p.request {
					if l.Owner == w.id || l.Owner == "" {
						rt.Fatalf("%s requests %s from %q", w.id, l.Key, l.Owner)
					}
					if _, err := store.RequestHandoff(ctx, l, w.id); err == nil {
						w.asked[l.Key] = now
					}
				}
			}
			now = now.Add(time.Second)
		}
		// Long enough for dead workers' leases to expire, and then for
		// every hand-off to settle.
		for range 15 + 2*nLeases {
			round()
		}

		leases, _ := store.List(ctx)
		byKey := map[string]checkpoint.Lease{}
		for _, l := range leases {
			byKey[l.Key] = l
		}
		counts := map[string]int{}
		active := 0
		for _, l := range leases {
			if !isActive(l, byKey) {
				continue
			}
			active++
			counts[l.Owner]++
		}
		var live []int
		for _, w := range workers {
			if w.alive {
				live = append(live, counts[w.id])
			} else if counts[w.id] > 0 {
				rt.Errorf("dead worker %s still owns %d active leases", w.id, counts[w.id])
			}
		}
		if counts[""] > 0 {
			rt.Errorf("%d active leases have no owner", counts[""])
		}
		floor, ceil := active/len(live), (active+len(live)-1)/len(live)
		if slices.Min(live) < floor || slices.Max(live) > ceil {
			rt.Errorf("live workers hold %v of %d active leases; want each in [%d, %d]", live, active, floor, ceil)
		}
	})
}

// Expiry is judged on the observer's own clock from when it saw the counter
// last move: a lease never seen before is not expired, however old.
func TestPlanExpiry(t *testing.T) {
	t0 := time.Unix(0, 0) // date-proof: plan is a pure function of the now it is given
	l := checkpoint.Lease{Key: "s", Owner: "other", Counter: 7, Checkpoint: checkpoint.TrimHorizon}
	tests := []struct {
		name   string
		seen   map[string]observation
		now    time.Time
		expect bool // lease offered for taking
	}{
		{"never observed", map[string]observation{}, t0.Add(time.Hour), false},
		{"observed just now", map[string]observation{"s": {7, "other", t0}}, t0, false},
		{"still for less than failover", map[string]observation{"s": {7, "other", t0}}, t0.Add(9 * time.Second), false},
		{"still for the failover time", map[string]observation{"s": {7, "other", t0}}, t0.Add(10 * time.Second), true},
		{"counter moved since", map[string]observation{"s": {6, "other", t0}}, t0.Add(time.Hour), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := plan(balanceInput{self: "me", leases: []checkpoint.Lease{l}, seen: tt.seen,
				held: map[string]bool{}, asked: map[string]time.Time{}, now: tt.now, failover: 10 * time.Second})
			if got := len(p.take) == 1; got != tt.expect {
				t.Errorf("offered for taking = %v, want %v (plan %+v)", got, tt.expect, p)
			}
		})
	}
}

// A newcomer asks the most loaded worker for leases one at a time, while that
// narrows the gap by two or more.
func TestPlanRequestsFromTheMostLoaded(t *testing.T) {
	var leases []checkpoint.Lease
	for i, owner := range []string{"a", "a", "a", "a", "a", "b", "b", "b"} {
		leases = append(leases, checkpoint.Lease{Key: fmt.Sprintf("s%d", i), Owner: owner, Checkpoint: checkpoint.TrimHorizon})
	}
	seen := map[string]observation{}
	observe(seen, leases, time.Unix(0, 0)) // date-proof: plan is a pure function of the now it is given
	p := plan(balanceInput{self: "me", leases: leases, seen: seen, held: map[string]bool{},
		asked: map[string]time.Time{}, now: time.Unix(1, 0), failover: 10 * time.Second}) // date-proof: plan is a pure function of the now it is given
	var from []string
	for _, l := range p.request {
		from = append(from, l.Owner)
	}
	// a:5 b:3 me:0, target 3: a gives two (5->3); then b's 3 against our
	// 2 is balanced enough (3/3/2), so b keeps its leases.
	if !slices.Equal(from, []string{"a", "a"}) || p.target != 3 {
		t.Errorf("requests from %v with target %d; want [a a] and 3", from, p.target)
	}
}

// A requested hand-off not honoured within the failover time turns into a
// steal; one superseded by another worker's request is forgotten.
func TestPlanRequestedHandoffs(t *testing.T) {
	t0 := time.Unix(0, 0) // date-proof: plan is a pure function of the now it is given
	mk := func(key, owner, pending string) checkpoint.Lease {
		return checkpoint.Lease{Key: key, Owner: owner, PendingOwner: pending, Checkpoint: checkpoint.TrimHorizon}
	}
	leases := []checkpoint.Lease{mk("a", "other", "me"), mk("b", "other", "third"), mk("c", "other", ""), mk("d", "other", "")}
	seen := map[string]observation{}
	observe(seen, leases, t0)
	in := balanceInput{self: "me", leases: leases, seen: seen, held: map[string]bool{},
		asked: map[string]time.Time{"a": t0, "b": t0}, failover: 10 * time.Second}

	in.now = t0.Add(5 * time.Second)
	p := plan(in)
	if len(p.steal) != 0 || !slices.Equal(p.forget, []string{"b"}) {
		t.Errorf("before the failover time: steal %v forget %v; want none and [b]", p.steal, p.forget)
	}
	in.now = t0.Add(10 * time.Second)
	seen["a"] = observation{0, "other", in.now} // the owner is alive
	seen["c"] = observation{0, "other", in.now}
	seen["d"] = observation{0, "other", in.now}
	p = plan(in)
	if len(p.steal) != 1 || p.steal[0].Key != "a" {
		t.Errorf("after the failover time: steal %v; want [a]", p.steal)
	}
}
