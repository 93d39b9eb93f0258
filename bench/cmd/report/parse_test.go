package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseLine(t *testing.T) {
	tests := []struct {
		line string
		want result
		ok   bool
	}{
		{"BenchmarkStructures/stream=zipf1.1/impl=map-2   \t  624308\t       793.8 ns/op\t        49.70 B/key\t 1259792 records/s\t       0 B/op\t       0 allocs/op",
			result{"BenchmarkStructures", map[string]string{"stream": "zipf1.1", "impl": "map"},
				map[string]float64{"ns/op": 793.8, "B/key": 49.70, "records/s": 1259792, "B/op": 0, "allocs/op": 0}}, true},
		{"BenchmarkPipeline/keys=page/impl=Counter/shards=8   1   1414 ns/op   130.0 p50-ms",
			result{"BenchmarkPipeline", map[string]string{"keys": "page", "impl": "Counter", "shards": "8"},
				map[string]float64{"ns/op": 1414, "p50-ms": 130}}, true},
		{"PASS", result{}, false},
		{"goos: linux", result{}, false},
		{"BenchmarkX/a=b-2 notanumber 1 ns/op", result{}, false},
		{"BenchmarkX/a=b-2 10 1 ns/op 2", result{}, false},
		{"BenchmarkX/nokeyvalue-2 10 1 ns/op", result{}, false},
		{"BenchmarkX/a=b-2 10 x ns/op", result{}, false},
		{"--- FAIL: BenchmarkX", result{}, false},
	}
	for _, tt := range tests {
		got, ok := parseLine(tt.line)
		if ok != tt.ok {
			t.Errorf("parseLine(%q) ok = %v, want %v", tt.line, ok, tt.ok)
			continue
		}
		if d := cmp.Diff(tt.want, got, cmp.AllowUnexported(result{})); ok && d != "" {
			t.Errorf("parseLine(%q) (-want +got):\n%s", tt.line, d)
		}
	}
}

func TestTablesCarryRatios(t *testing.T) {
	var results []result
	for _, l := range []string{
		"BenchmarkStructures/stream=s1/impl=map-2 10 1 ns/op 100 records/s 50 B/key 1 precision@10 0 max-rel-err 10 keys",
		"BenchmarkStructures/stream=s1/impl=Exact-2 10 1 ns/op 150 records/s 40 B/key 1 precision@10 0 max-rel-err 10 keys",
		"BenchmarkStructures/stream=s2/impl=map-2 10 1 ns/op 200 records/s 50 B/key 1 precision@10 0 max-rel-err 10 keys",
		"BenchmarkStructures/stream=s2/impl=Exact-2 10 1 ns/op 100 records/s 40 B/key 1 precision@10 0 max-rel-err 10 keys",
		"BenchmarkPipeline/keys=page/impl=ring/shards=2-2 1 1 ns/op 500000 records/s 100 p50-ms 200 p99-ms",
		"BenchmarkPipeline/keys=page/impl=Counter/shards=2-2 1 1 ns/op 1000000 records/s 100 p50-ms 300 p99-ms",
		"BenchmarkPipeline/keys=page/impl=aggregate/shards=2-2 1 1 ns/op 750000 records/s 200 p50-ms 2000 p99-ms",
	} {
		r, ok := parseLine(l)
		if !ok {
			t.Fatalf("parseLine(%q) failed", l)
		}
		results = append(results, r)
	}
	var out strings.Builder
	printTables(&out, results)
	for _, want := range []string{
		"| structure | s1 | s2 |",
		"| Exact ÷ map | 150 (×1.50) | 100 (×0.50) |",
		"| Exact ÷ map | 40 B (×0.80) | 40 B (×0.80) |",
		"| Counter ÷ ring | 2 | 1M (×2.00) | 100 ms (×1.00) | 300 ms (×1.50) |",
		"Counter pipeline at 2 shards: at least 1M records/s: 1M (met); p99 under 1.5 s: 300 ms (met)",
		"| aggregate ÷ ring | 2 | 750k (×1.50) | 200 ms (×2.00) | 2000 ms (×10.00) |",
		"aggregate pipeline at 2 shards: at least 1M records/s: 750k (not met); p99 under 1.5 s: 2000 ms (not met)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("tables lack %q:\n%s", want, out.String())
		}
	}
}
