// Package streamtop answers "what is hot right now" over a stream of events:
// sliding windows, exact and approximate Top-K, a consumer that shares the
// shards of a stream between workers through leases and checkpoints, and
// adapters for Amazon Kinesis and DynamoDB.
//
// The smallest useful program counts keys over a sliding window of event time
// and asks for the top ones:
//
//	package main
//
//	import (
//		"fmt"
//		"time"
//
//		"github.com/streamtop/streamtop/window"
//	)
//
//	func main() {
//		// The last 10 seconds, in buckets of 1 second.
//		w, err := window.NewCounter[string](10*time.Second, time.Second)
//		if err != nil {
//			panic(err)
//		}
//		t0 := time.Unix(1_700_000_000, 0)
//		w.Add("http://www.google.com", t0, 1) // leaves the window at t0+10s
//		w.Add("http://www.google.com", t0.Add(5*time.Second), 1)
//		w.Add("http://www.amazon.com", t0.Add(6*time.Second), 1)
//		w.Add("http://www.google.com", t0.Add(7*time.Second), 1)
//		w.Advance(t0.Add(12 * time.Second))
//		for _, e := range w.Top(2) {
//			fmt.Println(e.Key, e.Count)
//		}
//		// Prints:
//		// http://www.google.com 2
//		// http://www.amazon.com 1
//	}
//
// Time is always an argument: windows run on the time a record carries (its
// arrival time in the stream, or a time the application decodes), so records
// replayed after a failover land in the buckets they belonged to.
// Processing-time counting is the special case of passing time.Now().
//
// # Packages
//
//   - topk: counting structures. topk.Exact counts every key; topk.SpaceSaving
//     keeps a fixed number of counters and reports, with every count, how far
//     off it can be (Entry.Err). Summaries merge (SpaceSaving.Merge), and
//     topk.TopOf reads the top of several, one per shard say, without
//     merging them.
//   - window: time-bucketed sliding windows over them: window.Counter (exact)
//     and window.Sketch (bounded memory, mergeable per-bucket summaries).
//   - source: records, the Processor lifecycle of the Kinesis Client Library,
//     and the Consumer that runs processors for the shards whose leases it
//     holds. source/memstream is an embedded sharded stream with Kinesis
//     semantics; source/kinesisstream reads and writes Amazon Kinesis.
//   - checkpoint: leases and checkpoints, with an in-memory store;
//     checkpoint/dynamostore keeps them in a DynamoDB table with the Kinesis
//     Client Library's attribute names.
//   - sink: snapshots of windowed counts, in memory or (sink/dynamosink) in a
//     DynamoDB table.
//   - aggregate: the Processor that puts it together: records decoded into
//     items, counted in a window per group, written to a sink as snapshots,
//     its windows saved with each checkpoint so a new owner carries on.
//   - checkpoint/checkpointtest, source/sourcetest and sink/sinktest: the
//     contract suites every lease store, stream and sink here passes, for
//     your own implementations to run too.
//
// Only the adapter packages import the AWS SDK, so a program that needs
// windows and Top-K alone pulls in no AWS code.
//
// examples/visualizer puts it all together: a producer of page visits, a
// consumer that keeps the top referrers of each page over a 10-second window,
// and a live chart in the browser. It runs with no AWS account:
//
//	go run ./examples/visualizer
package streamtop
