package main

import (
	"fmt"
	"strconv"
	"strings"
)

// result is one benchmark line: its name's key=value parts and its metrics
// by unit.
type result struct {
	bench   string            // BenchmarkStructures
	params  map[string]string // stream=zipf1.1, impl=Exact
	metrics map[string]float64
}

// parseLine reads a line of go test -bench output, such as
//
//	BenchmarkStructures/stream=zipf1.1/impl=map-2  1000  80.1 ns/op  1.2e7 records/s  0 B/op
//
// and reports whether it was one.
func parseLine(line string) (result, bool) {
	f := strings.Fields(line)
	if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
		return result{}, false
	}
	if _, err := strconv.Atoi(f[1]); err != nil {
		return result{}, false
	}
	name := f[0]
	if i := strings.LastIndexByte(name, '-'); i > 0 {
		if _, err := strconv.Atoi(name[i+1:]); err == nil {
			name = name[:i] // the GOMAXPROCS suffix
		}
	}
	parts := strings.Split(name, "/")
	r := result{bench: parts[0], params: map[string]string{}, metrics: map[string]float64{}}
	for _, p := range parts[1:] {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			return result{}, false
		}
		r.params[k] = v
	}
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return result{}, false
		}
		r.metrics[f[i+1]] = v
	}
	return r, true
}

func (r result) summary() string {
	var b strings.Builder
	b.WriteString(r.bench)
	for _, k := range []string{"stream", "impl", "shards"} {
		if v, ok := r.params[k]; ok {
			fmt.Fprintf(&b, " %s=%s", k, v)
		}
	}
	if v, ok := r.metrics["records/s"]; ok {
		fmt.Fprintf(&b, ": %s records/s", si(v))
	}
	if v, ok := r.metrics["p99-ms"]; ok {
		fmt.Fprintf(&b, ", p99 %.0f ms", v)
	}
	return b.String()
}

// si writes v with three significant digits and a k/M/G suffix.
func si(v float64) string {
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%.3gG", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%.3gM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.3gk", v/1e3)
	}
	return fmt.Sprintf("%.3g", v)
}
