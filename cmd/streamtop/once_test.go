package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"
)

// runOnce runs the command on input with a fixed clock and returns the one
// JSON report -once -json prints.
func runOnce(t tb, input string, args ...string) report {
	t.Helper()
	var stdout, stderr strings.Builder
	code := run(context.Background(), append([]string{"-once", "-json"}, args...), env{
		stdin: strings.NewReader(input), stdout: &stdout, stderr: &stderr,
		now: func() time.Time { return t0 },
	})
	if code != 0 {
		t.Fatalf("run(%q) = %d: %s", args, code, stderr.String())
	}
	var rep report
	dec := json.NewDecoder(strings.NewReader(stdout.String()))
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("output %q: %v", stdout.String(), err)
	}
	if dec.More() {
		t.Fatalf("-once -json printed more than one object: %q", stdout.String())
	}
	return rep
}

// tb is what runOnce needs of a *testing.T or a *rapid.T.
type tb interface {
	Helper()
	Fatalf(format string, args ...any)
}

// uniqCount is the reference: sort | uniq -c | sort -rn, ties by key.
func uniqCount(keys []string) []row {
	counts := map[string]int64{}
	for _, k := range keys {
		counts[k]++
	}
	var rows []row
	for k, n := range counts {
		rows = append(rows, row{Key: k, Count: n})
	}
	slices.SortFunc(rows, func(a, b row) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return cmp.Compare(a.Key, b.Key)
	})
	for i := range rows {
		rows[i].Rank = i + 1
	}
	return rows
}

func topRows(rep report) []row {
	if len(rep.Groups) == 0 {
		return nil
	}
	return rep.Groups[0].Top
}

// -once -exact is a sort | uniq -c | sort -rn over the window: same keys,
// same counts, same order, whatever the lines, with bad lines skipped.
func TestOnceEqualsUniqCount(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		keys := rapid.SliceOf(rapid.SampledFrom([]string{"a", "b", "c", "10.0.0.1", "é", "", "x y", `q"uote`})).Draw(t, "keys")
		garbage := rapid.SliceOfN(rapid.SampledFrom([]string{"not json", `{"other":1}`, `{"k":null}`, `{"k":`}), 0, len(keys)).Draw(t, "garbage")
		var lines, counted []string
		for i, k := range keys {
			b, _ := json.Marshal(map[string]string{"k": k, "pad": strings.Repeat("p", i%7)})
			lines = append(lines, string(b))
			counted = append(counted, k)
			if i < len(garbage) {
				lines = append(lines, garbage[i])
			}
		}
		crlf := rapid.Bool().Draw(t, "crlf")
		input := strings.Join(lines, "\n")
		if crlf {
			input = strings.Join(lines, "\r\n")
		}
		if rapid.Bool().Draw(t, "final newline") && len(lines) > 0 {
			input += "\n"
		}

		rep := runOnce(t, input, "-field", "k", "-n", "100", "-exact")
		want := uniqCount(counted)
		if diff := gocmp.Diff(want, topRows(rep), cmpopts.IgnoreFields(row{}, "Share", "Change", "New")); diff != "" {
			t.Fatalf("-field k (-want +got):\n%s", diff)
		}
		if rep.Malformed != int64(len(garbage)) || rep.Records != int64(len(lines)) {
			t.Fatalf("records %d, malformed %d; want %d, %d", rep.Records, rep.Malformed, len(lines), len(garbage))
		}

		// Whole lines, as sort | uniq -c counts them.
		rep = runOnce(t, input, "-n", "100")
		if diff := gocmp.Diff(uniqCount(lines), topRows(rep), cmpopts.IgnoreFields(row{}, "Share", "Change", "New")); diff != "" {
			t.Fatalf("whole lines (-want +got):\n%s", diff)
		}
	})
}

