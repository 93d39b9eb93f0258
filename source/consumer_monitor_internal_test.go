package source

import (
	"fmt"
	"testing"
	"time"

	"github.com/streamtop/streamtop/checkpoint"
)

// What the "took lease" line says, from the table's owner and the owner
// before it as the worker saw them.
func TestTakeOrigin(t *testing.T) {
	for _, c := range []struct {
		why, owner, prev string
		how, from        string
	}{
		{"take", "", "", "unowned", ""},
		{"take", "", "b", "released", "b"},
		{"take", "b", "", "expired", "b"},
		{"take", "b", "c", "expired", "b"},
		{"adopt", "a", "b", "handed over", "b"},
		{"adopt", "a", "", "restarted", "a"},
		{"adopt", "a", "a", "restarted", "a"},
		{"steal", "b", "", "stolen (hand-off not honoured within the failover time)", "b"},
	} {
		how, from := takeOrigin(c.why, c.owner, "a", c.prev)
		if how != c.how || from != c.from {
			t.Errorf("takeOrigin(%q, owner %q, prev %q) = %q, %q; want %q, %q", c.why, c.owner, c.prev, how, from, c.how, c.from)
		}
	}
}

// prevOwners keeps the owner before a change, keeps it while the owner
// stays, and forgets leases that are gone.
func TestPrevOwners(t *testing.T) {
	seen := map[string]observation{}
	p := prevOwners{}
	step := func(owners ...string) {
		var leases []checkpoint.Lease
		for i, o := range owners {
			leases = append(leases, checkpoint.Lease{Key: fmt.Sprint("s", i), Owner: o})
		}
		p.note(seen, leases)
		observe(seen, leases, time.Now())
	}
	step("b", "")
	step("a", "")
	step("a", "c")
	if p["s0"] != "b" || p["s1"] != "" {
		t.Errorf("after b->a on s0 and none->c on s1: %v; want s0:b, s1:\"\"", p)
	}
	step("a")
	if _, ok := p["s1"]; ok || p["s0"] != "b" {
		t.Errorf("after s1 went: %v; want only s0:b", p)
	}
}
