package main

import (
	"fmt"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/mattn/go-runewidth"
)

// The terminal view's messages: a refresh is due (at the time it carries),
// and the source has stopped.
// A nowMsg asks for a refresh out of turn, after a key or the end of input.
type (
	tickMsg time.Time
	nowMsg  time.Time
	doneMsg struct{ err error }
)

// maxRows bounds -n from the keyboard: a table never gets longer than this.
const maxRows = 1000

// view is the full-screen table that refreshes in place. It is a bubbletea
// model: Update takes ticks, keys, window sizes and the source's end; View
// renders the last report, cut to the terminal, so a refresh writes at most a
// screenful.
//
// Its zero value is not usable; use newView. A refresh costs a report (see
// reporter) and a render of at most height lines.
type view struct {
	rep     reporting
	refresh time.Duration
	n       int
	paused  bool
	done    bool
	err     error
	last    report
	width   int
	height  int

	styles viewStyles
}

type viewStyles struct {
	header, help, title, columns, up, down, fresh, bar lipgloss.Style
}

func newView(rep reporting, n int, refresh time.Duration) *view {
	return &view{
		rep: rep, n: n, refresh: refresh, width: 80, height: 24,
		styles: viewStyles{
			header:  lipgloss.NewStyle().Reverse(true).Bold(true),
			help:    lipgloss.NewStyle().Faint(true),
			title:   lipgloss.NewStyle().Bold(true),
			columns: lipgloss.NewStyle().Faint(true),
			up:      lipgloss.NewStyle().Foreground(lipgloss.Color("2")),
			down:    lipgloss.NewStyle().Foreground(lipgloss.Color("1")),
			fresh:   lipgloss.NewStyle().Foreground(lipgloss.Color("3")),
			bar:     lipgloss.NewStyle().Foreground(lipgloss.Color("6")),
		},
	}
}

func (v *view) tick() tea.Cmd {
	return tea.Tick(v.refresh, func(t time.Time) tea.Msg { return tickMsg(t) })
}

// Init asks for the first refresh at once; each tick schedules the next.
func (v *view) Init() tea.Cmd {
	return func() tea.Msg { return tickMsg(time.Now()) }
}

func (v *view) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		v.width, v.height = msg.Width, msg.Height
	case tea.KeyMsg:
		switch msg.String() {
		case "q", "Q", "ctrl+c", "esc":
			return v, tea.Quit
		case "p", " ":
			v.paused = !v.paused
		case "+", "=", "up", "k":
			return v, v.setN(v.n + 1)
		case "-", "_", "down", "j":
			return v, v.setN(v.n - 1)
		}
	case tickMsg:
		if !v.paused {
			v.last = v.rep.report(time.Time(msg), v.n)
		}
		if v.done {
			return v, nil
		}
		return v, v.tick()
	case nowMsg:
		if !v.paused {
			v.last = v.rep.report(time.Time(msg), v.n)
		}
	case doneMsg:
		v.done, v.err = true, msg.err
		return v, refreshNow
	}
	return v, nil
}

// setN changes the rows shown, and refreshes unless paused.
func (v *view) setN(n int) tea.Cmd {
	v.n = max(1, min(n, maxRows))
	if v.paused {
		return nil
	}
	return refreshNow
}

func refreshNow() tea.Msg { return nowMsg(time.Now()) }

func (v *view) View() string {
	var b strings.Builder
	w := max(v.width, 20)
	lines := 0
	line := func(s string) bool {
		if lines >= v.height && v.height > 0 {
			return false
		}
		if lines > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(ansi.Truncate(s, w, ""))
		lines++
		return true
	}
	line(v.styles.header.Render(pad(runewidth.Truncate(v.last.status(), w, "…"), w)))
	line(runewidth.Truncate(v.last.windowText(), w, "…"))
	state := fmt.Sprintf("q quit  p pause  +/- rows (n=%d)", v.n)
	switch {
	case v.err != nil:
		state += "  input failed: " + v.err.Error()
	case v.done:
		state += "  input ended"
	}
	if v.paused {
		state += "  PAUSED"
	}
	line(v.styles.help.Render(runewidth.Truncate(state, w, "…")))

	if v.last.Note != "" {
		line(v.styles.down.Render(runewidth.Truncate(v.last.Note, w, "…")))
	}
	if len(v.last.Groups) == 0 && v.last.Note == "" {
		line("")
		line(v.styles.help.Render("no records in the window yet"))
	}
	for _, g := range v.last.Groups {
		approx := g.approximate(v.last.Exact)
		if !line("") {
			break
		}
		if g.Name != "" || len(v.last.Groups) > 1 {
			title := fmt.Sprintf("%s  total %d  %d keys", printable(g.Name), g.Total, g.Keys)
			if approx {
				title += fmt.Sprintf("  counts over by at most %d", g.ErrBound)
			}
			line(v.styles.title.Render(runewidth.Truncate(title, w, "…")))
		} else if approx {
			line(fmt.Sprintf("total %d  counts over by at most %d", g.Total, g.ErrBound))
		}
		// Columns: rank, key, count, [±err], share, bar, change.
		fixed := 4 + 2 + 10 + 2 + 6 + 2 + 6
		if approx {
			fixed += 9
		}
		barW := min(20, max(0, w-fixed-12))
		kw := 3
		for _, r := range g.Top {
			kw = max(kw, runewidth.StringWidth(printable(r.Key)))
		}
		kw = max(3, min(kw, w-fixed-barW-3))
		hdr := fmt.Sprintf("%4s  %s  %10s", "RANK", pad("KEY", kw), "COUNT")
		if approx {
			hdr += fmt.Sprintf(" %8s", "±ERR")
		}
		hdr += fmt.Sprintf("  %6s  %s  %s", "SHARE", pad("", barW), "CHANGE")
		if !line(v.styles.columns.Render(runewidth.Truncate(hdr, w, ""))) {
			break
		}
		top := int64(1)
		if len(g.Top) > 0 {
			top = max(1, g.Top[0].Count)
		}
		for _, r := range g.Top {
			s := fmt.Sprintf("%4d  %s  %10d", r.Rank, pad(runewidth.Truncate(printable(r.Key), kw, "…"), kw), r.Count)
			if approx {
				s += fmt.Sprintf(" %8d", r.Err)
			}
			s += fmt.Sprintf("  %5.1f%%  %s  %s", 100*r.Share, v.styles.bar.Render(pad(bar(r.Count, top, barW), barW)), v.changeText(r))
			if !line(s) {
				break
			}
		}
	}
	return b.String()
}

func (v *view) changeText(r row) string {
	c := r.change()
	switch {
	case r.New:
		return v.styles.fresh.Render(c)
	case r.Change > 0:
		return v.styles.up.Render(c)
	case r.Change < 0:
		return v.styles.down.Render(c)
	}
	return c
}

// pad fills s with spaces to w columns.
func pad(s string, w int) string {
	if n := w - runewidth.StringWidth(s); n > 0 {
		return s + strings.Repeat(" ", n)
	}
	return s
}

var eighths = []string{"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"}

// bar draws count/top of w columns in eighths of a column.
func bar(count, top int64, w int) string {
	if w <= 0 || count <= 0 {
		return ""
	}
	units := int(min(count, top) * int64(w) * 8 / top)
	return strings.Repeat("█", units/8) + eighths[units%8]
}