// With -time-field, records are counted in their own time's window: what
// fell out of the window is not in the top, and what comes too late is
// counted as late.
func TestOnceEventTime(t *testing.T) {
	var b strings.Builder
	line := func(k string, at time.Time) { fmt.Fprintf(&b, `{"k":%q,"ts":%q}`+"\n", k, at.Format(time.RFC3339Nano)) }
	line("old", t0)                      // leaves the window
	line("new", t0.Add(20*time.Second))  // in it
	line("new", t0.Add(25*time.Second))  // in it
	line("late", t0.Add(1*time.Second))  // too late by then
	line("edge", t0.Add(11*time.Second)) // oldest bucket still in
	rep := runOnce(t, b.String(), "-field", "k", "-time-field", "ts", "-window", "15s", "-bucket", "1s")
	got := topRows(rep)
	if len(got) != 2 || got[0].Key != "new" || got[0].Count != 2 || got[1].Key != "edge" {
		t.Errorf("top = %+v, want new 2, edge 1", got)
	}
	if rep.Skipped.Late != 1 {
		t.Errorf("late = %d, want 1", rep.Skipped.Late)
	}
	if want := t0.Add(26 * time.Second); !rep.Window.End.Equal(want) {
		t.Errorf("window ends %v, want %v", rep.Window.End, want)
	}
}

// -weight sums; -group-field makes one table per group, largest first;
// -group-filter keeps one.
func TestOnceWeightAndGroups(t *testing.T) {
	input := strings.Join([]string{
		`{"k":"a","g":"x","w":5}`, `{"k":"b","g":"x","w":7}`, `{"k":"a","g":"y","w":1}`,
		`{"k":"a","g":"x","w":"3"}`, `{"k":"a","g":"x","w":-1}`,
	}, "\n")
	rep := runOnce(t, input, "-field", "k", "-group-field", "g", "-weight", "w")
	if len(rep.Groups) != 2 || rep.Groups[0].Name != "x" || rep.Groups[0].Total != 15 || rep.Groups[1].Name != "y" {
		t.Fatalf("groups = %+v", rep.Groups)
	}
	if top := rep.Groups[0].Top; top[0].Key != "a" || top[0].Count != 8 || top[1].Key != "b" || top[1].Count != 7 {
		t.Errorf("group x = %+v, want a 8, b 7", top)
	}
	if rep.Skipped.BadWeight != 1 {
		t.Errorf("bad weights = %d, want 1", rep.Skipped.BadWeight)
	}
	rep = runOnce(t, input, "-field", "k", "-group-field", "g", "-group-filter", "y")
	if len(rep.Groups) != 1 || rep.Groups[0].Name != "y" || rep.Skipped.OtherGroups != 4 {
		t.Errorf("filtered: %+v, other groups %d", rep.Groups, rep.Skipped.OtherGroups)
	}
}

// -capacity reports error bounds that hold: every true count lies in
// [Count-Err, Count].
func TestOnceCapacityBounds(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		keys := rapid.SliceOfN(rapid.IntRange(0, 40), 1, 500).Draw(t, "keys")
		var lines []string
		exact := map[string]int64{}
		for _, k := range keys {
			key := fmt.Sprint("k", k)
			lines = append(lines, key)
			exact[key]++
		}
		rep := runOnce(t, strings.Join(lines, "\n"), "-capacity", "20", "-n", "20")
		g := rep.Groups[0]
		if g.Total != int64(len(keys)) || g.ErrBound != g.Total/20 {
			t.Fatalf("total %d, bound %d", g.Total, g.ErrBound)
		}
		for _, r := range g.Top {
			if truth := exact[r.Key]; truth > r.Count || truth < r.Count-r.Err || r.Err > g.ErrBound {
				t.Fatalf("%s: count %d err %d, true %d, bound %d", r.Key, r.Count, r.Err, truth, g.ErrBound)
			}
		}
	})
}

// A line too long to buffer is skipped and counted, and the next one is read.
func TestLineTooLong(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 17 MiB")
	}
	input := "a\n" + strings.Repeat("x", maxLine+10) + "\nb\n"
	rep := runOnce(t, input)
	if rep.Skipped.TooLong != 1 || len(topRows(rep)) != 2 {
		t.Errorf("too long %d, top %+v", rep.Skipped.TooLong, topRows(rep))
	}
}
