package promstats

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamtop/streamtop/hook"
)

// Hooks receives every event of package hook and records it in Prometheus
// histograms and counters, for what polled Stats cannot show: latencies
// and per-call retries. Pass it in the Hooks of a source.Config and an
// aggregate.Config, and to the adapters' WithHooks, and register it:
//
//	h := promstats.NewHooks("app")
//	reg.MustRegister(h)
//	consumer, _ := source.NewConsumer(source.Config{..., Hooks: []hook.Hook{h}})
//	stream, _ := kinesisstream.New(client, name, kinesisstream.WithHooks(h))
//
// The metrics, all named streamtop_* and labelled name:
//
//   - consumer_batch_seconds (histogram): ProcessRecords calls, and
//     consumer_batch_failures_total those that returned an error;
//   - consumer_checkpoint_seconds (histogram): checkpoint writes to the lease
//     store, and consumer_checkpoint_failures_total the failed ones;
//   - aws_call_seconds (histogram, by adapter and api): each AWS call
//     attempt; aws_call_failures_total, aws_retries_total (failures the
//     adapters retry) and aws_throttles_total, by the same labels;
//   - sink_write_seconds (histogram): sink Writes, retries included, and
//     sink_write_failures_total;
//   - aggregate_window_latency_seconds (histogram): from a window's end to
//     its snapshot being written.
//
// Use NewHooks; the zero value is not usable. Hooks is safe for concurrent
// use. An event costs a histogram observation (atomic adds, no lock) and,
// for AWS calls, a lookup of the labels' series.
type Hooks struct {
	batch, checkpoint, write, window                 prometheus.Histogram
	batchFailures, checkpointFailures, writeFailures prometheus.Counter
	call                                             *prometheus.HistogramVec
	callFailures, retries, throttles                 *prometheus.CounterVec
}

var (
	_ prometheus.Collector = (*Hooks)(nil)
	_ hook.Batches         = (*Hooks)(nil)
	_ hook.Checkpoints     = (*Hooks)(nil)
	_ hook.Calls           = (*Hooks)(nil)
	_ hook.Writes          = (*Hooks)(nil)
	_ hook.Windows         = (*Hooks)(nil)
)

// windowBuckets span a window written at once (0.1 s) to one held back
// for minutes by a slow shard's watermark.
var windowBuckets = prometheus.ExponentialBuckets(0.1, 2, 12)

// NewHooks returns Hooks whose metrics carry name in their "name" label, as
// the Collector's do. Several Hooks of different names may share a
// registry.
func NewHooks(name string) *Hooks {
	labels := prometheus.Labels{"name": name}
	opts := func(metric, help string, buckets []float64) prometheus.HistogramOpts {
		return prometheus.HistogramOpts{Name: "streamtop_" + metric, Help: help, Buckets: buckets, ConstLabels: labels}
	}
	hist := func(metric, help string, buckets []float64) prometheus.Histogram {
		return prometheus.NewHistogram(opts(metric, help, buckets))
	}
	count := func(metric, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: "streamtop_" + metric, Help: help, ConstLabels: labels})
	}
	countBy := func(metric, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: "streamtop_" + metric, Help: help, ConstLabels: labels},
			[]string{"adapter", "api"})
	}
	return &Hooks{
		batch:              hist("consumer_batch_seconds", "Time in ProcessRecords per batch.", prometheus.DefBuckets),
		batchFailures:      count("consumer_batch_failures_total", "ProcessRecords calls that returned an error."),
		checkpoint:         hist("consumer_checkpoint_seconds", "Time of a checkpoint write to the lease store.", prometheus.DefBuckets),
		checkpointFailures: count("consumer_checkpoint_failures_total", "Checkpoint writes that failed."),
		call: prometheus.NewHistogramVec(opts("aws_call_seconds", "Time of one AWS call attempt.", prometheus.DefBuckets),
			[]string{"adapter", "api"}),
		callFailures:  countBy("aws_call_failures_total", "AWS call attempts that failed."),
		retries:       countBy("aws_retries_total", "AWS call attempts that failed in a way the adapters retry."),
		throttles:     countBy("aws_throttles_total", "AWS call attempts refused as throttled."),
		write:         hist("sink_write_seconds", "Time of a sink Write, retries included.", prometheus.DefBuckets),
		writeFailures: count("sink_write_failures_total", "Sink Writes that failed."),
		window:        hist("aggregate_window_latency_seconds", "Time from a window's end to its snapshot being written.", windowBuckets),
	}
}

func (h *Hooks) collectors() []prometheus.Collector {
	return []prometheus.Collector{h.batch, h.batchFailures, h.checkpoint, h.checkpointFailures,
		h.call, h.callFailures, h.retries, h.throttles, h.write, h.writeFailures, h.window}
}

// Describe sends the descriptions of every metric.
func (h *Hooks) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range h.collectors() {
		c.Describe(ch)
	}
}

// Collect sends every metric's current value.
func (h *Hooks) Collect(ch chan<- prometheus.Metric) {
	for _, c := range h.collectors() {
		c.Collect(ch)
	}
}

// OnBatch records a ProcessRecords call.
func (h *Hooks) OnBatch(b hook.Batch) {
	h.batch.Observe(b.Duration.Seconds())
	if b.Err != nil {
		h.batchFailures.Inc()
	}
}

// OnCheckpoint records a checkpoint write.
func (h *Hooks) OnCheckpoint(c hook.Checkpoint) {
	h.checkpoint.Observe(c.Duration.Seconds())
	if c.Err != nil {
		h.checkpointFailures.Inc()
	}
}

// OnCall records an AWS call attempt.
func (h *Hooks) OnCall(c hook.Call) {
	h.call.WithLabelValues(c.Adapter, c.API).Observe(c.Duration.Seconds())
	if c.Err == nil {
		return
	}
	h.callFailures.WithLabelValues(c.Adapter, c.API).Inc()
	if c.Retryable {
		h.retries.WithLabelValues(c.Adapter, c.API).Inc()
	}
	if c.Throttled {
		h.throttles.WithLabelValues(c.Adapter, c.API).Inc()
	}
}

// OnWrite records a sink Write.
func (h *Hooks) OnWrite(w hook.Write) {
	h.write.Observe(w.Duration.Seconds())
	if w.Err != nil {
		h.writeFailures.Inc()
	}
}

// OnWindow records a window's latency.
func (h *Hooks) OnWindow(w hook.Window) {
	h.window.Observe(w.Latency.Seconds())
}
