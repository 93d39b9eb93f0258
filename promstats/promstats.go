// Package promstats exports streamtop's running figures to Prometheus: a
// prometheus.Collector that reads the Stats of the Consumers, Aggregators,
// Streams and Producers it is given at every scrape.
//
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(promstats.New(
//		promstats.Consumer(consumer),
//		promstats.Aggregator(agg),
//		promstats.Producer(producer),
//	))
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// Nothing is counted twice and nothing runs between scrapes: each metric is
// the figure its Stats method returns at the scrape, so the library's other
// packages carry no dependency on a metrics package. The metrics, all named
// streamtop_*:
//
//   - consumer: records and bytes processed, checkpoints, panics, and leases
//     taken, lost and handed off (counters), leases held (gauge), and per
//     held shard its records and its lag behind the newest record
//     (MillisBehindLatest, in seconds);
//   - aggregate: records decoded, malformed and late, snapshots written,
//     state checkpoints (counters) and the bytes of state last saved (gauge);
//   - stream: KPL aggregated records read, corrupt ones delivered whole, and
//     user records dropped outside their shard's range (counters);
//   - producer: records sent, retried and failed, PutRecords requests
//     (counters) and records buffered (gauge).
//
// Every metric carries a "name" label, the name given with its source, so
// one registry can hold several Consumers, or the Consumers of several
// applications.
//
// What polled figures cannot carry (how long a batch, a checkpoint, an AWS
// call or a sink write took, retries and throttles per API, how late a
// window was written) comes from Hooks: NewHooks returns a Collector of
// histograms that is also a hook of package hook, to pass to the library's
// components.
package promstats

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamtop/streamtop/aggregate"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/kinesisstream"
)

// Source is one thing a Collector reads at each scrape; Consumer,
// Aggregator, Stream and Producer make them.
type Source struct {
	name    string
	collect func(name string, ch chan<- prometheus.Metric)
}

// Named returns s with the name its metrics carry in the "name" label
// (default: "default").
func (s Source) Named(name string) Source {
	s.name = name
	return s
}

// Collector is a prometheus.Collector over its sources. The zero value
// collects nothing; make one with New. It is safe for concurrent use, as the
// Stats methods it calls are. A scrape costs one Stats call per source.
type Collector struct {
	sources []Source
}

var _ prometheus.Collector = (*Collector)(nil)

// New returns a Collector of the given sources.
func New(sources ...Source) *Collector {
	return &Collector{sources: sources}
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("streamtop_"+name, help, append([]string{"name"}, labels...), nil)
}

var (
	consumerRecords     = desc("consumer_records_total", "Records in batches the processors accepted.")
	consumerCheckpoints = desc("consumer_checkpoints_total", "Checkpoint writes to the lease table.")
	consumerPanics      = desc("consumer_panics_total", "Processor panics recovered.")
	consumerLeases      = desc("consumer_leases_held", "Shards this worker processes now.")
	consumerBytes       = desc("consumer_bytes_total", "Bytes of record data in batches the processors accepted.")
	consumerTaken       = desc("consumer_leases_taken_total", "Leases this worker took: new, expired, released, handed to it or stolen.")
	consumerLost        = desc("consumer_leases_lost_total", "Leases this worker lost to another worker or to their deletion.")
	consumerHandedOff   = desc("consumer_leases_handed_off_total", "Leases this worker handed over on request.")
	shardRecords        = desc("consumer_shard_records_total", "Records accepted on a held shard since this worker took it.", "shard")
	shardLag            = desc("consumer_shard_lag_seconds", "How far a held shard's last read was behind its newest record.", "shard")

	aggRecords     = desc("aggregate_records_total", "Records decoded (replays after a failover without state count again).")
	aggMalformed   = desc("aggregate_malformed_total", "Records that could not be counted.")
	aggLate        = desc("aggregate_late_total", "Items older than their group's window.")
	aggSnapshots   = desc("aggregate_snapshots_total", "Snapshots (partials) the sink accepted.")
	aggStateWrites = desc("aggregate_state_writes_total", "Checkpoints that saved the windows.")
	aggStateBytes  = desc("aggregate_state_bytes", "Bytes of state last saved by the processors still running.")

	streamAggregated = desc("stream_aggregated_records_total", "KPL aggregated records read and de-aggregated.")
	streamCorrupt    = desc("stream_corrupt_records_total", "Records with the KPL prefix that could not be read, delivered whole.")
	streamOutOfRange = desc("stream_out_of_range_records_total", "User records dropped outside their shard's hash key range.")

	producerSent     = desc("producer_sent_total", "Records the service acknowledged.")
	producerRetried  = desc("producer_retried_total", "Records sent again.")
	producerFailed   = desc("producer_failed_total", "Records accepted but never sent: lost.")
	producerRequests = desc("producer_requests_total", "PutRecords calls.")
	producerBuffered = desc("producer_buffered_records", "Records the Producer holds now.")
)

// Describe sends every metric's description.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{consumerRecords, consumerCheckpoints, consumerPanics, consumerLeases, shardRecords, shardLag,
		consumerBytes, consumerTaken, consumerLost, consumerHandedOff,
		aggRecords, aggMalformed, aggLate, aggSnapshots, aggStateWrites, aggStateBytes,
		streamAggregated, streamCorrupt, streamOutOfRange,
		producerSent, producerRetried, producerFailed, producerRequests, producerBuffered} {
		ch <- d
	}
}

