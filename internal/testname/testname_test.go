package testname_test

import (
	"strings"
	"sync"
	"testing"

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
