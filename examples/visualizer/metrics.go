package main

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/streamtop/streamtop/aggregate"
	"github.com/streamtop/streamtop/promstats"
	"github.com/streamtop/streamtop/source"
)

// metricsHandler serves /metrics in Prometheus' text format: the
// consumer's and aggregate's figures when this process consumes, the
// backend's own (the Kinesis stream and producer in the AWS mode), the
// histograms of the library's hooks (batch, checkpoint and AWS call times,
// per-API retries, window latency), and the Go runtime's.
func metricsHandler(consumer *source.Consumer, agg *aggregate.Aggregator, b *backend) http.Handler {
	var srcs []promstats.Source
	if consumer != nil {
		srcs = append(srcs, promstats.Consumer(consumer).Named("visualizer"), promstats.Aggregator(agg).Named("visualizer"))
	}
	srcs = append(srcs, b.metrics...)
	reg := prometheus.NewRegistry()
	reg.MustRegister(promstats.New(srcs...), b.hooks, collectors.NewGoCollector())
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}
