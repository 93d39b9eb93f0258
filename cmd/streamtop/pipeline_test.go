package main

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"
)

// The pipeline decodes on several goroutines but counts exactly what one
// goroutine adding each batch in turn counts: same tops, same late records,
// same skipped lines, whatever the batch sizes and the disorder of times.
func TestPipelineCountsInOrder(t *testing.T) {
	var lates atomic.Int64
	defer func() {
		if lates.Load() == 0 {
			t.Error("no record was late in any run: the test checks too little")
		}
	}()
	rapid.Check(t, func(t *rapid.T) {
		cfg, err := parseFlags([]string{"-field", "k", "-time-field", "ts", "-group-field", "g", "-window", "5s", "-bucket", "1s"}, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		dec, _ := cfg.decoder()
		serial := newTally(dec, cfg.newWindow, cfg.bucket, cfg.maxGroups())
		piped := newTally(dec, cfg.newWindow, cfg.bucket, cfg.maxGroups())
		var mu sync.Mutex
		p := newPipeline(&mu, piped, dec, rapid.IntRange(1, 4).Draw(t, "workers"))

		at := 0 // seconds after t0; drifts forward with jitter back
		for range rapid.IntRange(1, 6).Draw(t, "batches") {
			n := rapid.IntRange(0, 3*splitMin).Draw(t, "size")
			recs := make([]rec, n)
			for i := range recs {
				if rapid.IntRange(0, 9).Draw(t, "late") == 0 {
					at = max(0, at-8) // older than the window by now, often
				} else {
					at += rapid.IntRange(0, 2).Draw(t, "step")
				}
				line := fmt.Sprintf(`{"k":"k%d","g":"g%d","ts":%d}`, i%7, i%3, t0.Add(time.Duration(at)*time.Second).Unix())
				if i%50 == 49 {
					line = "garbage"
				}
				recs[i] = rec{Data: []byte(line), Arrival: t0}
			}
			serial.add(recs, -1)
			p.deliver(batch{recs: recs, lagMs: -1})
		}
		p.close()

		now := t0.Add(time.Hour)
		want, got := serial.top(now, false, 10, 10), piped.top(now, false, 10, 10)
		if diff := gocmp.Diff(want, got, gocmp.AllowUnexported(groupTop{})); diff != "" {
			t.Fatalf("pipeline differs from serial counting (-serial +pipeline):\n%s", diff)
		}
		lates.Add(serial.skipped.Late)
		if serial.skipped != piped.skipped || serial.records != piped.records {
			t.Fatalf("skipped %+v / %+v, records %d / %d", serial.skipped, piped.skipped, serial.records, piped.records)
		}
	})
}
