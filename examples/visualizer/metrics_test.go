package main

import (
	"testing"
	"time"

	"github.com/streamtop/streamtop/internal/consumertest"
	"github.com/streamtop/streamtop/internal/scrape"
)

// The embedded run serves /metrics, and its figures move as visits flow.
func TestMetricsEndpoint(t *testing.T) {
	a := startApp(t, testConfig())
	records := `streamtop_consumer_records_total{name="visualizer"}`
	var first map[string]float64
	consumertest.WaitFor(t, 20*time.Second, "records in /metrics", func() bool {
		first = scrape.Metrics(t, a.url+"/metrics")
		return first[records] > 0
	})
	consumertest.WaitFor(t, 20*time.Second, "the figures to move", func() bool {
		second := scrape.Metrics(t, a.url+"/metrics")
		return second[records] > first[records] &&
			second[`streamtop_aggregate_snapshots_total{name="visualizer"}`] > first[`streamtop_aggregate_snapshots_total{name="visualizer"}`]
	})
	m := scrape.Metrics(t, a.url+"/metrics")
	if v := m[`streamtop_consumer_leases_held{name="visualizer"}`]; v != 2 {
		t.Errorf("leases held %v, want the 2 shards", v)
	}
	if _, ok := m["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}
}
