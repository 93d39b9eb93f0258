package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"
)

// pieces is a reader that returns its input in the given pieces, one a Read.
type pieces struct{ parts []string }

func (p *pieces) Read(b []byte) (int, error) {
	if len(p.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(b, p.parts[0])
	if p.parts[0] = p.parts[0][n:]; p.parts[0] == "" {
		p.parts = p.parts[1:]
	}
	return n, nil
}

// steps is a clock that moves by the given steps, one a reading, then stays.
func steps(at time.Time, by []time.Duration) func() time.Time {
	return func() time.Time {
		if len(by) > 0 {
			at, by = at.Add(by[0]), by[1:]
		}
		return at
	}
}

// lineCounter counts what the tally counts when lineSource hands it each
// read's lines: same tops, same late and skipped records, whatever the
// reads, the workers, the keys held between Adds and the clock's steps.
func TestLineCounterCountsAsTally(t *testing.T) {
	var lates, splits atomic.Int64
	defer func() {
		if lates.Load() == 0 || splits.Load() == 0 {
			t.Errorf("late records %d, reads cut among workers %d: the test checks too little", lates.Load(), splits.Load())
		}
	}()
	rapid.Check(t, func(t *rapid.T) {
		args := rapid.SampledFrom([][]string{
			{},
			{"-field", "k"},
			{"-field", "k", "-weight", "w"},
			{"-match", `^(\S+)`},
		}).Draw(t, "args")
		cfg, err := parseFlags(append([]string{"-once", "-window", "5s", "-bucket", "1s"}, args...), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		keys := []string{"a", "10.0.0.1", "", "sixteen-bytes-ok", "seventeen-bytes-x", "a much longer key than any slot holds"}
		var lines []string
		for range rapid.IntRange(0, 200).Draw(t, "lines") {
			k := rapid.SampledFrom(keys).Draw(t, "key")
			switch rapid.IntRange(0, 9).Draw(t, "form") {
			case 0:
				lines = append(lines, "garbage")
			case 1:
				lines = append(lines, fmt.Sprintf(`{"k":%q,"w":"x"}`, k))
			default:
				lines = append(lines, fmt.Sprintf(`{"k":%q,"w":%d}`, k, rapid.IntRange(0, 3).Draw(t, "w")))
			}
		}
		sep := rapid.SampledFrom([]string{"\n", "\r\n"}).Draw(t, "separator")
		input := strings.Join(lines, sep)
		if rapid.Bool().Draw(t, "final newline") {
			input += sep
		}
		var parts []string
		for rest := input; rest != ""; {
			n := rapid.IntRange(1, max(1, len(rest))).Draw(t, "read")
			parts, rest = append(parts, rest[:n]), rest[n:]
		}
		var by []time.Duration // a step a read, and one for the end of input
		for range len(parts) + 1 {
			step := time.Duration(rapid.IntRange(0, 1500).Draw(t, "step ms")) * time.Millisecond
			if rapid.IntRange(0, 9).Draw(t, "back") == 0 {
				step = -8 * time.Second // older than the window: late
			}
			by = append(by, step)
		}

		dec, _ := cfg.decoder()
		want := newTally(dec, cfg.newWindow, cfg.bucket, cfg.maxGroups())
		want.flushLimit = slotLimit
		src := &lineSource{r: &pieces{parts: append([]string(nil), parts...)}, now: steps(t0, by)}
		if err := src.run(context.Background(), func(b batch) { want.add(b.recs, b.lagMs) }); err != nil {
			t.Fatal(err)
		}

		got := newTally(dec, cfg.newWindow, cfg.bucket, cfg.maxGroups())
		var mu sync.Mutex
		c := newLineCounter(&mu, got, dec, rapid.IntRange(1, 3).Draw(t, "workers"), true)
		c.split = rapid.IntRange(1, 64).Draw(t, "split")
		c.maxHeld = rapid.IntRange(1, 8).Draw(t, "held")
		src = &lineSource{r: &pieces{parts: parts}, now: steps(t0, by)}
		if err := c.run(context.Background(), src); err != nil {
			t.Fatal(err)
		}

		end := steps(t0, by)
		for range by {
			end()
		}
		now := end().Add(time.Second)
		if diff := gocmp.Diff(want.top(now, true, 100, 10), got.top(now, true, 100, 10), gocmp.AllowUnexported(groupTop{})); diff != "" {
			t.Fatalf("lineCounter differs from the tally (-tally +lineCounter):\n%s", diff)
		}
		if want.skipped != got.skipped || want.records != got.records {
			t.Fatalf("skipped %+v / %+v, records %d / %d", want.skipped, got.skipped, want.records, got.records)
		}
		lates.Add(want.skipped.Late)
		if len(c.workers) > 1 && len(input) >= c.split {
			splits.Add(1)
		}
	})
}

// Before it waits for more input, lineCounter adds what it has read to the
// window, so an interrupted -once prints every line read.
func TestLineCounterAddsBeforeWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg, _ := parseFlags([]string{"-once"}, io.Discard)
		dec, _ := cfg.decoder()
		tl := newTally(dec, cfg.newWindow, cfg.bucket, cfg.maxGroups())
		var mu sync.Mutex
		c := newLineCounter(&mu, tl, dec, 2, true)
		c.split = 1
		r, w := io.Pipe()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- c.run(ctx, &lineSource{r: r, now: time.Now}) }()

		io.WriteString(w, "a\nb\na\n")
		synctest.Wait() // the counter waits for the next read
		mu.Lock()
		top := tl.top(time.Now(), true, 10, 1)
		records := tl.records
		mu.Unlock()
		if records != 3 || len(top) != 1 || len(top[0].top) != 2 || top[0].top[0].Key != "a" || top[0].top[0].Count != 2 {
			t.Errorf("while waiting: %d records, top %+v; want 3, a 2 and b 1", records, top)
		}

		cancel()
		w.Close()
		if err := <-done; err != context.Canceled {
			t.Errorf("run = %v, want context.Canceled", err)
		}
	})
}
