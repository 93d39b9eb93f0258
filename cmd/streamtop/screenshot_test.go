package main

import (
	"context"
	"fmt"
	"html"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

// The README's screenshot is the terminal view of a real run: -demo counted
// for a few seconds through the command's own pipeline, its frame rendered
// as the terminal would, colours included. This test makes the frame and
// checks it; with STREAMTOP_SCREENSHOT set to a path it also has headless
// Chromium draw it to that PNG:
//
//	cd cmd/streamtop && STREAMTOP_SCREENSHOT=$PWD/../../docs/streamtop.png go test -run TestScreenshot .
func TestScreenshot(t *testing.T) {
	const cols, rows = 96, 28
	frame := demoFrame(t, cols, rows, "-demo", "-n", "8", "-groups", "2", "-window", "30s")
	lines := strings.Split(frame, "\n")
	if len(lines) > rows {
		t.Errorf("the frame has %d lines, more than the terminal's %d", len(lines), rows)
	}
	page := terminalHTML(frame, cols, rows)
	for _, want := range []string{"demo", "RANK", "SHARE", "█", `class="fg6"`, `class="b rev"`} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q; frame:\n%s", want, frame)
		}
	}
	out := os.Getenv("STREAMTOP_SCREENSHOT")
	if out == "" {
		t.Log("STREAMTOP_SCREENSHOT not set: the frame is checked, no PNG drawn")
		return
	}
	chromium := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			chromium = p
			break
		}
	}
	if chromium == "" {
		t.Fatal("STREAMTOP_SCREENSHOT is set but Chromium is not installed (Debian package chromium)")
	}
	file := filepath.Join(t.TempDir(), "frame.html")
	if err := os.WriteFile(file, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	w, h := pageSize(cols, rows)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
		"--user-data-dir="+t.TempDir(), "--force-device-scale-factor=1",
		fmt.Sprintf("--window-size=%d,%d", w, h), "--screenshot="+out, "file://"+file)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, msg)
	}
	if st, err := os.Stat(out); err != nil || st.Size() == 0 {
		t.Fatalf("no screenshot at %s: %v", out, err)
	}
	t.Logf("wrote %s (%dx%d)", out, w, h)
}

// demoFrame runs the command's -demo source, pipeline and terminal view as
// run does, for two refreshes two seconds apart (so ranks can change), and
// returns the second frame as the terminal would draw it, with ANSI colours.
func demoFrame(t *testing.T, cols, rows int, args ...string) string {
	t.Helper()
	lipgloss.SetColorProfile(termenv.ANSI)
	t.Cleanup(func() { lipgloss.SetColorProfile(termenv.Ascii) })
	cfg, err := parseFlags(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	src, err := newDemo(cfg.rate)
	if err != nil {
		t.Fatal(err)
	}
	rep, read := local(src, cfg, env{now: time.Now})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- read(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	v := newView(rep, cfg.n, cfg.refresh)
	update(v, tea.WindowSizeMsg{Width: cols, Height: rows})
	for range 2 {
		time.Sleep(2 * time.Second)
		update(v, tickMsg(time.Now()))
	}
	return v.View()
}

// The page's font metrics: DejaVu Sans Mono at 14 px is 8.43 px a column;
// lines are 18 px.
const (
	fontPx   = 14
	colPx    = 8.43
	linePx   = 18
	marginPx = 12
)

func pageSize(cols, rows int) (w, h int) {
	return int(float64(cols)*colPx+0.999) + 2*marginPx, rows*linePx + 2*marginPx
}

// terminalHTML renders a frame of text with ANSI SGR escapes (bold, faint,
// reverse, the 16 colours, reset) as an HTML page that looks like a dark
// terminal of cols × rows. Other escapes are dropped.
func terminalHTML(frame string, cols, rows int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<!doctype html><meta charset="utf-8"><style>
html,body{margin:0;background:#1e1e1e}
pre{margin:%dpx;font:%dpx/%dpx "DejaVu Sans Mono",monospace;color:#d0d0d0;width:%dch;height:%dpx;overflow:hidden}
.b{font-weight:bold}.f{opacity:.6}.rev{background:#d0d0d0;color:#1e1e1e}
.fg1{color:#e06c75}.fg2{color:#98c379}.fg3{color:#e5c07b}.fg4{color:#61afef}.fg5{color:#c678dd}.fg6{color:#56b6c2}
</style><pre>`, marginPx, fontPx, linePx, cols, rows*linePx)
	var bold, faint, rev bool
	fg := 0
	open := false
	for i := 0; i < len(frame); {
		if frame[i] != 0x1b {
			j := strings.IndexByte(frame[i:], 0x1b)
			if j < 0 {
				j = len(frame) - i
			}
			b.WriteString(html.EscapeString(frame[i : i+j]))
			i += j
			continue
		}
		// ESC [ params final
		j := i + 1
		if j < len(frame) && frame[j] == '[' {
			j++
			for j < len(frame) && (frame[j] < 0x40 || frame[j] > 0x7e) {
				j++
			}
		}
		if j >= len(frame) {
			break
		}
		if frame[i+1] == '[' && frame[j] == 'm' {
			for _, p := range strings.Split(frame[i+2:j], ";") {
				n, _ := strconv.Atoi(p)
				switch {
				case n == 0:
					bold, faint, rev, fg = false, false, false, 0
				case n == 1:
					bold = true
				case n == 2:
					faint = true
				case n == 22:
					bold, faint = false, false
				case n == 7:
					rev = true
				case n == 27:
					rev = false
				case n >= 30 && n <= 37:
					fg = n - 30
				case n >= 90 && n <= 97:
					fg = n - 90
				case n == 39:
					fg = 0
				}
			}
			if open {
				b.WriteString("</span>")
				open = false
			}
			var class []string
			if bold {
				class = append(class, "b")
			}
			if faint {
				class = append(class, "f")
			}
			if rev {
				class = append(class, "rev")
			}
			if fg > 0 {
				class = append(class, "fg"+strconv.Itoa(fg))
			}
			if len(class) > 0 {
				fmt.Fprintf(&b, `<span class="%s">`, strings.Join(class, " "))
				open = true
			}
		}
		i = j + 1
	}
	if open {
		b.WriteString("</span>")
	}
	b.WriteString("</pre>\n")
	return b.String()
}
