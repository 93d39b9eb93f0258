package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/streamtop/streamtop/topk"
)

// report is one refresh: what every output shows, and what -json prints.
type report struct {
	Time     time.Time  `json:"time"`
	Source   string     `json:"source"`
	Window   windowInfo `json:"window"`
	Exact    bool       `json:"exact"`
	Capacity int        `json:"capacity,omitempty"`
	// Records counts every record read, counted or skipped.
	Records int64 `json:"records"`
	// Rate is records read per second since the previous report.
	Rate float64 `json:"rate"`
	// LagMillis is how far behind the source is: the stream's own figure,
	// or with -time-field the report's time minus the newest record time;
	// with -group, the report's time minus the end of the window shown.
	// Absent when none is known.
	LagMillis *int64  `json:"lag_ms,omitempty"`
	Malformed int64   `json:"malformed"`
	Skipped   skipped `json:"skipped"`
	Groups    []group `json:"groups"`
	// Done is set on the report made after the input ended.
	Done bool `json:"done,omitempty"`
	// Incomplete, with -group, marks a window that not every shard has
	// written yet: shown only while no window is complete.
	Incomplete bool `json:"incomplete,omitempty"`
	// Note, with -group, says why the report has no counts (no window
	// written yet, a failed read of the counts table) and what the worker
	// last warned of in the last 30 s (a shard it cannot read, say).
	Note string `json:"note,omitempty"`
}

