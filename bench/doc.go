// Package bench is streamtop's benchmark suite: every counting structure and
// its baseline on every shared workload, and the embedded pipeline end to
// end, so each figure reads as a ratio measured in one run. The benchmarks
// live in this package's test files; bench/cmd/report runs them and prints
// the tables of BENCHMARKS.md.
//
// Set STREAMTOP_BENCH_QUICK=1 for the quick mode: shorter streams and a
// shorter pipeline run, enough to fill every table in well under a minute.
// No package imports bench; the generators it uses are in internal/workload
// and the baselines in internal/baseline.
package bench
