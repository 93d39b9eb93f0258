package main

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"
)

// benchInput is the access log the benchmarks read: STREAMTOP_BENCH_LOG names
// a file (bench/streamtop.sh writes one), else a small generated one.
func benchInput(b *testing.B, json bool) []byte {
	if name := os.Getenv("STREAMTOP_BENCH_LOG"); name != "" {
		data, err := os.ReadFile(name)
		if err != nil {
			b.Fatal(err)
		}
		return data
	}
	var buf bytes.Buffer
	for i := range 100_000 {
		if json {
			buf.WriteString(`{"ts":"2026-12-06T00:00:00Z","ip":"10.0.` + itoa(i%251) + `.` + itoa(i%97) + `","status":200}` + "\n")
		} else {
			buf.WriteString("10.0." + itoa(i%251) + "." + itoa(i%97) + ` - - [06/Dec/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 5` + "\n")
		}
	}
	return buf.Bytes()
}

func itoa(i int) string { return string(appendInt(nil, i)) }

func appendInt(b []byte, i int) []byte {
	if i >= 10 {
		b = appendInt(b, i/10)
	}
	return append(b, byte('0'+i%10))
}

// benchOnce runs -once's whole path over data as main does: read, decode,
// count, and the final report.
func benchOnce(b *testing.B, data []byte, args ...string) {
	cfg, err := parseFlags(args, os.Stderr)
	if err != nil {
		b.Fatal(err)
	}
	lines := bytes.Count(data, []byte{'\n'})
	now := func() time.Time { return t0 } // date-proof: the line source is handed this clock
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		src := &lineSource{r: bytes.NewReader(data), label: "stdin", now: now}
		rep, read := local(src, cfg, env{now: now})
		if err := read(context.Background()); err != nil {
			b.Fatal(err)
		}
		if r := rep.report(now(), cfg.n); len(r.Groups) != 1 {
			b.Fatalf("report has %d groups, want 1", len(r.Groups))
		}
	}
	b.ReportMetric(float64(lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

func BenchmarkOnceJSONField(b *testing.B) {
	benchOnce(b, benchInput(b, true), "-once", "-field", "ip")
}

func BenchmarkOnceMatch(b *testing.B) {
	benchOnce(b, benchInput(b, false), "-once", "-match", `^(\S+)`)
}

func BenchmarkOnceWholeLine(b *testing.B) {
	benchOnce(b, benchInput(b, false), "-once")
}

func BenchmarkOnceMatchAnchored(b *testing.B) {
	benchOnce(b, benchInput(b, false), "-once", "-match", `^(\S+) `)
}

// BenchmarkOnceWholeLineSerial is BenchmarkOnceWholeLine without the
// pipeline: decode and count on the reading goroutine.
func BenchmarkOnceWholeLineSerial(b *testing.B) {
	data := benchInput(b, false)
	cfg, _ := parseFlags([]string{"-once"}, os.Stderr)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		dec, _ := cfg.decoder()
		t := newTally(dec, cfg.newWindow, cfg.bucket, cfg.maxGroups())
		t.flushLimit = slotLimit
		src := &lineSource{r: bytes.NewReader(data), now: func() time.Time { return t0 }}
		if err := src.run(context.Background(), func(bt batch) { t.add(bt.recs, bt.lagMs) }); err != nil {
			b.Fatal(err)
		}
		t.flush()
	}
}