type windowInfo struct {
	Size   duration  `json:"size"`
	Bucket duration  `json:"bucket"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
}

// duration marshals as Go writes durations, "1m0s".
type duration time.Duration

func (d duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

func (d *duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	*d = duration(v)
	return err
}

// group is one table: the top keys of one value of -group-field (or of
// everything, without it).
type group struct {
	Name  string `json:"group"`
	Total int64  `json:"total"`
	// Keys is the number of distinct keys in the window (with -capacity,
	// the number monitored, at most the capacity).
	Keys int `json:"keys"`
	// ErrBound is Total/capacity: no count is over by more.
	ErrBound int64 `json:"err_bound,omitempty"`
	Top      []row `json:"top"`
}

type row struct {
	Rank  int     `json:"rank"`
	Key   string  `json:"key"`
	Count int64   `json:"count"`
	Err   int64   `json:"err,omitempty"`
	Share float64 `json:"share"`
	// Change is the rank gained since the previous report (negative: lost);
	// New marks a key that was not in the previous report's top.
	Change int  `json:"change"`
	New    bool `json:"new,omitempty"`
}

// reporting makes the report of each refresh: from the tally this process
// counts (reporter), or from the merged counts of a lease group
// (mergedReporter). It is used by one goroutine at a time.
type reporting interface {
	// report makes the report for time now, showing n keys per group.
	report(now time.Time, n int) report
}

// reporter makes reports from a tally that a source fills concurrently: it
// holds the lock the source's deliveries take, and remembers the previous
// report's ranks and record count for the changes and the rate.
//
// Its zero value is not usable; the fields are set once before use. A reporter
// is used by one goroutine at a time; the tally may be written meanwhile under
// mu. A report costs a Top(n) per group under the lock (see tally.top), then
// O(n) per group outside it.
type reporter struct {
	mu       *sync.Mutex
	tally    *tally
	cfg      *config
	source   string
	maxShown int

	past pastReport
}

// pastReport is what a report is compared with: the previous report's
// ranks, time and record count. Its zero value is a past with no report.
type pastReport struct {
	ranks   map[string]map[string]int
	time    time.Time
	records int64
}

// rate sets rep.Rate from the records read since the past report, and makes
// rep that past.
func (p *pastReport) rate(rep *report) {
	if !p.time.IsZero() && rep.Time.After(p.time) {
		rep.Rate = float64(rep.Records-p.records) / rep.Time.Sub(p.time).Seconds()
	}
	p.time, p.records = rep.Time, rep.Records
}

// rows fills g.Top from the entries, with each key's share of total and its
// rank change since the past report, and remembers the ranks for the next.
func (p *pastReport) rows(ranks map[string]map[string]int, g *group, entries []topk.Entry[string]) {
	prev := p.ranks[g.Name]
	now := make(map[string]int, len(entries))
	g.Top = make([]row, len(entries))
	for i, e := range entries {
		rank := i + 1
		now[e.Key] = rank
		rw := row{Rank: rank, Key: e.Key, Count: e.Count, Err: e.Err}
		if g.Total > 0 {
			rw.Share = float64(e.Count) / float64(g.Total)
		}
		if was, ok := prev[e.Key]; ok {
			rw.Change = was - rank
		} else {
			rw.New = p.ranks != nil // the first report has no past to compare
		}
		g.Top[i] = rw
	}
	ranks[g.Name] = now
}

// report makes the report for time now, showing n keys per group.
func (r *reporter) report(now time.Time, n int) report {
	advance := r.cfg.timeField == ""
	r.mu.Lock()
	tops := r.tally.top(now, advance, n, r.maxShown)
	rep := report{
		Time:     now,
		Source:   r.source,
		Exact:    r.cfg.capacity == 0,
		Capacity: r.cfg.capacity,
		Records:  r.tally.records,
		Skipped:  r.tally.skipped,
		Window:   windowInfo{Size: duration(r.cfg.window), Bucket: duration(r.cfg.bucket)},
	}
	lag, newest := r.tally.lagMs, r.tally.newest
	r.mu.Unlock()

	rep.Malformed = rep.Skipped.malformed()
	if lag >= 0 {
		rep.LagMillis = &lag
	} else if !advance && !newest.IsZero() {
		ms := max(0, now.Sub(newest).Milliseconds()) // records from the future are not ahead
		rep.LagMillis = &ms
	}
	r.past.rate(&rep)

	ranks := make(map[string]map[string]int, len(tops))
	rep.Groups = make([]group, 0, len(tops))
	for _, g := range tops {
		if rep.Window.End.IsZero() || g.bounds[1].After(rep.Window.End) {
			rep.Window.Start, rep.Window.End = g.bounds[0], g.bounds[1]
		}
		out := group{Name: g.name, Total: g.total, Keys: g.keys}
		if r.cfg.capacity > 0 {
			out.ErrBound = g.total / int64(r.cfg.capacity)
		}
		r.past.rows(ranks, &out, g.top)
		rep.Groups = append(rep.Groups, out)
	}
	r.past.ranks = ranks
	return rep
}

// approximate says whether the group's counts have an error to show: with
// -capacity, or with -group where a partial left a key out (see group.go).
func (g *group) approximate(exact bool) bool {
	if !exact {
		return true
	}
	for _, r := range g.Top {
		if r.Err > 0 {
			return true
		}
	}
	return false
}

// change renders a row's rank change as the tables show it.
func (rw row) change() string {
	switch {
	case rw.New:
		return "new"
	case rw.Change > 0:
		return fmt.Sprintf("↑%d", rw.Change)
	case rw.Change < 0:
		return fmt.Sprintf("↓%d", -rw.Change)
	}
	return ""
}

// header is the report's first line for the plain output; the terminal
// view shows its two halves on two lines.
func (rep *report) header() string { return rep.status() + "  " + rep.windowText() }

// status says what is read and how it goes.
func (rep *report) status() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s  %s rec/s  lag %s  malformed %d", rep.Source, humanRate(rep.Rate), lagText(rep.LagMillis), rep.Malformed)
	if rep.Skipped.Late > 0 {
		fmt.Fprintf(&b, "  late %d", rep.Skipped.Late)
	}
	if rep.Skipped.OverLimit > 0 {
		fmt.Fprintf(&b, "  over group limit %d", rep.Skipped.OverLimit)
	}
	return b.String()
}

// windowText says what is counted.
func (rep *report) windowText() string {
	var b strings.Builder
	fmt.Fprintf(&b, "window %s by %s", time.Duration(rep.Window.Size), time.Duration(rep.Window.Bucket))
	if !rep.Window.End.IsZero() {
		fmt.Fprintf(&b, " to %s", rep.Window.End.UTC().Format("15:04:05"))
		if rep.Incomplete {
			b.WriteString(" (incomplete: not every shard has written it yet)")
		}
	}
	if rep.Exact {
		b.WriteString("  exact")
	} else {
		fmt.Fprintf(&b, "  approximate, capacity %d", rep.Capacity)
	}
	return b.String()
}

func lagText(ms *int64) string {
	if ms == nil {
		return "-"
	}
	return (time.Duration(*ms) * time.Millisecond).Round(time.Millisecond).String()
}

func humanRate(r float64) string {
	switch {
	case r >= 1e6:
		return fmt.Sprintf("%.1fM", r/1e6)
	case r >= 1e4:
		return fmt.Sprintf("%.0fk", r/1e3)
	}
	return fmt.Sprintf("%.0f", r)
}

// maxKeyWidth bounds a key's width in the plain tables of refreshes, so that
// one refresh prints a bounded amount whatever the keys.
const maxKeyWidth = 80

// writePlain prints rep as plain text tables: what -once prints at the end and
// what a refresh prints when stdout is not a terminal. Each table is at most
// n rows; keys are cut to keyWidth runes (-once passes no limit, 0, as
// uniq -c would not cut them).
func writePlain(w io.Writer, rep *report, keyWidth int) error {
	cut := func(s string) string {
		if keyWidth == 0 {
			return s
		}
		return truncate(s, keyWidth)
	}
	var b strings.Builder
	b.WriteString(rep.header())
	b.WriteByte('\n')
	if rep.Note != "" {
		b.WriteString(rep.Note)
		b.WriteByte('\n')
	}
	for _, g := range rep.Groups {
		if g.Name != "" || len(rep.Groups) > 1 {
			fmt.Fprintf(&b, "\n== %s  (total %d, %d keys)\n", cut(printable(g.Name)), g.Total, g.Keys)
		} else {
			fmt.Fprintf(&b, "total %d, %d keys\n", g.Total, g.Keys)
		}
		kw := 3
		for _, r := range g.Top {
			kw = max(kw, utf8.RuneCountInString(cut(printable(r.Key))))
		}
		approx := g.approximate(rep.Exact)
		fmt.Fprintf(&b, "%4s  %-*s  %10s", "RANK", kw, "KEY", "COUNT")
		if approx {
			fmt.Fprintf(&b, "  %8s", "±ERR")
		}
		fmt.Fprintf(&b, "  %6s  %s\n", "SHARE", "CHANGE")
		for _, r := range g.Top {
			key := cut(printable(r.Key))
			fmt.Fprintf(&b, "%4d  %s%s  %10d", r.Rank, key, strings.Repeat(" ", kw-utf8.RuneCountInString(key)), r.Count)
			if approx {
				fmt.Fprintf(&b, "  %8d", r.Err)
			}
			fmt.Fprintf(&b, "  %5.1f%%  %s\n", 100*r.Share, r.change())
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// printable replaces control characters, which would move a terminal's
// cursor, and invalid UTF-8.
func printable(s string) string {
	clean := true
	for _, r := range s {
		if r < ' ' || r == 0x7f || r == utf8.RuneError || (r >= 0x80 && r < 0xa0) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
}

// truncate cuts s to at most w runes, marking the cut with an ellipsis.
func truncate(s string, w int) string {
	if utf8.RuneCountInString(s) <= w {
		return s
	}
	if w < 1 {
		return ""
	}
	return string([]rune(s)[:w-1]) + "…"
}
