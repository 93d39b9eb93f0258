// Command visualizer is the web traffic demo: a producer of simulated page
// visits, a consumer that counts the top referrers of each page over a
// 10-second sliding window, and a web page that charts them live.
//
// With no flags everything runs in this process on an embedded stream:
//
//	go run ./examples/visualizer
//
// then open the URL it prints. Ctrl-C stops it gracefully.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/streamtop/streamtop/source"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "visualizer:", err)
		os.Exit(2)
	}
	if err := run(ctx, c, os.Stdout, nil); err != nil {
		fmt.Fprintln(os.Stderr, "visualizer:", err)
		os.Exit(1)
	}
}

// shutdownGrace bounds how long the web server waits for requests in flight
// when the program stops.
const shutdownGrace = 5 * time.Second

// app is a running visualizer, for tests that need its parts.
type app struct {
	url      string
	backend  *backend
	producer *producer
	consumer *source.Consumer
	stats    *counters
}

// run starts the producer, the consumer and the web server, and returns once
// ctx ends and all three have stopped. started, if not nil, is called once
// everything is up.
func run(ctx context.Context, c config, stdout io.Writer, started func(*app)) error {
	b, err := openBackend(ctx, c)
	if err != nil {
		return err
	}
	defer b.close()

	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return fmt.Errorf("-addr %s: %w", c.addr, err)
	}

	stats := &counters{}
	consumer, err := source.NewConsumer(source.Config{
		Stream:   b.stream,
		Leases:   b.leases,
		WorkerID: c.host,
		NewProcessor: func(shardID string) source.Processor {
			return newProcessor(processorConfig{
				size: windowSize, bucket: windowBucket, out: b.out, host: c.host, stats: stats,
			}, shardID)
		},
		InitialPosition: source.Position{Type: source.TrimHorizon},
	})
	if err != nil {
		ln.Close()
		return fmt.Errorf("consumer: %w", err)
	}
	prod := &producer{traffic: newTraffic(c.seed, c.drift), rate: c.rate, batch: 500, put: b.put}

	meter := newRateMeter(5 * time.Second)
	srv := &server{
		reader: b.in,
		groups: b.groups,
		now:    time.Now,
		status: func() status {
			return status{
				RecordsPerSecond: meter.rate(),
				LagMillis:        maxLag(consumer.Stats()),
				Malformed:        stats.malformed.Load(),
			}
		},
	}
	httpSrv := &http.Server{
		Handler:           srv.handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       60 * time.Second,
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	fail := func(err error) {
		if err != nil {
			cancel(err)
		}
	}
	wg.Go(func() { fail(consumer.Run(ctx)) })
	wg.Go(func() {
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		if err := prod.run(ctx, time.Now(), t.C); err != nil {
			fail(fmt.Errorf("producer: %w", err))
		}
	})
	wg.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				meter.observe(now, stats.records.Load())
			}
		}
	})
	wg.Go(func() {
		if err := httpSrv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			fail(fmt.Errorf("web server: %w", err))
		}
	})
	wg.Go(func() {
		<-ctx.Done()
		sctx, scancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer scancel()
		httpSrv.Shutdown(sctx)
	})

	url := "http://" + ln.Addr().String() + "/"
	fmt.Fprintf(stdout, "visualizer: serving %s (producer at %d records/s, %d shards, worker %s)\n",
		url, c.rate, c.shards, c.host)
	if started != nil {
		started(&app{url: url, backend: b, producer: prod, consumer: consumer, stats: stats})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	fmt.Fprintln(stdout, "visualizer: stopped")
	return nil
}

// maxLag is the consumer's lag: the furthest any of its shards is behind.
func maxLag(s source.Stats) int64 {
	var lag int64
	for _, sh := range s.Shards {
		lag = max(lag, sh.MillisBehindLatest)
	}
	return lag
}
