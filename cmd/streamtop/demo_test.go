package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/streamtop/streamtop/internal/workload"
)

// -demo runs with no input: the visualizer's visits, read back from the
// embedded stream's shards, counted per page.
func TestDemo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		var out, errOut bytes.Buffer
		done := make(chan int)
		go func() {
			done <- run(ctx, []string{"-demo", "-json", "-rate", "500", "-refresh", "1s"}, env{
				stdout: &out, stderr: &errOut, stdinTTY: true, now: time.Now,
			})
		}()
		time.Sleep(3500 * time.Millisecond)
		cancel()
		if code := <-done; code != 0 {
			t.Fatalf("run = %d: %s", code, errOut.String())
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if len(lines) != 3 {
			t.Fatalf("%d reports in 3.5 s, want 3:\n%s", len(lines), out.String())
		}
		var last report
		if err := json.Unmarshal([]byte(lines[2]), &last); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(last.Source, "demo") || last.Malformed != 0 || last.LagMillis == nil {
			t.Errorf("source %q, malformed %d, lag %v", last.Source, last.Malformed, last.LagMillis)
		}
		// About 1,500 visits by the third refresh, spread over the four pages.
		if last.Records < 1000 || last.Records > 2000 {
			t.Errorf("%d records after 3 s at 500/s", last.Records)
		}
		pages := map[string]bool{}
		for _, r := range workload.Resources {
			pages[r] = true
		}
		if len(last.Groups) != len(workload.Resources) {
			t.Fatalf("%d groups, want one per page", len(last.Groups))
		}
		for _, g := range last.Groups {
			if !pages[g.Name] || len(g.Top) == 0 || !strings.HasPrefix(g.Top[0].Key, "http://www.") {
				t.Errorf("group %q: %+v", g.Name, g.Top)
			}
		}
	})
}
