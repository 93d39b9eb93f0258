package main

import (
	"io"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/streamtop/streamtop/internal/workload"
)

// BenchmarkRefresh measures one refresh of the terminal view at 100,000
// records/s: a report (adding the pending counts, then the windows' Top, under
// the lock) and its rendering,
// with a full one-minute window of Zipf-distributed keys. Between refreshes,
// untimed, a second's worth of records is counted.
func BenchmarkRefresh(b *testing.B) {
	for _, mode := range []struct {
		name string
		args []string
	}{
		{"exact", nil},
		{"capacity=1000", []string{"-capacity", "1000"}},
	} {
		b.Run(mode.name, func(b *testing.B) {
			const rate = 100_000
			keys := workload.ZipfStream(1.1, workload.Distinct, 70*rate, 1)
			cfg, err := parseFlags(mode.args, io.Discard)
			if err != nil {
				b.Fatal(err)
			}
			dec, _ := cfg.decoder()
			tl := newTally(dec, cfg.newWindow, cfg.bucket, cfg.maxGroups())
			recs := make([]rec, rate)
			next := 0
			second := func(at time.Time) {
				for i := range recs {
					recs[i] = rec{Data: []byte(keys[next%len(keys)]), Arrival: at}
					next++
				}
				tl.add(recs, -1)
			}
			now := t0
			for range 60 {
				now = now.Add(time.Second)
				second(now)
			}
			v := newView(&reporter{mu: &sync.Mutex{}, tally: tl, cfg: cfg, source: "bench", maxShown: cfg.groups, past: pastReport{time: now}}, cfg.n, cfg.refresh)
			v.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
			b.ReportAllocs()
			bytes := 0
			var slowest time.Duration
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				now = now.Add(time.Second)
				second(now) // slides the window; leaves up to flushLimit keys pending
				b.StartTimer()
				start := time.Now()
				v.Update(tickMsg(now))
				bytes += len(v.View())
				slowest = max(slowest, time.Since(start))
			}
			b.ReportMetric(float64(bytes)/float64(b.N), "view-bytes/op")
			b.ReportMetric(float64(slowest)/1e6, "max-ms")
			b.ReportMetric(float64(tl.groups[""].w.Len()), "keys")
		})
	}
}
