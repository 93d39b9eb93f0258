package streamtest_test

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/streamtop/streamtop/internal/streamtest"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/memstream"
)

// limited is a memstream with the gaps a Harness can declare, so the suite's
// checks of those declarations run without an emulator.
type limited struct {
	*memstream.Stream
	lowerFirst bool // refuse MergeShards with the upper shard first
	noWaiter   bool // hide source.Waiter from readers
}

func (s limited) MergeShards(ctx context.Context, shardID, adjacentShardID string) error {
	if s.lowerFirst {
		shards, err := s.Shards(ctx)
		if err != nil {
			return err
		}
		start := map[string]*big.Int{}
		for _, sh := range shards {
			start[sh.ID], _ = new(big.Int).SetString(sh.HashKeyStart, 10)
		}
		if a, b := start[shardID], start[adjacentShardID]; a != nil && b != nil && a.Cmp(b) > 0 {
			return errors.New("limited: the upper shard must come second")
		}
	}
	return s.Stream.MergeShards(ctx, shardID, adjacentShardID)
}

func (s limited) Open(ctx context.Context, shardID string, from source.Position) (source.ShardReader, error) {
	r, err := s.Stream.Open(ctx, shardID, from)
	if err != nil || !s.noWaiter {
		return r, err
	}
	// Embedding the interface, not the reader, leaves Wait out of the
	// method set.
	return struct{ source.ShardReader }{r}, nil
}

func harness(lowerFirst, noWaiter bool) streamtest.Harness {
	return streamtest.Harness{
		New: func(t *testing.T, shards int) streamtest.Stream {
			s, err := memstream.New(shards)
			if err != nil {
				t.Fatal(err)
			}
			return limited{Stream: s, lowerFirst: lowerFirst, noWaiter: noWaiter}
		},
		Timeout: 10 * time.Second,
	}
}

// TestDeclaredGapsPass runs the whole suite on a backend with both gaps,
// declared.
func TestDeclaredGapsPass(t *testing.T) {
	h := harness(true, true)
	h.MergeOrder = streamtest.MergeLowerFirst
	h.NoWaiter = true
	streamtest.Run(t, h)
}

// helperCases are suite runs made in a child process, because a failing
// subtest would fail the test that ran it.
var helperCases = map[string]func() streamtest.Harness{
	"Full": func() streamtest.Harness { return harness(false, false) },
	"StaleMergeLowerFirst": func() streamtest.Harness {
		h := harness(false, false)
		h.MergeOrder = streamtest.MergeLowerFirst
		return h
	},
	"UndeclaredLowerFirst": func() streamtest.Harness { return harness(true, false) },
	"StaleNoWaiter": func() streamtest.Harness {
		h := harness(false, false)
		h.NoWaiter = true
		return h
	},
	"UndeclaredNoWaiter": func() streamtest.Harness { return harness(false, true) },
	"UnknownMergeOrder": func() streamtest.Harness {
		h := harness(false, false)
		h.MergeOrder = streamtest.MergeOrder(99)
		return h
	},
}

// TestHelperRun is the child process of TestDeclarationsAreChecked; run
// directly, STREAMTEST_CASE is unset and it does nothing.
func TestHelperRun(t *testing.T) {
	name := os.Getenv("STREAMTEST_CASE")
	if name == "" {
		return
	}
	h, ok := helperCases[name]
	if !ok {
		t.Fatalf("unknown STREAMTEST_CASE %q", name)
	}
	streamtest.Run(t, h())
}

// TestDeclarationsAreChecked checks that a wrong capability declaration,
// stale or missing, fails exactly the subtest it concerns, and that no
// subtest is skipped.
func TestDeclarationsAreChecked(t *testing.T) {
	for _, c := range []struct {
		name     string
		failing  string // the one failing subtest; "" for none
		message  string
		runsSubs []string
	}{
		{"Full", "", "", []string{"Wait", "Merge", "MergeIntoLower"}},
		{"StaleMergeLowerFirst", "MergeIntoLowerRefused", "no error, though the harness declares MergeLowerFirst", nil},
		{"UndeclaredLowerFirst", "MergeIntoLower", "the upper shard must come second", nil},
		{"StaleNoWaiter", "WaitByPolling", "unset NoWaiter", nil},
		{"UndeclaredNoWaiter", "Wait", "a backend without Wait sets Harness.NoWaiter", nil},
		{"UnknownMergeOrder", "", "Harness.MergeOrder is MergeOrder(99)", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperRun$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), "STREAMTEST_CASE="+c.name)
			out, err := cmd.CombinedOutput()
			text := string(out)
			if strings.Contains(text, "--- SKIP") {
				t.Errorf("a subtest was skipped:\n%s", text)
			}
			failed := regexp.MustCompile(`--- FAIL: TestHelperRun/(\S+)`).FindAllStringSubmatch(text, -1)
			var names []string
			for _, m := range failed {
				names = append(names, m[1])
			}
			wantFail := c.failing != "" || c.message != ""
			switch {
			case !wantFail && err != nil:
				t.Fatalf("suite failed: %v\n%s", err, text)
			case wantFail && err == nil:
				t.Fatalf("suite passed, want a failure saying %q\n%s", c.message, text)
			case c.failing != "" && fmt.Sprint(names) != fmt.Sprint([]string{c.failing}):
				t.Fatalf("failing subtests %v, want just %s\n%s", names, c.failing, text)
			case !strings.Contains(text, c.message):
				t.Fatalf("output lacks %q\n%s", c.message, text)
			}
			for _, sub := range c.runsSubs {
				if !strings.Contains(text, "--- PASS: TestHelperRun/"+sub+" ") {
					t.Errorf("subtest %s did not pass\n%s", sub, text)
				}
			}
		})
	}
}
