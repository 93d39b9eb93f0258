package promstats_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/streamtop/streamtop/aggregate"
	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/hook"
	"github.com/streamtop/streamtop/internal/aggchaos"
	"github.com/streamtop/streamtop/internal/consumertest"
	"github.com/streamtop/streamtop/internal/scrape"
	"github.com/streamtop/streamtop/promstats"
	"github.com/streamtop/streamtop/sink"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/memstream"
)

// A Consumer running aggregate on a 2-shard stream, scraped over HTTP twice
// while records flow: its figures are there, labelled, and they move.
func TestScrapeMoves(t *testing.T) {
	stream, err := memstream.New(2)
	if err != nil {
		t.Fatal(err)
	}
	out, err := sink.NewMemory()
	if err != nil {
		t.Fatal(err)
	}
	hooks := promstats.NewHooks("app")
	agg, err := aggregate.New(aggregate.Config{Size: time.Second, Bucket: 100 * time.Millisecond, Sink: out,
		Hooks: []hook.Hook{hooks},
		Decoder: aggregate.DecoderFunc(func(r source.Record, dst []aggregate.Item) ([]aggregate.Item, error) {
			g, k, err := aggchaos.ParseVisit(r)
			return append(dst, aggregate.Item{Group: g, Key: k, Time: r.ArrivalTime, N: 1}), err
		})})
	if err != nil {
		t.Fatal(err)
	}
	cfg := consumertest.FastConfig(stream, checkpoint.NewMemoryStore(), "w", agg.NewProcessor)
	cfg.Hooks = []hook.Hook{hooks}
	w := consumertest.StartWorker(t, cfg)
	reg := prometheus.NewRegistry()
	reg.MustRegister(promstats.New(promstats.Consumer(w.C).Named("app"), promstats.Aggregator(agg).Named("app")), hooks)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()

	put := func(n int) {
		for i := range n {
			if _, err := stream.PutRecords(context.Background(), []memstream.Entry{{PartitionKey: fmt.Sprint("u", i), Data: []byte("g/k")}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	put(100)
	consumertest.WaitFor(t, 10*time.Second, "100 records processed", func() bool { return agg.Stats().Records >= 100 })
	first := scrape.Metrics(t, srv.URL)
	put(100)
	// Windows close by the idle watermark: snapshots, then checkpoints.
	grown := []string{`streamtop_consumer_records_total{name="app"}`, `streamtop_aggregate_records_total{name="app"}`,
		`streamtop_consumer_bytes_total{name="app"}`,
		`streamtop_aggregate_snapshots_total{name="app"}`, `streamtop_consumer_checkpoints_total{name="app"}`,
		// The hooks' histograms.
		`streamtop_consumer_batch_seconds_count{name="app"}`, `streamtop_consumer_checkpoint_seconds_count{name="app"}`,
		`streamtop_aggregate_window_latency_seconds_count{name="app"}`}
	var second map[string]float64
	consumertest.Settle(10*time.Second, func() bool {
		second = scrape.Metrics(t, srv.URL)
		for _, m := range grown {
			if !(second[m] > first[m]) {
				return false
			}
		}
		return second[`streamtop_aggregate_records_total{name="app"}`] >= 200
	})
	for _, m := range grown {
		if !(second[m] > first[m]) {
			t.Errorf("%s: %v then %v; want it to grow while records flow", m, first[m], second[m])
		}
	}
	if v := second[`streamtop_consumer_leases_held{name="app"}`]; v != 2 {
		t.Errorf("leases held %v, want 2", v)
	}
	if v := second[`streamtop_consumer_leases_taken_total{name="app"}`]; v != 2 {
		t.Errorf("leases taken %v, want the 2 held", v)
	}
	for _, m := range []string{`streamtop_consumer_leases_lost_total{name="app"}`, `streamtop_consumer_leases_handed_off_total{name="app"}`} {
		if v, ok := second[m]; !ok || v != 0 {
			t.Errorf("%s = %v (exported %v); want 0 on a lone worker", m, v, ok)
		}
	}
	shards := 0
	for k := range second {
		if strings.HasPrefix(k, `streamtop_consumer_shard_lag_seconds{name="app",shard="shardId-`) {
			shards++
		}
	}
	if shards != 2 {
		t.Errorf("lag for %d shards, want 2: %v", shards, second)
	}
	if v := second[`streamtop_aggregate_records_total{name="app"}`]; v < 200 {
		t.Errorf("aggregate records %v, want at least 200", v)
	}
}
