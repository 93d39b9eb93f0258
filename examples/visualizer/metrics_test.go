package main

import (
	"strings"
	"testing"
	"time"

	"github.com/streamtop/streamtop/internal/awstest"
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
	// The hooks' histograms move too.
	hists := []string{`streamtop_consumer_batch_seconds_count{name="visualizer"}`,
		`streamtop_consumer_checkpoint_seconds_count{name="visualizer"}`,
		`streamtop_aggregate_window_latency_seconds_count{name="visualizer"}`}
	consumertest.WaitFor(t, 20*time.Second, "the histograms' counts to grow", func() bool {
		second := scrape.Metrics(t, a.url+"/metrics")
		for _, h := range hists {
			if !(second[h] > first[h]) {
				return false
			}
		}
		return true
	})
	m := scrape.Metrics(t, a.url+"/metrics")
	if v := m[`streamtop_consumer_leases_held{name="visualizer"}`]; v != 2 {
		t.Errorf("leases held %v, want the 2 shards", v)
	}
	if _, ok := m["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}
}

// In the AWS mode, on kinesalite and dynalite, /metrics also has each
// adapter's calls per API, and their counts grow as the roles work.
func TestMetricsAWSCalls(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the Kinesis and DynamoDB emulators")
	}
	setAWSEnv(t)
	c := awsConfig(t, roles{producer: true, consumer: true, web: true}, "all")
	c.leaseTable = awstest.UniqueName(t, "leases")
	c.countsTable = awstest.UniqueName(t, "counts")
	a, _ := startRole(t, c)
	metrics := strings.TrimSuffix(a.url, "/") + "/metrics"
	calls := func(adapter, api string) string {
		return `streamtop_aws_call_seconds_count{adapter="` + adapter + `",api="` + api + `",name="visualizer"}`
	}
	grown := []string{calls("kinesisstream", "GetRecords"), calls("kinesisstream", "PutRecords"),
		calls("dynamostore", "UpdateItem"), calls("dynamosink", "UpdateItem"),
		`streamtop_consumer_checkpoint_seconds_count{name="visualizer"}`, `streamtop_sink_write_seconds_count{name="visualizer"}`}
	var first map[string]float64
	consumertest.WaitFor(t, 45*time.Second, "every adapter's calls in /metrics", func() bool {
		first = scrape.Metrics(t, metrics)
		for _, m := range grown {
			if first[m] == 0 {
				return false
			}
		}
		return true
	})
	consumertest.WaitFor(t, 45*time.Second, "the calls' counts to grow", func() bool {
		second := scrape.Metrics(t, metrics)
		for _, m := range grown {
			if !(second[m] > first[m]) {
				return false
			}
		}
		return true
	})
}
