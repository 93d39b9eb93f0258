// Command report runs streamtop's benchmark suite (package bench) and prints
// its figures as the Markdown tables of BENCHMARKS.md: speed, memory and
// accuracy of every structure on every stream, and the embedded pipeline end
// to end, each figure beside its ratio to the baseline measured in the same
// run.
//
//	go run ./bench/cmd/report          # the full run, a few minutes
//	go run ./bench/cmd/report -quick   # shorter streams, under a minute
//
// It builds the bench test binary once and runs it as a subprocess (the
// benchmarks live in test files, which no program can import), reading the
// standard benchmark lines it prints. Progress goes to stderr, the tables to
// stdout.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

func main() {
	quick := flag.Bool("quick", false, "short streams and pipeline runs: every table filled in under a minute")
	benchtime := flag.String("benchtime", "", "-benchtime of the structure benchmarks (default 1s, or 20000x with -quick)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: report [-quick] [-benchtime d]\n\nRuns the bench suite and prints its Markdown tables on stdout.\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	if *benchtime == "" {
		*benchtime = "1s"
		if *quick {
			*benchtime = "20000x"
		}
	}
	if err := run(os.Stdout, os.Stderr, *quick, *benchtime); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func run(out, progress io.Writer, quick bool, benchtime string) error {
	began := time.Now()
	dir, err := os.MkdirTemp("", "streamtop-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "bench.test")
	fmt.Fprintln(progress, "building the bench test binary...")
	build := exec.Command("go", "test", "-c", "-o", bin, "github.com/streamtop/streamtop/bench")
	build.Stdout, build.Stderr = progress, progress
	if err := build.Run(); err != nil {
		return fmt.Errorf("go test -c: %w", err)
	}
	goVersion, err := exec.Command("go", "env", "GOVERSION").Output()
	if err != nil {
		return fmt.Errorf("go env GOVERSION: %w", err)
	}
	header := machine(strings.TrimSpace(string(goVersion)), quick, benchtime, began)

	var results []result
	runs := []struct{ bench, benchtime string }{
		{"^BenchmarkStructures$", benchtime},
		// The pipeline runs for a fixed time per call: one call each.
		{"^BenchmarkPipeline$", "1x"},
	}
	for _, r := range runs {
		rs, err := runBench(bin, r.bench, r.benchtime, quick, progress, began)
		if err != nil {
			return err
		}
		results = append(results, rs...)
	}
	fmt.Fprint(out, header)
	printTables(out, results)
	fmt.Fprintf(progress, "done in %s\n", time.Since(began).Round(time.Second))
	return nil
}

// machine states where and when the figures were measured.
func machine(goVersion string, quick bool, benchtime string, at time.Time) string {
	var b strings.Builder
	mode := "full"
	if quick {
		mode = "quick (-quick)"
	}
	fmt.Fprintf(&b, "# streamtop benchmarks\n\n")
	fmt.Fprintf(&b, "- Machine: %s, %d cores (%s/%s)\n", cpuModel(), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(&b, "- Go: %s\n", goVersion)
	fmt.Fprintf(&b, "- Date: %s\n", at.UTC().Format("2006-01-02 15:04 MST"))
	if load, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(load))
		if len(f) >= 3 {
			fmt.Fprintf(&b, "- Load average at start (1, 5, 15 min): %s %s %s\n", f[0], f[1], f[2])
		}
	}
	fmt.Fprintf(&b, "- Mode: %s; structure benchmarks at -benchtime %s\n\n", mode, benchtime)
	return b.String()
}

func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for line := range strings.Lines(string(data)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// runBench runs one benchmark of the binary and returns its results,
// reporting each on progress as it arrives.
func runBench(bin, bench, benchtime string, quick bool, progress io.Writer, began time.Time) ([]result, error) {
	cmd := exec.Command(bin, "-test.run", "^$", "-test.bench", bench, "-test.benchtime", benchtime, "-test.timeout", "30m")
	cmd.Env = os.Environ()
	if quick {
		cmd.Env = append(cmd.Env, "STREAMTOP_BENCH_QUICK=1")
	}
	cmd.Stderr = progress
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	var results []result
	var failed []string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "--- FAIL") || strings.HasPrefix(line, "FAIL") || strings.Contains(line, "panic:") {
			failed = append(failed, line)
		}
		r, ok := parseLine(line)
		if !ok {
			if strings.HasPrefix(line, "    ") || failed != nil {
				fmt.Fprintln(progress, line) // a benchmark's log or failure
			}
			continue
		}
		results = append(results, r)
		fmt.Fprintf(progress, "[%3d %5s] %s\n", len(results), time.Since(began).Round(time.Second), r.summary())
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if err := cmd.Wait(); err != nil || failed != nil {
		return nil, errors.Join(fmt.Errorf("%s failed: %v", bench, err), errors.New(strings.Join(failed, "\n")))
	}
	if len(results) == 0 {
		return nil, fmt.Errorf("%s printed no results", bench)
	}
	return results, nil
}
