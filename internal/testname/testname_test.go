package testname_test

import (
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/streamtop/streamtop/internal/childtest"
	"github.com/streamtop/streamtop/internal/testname"
)

func TestUniqueAgreesWithinARun(t *testing.T) {
	var wg sync.WaitGroup
	got := make([]string, 8)
	for i := range got {
		wg.Go(func() { got[i] = testname.Unique(t, "shard-0") })
	}
	wg.Wait()
	for _, g := range got[1:] {
		if g != got[0] {
			t.Fatalf("Unique gave %q and %q for one test", got[0], g)
		}
	}
	if !strings.HasPrefix(got[0], "TestUniqueAgreesWithinARun.") || !strings.HasSuffix(got[0], ".shard-0") {
		t.Fatalf("Unique = %q; want the test's name, a token and the name", got[0])
	}
}

// TestUniqueDiffersAcrossRuns runs the same subtest name twice, as
// go test -count=2 does: the two runs must not share names.
func TestUniqueDiffersAcrossRuns(t *testing.T) {
	var names []string
	for range 2 {
		t.Run("same", func(t *testing.T) {
			names = append(names, testname.Unique(t, "lease"))
		})
	}
	if names[0] == names[1] {
		t.Fatalf("two runs of one subtest both got %q", names[0])
	}
	var sub []string
	t.Run("a", func(t *testing.T) { sub = append(sub, testname.Unique(t, "x")) })
	t.Run("b", func(t *testing.T) { sub = append(sub, testname.Unique(t, "x")) })
	if sub[0] == sub[1] {
		t.Fatalf("two subtests both got %q", sub[0])
	}
}

// TestChild is the process TestUniqueDiffersAcrossProcesses starts twice; in
// an ordinary run it does nothing.
func TestChild(t *testing.T) {
	if childtest.Case() != "" {
		t.Logf("name=%s", testname.Unique(t, "lease"))
	}
}

// TestUniqueDiffersAcrossProcesses runs the same test in two processes, as
// two go test runs against one table that outlives them do: the two must
// not share names.
func TestUniqueDiffersAcrossProcesses(t *testing.T) {
	var names []string
	for range 2 {
		r := childtest.Run(t, "TestChild", "print")
		m := regexp.MustCompile(`name=(\S+)`).FindStringSubmatch(r.Output)
		if r.Err != nil || m == nil {
			t.Fatalf("child: %v\n%s", r.Err, r.Output)
		}
		names = append(names, m[1])
	}
	if names[0] == names[1] {
		t.Fatalf("two processes both got %q", names[0])
	}
}
