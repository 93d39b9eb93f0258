package main

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/streamtop/streamtop/internal/consumertest"
)

// scrapeMetrics fetches /metrics and returns each sample by its name and
// labels.
func scrapeMetrics(t *testing.T, base string) map[string]float64 {
	t.Helper()
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d", res.StatusCode)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

// The embedded run serves /metrics, and its figures move as visits flow.
func TestMetricsEndpoint(t *testing.T) {
	a := startApp(t, testConfig())
	records := `streamtop_consumer_records_total{name="visualizer"}`
	var first map[string]float64
	consumertest.WaitFor(t, 20*time.Second, "records in /metrics", func() bool {
		first = scrapeMetrics(t, a.url)
		return first[records] > 0
	})
	consumertest.WaitFor(t, 20*time.Second, "the figures to move", func() bool {
		second := scrapeMetrics(t, a.url)
		return second[records] > first[records] &&
			second[`streamtop_aggregate_snapshots_total{name="visualizer"}`] > first[`streamtop_aggregate_snapshots_total{name="visualizer"}`]
	})
	m := scrapeMetrics(t, a.url)
	if v := m[`streamtop_consumer_leases_held{name="visualizer"}`]; v != 2 {
		t.Errorf("leases held %v, want the 2 shards", v)
	}
	if _, ok := m["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}
}
