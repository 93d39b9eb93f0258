package main

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/mattn/go-runewidth"
	"github.com/streamtop/streamtop/internal/logbuf"
)

// newTestView is a view over a tally of counts given per key, all at t0.
func newTestView(t *testing.T, counts map[string]int, args ...string) (*view, *tally, *sync.Mutex) {
	t.Helper()
	cfg, err := parseFlags(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	dec, _ := cfg.decoder()
	tl := newTally(dec, cfg.newWindow, cfg.bucket, cfg.maxGroups())
	add(tl, counts, t0)
	mu := &sync.Mutex{}
	rep := &reporter{mu: mu, tally: tl, cfg: cfg, source: "test", maxShown: cfg.groups, past: pastReport{time: t0}}
	return newView(rep, cfg.n, cfg.refresh), tl, mu
}

func add(tl *tally, counts map[string]int, at time.Time) {
	var recs []rec
	for k, n := range counts {
		for range n {
			recs = append(recs, rec{Data: []byte(k), Arrival: at})
		}
	}
	tl.add(recs, -1)
}

func key(r rune) tea.KeyMsg { return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}} }

func update(v *view, msgs ...tea.Msg) tea.Cmd {
	var cmd tea.Cmd
	for _, m := range msgs {
		_, cmd = v.Update(m)
	}
	return cmd
}

func TestViewTable(t *testing.T) {
	v, tl, mu := newTestView(t, map[string]int{"alpha": 5, "beta": 3, "gamma": 1}, "-n", "2")
	update(v, tea.WindowSizeMsg{Width: 70, Height: 20}, tickMsg(t0.Add(time.Second)))
	out := v.View()
	for _, want := range []string{"test", "exact", "RANK", "alpha", "beta", "n=2", "55.6%"} {
		if !strings.Contains(out, want) {
			t.Errorf("view lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "gamma") {
		t.Errorf("view shows a third key with -n 2:\n%s", out)
	}

	// + shows one more row at once; the rank changes show at the next tick.
	cmd := update(v, key('+'))
	if cmd == nil {
		t.Fatal("+ asked for no refresh")
	}
	update(v, nowMsg(t0.Add(1500*time.Millisecond)))
	if out := v.View(); !strings.Contains(out, "gamma") || !strings.Contains(out, "n=3") {
		t.Errorf("after +, view lacks gamma or n=3:\n%s", out)
	}
	mu.Lock()
	add(tl, map[string]int{"gamma": 10}, t0.Add(2*time.Second))
	mu.Unlock()
	update(v, tickMsg(t0.Add(2*time.Second)))
	if out := v.View(); !strings.Contains(out, "↑2") || !strings.Contains(out, "↓1") {
		t.Errorf("gamma rose two ranks, alpha and beta fell one; view:\n%s", out)
	}

	// p pauses: the table stays as it was while counts change.
	update(v, key('p'))
	before := v.View()
	mu.Lock()
	add(tl, map[string]int{"delta": 100}, t0.Add(3*time.Second))
	mu.Unlock()
	update(v, tickMsg(t0.Add(3*time.Second)))
	if after := v.View(); strings.Contains(after, "delta") || !strings.Contains(after, "PAUSED") {
		t.Errorf("paused view changed or says nothing:\nbefore\n%s\nafter\n%s", before, after)
	}
	update(v, key(' '), tickMsg(t0.Add(4*time.Second)))
	if out := v.View(); !strings.Contains(out, "delta") {
		t.Errorf("unpaused view lacks delta:\n%s", out)
	}

	// - never goes below one row; q quits.
	for range 10 {
		update(v, key('-'))
	}
	if v.n != 1 {
		t.Errorf("n = %d after many -, want 1", v.n)
	}
	if cmd := update(v, key('q')); cmd == nil || fmt.Sprintf("%T", cmd()) != "tea.QuitMsg" {
		t.Errorf("q did not quit")
	}
}

// A refresh draws at most a screenful: lines within the height, each within
// the width, whatever the keys and the number of groups.
func TestViewBounded(t *testing.T) {
	counts := map[string]int{}
	for i := range 300 {
		counts[fmt.Sprintf(`{"g":"group%d","k":"%s%d"}`, i%7, strings.Repeat("long-key-", i%20), i)] = i%13 + 1
	}
	v, _, _ := newTestView(t, counts, "-field", "k", "-group-field", "g", "-n", "50", "-capacity", "100")
	for _, size := range [][2]int{{40, 10}, {80, 24}, {200, 60}} {
		update(v, tea.WindowSizeMsg{Width: size[0], Height: size[1]}, tickMsg(t0.Add(time.Second)))
		out := v.View()
		lines := strings.Split(out, "\n")
		if len(lines) > size[1] {
			t.Errorf("%dx%d: %d lines", size[0], size[1], len(lines))
		}
		for _, l := range lines {
			if w := runewidth.StringWidth(stripANSI(l)); w > size[0] {
				t.Errorf("%dx%d: line of width %d: %q", size[0], size[1], w, l)
			}
		}
		if size[0] >= 80 && (!strings.Contains(out, "±ERR") || !strings.Contains(out, "over by at most")) {
			t.Errorf("%dx%d: approximate view shows no error bounds:\n%s", size[0], size[1], out)
		}
	}
}

// stripANSI removes the escape sequences of styles.
func stripANSI(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b {
			for i < len(s) && !(s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z') {
				i++
			}
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// The whole command in its terminal view: it draws the table and quits on q.
func TestTerminalQuits(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	keys, keysIn := io.Pipe()
	var out logbuf.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(context.Background(), []string{"-refresh", "10ms"}, env{
			stdin: pr, stdout: &out, stderr: io.Discard, now: time.Now,
			forceTerminalView: true, teaOptions: []tea.ProgramOption{tea.WithInput(keys)},
		})
	}()
	io.WriteString(pw, "xray\nyankee\nxray\n")
	// The full-screen table, drawn in place, shows both keys, xray
	// first with 2 of the 3 records, before q is pressed.
	row := regexp.MustCompile(`1\s+xray\s+2\s`)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	waitFor(ctx, t, "the table", func() bool {
		s := out.String()
		return row.MatchString(s) && strings.Contains(s, "yankee")
	}, out.String)
	io.WriteString(keysIn, "q")
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("run = %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("q did not end the command")
	}
}

func TestViewEmpty(t *testing.T) {
	v, _, _ := newTestView(t, nil)
	update(v, tickMsg(t0))
	if out := v.View(); !strings.Contains(out, "no records in the window yet") {
		t.Errorf("empty view:\n%s", out)
	}
}
