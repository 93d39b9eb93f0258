package main

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// baseOf names the baseline row whose figures a structure's are divided by:
// what a user would write instead. Baselines have none.
func baseOf(impl string) string {
	switch {
	case impl == "Exact":
		return "map"
	case strings.HasPrefix(impl, "SpaceSaving"):
		return "heapSS" + strings.TrimPrefix(impl, "SpaceSaving")
	case impl == "Counter", impl == "aggregate", strings.HasPrefix(impl, "Sketch"):
		return "ring"
	}
	return ""
}

// grid is one metric of BenchmarkStructures, by impl and stream, in the order
// the benchmarks ran.
type grid struct {
	rows, cols []string
	v          map[[2]string]float64
}

func gridOf(results []result, bench, metric string) grid {
	g := grid{v: map[[2]string]float64{}}
	seenRow, seenCol := map[string]bool{}, map[string]bool{}
	for _, r := range results {
		v, ok := r.metrics[metric]
		if r.bench != bench || !ok {
			continue
		}
		impl, stream := r.params["impl"], r.params["stream"]
		if !seenRow[impl] {
			seenRow[impl] = true
			g.rows = append(g.rows, impl)
		}
		if !seenCol[stream] {
			seenCol[stream] = true
			g.cols = append(g.cols, stream)
		}
		g.v[[2]string{impl, stream}] = v
	}
	return g
}

// printGrid writes g as a Markdown table, each structure's cell followed by
// its ratio to its baseline's cell on the same stream.
func printGrid(w io.Writer, g grid, format func(float64) string) {
	fmt.Fprintf(w, "| structure | %s |\n", strings.Join(g.cols, " | "))
	fmt.Fprintf(w, "|---|%s\n", strings.Repeat("---:|", len(g.cols)))
	for _, row := range g.rows {
		base := baseOf(row)
		name := row
		if base != "" {
			name += " ÷ " + base
		}
		cells := make([]string, len(g.cols))
		for i, col := range g.cols {
			v, ok := g.v[[2]string{row, col}]
			if !ok {
				cells[i] = "–"
				continue
			}
			cells[i] = format(v)
			if bv, ok := g.v[[2]string{base, col}]; ok && base != "" {
				cells[i] += ratio(v, bv)
			}
		}
		fmt.Fprintf(w, "| %s | %s |\n", name, strings.Join(cells, " | "))
	}
	fmt.Fprintln(w)
}

// ratio formats v/base, or nothing when it has no meaning.
func ratio(v, base float64) string {
	if base == 0 || math.IsNaN(v/base) {
		return ""
	}
	return fmt.Sprintf(" (×%.2f)", v/base)
}

func printTables(w io.Writer, results []result) {
	fmt.Fprint(w, `Each cell of a structure holds its figure and, in brackets, that figure
divided by its baseline's on the same stream in the same run: map (a bare
map increment) for Exact, heapSS (plain Space-Saving on container/heap) of
the same capacity for SpaceSaving, ring (a ring of per-bucket maps with a
totals map and a full sort) for Counter and Sketch.

Streams: visits, the original sample's 4 pages x 6 referrers with drifting
weights (24 keys); uniform6, the 6 referrers uniformly; zipf0.9/1.1/1.5,
Zipf over 1,000,000 distinct 24-byte keys; shifting1.1, Zipf 1.1 whose
ranking is replaced 90% of the way through; distinct, every key different.
Windowed structures (ring, Counter, Sketch) count a 10 s window of 1 s
buckets holding a quarter of the stream; the others count the whole stream.

`)
	fmt.Fprintf(w, "## Speed: Add, records per second (higher is better)\n\n")
	printGrid(w, gridOf(results, "BenchmarkStructures", "records/s"), si)
	fmt.Fprintf(w, "## Memory: bytes per tracked key (lower is better)\n\n")
	fmt.Fprintf(w, "Live heap the structure adds after one pass over the stream, over the keys it\ntracks at the end (Len); the keys' own bytes are shared with the stream and not counted.\n\n")
	printGrid(w, gridOf(results, "BenchmarkStructures", "B/key"), func(v float64) string { return fmt.Sprintf("%.0f B", v) })
	fmt.Fprintf(w, "Total live heap after the pass (lower is better):\n\n")
	printGrid(w, gridOf(results, "BenchmarkStructures", "heap-B"), bytes)
	fmt.Fprintf(w, "Keys tracked at the end of the pass:\n\n")
	printGrid(w, gridOf(results, "BenchmarkStructures", "keys"), func(v float64) string { return si(v) })
	fmt.Fprintf(w, "## Accuracy\n\n")
	fmt.Fprintf(w, "Precision@10: the share of the reported top 10 that belong to the true top 10\n(ties with the 10th count included), against exact counts of the whole\nstream or of the last window (higher is better).\n\n")
	printGrid(w, gridOf(results, "BenchmarkStructures", "precision@10"), func(v float64) string { return fmt.Sprintf("%.2f", v) })
	fmt.Fprintf(w, "Precision@100, likewise:\n\n")
	printGrid(w, gridOf(results, "BenchmarkStructures", "precision@100"), func(v float64) string { return fmt.Sprintf("%.2f", v) })
	fmt.Fprintf(w, "Largest relative error of the reported count of the true top 10 keys,\n|count − true| / true (lower is better; exact structures are 0).\n\n")
	printGrid(w, gridOf(results, "BenchmarkStructures", "max-rel-err"), func(v float64) string { return fmt.Sprintf("%.3g", v) })
	printPipeline(w, results)
}

