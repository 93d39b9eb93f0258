package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/streamtop/streamtop/internal/consumertest"
)

// findChromium returns the browser to drive. A machine without one skips the
// test, unless it is CI, where a missing browser must fail the run.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed, and CI is set: install the Debian package chromium")
	}
	t.Skip("chromium is not installed (Debian package chromium); skipping the browser test")
	return ""
}

// consoleErrors collects what the page reports as errors: console.error
// calls, uncaught exceptions, and browser log errors such as failed loads.
type consoleErrors struct {
	mu   sync.Mutex
	list []string
}

func (c *consoleErrors) listen(ev any) {
	var msg string
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError {
			return
		}
		var parts []string
		for _, a := range ev.Args {
			parts = append(parts, string(a.Value))
		}
		msg = "console.error: " + strings.Join(parts, " ")
	case *runtime.EventExceptionThrown:
		msg = "exception: " + ev.ExceptionDetails.Text
		if ev.ExceptionDetails.Exception != nil {
			msg += " " + ev.ExceptionDetails.Exception.Description
		}
	case *log.EventEntryAdded:
		if ev.Entry.Level != log.EntryLevelError {
			return
		}
		msg = "log: " + ev.Entry.Text + " " + ev.Entry.URL
	default:
		return
	}
	c.mu.Lock()
	c.list = append(c.list, msg)
	c.mu.Unlock()
}

func (c *consoleErrors) all() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.list...)
}

// screenshotPath is where the test saves the page. Set
// VISUALIZER_SCREENSHOT (e.g. to ../../docs/visualizer.png) to refresh the
// README's picture, taken of the program's default (records keyed at
// random); the test then lets two minutes of data build up first, so the
// chart is full.
func screenshotPath(t *testing.T, key string) (string, time.Duration) {
	if p := os.Getenv("VISUALIZER_SCREENSHOT"); p != "" && key == keyRandom {
		return p, 2 * time.Minute
	}
	return filepath.Join(t.TempDir(), "visualizer.png"), 0
}

