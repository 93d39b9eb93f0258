package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserBackendProblem: when the server answers but its backend does
// not, the page says so ("Backend problem: counts table unreachable", in
// the error style) instead of "Waiting for data…" or "Cannot reach the
// server", and an unknown lag reads as unknown, not 0 ms.
func TestBrowserBackendProblem(t *testing.T) {
	chromium := findChromium(t)
	s, _ := testServer(t)
	s.status = func() status { return status{Error: "counts table unreachable"} }
	srv := httptest.NewServer(s.handler())
	defer srv.Close()

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()))
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL)); err != nil {
		t.Fatalf("loading the page: %v", err)
	}
	var text, class string
	err := eventually(20*time.Second, func() error {
		got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[document.getElementById("status").textContent, document.getElementById("status").className]`))
		if err != nil {
			return err
		}
		text, class = got[0], got[1]
		if !strings.Contains(text, "Backend problem: counts table unreachable") {
			return fmt.Errorf("status line %q", text)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(class, "error") {
		t.Errorf("status line %q has class %q, want the error style", text, class)
	}
	if !strings.Contains(text, "consumer lag: unknown") {
		t.Errorf("status line %q: want the unknown lag said as unknown", text)
	}
}