// Collect reads every source's Stats.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.sources {
		name := s.name
		if name == "" {
			name = "default"
		}
		s.collect(name, ch)
	}
}

func counter(ch chan<- prometheus.Metric, d *prometheus.Desc, v int64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

// Consumer reads c's Stats.
func Consumer(c interface{ Stats() source.Stats }) Source {
	return Source{collect: func(name string, ch chan<- prometheus.Metric) {
		st := c.Stats()
		counter(ch, consumerRecords, st.RecordsProcessed, name)
		counter(ch, consumerCheckpoints, st.Checkpoints, name)
		counter(ch, consumerPanics, st.Panics, name)
		gauge(ch, consumerLeases, float64(st.LeasesHeld), name)
		counter(ch, consumerBytes, st.BytesProcessed, name)
		counter(ch, consumerTaken, st.LeasesTaken, name)
		counter(ch, consumerLost, st.LeasesLost, name)
		counter(ch, consumerHandedOff, st.LeasesHandedOff, name)
		for _, sh := range st.Shards {
			counter(ch, shardRecords, sh.RecordsProcessed, name, sh.ShardID)
			gauge(ch, shardLag, float64(sh.MillisBehindLatest)/1000, name, sh.ShardID)
		}
	}}
}

// Aggregator reads a's Stats.
func Aggregator(a interface{ Stats() aggregate.Stats }) Source {
	return Source{collect: func(name string, ch chan<- prometheus.Metric) {
		st := a.Stats()
		counter(ch, aggRecords, st.Records, name)
		counter(ch, aggMalformed, st.Malformed, name)
		counter(ch, aggLate, st.Late, name)
		counter(ch, aggSnapshots, st.Snapshots, name)
		counter(ch, aggStateWrites, st.StateWrites, name)
		gauge(ch, aggStateBytes, float64(st.StateBytes), name)
	}}
}

// Stream reads s's Stats: what its readers did to aggregated records.
func Stream(s interface {
	Stats() kinesisstream.StreamStats
}) Source {
	return Source{collect: func(name string, ch chan<- prometheus.Metric) {
		st := s.Stats()
		counter(ch, streamAggregated, st.Aggregated, name)
		counter(ch, streamCorrupt, st.Corrupt, name)
		counter(ch, streamOutOfRange, st.OutOfRange, name)
	}}
}

// Producer reads p's Stats.
func Producer(p interface {
	Stats() kinesisstream.ProducerStats
}) Source {
	return Source{collect: func(name string, ch chan<- prometheus.Metric) {
		st := p.Stats()
		counter(ch, producerSent, st.Sent, name)
		counter(ch, producerRetried, st.Retried, name)
		counter(ch, producerFailed, st.Failed, name)
		counter(ch, producerRequests, st.Requests, name)
		gauge(ch, producerBuffered, float64(st.Buffered), name)
	}}
}
