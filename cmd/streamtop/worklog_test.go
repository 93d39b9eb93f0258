package main

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
)

// A warning the consumer logs reaches the group's report, with the
// attributes that say where, for 30 seconds; Info records do not.
func TestWarningsReachTheReport(t *testing.T) {
	w := &warnings{}
	log := slog.New(w.handler()).With("worker", "w1")
	log.Info("consumer starting")
	if got := w.last(time.Now(), warningAge); got != "" {
		t.Errorf("after Info: %q, want nothing", got)
	}
	log.With("shard", "shardId-1").Warn("reading shard failed; retrying", "attempt", 2, "err", errors.New("connection refused"))
	got := w.last(time.Now(), warningAge)
	for _, want := range []string{"reading shard failed", "shard=shardId-1", "attempt=2", "err=connection refused"} {
		if !strings.Contains(got, want) {
			t.Errorf("warning %q lacks %q", got, want)
		}
	}
	if strings.Contains(got, "w1") {
		t.Errorf("warning %q names the worker, the same on every line", got)
	}
	if got := w.last(time.Now().Add(warningAge+time.Second), warningAge); got != "" {
		t.Errorf("after %v: %q, want it gone", warningAge, got)
	}

	// The report's note carries it, and the terminal view shows the note.
	src := &groupSource{cfg: &config{window: time.Minute, bucket: time.Second, kinesis: "s", group: "g"}, label: "test",
		counts: mustMemory(t), skips: &skipCounter{}, warns: w, now: time.Now}
	src.agg = mustAggregator(t, src.counts)
	rep := src.reporter(10)
	r := rep.report(time.Now(), 5)
	if !strings.Contains(r.Note, "no window written yet") || !strings.Contains(r.Note, "worker: reading shard failed") {
		t.Errorf("note %q; want the reason for no counts and the warning", r.Note)
	}
	v := newView(rep, 5, time.Second)
	update(v, tea.WindowSizeMsg{Width: 200, Height: 20}, tickMsg(time.Now()))
	if out := v.View(); !strings.Contains(out, "worker: reading shard failed") {
		t.Errorf("the view does not show the note:\n%s", out)
	}
}