// eventually runs check every 200 ms until it returns nil or d has passed,
// and returns its last error.
func eventually(d time.Duration, check func() error) error {
	deadline := time.Now().Add(d)
	for {
		err := check()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

type seriesInfo struct {
	Referrer string `json:"referrer"`
	Points   int    `json:"points"`
	Coords   string `json:"coords"`
	// Values are the complete windows drawn, as "timestamp:count".
	Values string `json:"values"`
}

type topRow struct {
	Referrer string `json:"referrer"`
	Count    string `json:"count"`
}

// TestBrowser drives the page in headless Chromium against the real
// program, with records keyed by page and keyed at random: the chart fills
// with six moving series whose complete windows, legend and top-3 table
// match a recount of the stream's records, an incomplete window is drawn
// as such, nothing goes wrong in the console, and the layout fits a phone.
func TestBrowser(t *testing.T) {
	chromium := findChromium(t)
	for _, key := range []string{keyPage, keyRandom} {
		t.Run("partition-key="+key, func(t *testing.T) { testBrowser(t, chromium, key) })
	}
}

func testBrowser(t *testing.T, chromium, key string) {
	shot, settle := screenshotPath(t, key)
	c := testConfig()
	c.rate, c.drift, c.partitionKey = 600, time.Minute, key
	a := startApp(t, c)

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 860),
	)
	defer cancelAlloc()
	errs := &consoleErrors{}
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithListener(errs.listen))
	defer cancel()
	// The first Run starts the browser, which lives as long as ctx: no
	// timeout on it. Later steps get their own deadline.
	// The page's Content-Security-Policy reports what it blocks as
	// securitypolicyviolation events; a script the browser adds before the
	// page's own keeps them.
	recordViolations := chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
		_, err := cdp.Call(ctx, tgt, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
			Source: `window.cspViolations = [];
				document.addEventListener("securitypolicyviolation",
					(e) => window.cspViolations.push(e.violatedDirective + " " + e.blockedURI));`,
		})
		return err
	})
	if err := chromedp.Do(ctx, recordViolations, chromedp.Navigate(a.url)); err != nil {
		t.Fatalf("loading %s: %v", a.url, err)
	}
	step := func(d time.Duration) (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, d) }

	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil || !strings.Contains(title, "streamtop") {
		t.Fatalf("title %q, %v", title, err)
	}

	series := func() ([]seriesInfo, error) {
		sctx, done := step(5 * time.Second)
		defer done()
		return chromedp.Run(sctx, chromedp.Evaluate[[]seriesInfo](`[...document.querySelectorAll("#chart path.series:not(.pending)")].map(p => ({
			referrer: p.dataset.referrer, points: Number(p.dataset.points), coords: p.getAttribute("d"), values: p.dataset.values}))`))
	}
	var first []seriesInfo
	if err := eventually(15*time.Second, func() error {
		s, err := series()
		if err != nil {
			return err
		}
		if len(s) != len(referrers) {
			return fmt.Errorf("%d series on the chart, want %d", len(s), len(referrers))
		}
		for _, x := range s {
			if x.Points < 2 {
				return fmt.Errorf("series %s has %d points", x.Referrer, x.Points)
			}
		}
		first = s
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for i, x := range first {
		if want := referrers; !strings.HasPrefix(x.Referrer, "http://www.") || indexOf(want, x.Referrer) < 0 {
			t.Errorf("series %d is %q, not one of the referrers", i, x.Referrer)
		}
	}
	// The chart moves: a second later every series has redrawn with a newer
	// window.
	if err := eventually(5*time.Second, func() error {
		s, err := series()
		if err != nil {
			return err
		}
		if len(s) != len(first) || s[0].Coords == first[0].Coords {
			return fmt.Errorf("the chart did not move")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	checkAgainstRecount(t, ctx, a)

	// The top-3 table matches /api/top for the page shown. The table
	// refreshes every 2 s and the windows every second, so the test has the
	// page refresh the table, then asks the API at once, and tries again if
	// a new window landed in between.
	if err := eventually(6*time.Second, func() error {
		sctx, done := step(5 * time.Second)
		defer done()
		got, err := chromedp.Run(sctx, chromedp.Evaluate[struct {
			Resource string          `json:"resource"`
			Rows     []topRow        `json:"rows"`
			API      []referrerCount `json:"api"`
		}](`(async () => {
			await window.streamtop.refreshTop();
			const resource = document.getElementById("resource").value;
			const rows = [...document.querySelectorAll("#top tbody tr")].map(r => ({
				referrer: r.dataset.referrer, count: r.dataset.count}));
			const api = await (await fetch("/api/top?n=3&resource=" + encodeURIComponent(resource))).json();
			return {resource, rows, api};
		})()`, chromedp.EvalAwaitPromise))
		if err != nil {
			return err
		}
		if len(got.Rows) != 3 || len(got.API) != 3 {
			return fmt.Errorf("table has %d rows, API %d; want 3", len(got.Rows), len(got.API))
		}
		for i := range got.Rows {
			if got.Rows[i].Referrer != got.API[i].Referrer || got.Rows[i].Count != fmt.Sprint(got.API[i].Count) {
				return fmt.Errorf("%s: table %v, API %v", got.Resource, got.Rows, got.API)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	texts, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[document.getElementById("updated").textContent, document.getElementById("status").textContent]`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(texts[0], "last updated by "+c.host) {
		t.Errorf("updated line %q does not name the worker %s", texts[0], c.host)
	}
	if !strings.Contains(texts[1], "Records in:") || !strings.Contains(texts[1], "lag") {
		t.Errorf("status line %q lacks records/s or lag", texts[1])
	}

	if settle > 0 {
		t.Logf("letting %v of data build up for the screenshot", settle)
		time.Sleep(settle)
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", shot)

	// On a phone the page fits the screen's width: nothing to scroll sideways.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)), chromedp.Sleep(300*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	overflow, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth - window.innerWidth`))
	if err != nil {
		t.Fatal(err)
	}
	if overflow > 0 {
		t.Errorf("on a 390 px wide phone the page is %d px too wide", overflow)
	}
	if phone, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil {
		p := strings.TrimSuffix(shot, ".png") + "-phone.png"
		if settle == 0 {
			os.WriteFile(p, phone, 0o644)
		}
	}

	checkIncompleteDrawn(t, ctx)

	// Six-digit counts (as -rate 100000 gives) are grouped in thousands and
	// stay clear of the y-axis title, on a phone and on a desktop.
	checkAxisLabels(t, ctx)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 860), chromedp.Sleep(300*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	checkAxisLabels(t, ctx)

	if e := errs.all(); len(e) > 0 {
		t.Errorf("the page reported errors:\n%s", strings.Join(e, "\n"))
	}
	violations, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.cspViolations`))
	if err != nil || len(violations) > 0 {
		t.Errorf("the page broke its own Content-Security-Policy: %v %v", violations, err)
	}

	// The policy is in force: a script or a style added inline, as an
	// injection would add it, does not run.
	blocked, err := chromedp.Run(ctx, chromedp.Evaluate[struct {
		Ran        bool     `json:"ran"`
		Styled     bool     `json:"styled"`
		Violations []string `json:"violations"`
	}](`(async () => {
		const s = document.createElement("script");
		s.textContent = "window.inlineRan = true";
		document.body.append(s);
		const p = document.createElement("p");
		p.setAttribute("style", "color: rgb(1, 2, 3)");
		document.body.append(p);
		await new Promise((r) => setTimeout(r, 200));
		return {ran: window.inlineRan === true, styled: getComputedStyle(p).color === "rgb(1, 2, 3)",
			violations: window.cspViolations};
	})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if blocked.Ran || blocked.Styled || len(blocked.Violations) < 2 {
		t.Errorf("inline code under the policy: script ran %v, style applied %v, violations %v; want both blocked and reported",
			blocked.Ran, blocked.Styled, blocked.Violations)
	}
}

// checkAxisLabels draws counts up to 812,345 and checks the y-axis labels:
// thousands grouped (no run of four digits), inside the chart, and not
// overlapping the axis title. Drawing and measuring happen in one script, so
// the page's own refresh cannot redraw in between.
func checkAxisLabels(t *testing.T, ctx context.Context) {
	t.Helper()
	sctx, done := context.WithTimeout(ctx, 5*time.Second)
	defer done()
	got, err := chromedp.Run(sctx, chromedp.Evaluate[struct {
		Labels   []string `json:"labels"`
		Overlaps []string `json:"overlaps"`
		Outside  []string `json:"outside"`
	}](`(() => {
		const now = Date.now();
		const rows = [];
		for (let i = 10; i >= 0; i--) {
			rows.push({resource: "/index.html", timestamp: now - i * 1000, host: "h", complete: true, referrerCounts: [
				{referrer: "http://www.google.com", count: 812345 - i * 1000},
				{referrer: "http://www.bing.com", count: 98765}]});
		}
		window.streamtop.draw(rows);
		const chart = document.getElementById("chart");
		const box = chart.getBoundingClientRect();
		const title = chart.querySelector("text.y-title").getBoundingClientRect();
		const ticks = [...chart.querySelectorAll("text.y-tick")];
		const hit = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
		return {
			labels: ticks.map((e) => e.textContent),
			overlaps: ticks.filter((e) => hit(e.getBoundingClientRect(), title)).map((e) => e.textContent),
			outside: ticks.filter((e) => e.getBoundingClientRect().left < box.left).map((e) => e.textContent),
		};
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	width, _ := chromedp.Run(sctx, chromedp.Evaluate[int](`window.innerWidth`))
	if len(got.Labels) != 6 || !strings.ContainsAny(got.Labels[5], ",. \u00a0\u202f'") {
		t.Errorf("%d px wide: y-axis labels %q, want 6 with the thousands grouped", width, got.Labels)
	}
	for _, l := range got.Labels {
		if digits := regexp.MustCompile(`[0-9]{4,}`); digits.MatchString(l) {
			t.Errorf("%d px wide: y-axis label %q has four digits in a row", width, l)
		}
	}
	if len(got.Overlaps) > 0 || len(got.Outside) > 0 {
		t.Errorf("%d px wide: labels %q overlap the axis title, %q start outside the chart", width, got.Overlaps, got.Outside)
	}
}

// checkAgainstRecount has the page redraw its chart and top-3 table, then
// checks what it shows against a recount of the records on the stream:
// every complete window of every series, the legend's counts (the newest
// complete window) and the table (its top 3). Incomplete windows, drawn as
// hollow points, may count no more than the recount. The table is fetched
// apart from the chart, so a window that lands in between means a retry.
func checkAgainstRecount(t *testing.T, ctx context.Context, a *app) {
	t.Helper()
	type shown struct {
		Resource string       `json:"resource"`
		Latest   string       `json:"latest"`
		Series   []seriesInfo `json:"series"`
		Pending  []struct {
			Referrer  string `json:"referrer"`
			Timestamp int64  `json:"timestamp,string"`
			Count     int64  `json:"count,string"`
		} `json:"pending"`
		Legend []topRow `json:"legend"`
		Table  []topRow `json:"table"`
		After  string   `json:"after"`
	}
	var got shown
	if err := eventually(6*time.Second, func() error {
		sctx, done := context.WithTimeout(ctx, 5*time.Second)
		defer done()
		var err error
		got, err = chromedp.Run(sctx, chromedp.Evaluate[shown](`(async () => {
			await window.streamtop.refreshChart();
			const chart = document.getElementById("chart");
			const latest = chart.dataset.latest;
			await window.streamtop.refreshTop();
			await window.streamtop.refreshChart();
			const pick = (sel, f) => [...document.querySelectorAll(sel)].map(f);
			return {
				resource: document.getElementById("resource").value,
				latest,
				series: pick("#chart path.series:not(.pending)", (p) => ({referrer: p.dataset.referrer, values: p.dataset.values})),
				pending: pick("#chart circle.pending-point", (c) => ({referrer: c.dataset.referrer, timestamp: c.dataset.timestamp, count: c.dataset.count})),
				legend: pick("#legend li[data-referrer]", (l) => ({referrer: l.dataset.referrer, count: l.dataset.count})),
				table: pick("#top tbody tr", (r) => ({referrer: r.dataset.referrer, count: r.dataset.count})),
				after: chart.dataset.latest,
			};
		})()`, chromedp.EvalAwaitPromise))
		if err != nil {
			return err
		}
		if got.Latest == "" || got.Latest != got.After {
			return fmt.Errorf("newest complete window %q, then %q: not settled", got.Latest, got.After)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	records := consumertest.ReadAll(t, a.backend.stream)
	counts := func(end int64) map[string]int64 {
		m := map[string]int64{}
		for _, rc := range recount(records, got.Resource, time.UnixMilli(end)) {
			m[rc.Referrer] = rc.Count
		}
		return m
	}
	checked := 0
	for _, s := range got.Series {
		for _, v := range strings.Fields(s.Values) {
			var ts, n int64
			if _, err := fmt.Sscanf(v, "%d:%d", &ts, &n); err != nil {
				t.Fatalf("series %s: value %q: %v", s.Referrer, v, err)
			}
			if want := counts(ts)[s.Referrer]; n != want {
				t.Errorf("%s, window ending %d: the chart shows %s at %d, the stream holds %d", got.Resource, ts, s.Referrer, n, want)
			}
			checked++
		}
	}
	for _, p := range got.Pending {
		if want := counts(p.Timestamp)[p.Referrer]; p.Count > want {
			t.Errorf("%s, incomplete window ending %d: %s at %d, more than the stream's %d", got.Resource, p.Timestamp, p.Referrer, p.Count, want)
		}
	}
	latest, _ := strconv.ParseInt(got.Latest, 10, 64)
	want := recount(records, got.Resource, time.UnixMilli(latest))
	for _, l := range got.Legend {
		if n := counts(latest)[l.Referrer]; l.Count != strconv.FormatInt(n, 10) {
			t.Errorf("%s: legend shows %s at %s, the stream's newest complete window %d", got.Resource, l.Referrer, l.Count, n)
		}
	}
	if len(got.Table) != min(3, len(want)) {
		t.Fatalf("%s: table %v, the stream's top 3 %v", got.Resource, got.Table, want)
	}
	for i, r := range got.Table {
		if r.Referrer != want[i].Referrer || r.Count != strconv.FormatInt(want[i].Count, 10) {
			t.Errorf("%s: table %v, the stream's top 3 %v", got.Resource, got.Table, want[:3])
			break
		}
	}
	t.Logf("%s: %d complete points, %d incomplete, the legend and the table match the stream's %d records",
		got.Resource, checked, len(got.Pending), len(records))
	if checked < 2*len(referrers) {
		t.Errorf("only %d complete points to check", checked)
	}
}

// checkIncompleteDrawn draws windows whose newest is incomplete, as happens
// when one shard's processor has closed it and another not yet, and checks
// that the page says so: each series has a dashed line to a hollow point
// carrying the partial count, the legend notes it and keeps the newest
// complete window's counts, and the line below names both windows. Drawing
// and reading happen in one script, so the page's own refresh cannot redraw
// in between.
func checkIncompleteDrawn(t *testing.T, ctx context.Context) {
	t.Helper()
	sctx, done := context.WithTimeout(ctx, 5*time.Second)
	defer done()
	got, err := chromedp.Run(sctx, chromedp.Evaluate[struct {
		Solid   []string `json:"solid"`
		Dashed  []string `json:"dashed"`
		Hollow  []string `json:"hollow"`
		Fill    string   `json:"fill"`
		Dash    string   `json:"dash"`
		Legend  []string `json:"legend"`
		Latest  string   `json:"latest"`
		Updated string   `json:"updated"`
	}](`(() => {
		const now = Date.now() - Date.now() % 1000;
		const rows = [];
		for (let i = 5; i >= 0; i--) {
			rows.push({resource: "/index.html", timestamp: now - i * 1000, host: "h", complete: i > 0, referrerCounts: [
				{referrer: "http://www.google.com", count: i > 0 ? 60 : 25},
				{referrer: "http://www.bing.com", count: i > 0 ? 40 : 15}]});
		}
		window.streamtop.draw(rows);
		const chart = document.getElementById("chart");
		const pick = (sel, f) => [...chart.querySelectorAll(sel)].map(f);
		const dashed = chart.querySelector("path.series.pending");
		const hollow = chart.querySelector("circle.pending-point");
		return {
			solid: pick("path.series:not(.pending)", (p) => p.dataset.referrer + " " + p.dataset.values),
			dashed: pick("path.series.pending", (p) => p.dataset.referrer),
			hollow: pick("circle.pending-point", (c) => c.dataset.referrer + " " + c.dataset.count),
			fill: hollow ? getComputedStyle(hollow).fill : "",
			dash: dashed ? getComputedStyle(dashed).strokeDasharray : "",
			legend: [...document.querySelectorAll("#legend li")].map((l) => l.textContent),
			latest: String(chart.dataset.latest === String(now - 1000)),
			updated: document.getElementById("updated").textContent,
		};
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	// Series are in referrer order: bing, then google.
	if len(got.Solid) != 2 || !strings.HasPrefix(got.Solid[1], "http://www.google.com ") ||
		!strings.HasSuffix(got.Solid[1], ":60") || strings.Count(got.Solid[1], ":") != 5+1 {
		t.Errorf("solid series %q, want two of the 5 complete windows", got.Solid)
	}
	if len(got.Dashed) != 2 || len(got.Hollow) != 2 || got.Hollow[0] != "http://www.bing.com 15" {
		t.Errorf("dashed lines %q, hollow points %q; want one each per series, with the partial counts", got.Dashed, got.Hollow)
	}
	if got.Fill != "rgb(255, 255, 255)" || got.Dash == "" || got.Dash == "none" {
		t.Errorf("incomplete point filled %q, its line dashed %q; want hollow (the card's white) and dashed", got.Fill, got.Dash)
	}
	if len(got.Legend) != 3 || !strings.Contains(got.Legend[0], "(40)") || !strings.Contains(got.Legend[2], "not complete") {
		t.Errorf("legend %q, want the complete window's counts and a note on the incomplete one", got.Legend)
	}
	if got.Latest != "true" || !strings.Contains(got.Updated, "not complete yet") {
		t.Errorf("newest complete window marked %s; updated line %q", got.Latest, got.Updated)
	}
}