// printPipeline writes the end-to-end table: rows are the window type and
// shard count, each ratio against the ring baseline at the same shard count.
func printPipeline(w io.Writer, results []result) {
	fmt.Fprintf(w, "## End to end: memstream → Consumer → JSON decode → window per page → sink.Memory\n\n")
	fmt.Fprintf(w, "One producer puts the visualizer's JSON records (PutRecords of 500, the page\nor a random visitor ID as partition key) as fast as the consumer takes them,\nheld within 100,000 records of it; latency is from put to the return of the\nsink Write holding the record's window, sampled on one record in 16. With random\nkeys only the aggregate row counts right: its per-shard partials merge on\nreading; the bare rows show the cost of the same records alone.\n\n")
	type key struct{ keys, impl, shards string }
	byKey := map[key]result{}
	var order []key
	for _, r := range results {
		if r.bench != "BenchmarkPipeline" {
			continue
		}
		k := key{r.params["keys"], r.params["impl"], r.params["shards"]}
		if _, ok := byKey[k]; !ok {
			order = append(order, k)
		}
		byKey[k] = r
	}
	cols := []struct {
		metric, title string
		format        func(float64) string
	}{
		{"records/s", "records/s", si},
		{"p50-ms", "p50 latency", func(v float64) string { return fmt.Sprintf("%.0f ms", v) }},
		{"p99-ms", "p99 latency", func(v float64) string { return fmt.Sprintf("%.0f ms", v) }},
		{"B/record", "B/record", func(v float64) string { return fmt.Sprintf("%.0f", v) }},
		{"allocs/record", "allocs/record", func(v float64) string { return fmt.Sprintf("%.2f", v) }},
	}
	titles := make([]string, len(cols))
	for i, c := range cols {
		titles[i] = c.title
	}
	fmt.Fprintf(w, "| keys | window | shards | %s |\n", strings.Join(titles, " | "))
	fmt.Fprintf(w, "|---|---|---:|%s\n", strings.Repeat("---:|", len(cols)))
	for _, k := range order {
		r := byKey[k]
		base, hasBase := byKey[key{k.keys, baseOf(k.impl), k.shards}]
		name := k.impl
		if baseOf(k.impl) != "" {
			name += " ÷ " + baseOf(k.impl)
		}
		cells := make([]string, len(cols))
		for i, c := range cols {
			v, ok := r.metrics[c.metric]
			if !ok {
				cells[i] = "–"
				continue
			}
			cells[i] = c.format(v)
			if hasBase && baseOf(k.impl) != "" {
				cells[i] += ratio(v, base.metrics[c.metric])
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", k.keys, name, k.shards, strings.Join(cells, " | "))
	}
	fmt.Fprintln(w)
	// Counter is the window alone; aggregate is the same window as the
	// library ships it, checkpointing its state at every bucket.
	for _, impl := range []string{"Counter", "aggregate"} {
		if r, ok := byKey[key{"page", impl, "2"}]; ok {
			rate, p99 := r.metrics["records/s"], r.metrics["p99-ms"]
			fmt.Fprintf(w, "Target (issue 7), %s pipeline at 2 shards: at least 1M records/s: %s (%s); p99 under 1.5 s: %.0f ms (%s).\n\n",
				impl, si(rate), verdict(rate >= 1e6), p99, verdict(p99 < 1500))
		}
	}
	for _, shards := range []string{"2", "8"} {
		page, ok1 := byKey[key{"page", "aggregate", shards}]
		random, ok2 := byKey[key{"random", "aggregate", shards}]
		if ok1 && ok2 {
			a, b := page.metrics["records/s"], random.metrics["records/s"]
			fmt.Fprintf(w, "Issue 14, aggregate at %s shards, random keys against page keys: %s against %s records/s, %.0f%%.\n\n",
				shards, si(b), si(a), 100*b/a)
		}
	}
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "not met"
}

// bytes writes a size in B, KiB or MiB.
func bytes(v float64) string {
	switch {
	case math.Abs(v) >= 1<<20:
		return fmt.Sprintf("%.1f MiB", v/(1<<20))
	case math.Abs(v) >= 1<<10:
		return fmt.Sprintf("%.0f KiB", v/(1<<10))
	}
	return fmt.Sprintf("%.0f B", v)
}
