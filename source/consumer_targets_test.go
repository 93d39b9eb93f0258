package source_test

import (
	"testing"
	"time"

	"github.com/streamtop/streamtop/checkpoint"
	"github.com/streamtop/streamtop/internal/consumertest"
	"github.com/streamtop/streamtop/source"
)

// BenchmarkDefaults measures the Consumer's targets with default settings
// (FailoverTime 10 s, SyncInterval 500 ms) on memstream with 4 shards and a
// producer running. Each iteration runs one scenario and the metric is its
// time in seconds; run with -benchtime=1x. The crash scenario takes about
// 10 s per iteration.
func BenchmarkDefaults(b *testing.B) {
	defaults := func(stream source.Stream, store checkpoint.Store, id string, l *ledger) source.Config {
		return source.Config{Stream: stream, Leases: store, WorkerID: id, NewProcessor: l.handler()}
	}
	// twoWorkers starts a with all 4 shards, then b, and waits for 2/2.
	type setup struct {
		l        *ledger
		store    checkpoint.Store
		a, b     *consumertest.Worker
		prod     *consumertest.Producer
		scaleOut time.Duration
	}
	twoWorkers := func(b *testing.B) setup {
		stream := consumertest.NewStream(b, 4)
		l := newLedger()
		store := watchedStore{checkpoint.NewMemoryStore(), l}
		prod := startProducer(b, stream, l, 64)
		wa := consumertest.StartWorker(b, defaults(stream, store, "a", l))
		consumertest.WaitFor(b, 5*time.Second, "a to hold 4", func() bool { return wa.Held() == 4 })
		wb := consumertest.StartWorker(b, defaults(stream, store, "b", l))
		took := consumertest.WaitFor(b, 20*time.Second, "2/2", func() bool {
			own := ownership(b, store)
			return wa.Held() == 2 && wb.Held() == 2 && own["a"] == 2 && own["b"] == 2
		})
		return setup{l: l, store: store, a: wa, b: wb, prod: prod, scaleOut: took}
	}
	finish := func(b *testing.B, s setup) {
		s.prod.Halt()
		consumertest.WaitFor(b, 20*time.Second, "every record", s.l.allProcessed)
		s.l.check(b)
	}

	b.Run("scale-out", func(b *testing.B) {
		var total time.Duration
		dups := 0
		for range b.N {
			s := twoWorkers(b)
			total += s.scaleOut
			finish(b, s)
			dups += s.l.duplicates()
		}
		b.ReportMetric(total.Seconds()/float64(b.N), "s-to-2/2")
		b.ReportMetric(float64(dups)/float64(b.N), "duplicates")
	})
	b.Run("graceful", func(b *testing.B) {
		var total time.Duration
		dups := 0
		for range b.N {
			s := twoWorkers(b)
			s.b.Stop(b)
			total += consumertest.WaitFor(b, 20*time.Second, "a to hold 4", func() bool {
				return s.a.Held() == 4 && ownership(b, s.store)["a"] == 4
			})
			finish(b, s)
			dups += s.l.duplicates()
		}
		b.ReportMetric(total.Seconds()/float64(b.N), "s-to-hand-over")
		b.ReportMetric(float64(dups)/float64(b.N), "duplicates")
	})
	b.Run("crash", func(b *testing.B) {
		var total time.Duration
		dups := 0
		for range b.N {
			s := twoWorkers(b)
			time.Sleep(time.Second)
			s.b.Kill(b)
			// Taken over means processing again: a holds every shard
			// and has processed records in each since the kill.
			before := map[string]int64{}
			for _, sh := range s.a.C.Stats().Shards {
				before[sh.ShardID] = sh.RecordsProcessed
			}
			total += consumertest.WaitFor(b, 30*time.Second, "a to process every shard", func() bool {
				st := s.a.C.Stats()
				if st.LeasesHeld != 4 {
					return false
				}
				for _, sh := range st.Shards {
					if sh.RecordsProcessed <= before[sh.ShardID] {
						return false
					}
				}
				return true
			})
			finish(b, s)
			dups += s.l.duplicates()
		}
		b.ReportMetric(total.Seconds()/float64(b.N), "s-to-take-over")
		b.ReportMetric(float64(dups)/float64(b.N), "duplicates")
	})
}
